"""The template contract: the parameters the renderer reads are declared, and checked when a manifest loads."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ani.kg.errors import TemplateError
from ani.ns3_scenarios.templates import CONTRACT, PACKAGE_DIR, load_template

ROOT = Path(__file__).resolve().parents[2]
#: modules that read template parameters of any template by name
READERS = [*(ROOT / "ns3_scenarios").glob("*.py"), ROOT / "orchestrator" / "measure" / "summary.py"]


def _subscripted_params(path: Path) -> set[str]:
    """Keys ``k`` of every ``params["k"]`` in ``path``."""
    return {n.slice.value for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name | ast.Attribute)
            and (getattr(n.value, "id", None) or getattr(n.value, "attr", None)) == "params"
            and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)}


def test_every_parameter_the_renderer_reads_is_in_the_contract() -> None:
    read = set().union(*map(_subscripted_params, READERS))
    assert read and read <= set(CONTRACT), sorted(read - set(CONTRACT))


def _without(tmp_path: Path, drop: str) -> Path:
    """A copy of the bundled template whose manifest lacks parameter ``drop``."""
    folder = tmp_path / "mine"
    folder.mkdir()
    text = (PACKAGE_DIR / "ospf_failure" / "manifest.toml").read_text()
    data = tomllib.loads(text)
    start = text.index(f"[parameters.{drop}]")
    end = text.index("[parameters.", start + 1)
    (folder / "manifest.toml").write_text(text[:start] + text[end:])
    (folder / data["program"]).write_text((PACKAGE_DIR / "ospf_failure" / data["program"]).read_text())
    return folder


def test_a_manifest_without_a_contract_parameter_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = _without(tmp_path, "drain_s")
    with pytest.raises(TemplateError, match="the renderer needs parameter\\(s\\) drain_s"):
        load_template(folder)
    scenario = tmp_path / "s.json"
    scenario.write_text('[{"event_type": "router_failure", "target": "Denver", "timestamp": 0.4}]')
    proc = subprocess.run([sys.executable, "-m", "ani.orchestrator.cli", "run", str(scenario), "--topology",
                           "abilene", "--template", str(folder)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "the renderer needs parameter(s) drain_s" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
