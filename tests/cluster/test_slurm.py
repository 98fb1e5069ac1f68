"""Campaigns, the loop and evaluations on a real SLURM cluster through dask-jobqueue.

The cluster (``conftest.py``) is real: munged, slurmctld and slurmd on this machine,
one partition with its CPUs. ``ani campaign run --slurm`` submits Dask workers as
``sbatch`` jobs, which run real ns-3 programs; the results must equal the local
pool's. One test cancels the only worker job with ``scancel`` while it holds runs:
the runs must be run again (by the job the executor resubmits) and the campaign
must complete. Every test checks that no job is left behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ani.orchestrator.campaign.driver import run_campaign
from ani.orchestrator.campaign.progress import NullProgress
from ani.orchestrator.campaign.store import CampaignStore
from ani.orchestrator.execute.base import STAGING
from ani.orchestrator.execute.slurm import SLURM_LOGS, SlurmExecutor, SlurmOptions
from slurm_cluster import PARTITION, SlurmCluster

pytestmark = [pytest.mark.slurm, pytest.mark.ns3, pytest.mark.slow]
ANI = [sys.executable, "-m", "ani.orchestrator.cli"]
SHORT = {"warmup_s": 0.1, "observe_s": 0.3, "drain_s": 0.1}  # 0.5 s simulated in all
CUTS = {"cut-denver.json": "Denver-Kansas_City", "cut-chicago.json": "Chicago-New_York"}
# KPI columns that depend on where and when a run executed, not on what it computed
WHERE_AND_WHEN = {"wall_s", "kpi_s", "folder", "repro_cmd", "executor", "attempts", "finished_utc", "stderr_tail"}


def _campaign(folder: Path, name: str, seeds: list[int], baseline: bool = True) -> Path:
    scenarios = folder / "scenarios"
    scenarios.mkdir(exist_ok=True)
    for file, link in CUTS.items():
        (scenarios / file).write_text(json.dumps([{"event_type": "fiber_link_failure", "target": link,
                                                   "timestamp": 0.2}]))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "topologies": ["abilene"], "params": SHORT, "seeds": seeds,
                                    "baseline": baseline, "timeout_s": 120,
                                    "scenarios": {"files": [f"{scenarios}/*.json"]}}, sort_keys=False))
    return path


def _ani(cluster: SlurmCluster, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([*ANI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **cluster.env})


def _kpis(csv: Path) -> pd.DataFrame:
    frame = pd.read_csv(csv)
    keep = [c for c in frame.columns if c not in WHERE_AND_WHEN]
    return frame[keep].sort_values("run_id").reset_index(drop=True)


def _no_jobs_left(cluster: SlurmCluster, timeout_s: float = 60) -> dict[str, str]:
    """The jobs still running or pending after the executor released them (they may take a moment to end)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        left = {j: s for j, s in cluster.jobs().items() if s not in ("CG", "CD", "CA")}
        if not left:
            return {}
        time.sleep(0.5)
    return left


def test_a_campaign_on_slurm_gives_the_local_pools_kpi_table_and_releases_its_jobs(
        slurm: SlurmCluster, tmp_path: Path) -> None:
    path = _campaign(tmp_path, "slurm-vs-local", seeds=[1, 2])  # 2 cuts x 2 seeds + 2 baselines = 6 runs
    local = _ani(slurm, "campaign", "run", str(path), "--store", str(tmp_path / "local"), "--workers", "2",
                 cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    on_slurm = _ani(slurm, "campaign", "run", str(path), "--store", str(tmp_path / "slurm"), "--slurm",
                    "--partition", PARTITION, "--jobs", "2", "--cores", "1", "--memory", "1GB",
                    "--walltime", "00:10:00", "--interface", "lo", cwd=tmp_path)
    assert on_slurm.returncode == 0, on_slurm.stderr
    assert "ok 6, failed 0, timeout 0, lost 0" in on_slurm.stdout
    assert f"slurm {PARTITION}: 2 job(s) x 1 core(s)" in on_slurm.stdout
    worker_logs = list((tmp_path / "slurm" / "runs" / SLURM_LOGS).glob("*.err"))
    assert len(worker_logs) >= 2, "each worker job writes its log into the store's runs folder"
    assert _no_jobs_left(slurm) == {}, "the campaign must cancel its worker jobs"
    for store in ("local", "slurm"):
        export = _ani(slurm, "campaign", "export", str(tmp_path / store), "-o", str(tmp_path / f"{store}.csv"),
                      cwd=tmp_path)
        assert export.returncode == 0, export.stderr
    a, b = _kpis(tmp_path / "local.csv"), _kpis(tmp_path / "slurm.csv")
    assert len(a) == 6 and set(a["status"]) == {"ok"}
    pd.testing.assert_frame_equal(a, b)


class _CancelTheJobHoldingRuns:
    """Watches the cluster; when its worker holds runs and one run is done, ``scancel`` its job (once)."""

    def __init__(self, executor: SlurmExecutor, cluster: SlurmCluster, store: CampaignStore) -> None:
        self.executor, self.cluster, self.store = executor, cluster, store
        self.cancelled: str | None = None
        self.held: list[str] = []
        self.done = threading.Event()

    def watch(self) -> None:
        while not self.done.is_set() and self.cancelled is None:
            busy = {addr: keys for addr, keys in self.executor.client.processing().items() if keys}
            if busy and self.store.journal_path.exists() and self.store.journal_path.read_text().strip():
                self.held = [str(k) for keys in busy.values() for k in keys]
                (job,) = self.executor.job_ids().values()
                self.cluster.run(["scancel", job])
                self.cancelled = job
                return
            time.sleep(0.05)


def test_the_only_worker_job_cancelled_with_scancel_mid_campaign_its_runs_are_redone_and_it_completes(
        slurm: SlurmCluster, tmp_path: Path) -> None:
    path = _campaign(tmp_path, "scancel", seeds=[1, 2, 3])  # 9 runs, 2 at a time on the one job's 2 cores
    store = CampaignStore(tmp_path / "store")
    options = SlurmOptions(partition=PARTITION, jobs=1, cores=2, memory="1GB", walltime="00:10:00", interface="lo")
    with SlurmExecutor(options, store.runs_root, timeout_s=120) as executor:
        watcher = _CancelTheJobHoldingRuns(executor, slurm, store)
        thread = threading.Thread(target=watcher.watch, daemon=True)
        thread.start()
        try:
            summary = run_campaign(path, store, executor, NullProgress())
        finally:
            watcher.done.set()
            thread.join(30)
        jobs_seen = set(executor.job_ids().values())
    assert watcher.cancelled, "the campaign ended before the worker job could be cancelled"
    assert watcher.held, "the cancelled job held no run"
    assert watcher.cancelled not in jobs_seen, "a new worker job replaced the cancelled one"
    assert summary.complete and summary.ok == 9 and summary.failed == summary.timeout == summary.lost == 0
    orphans = [p.name for p in (store.runs_root / STAGING).iterdir()] if (store.runs_root / STAGING).exists() else []
    assert orphans, "the runs the cancelled job held left their unfinished attempt folders"
    done = {e.record.run_id for e in CampaignStore(store.root).entries().values() if e.record and e.record.status == "ok"}
    assert {name.rsplit("-", 1)[0] for name in orphans} <= done, "each interrupted run was run again, to the end"
    assert _no_jobs_left(slurm) == {}


@pytest.mark.parametrize("command", [["campaign", "run", "{campaign}"], ["loop", "--topology", "abilene"],
                                     ["evaluate", "--networks", "abilene"]])
def test_a_partition_that_does_not_exist_is_one_line_naming_it(slurm: SlurmCluster, tmp_path: Path,
                                                               command: list[str]) -> None:
    campaign = _campaign(tmp_path, "nope", seeds=[1])
    args = [a.replace("{campaign}", str(campaign)) for a in command]
    proc = _ani(slurm, *args, "--slurm", "--partition", "no-such-partition", "--interface", "lo", cwd=tmp_path,
                timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-partition" in lines[0] and "Invalid partition" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert _no_jobs_left(slurm) == {}


def test_the_loop_runs_its_simulations_on_slurm_workers(slurm: SlurmCluster, tmp_path: Path) -> None:
    params = [f"--param={k}={v}" for k, v in SHORT.items()]
    args = ["loop", "--topology", "abilene", "--generator", "random", "--iterations", "1", "--budget", "2",
            "--mitigate-top", "0", "--no-report", "--results", str(tmp_path / "results"), *params]
    on_slurm = _ani(slurm, *args, "--slurm", "--partition", PARTITION, "--jobs", "1", "--cores", "2",
                    "--interface", "lo", cwd=tmp_path)
    assert on_slurm.returncode == 0, on_slurm.stderr
    assert "2 scenario runs" in on_slurm.stdout
    assert list((tmp_path / "results" / SLURM_LOGS).glob("*.err")), "the runs executed in SLURM worker jobs"
    assert _no_jobs_left(slurm) == {}


def test_an_evaluation_runs_its_simulations_on_slurm_workers(slurm: SlurmCluster, tmp_path: Path) -> None:
    params = [f"--param={k}={v}" for k, v in SHORT.items()]
    out = tmp_path / "evaluation"
    proc = _ani(slurm, "evaluate", "--networks", "abilene", "--seeds", "1", "--generators", "causal-walk",
                "--iterations", "1", "--budget", "2", "--mitigate-top", "0", "--no-report", "--out", str(out),
                *params, "--slurm", "--partition", PARTITION, "--jobs", "1", "--cores", "2", "--interface", "lo",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert list((out / "runs" / SLURM_LOGS).glob("*.err")), "the runs executed in SLURM worker jobs"
    simulated = re.search(r"(\d+) ns-3 runs simulated", proc.stdout)
    assert simulated and int(simulated[1]) >= 2 and list((out / "runs").rglob("run.json")), proc.stdout[-3000:]
    assert _no_jobs_left(slurm) == {}
