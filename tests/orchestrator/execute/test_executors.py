"""The executor contract, one set of tests for every backend: local pool, Dask cluster, Docker.

Each backend runs real ns-3 programs: the same spec must give the same record
and KPIs as a run in this process; a crash and a hang come back as
``failed``/``timeout`` records (not exceptions); a worker whose ns-3 differs
is an infrastructure failure (an exception the campaign retries). The Dask
backend runs on a real ``LocalCluster`` of worker processes. Here the Docker
backend runs through ``fake_docker.py`` — a FAKE engine that executes the
container's command (the image's entry point, ``ani campaign worker``) on this
machine with the volume paths mapped, so that the contract is checked without
building an image; ``tests/cluster/test_docker.py`` builds the image and runs it
on a real engine (started by the test where one can run), and the SLURM backend
runs on a real cluster in ``tests/cluster/test_slurm.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from ani.kg.topology import load_topology
from ani.kg.scenario import Scenario, load_scenario
from ani.ns3_scenarios.build import cache_dir
from ani.ns3_scenarios.render import RunSpec, render
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.executors import (DaskExecutor, DockerExecutor, Executor, InfrastructureError, LocalExecutor,
                                        build_programs, docker_command, run_spec)
from ani.orchestrator.measure.summary import ensure_kpi_tables
from ani.orchestrator.execute.records import RunRecord, load_record
from campaign_helpers import CRASH_SEED, HANG_SEED, SHORT

pytestmark = [pytest.mark.ns3, pytest.mark.slow]
TIMEOUT_S = 5.0  # a hang costs this; a short run takes < 1 s on an idle machine (at most 1.6 s measured with
# the load average at 3.5 on 2 cores, 2026-12-07)
HERE = Path(__file__).resolve().parent
KINDS = ["local", pytest.param("dask", marks=pytest.mark.dask), "docker-fake"]


def _spec(template: Path, scenario: Scenario, seed: int) -> RunSpec:
    t = get_template(template)
    return render(t, scenario, load_topology("abilene"), t.params({**SHORT, "seed": seed}))


@pytest.fixture(scope="module")
def specs(fault_template: Path, scenario_dir: Path) -> dict[str, RunSpec]:
    cut = load_scenario(scenario_dir / "cut-denver.json")
    out = {"ok": _spec(fault_template, cut, 1), "ok2": _spec(fault_template, cut, 2),
           "crash": _spec(fault_template, cut, CRASH_SEED), "hang": _spec(fault_template, cut, HANG_SEED)}
    assert build_programs(list(out.values())) == []
    return out


@pytest.fixture(scope="module")
def reference(specs: dict[str, RunSpec], tmp_path_factory: pytest.TempPathFactory) -> RunRecord:
    """The ok spec run in this process, without any executor."""
    return run_spec(specs["ok"], tmp_path_factory.mktemp("reference"), TIMEOUT_S)


def fake_docker(folder: Path) -> Path:
    """A ``docker`` executable that is the FAKE engine (``fake_docker.py``)."""
    shim = folder / "docker"
    shim.write_text(f'#!/bin/sh\nPATH="{Path(sys.executable).parent}:$PATH" exec "{sys.executable}" '
                    f'"{HERE / "fake_docker.py"}" "$@"\n')
    shim.chmod(0o755)
    return shim


def _make(kind: str, folder: Path) -> tuple[Executor, object]:
    results = folder / "runs"
    if kind == "local":
        return LocalExecutor(results, TIMEOUT_S, workers=2), None
    if kind == "dask":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        return DaskExecutor(cluster, results, TIMEOUT_S), cluster
    # as if the image had been used before: its build cache (a volume; ANI_CACHE_DIR=/results/.ani-cache, whose
    # programs cache_dir() keeps in bin/) already holds the program
    shutil.copytree(cache_dir(), results / ".ani-cache" / cache_dir().name, dirs_exist_ok=True)
    return DockerExecutor("ani:test", results, TIMEOUT_S, workers=2, docker=str(fake_docker(folder))), None


@pytest.fixture(scope="module", params=KINDS)
def executor(request: pytest.FixtureRequest, specs: dict[str, RunSpec],
             tmp_path_factory: pytest.TempPathFactory) -> Executor:
    ex, cluster = _make(request.param, tmp_path_factory.mktemp(request.param))
    assert ex.prepare(list(specs.values())) == []
    yield ex
    ex.shutdown()
    if cluster is not None:
        cluster.close()


def test_a_run_comes_back_as_its_record_through_a_concurrent_future(
        executor: Executor, specs: dict[str, RunSpec], reference: RunRecord) -> None:
    future = executor.submit(specs["ok"])
    assert isinstance(future, cf.Future)
    record = future.result(timeout=300)
    assert record.status == "ok", record.stderr_tail
    assert record.run_id == reference.run_id and record.kpis == reference.kpis
    folder = Path(record.folder)
    assert folder.parent.parent == executor.results and load_record(folder) == record
    assert not (folder / "flow_kpis.parquet").exists(), "campaign runs write their KPI tables on first use"
    pd.testing.assert_frame_equal(pd.read_parquet(ensure_kpi_tables(folder) / "flow_kpis.parquet"),
                                  pd.read_parquet(ensure_kpi_tables(reference.folder) / "flow_kpis.parquet"))
    assert not any((executor.results / ".attempts").iterdir()), "a staging folder was left behind"


def test_runs_execute_side_by_side(executor: Executor, specs: dict[str, RunSpec]) -> None:
    futures = [executor.submit(specs[k]) for k in ("ok", "ok2")]
    records = [f.result(timeout=300) for f in futures]
    assert [r.status for r in records] == ["ok", "ok"]
    assert records[0].kpis != records[1].kpis, "another seed, other traffic phases"


def test_a_crash_and_a_hang_are_records_not_exceptions(executor: Executor, specs: dict[str, RunSpec]) -> None:
    crash, hang = executor.submit(specs["crash"]), executor.submit(specs["hang"])
    record = crash.result(timeout=300)
    assert record.status == "failed" and record.returncode not in (0, None)
    assert f"injected fault: seed {CRASH_SEED}" in record.stderr_tail
    assert (Path(record.folder) / "run.sh").is_file() and "run.sh" in record.repro_cmd
    if isinstance(executor, DockerExecutor):  # reproduced in the image, on the run's folder
        assert record.repro_cmd.endswith(f"ani:test sh /results/Abilene/{Path(record.folder).name}/run.sh")
        assert f"-v {executor.results}:/results" in record.repro_cmd
        assert load_record(Path(record.folder)).repro_cmd == record.repro_cmd
    record = hang.result(timeout=300)
    assert record.status == "timeout" and record.returncode is None
    assert f"killed after {TIMEOUT_S:g} s" in record.stderr_tail
    assert load_record(Path(record.folder)) == record


def test_a_worker_with_another_ns3_is_an_infrastructure_failure(executor: Executor,
                                                                 specs: dict[str, RunSpec]) -> None:
    future = executor.submit(specs["ok"].model_copy(update={"ns3_version": "0.0-other"}))
    error = future.exception(timeout=300)
    assert isinstance(error, InfrastructureError), repr(error)
    assert "0.0-other" in str(error)


# ------------------------------------------------------------------ Docker specifics


def test_the_docker_command_runs_the_entry_point_as_non_root_without_network(tmp_path: Path) -> None:
    cmd = docker_command("ani:1", tmp_path, "x.json", 30, "ani-x", user="1000:1000")
    assert cmd[:3] == ["docker", "run", "--rm"]
    flags = dict(zip(cmd[3:], cmd[4:]))
    assert flags["--user"] == "1000:1000" and flags["--network"] == "none" and flags["--name"] == "ani-x"
    assert flags["-v"] == f"{tmp_path}:/results" and flags["-e"] == "ANI_CACHE_DIR=/results/.ani-cache"
    image = cmd.index("ani:1")
    assert cmd[image + 1:] == ["ani", "campaign", "worker", "/results/.queue/x.json", "--results", "/results",
                               "--timeout", "30"]
    default = docker_command("ani:1", tmp_path, "x.json", 30, "n")
    user = default[default.index("--user") + 1]
    assert not user.startswith("0:") and user != "root", "containers never run as root"


def test_the_containers_user_can_read_the_queued_spec_and_write_the_runs(tmp_path: Path,
                                                                         specs: dict[str, RunSpec]) -> None:
    """Run as root, the containers run as 1000: a real engine showed that they could neither read the
    queued spec (mkstemp's 0600) nor write in the mounted folder root had created ('is not readable')."""
    seen = tmp_path / "seen.txt"
    shim = tmp_path / "docker"  # records the spec's mode and the mount's owner, as the container would find them
    shim.write_text('#!/bin/sh\nwhile [ "$1" != "-v" ]; do shift; done; host="${2%%:*}"\n'
                    f'stat -c "%a %u" "$host"/.queue/*.json "$host" > "{seen}"\n')
    shim.chmod(0o755)
    ex = DockerExecutor("ani:test", tmp_path / "runs", TIMEOUT_S, docker=str(shim))
    assert ex.prepare([specs["ok"]]) == []
    (spec_mode, _), (_, owner) = (line.split() for line in seen.read_text().splitlines())
    assert int(spec_mode, 8) & 0o044 == 0o044, "the queued spec must be readable by the containers' user"
    assert int(owner) == (1000 if os.getuid() == 0 else os.getuid()), "the mounted folder must be theirs"
