"""The project's image on a real Docker engine: built from the Dockerfile, the demo, a campaign, a Dask worker.

The engine is Debian's ``dockerd``, started here as root (``docker_engine.py``);
where it cannot start or cannot run a container the tests skip with its reason.
The image is built as the README says (the registry's base when reachable, else
a local base made from Debian packages and an offline wheelhouse). Its size and
build time are printed (``-s``) for the README; nothing is asserted about speed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from docker_engine import BuiltImage, DockerEngine, base_image, build_image, docker_cli

pytestmark = [pytest.mark.docker, pytest.mark.ns3, pytest.mark.slow]
ANI = [sys.executable, "-m", "ani.orchestrator.cli"]
SHORT = {"warmup_s": 0.1, "observe_s": 0.3, "drain_s": 0.1}
WHERE_AND_WHEN = {"wall_s", "kpi_s", "folder", "repro_cmd", "executor", "attempts", "finished_utc", "stderr_tail"}
CONTAINER_UID = 1000


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    if docker_cli() is None or shutil.which("dockerd") is None:
        pytest.skip("no Docker engine installed (apt-get install docker.io, as .ci/run does)")
    if os.geteuid() != 0:
        pytest.skip("the test starts dockerd itself, which needs root; this is not root")
    eng = DockerEngine(Path(tmp_path_factory.mktemp("dockerd")))
    why = eng.start()
    if why:
        eng.stop()
        pytest.skip(f"dockerd cannot run here: {why}")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in eng.env.items():
            mp.setenv(key, value)  # the Docker executor's `docker` commands in this process
        try:
            yield eng
        finally:
            eng.stop()


@pytest.fixture(scope="session")
def image(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    work = Path(tmp_path_factory.mktemp("image"))
    base = base_image(engine, work, sys.executable)
    why = engine.cannot_run(base.image)
    if why:
        pytest.skip(f"the engine starts but cannot run a container here: {why}")
    built = build_image(engine, work, base)
    print(f"\nimage {built.name}: {built.size_bytes / 1e6:.0f} MB ({built.size_bytes} bytes) on {built.base} "
          f"({built.how}); base {base.seconds:.0f} s, build {built.build_s:.0f} s")
    return built


def _writable_by_the_container(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, CONTAINER_UID, CONTAINER_UID)
    return folder


def _campaign(folder: Path, name: str) -> Path:
    cut = folder / "cut.json"
    cut.write_text(json.dumps([{"event_type": "fiber_link_failure", "target": "Denver-Kansas_City",
                                "timestamp": 0.2}]))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "topologies": ["abilene"], "params": SHORT, "seeds": [1, 2, 3],
                                    "baseline": False, "timeout_s": 300, "scenarios": {"files": [str(cut)]}}))
    return path


def _ani(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, **env})


def _kpis(store: Path, cwd: Path) -> pd.DataFrame:
    out = cwd / f"{store.name}.csv"
    proc = _ani("campaign", "export", str(store), "-o", str(out), cwd=cwd, env={})
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(out)
    return frame[[c for c in frame.columns if c not in WHERE_AND_WHEN]].sort_values("run_id").reset_index(drop=True)


def test_the_image_runs_as_a_non_root_user_and_the_demo_works(engine: DockerEngine, image: BuiltImage,
                                                                tmp_path: Path) -> None:
    whoami = engine.docker("run", "--rm", "--network", "none", image.name, "id", "-u")
    assert whoami.stdout.strip() == str(CONTAINER_UID)
    results = _writable_by_the_container(tmp_path / "results")
    demo = engine.docker("run", "--rm", "--network", "none", "-v", f"{results}:/results", image.name, check=False)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "baseline  ok" in demo.stdout and "scenario  ok" in demo.stdout and "impacted flows" in demo.stdout
    runs = list(results.glob("*/*/run.json"))
    assert len(runs) == 2 and all(p.stat().st_uid == CONTAINER_UID for p in runs), "written by the image's user"


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The tests' campaign file and its KPIs from the local pool on this machine (the reference of both
    backends below: run once, the same file)."""
    folder = tmp_path_factory.mktemp("campaign")
    path = _campaign(folder, "docker-3")
    local = _ani("campaign", "run", str(path), "--store", str(folder / "local"), "--workers", "2", cwd=folder, env={})
    assert local.returncode == 0, local.stderr
    kpis = _kpis(folder / "local", folder)
    assert len(kpis) == 3 and set(kpis["status"]) == {"ok"}
    return path, kpis


def test_a_campaign_through_docker_gives_the_local_kpis(engine: DockerEngine, image: BuiltImage,
                                                        local_reference: tuple[Path, pd.DataFrame],
                                                        tmp_path: Path) -> None:
    path, local = local_reference
    docker = _ani("campaign", "run", str(path), "--store", str(tmp_path / "docker"), "--docker", image.name,
                  "--workers", "2", cwd=tmp_path, env=engine.env)
    assert docker.returncode == 0, docker.stderr
    assert "ok 3, failed 0, timeout 0, lost 0" in docker.stdout and f"docker {image.name}" in docker.stdout
    pd.testing.assert_frame_equal(local, _kpis(tmp_path / "docker", tmp_path))


def test_the_image_serves_as_a_dask_worker(engine: DockerEngine, image: BuiltImage,
                                          local_reference: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """A scheduler here, its only worker in a container (host loopback, the store mounted at the same path)."""
    from distributed import Client, LocalCluster

    path, local = local_reference
    store = tmp_path / "store"
    _writable_by_the_container(store / "runs")  # the worker writes the runs; this process (root) the rest
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
        name = f"ani-worker-{os.getpid()}"
        engine.docker("run", "-d", "--rm", "--name", name, "--network", "host", "-v", f"{store}:{store}",
                      image.name, "dask", "worker", cluster.scheduler_address, "--nthreads", "2",
                      "--host", "127.0.0.1", "--no-dashboard")
        try:
            client.wait_for_workers(1, timeout=120)
            proc = _ani("campaign", "run", str(path), "--store", str(store), "--cluster", cluster.scheduler_address,
                        cwd=tmp_path, env={})
        finally:
            engine.docker("kill", name, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ok 3, failed 0, timeout 0, lost 0" in proc.stdout
    runs = list((store / "runs").glob("*/*/run.json"))
    assert len(runs) == 3 and all(p.stat().st_uid == CONTAINER_UID for p in runs), "the container wrote the runs"
    pd.testing.assert_frame_equal(local, _kpis(store, tmp_path))
