"""Packaging and container checks: the wheel in a clean venv, and the Dockerfile.

The wheel test builds from a copy of the source tree (so the checkout gets no
``build/`` folder), installs the wheel with its dependencies into a fresh venv
and imports every subpackage from outside the repository: a module that only
works because the checkout is on ``sys.path`` fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]

MODULES = [
    "ani.kg", "ani.kg.topology", "ani.kg.demands",
    "ani.llm", "ani.kg.scenario",
    "ani.ns3_scenarios", "ani.ns3_scenarios.templates", "ani.ns3_scenarios.render",
    "ani.orchestrator", "ani.orchestrator.cli", "ani.orchestrator.execute", "ani.orchestrator.measure",
    "ani.orchestrator.campaign", "ani.orchestrator.loop", "ani.orchestrator.evaluate",
]
WHEEL_DATA = [
    "ani/ns3_scenarios/ospf_failure/scenario.cc",
    "ani/ns3_scenarios/ospf_failure/routing.h",
    "ani/ns3_scenarios/ospf_failure/manifest.toml",
    "ani/kg/data/abilene.graphml",
    "ani/orchestrator/evaluate/report.html.j2",
]
NOT_IN_SOURCE_COPY = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "results",
                                            "__pycache__", ".pytest_cache", ".hypothesis", "tests", "bench")

# Each import is tried on its own, so one broken module does not hide the others.
IMPORT_PROBE = """
import importlib, json, sys, traceback
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = {"file": importlib.import_module(name).__file__}
    except Exception:
        out[name] = {"error": traceback.format_exc(limit=3)}
print(json.dumps(out))
"""


def _clean_env() -> dict[str, str]:
    """The environment without anything that would leak the checkout or the dev venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built (isolated build, as pip would) from a copy of the source tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=NOT_IN_SOURCE_COPY)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(src)], tmp, 600)
    wheels = list((tmp / "dist").glob("ani_twin-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def clean_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its dependencies installed."""
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    # --no-compile: no bytecode for every dependency (over half of the install time, measured 2026-12-07); the
    # probes below compile what they import
    _run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-compile", str(wheel)], env_dir, 900)
    return env_dir


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_wheel_holds_only_the_ani_namespace_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    strays = tops - {"ani"} - {t for t in tops if t.endswith((".dist-info", ".data"))}
    assert not strays, f"wheel has top-level entries outside ani/: {sorted(strays)}"
    for folder in PACKAGE_DIRS.values():
        assert not any(n.startswith(f"{folder}/") for n in names), f"wheel has a top-level {folder}/"
    missing = [path for path in WHEEL_DATA if path not in names]
    assert not missing, f"wheel lacks package data: {missing}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_subpackage_imports_from_the_clean_venv(clean_venv: Path, tmp_path: Path) -> None:
    python = clean_venv / "bin" / "python"
    proc = _run([str(python), "-c", IMPORT_PROBE, *MODULES], tmp_path, 300)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = {name: r["error"] for name, r in result.items() if "error" in r}
    assert not failed, "modules that do not import from the installed wheel:\n" + "\n".join(
        f"--- {name}\n{error}" for name, error in failed.items())
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True, env=_clean_env(), cwd=tmp_path).strip()).resolve()
    for name, r in result.items():
        where = Path(r["file"]).resolve()
        assert where.is_relative_to(site), f"{name} imported from {where}, not from the clean venv ({site})"
        assert not where.is_relative_to(ROOT), f"{name} imported from the checkout: {where}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ani_command_of_the_clean_venv_runs(clean_venv: Path, tmp_path: Path) -> None:
    proc = _run([str(clean_venv / "bin" / "ani"), "--help"], tmp_path, 120)
    assert "demo" in proc.stdout and "run" in proc.stdout, proc.stdout


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return out


def _args(instruction: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions(DOCKERFILE.read_text()) if kw == instruction]


def _pip_targets(command: str) -> list[str]:
    """What each ``pip install`` in a shell command installs (options dropped, quotes removed)."""
    targets = []
    for match in re.finditer(r"pip3? install ([^&;|\n]*)", command):
        targets += [t for t in shlex.split(match.group(1)) if not t.startswith("-")]
    return targets


def _is_project(target: str) -> bool:
    """``.`` or ``.[extras]``: the project from its source tree."""
    return re.fullmatch(r"\.(\[[\w,\-]+\])?", target) is not None


def test_hadolint_passes() -> None:
    exe = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if exe is None:
        pytest.skip("hadolint is not installed (the dev extra provides it: pip install -e '.[dev]')")
    try:
        subprocess.run([exe, "--version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"the hadolint binary at {exe} cannot run here: {exc}")
    proc = subprocess.run([exe, "--failure-threshold", "warning", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"hadolint found warnings or errors:\n{proc.stdout}{proc.stderr}"


def _dockerignore_lets_in(name: str) -> bool:
    """Whether ``.dockerignore`` (last matching line wins, ``!`` re-includes) lets ``name`` into the context."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!")
        if pattern in ("*", name, f"{name}/"):
            allowed = negated
    return allowed


def test_dockerfile_installs_the_project_from_its_sources_as_the_readme_does() -> None:
    """The image's pip steps: pyproject.toml's dependencies with the dask extra, then the project built
    from its sources copied to /src (``.dockerignore`` must let them in). The image is built and run
    for real in ``tests/cluster/test_docker.py``."""
    readme = README.read_text()
    runs = " ".join(_args("RUN"))
    assert "['dependencies'] + p['optional-dependencies']['dask']" in runs, "the dependencies come from pyproject.toml"
    assert re.search(r"pip wheel [^&;]*/src\b", runs) and "/tmp/dist/*.whl" in " ".join(_pip_targets(runs)), \
        "the project is built from its sources (/src) and installed as a wheel"
    assert any(_is_project(t) for t in _pip_targets(readme)), "the README does not pip-install the project"
    copied = " ".join(_args("COPY")).split()
    top_dirs = {d.split("/")[0] for d in PACKAGE_DIRS.values()}
    for needed in ["pyproject.toml", "README.md", *sorted(top_dirs)]:
        assert needed in copied, f"the Dockerfile does not COPY {needed} (needed to build the project)"
        assert _dockerignore_lets_in(needed), f".dockerignore keeps {needed} out (needed to build the project)"
    assert not _dockerignore_lets_in("tests") and not _dockerignore_lets_in(".venv"), "only what the image needs"
    for run in _args("RUN"):
        for match in re.finditer(r"apt-get install ([^&;|}]*)", run):
            for package in (p for p in match.group(1).split() if not p.startswith("-")):
                assert package in readme, f"the image installs {package}; the README's requirements do not name it"


def test_dockerfile_base_python_satisfies_requires_python() -> None:
    bases = [a.split("=", 1)[1] for a in _args("ARG") if a.startswith("BASE=")]
    base = bases[0] if bases and _args("FROM")[-1] == "${BASE}" else _args("FROM")[-1]
    match = re.match(r"python:(\d+)\.(\d+)", base)
    assert match, f"the image is not built on an official python image by default: {base}"
    minimum = re.search(r">=\s*(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum and tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups()))


def test_dockerfile_runs_the_demo_by_default() -> None:
    cmd = json.loads(_args("CMD")[-1])  # exec form, so signals reach `ani`
    assert cmd[:2] == ["ani", "demo"], cmd


def test_dockerfile_ends_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    users = [i for i, (kw, _) in enumerate(instructions) if kw == "USER"]
    assert users, "the Dockerfile never switches away from root"
    user = instructions[users[-1]][1].split(":")[0]
    assert user not in ("root", "0"), f"the final USER is {user}"
