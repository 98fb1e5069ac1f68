"""``ani loop`` and ``ani evaluate`` from the command line: outputs, files, and mistakes named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ani.orchestrator.cli import main

SHORT_ARGS = ["--param", "warmup_s=0.2", "--param", "observe_s=0.6", "--param", "drain_s=0.2"]


@pytest.mark.ns3
@pytest.mark.slow
def test_ani_loop_writes_tables_and_a_report(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    res = CliRunner().invoke(main, ["loop", "--topology", "abilene", "--generator", "worst-case", "--iterations", "2",
                                    "--budget", "2", "--mitigate-top", "1", "--results", str(tmp_path / "runs"),
                                    "--out", str(out), *SHORT_ARGS])
    assert res.exit_code == 0, res.output
    assert "worst-case: searching with the fluid tier" in res.output
    assert "iteration 1: best damage" in res.output and "2 scenario runs" in res.output
    assert f"report: {out / 'report.html'}" in res.output
    summary = json.loads((out / "loop.json").read_text())
    assert summary["command"].startswith("ani ") and summary["config"]["generator"] == "worst-case"
    assert (out / "iterations.parquet").is_file() and (out / "archive.json").is_file()


def test_worst_case_falls_back_to_its_proxy_where_the_fluid_tier_cannot_score(capsys) -> None:
    from ani.orchestrator.cli.loop import _guided_worst_case
    from ani.orchestrator.loop.closed_loop import LoopConfig

    assert _guided_worst_case(LoopConfig(generator="worst-case", params={"gravity_traffic": "false"})) is None
    said = capsys.readouterr().out
    assert "searching by its static proxy" in said and "gravity_traffic=false" in said
    guided = _guided_worst_case(LoopConfig(generator="worst-case"))  # the loop's cascades=true: scored without
    assert guided is not None and guided.scorer is not None
    assert "searching with the fluid tier" in capsys.readouterr().out


@pytest.mark.ns3
@pytest.mark.slow
def test_ani_evaluate_prints_the_table_per_generator(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["evaluate", "--networks", "abilene", "--seeds", "1", "--budget", "1",
                                    "--iterations", "1", "--generators", "rule-based,worst-case", "--mitigate-top", "0",
                                    "--out", str(tmp_path), "--no-report", *SHORT_ARGS])
    assert res.exit_code == 0, res.output
    assert "rule-based" in res.output and "worst-case" in res.output and "2 loops" in res.output
    assert "reach: Abilene:" in res.output  # what each arm could reach at step 0, one line per network
    assert (tmp_path / "summary.parquet").is_file() and not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["loop", "--topology", "abilene", "--generator", "oracle"], 2, "'oracle' is not one of"),
    (["loop", "--topology", "abilene", "--strategies", "reroute,teleport"], 2, "unknown ['teleport']"),
    (["loop", "--topology", "abilene", "--param", "warmup"], 2, "'warmup' is not NAME=VALUE"),
    (["loop", "--topology", "nowhere.graphml", "--budget", "1"], 1, "nowhere.graphml"),
    (["evaluate", "--generators", "llm,oracle"], 2, "unknown ['oracle']"),
    (["evaluate", "--seeds", "1,x"], 2, "'1,x' is not a comma-separated list"),
    (["evaluate", "--seeds", "0"], 2, "seeds are integers >= 1"),
    (["evaluate", "--strategies", "reroute,teleport"], 2, "unknown ['teleport']"),
    (["evaluate", "--worst-case", "oracle"], 2, "'oracle' is not"),
    (["evaluate", "--networks", "Atlantis", "--generators", "rule-based", "--zoo", "."], 1, "Atlantis"),
])
def test_mistakes_exit_non_zero_naming_the_input(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, [*args, *(["--out", str(tmp_path)] if args[0] == "evaluate" else [])])
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output


@pytest.mark.ns3
@pytest.mark.slow
def test_ani_loop_on_a_project_yaml_uses_that_knowledge_graph(tmp_path: Path) -> None:
    from ani.kg.model import build_kg
    from ani.kg.srlg import Srlg
    from ani.kg.topology import load_topology
    from ani.kg.yamlio import read_kg, write_kg

    kg = build_kg(load_topology("abilene"), srlgs=[Srlg(id="west", links=("Seattle-Sunnyvale", "Sunnyvale-Los_Angeles"))],
                  derive_srlgs=False)
    write_kg(kg, tmp_path / "kg.yaml")
    out = tmp_path / "loop"
    res = CliRunner().invoke(main, ["loop", "--topology", str(tmp_path / "kg.yaml"), "--generator", "rule-based",
                                    "--iterations", "1", "--budget", "1", "--mitigate-top", "0",
                                    "--results", str(tmp_path / "runs"), "--out", str(out), *SHORT_ARGS])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "loop.json").read_text())
    assert summary["kg_digest"] == read_kg(tmp_path / "kg.yaml").digest and summary["budget_used"] == 1
