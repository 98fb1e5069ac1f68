"""Workers must see the store at the same path (a shared file system): a worker that does not is one clear error.

The blind worker is a real Dask worker process in its own mount namespace
(``unshare --mount``) with an empty tmpfs mounted over the store's parent folder:
at the store's path it finds another, empty folder — as a compute node without the
shared file system would. Needs root for the mount (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.dask, pytest.mark.slow]
ANI = [sys.executable, "-m", "ani.orchestrator.cli"]


def _can_unshare() -> str:
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"unshare --mount fails here: {probe.stderr.strip()}"


@pytest.fixture
def blind_worker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(scheduler address, store folder): one worker whose view of ``tmp_path/shared`` is an empty tmpfs."""
    why = _can_unshare()
    if why:
        pytest.skip(why)
    from distributed import Client, LocalCluster

    shared = tmp_path / "shared"
    shared.mkdir()
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
        script = (f'mount -t tmpfs tmpfs "{shared}" && exec "{sys.executable}" -m distributed.cli.dask_worker '
                  f'{cluster.scheduler_address} --nthreads 1 --no-nanny --host 127.0.0.1 --no-dashboard')
        worker = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            client.wait_for_workers(1, timeout=120)
            yield cluster.scheduler_address, shared / "store"
        finally:
            worker.terminate()
            worker.wait(30)


def test_a_worker_that_cannot_see_the_store_is_named_in_one_line(blind_worker: tuple[str, Path],
                                                                 tmp_path: Path) -> None:
    address, store = blind_worker
    (tmp_path / "cut.json").write_text(json.dumps([{"event_type": "fiber_link_failure",
                                                    "target": "Denver-Kansas_City", "timestamp": 0.2}]))
    campaign = tmp_path / "c.yaml"
    campaign.write_text(yaml.safe_dump({"name": "c", "topologies": ["abilene"], "seeds": [1], "baseline": False,
                                        "params": {"warmup_s": 0.1, "observe_s": 0.3, "drain_s": 0.1},
                                        "scenarios": {"files": [str(tmp_path / "cut.json")]}}))
    t0 = time.monotonic()
    proc = subprocess.run([*ANI, "campaign", "run", str(campaign), "--store", str(store), "--cluster", address],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "cannot see the store" in lines[0] and str(store / "runs") in lines[0], proc.stderr
    assert "shared file system" in lines[0] and "Traceback" not in proc.stderr
    assert not list((store / "runs").glob("*/*/run.json")), f"no run may start ({time.monotonic() - t0:.0f} s)"
