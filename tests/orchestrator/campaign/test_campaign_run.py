"""Campaigns end to end on real ns-3: failures as data, re-runs that compute nothing twice, crashes of the
campaign process and of workers.

``ani campaign`` runs as a user runs it (a subprocess); the SIGKILL test kills
that real process in the middle of its runs; the worker tests kill a real loky
worker and a real Dask worker process while they hold runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from ani.orchestrator.campaign.plan import load_campaign, plan_campaign
from ani.orchestrator.campaign.driver import run_campaign
from ani.orchestrator.execute.executors import LocalExecutor
from ani.orchestrator.campaign.progress import NullProgress
from ani.orchestrator.campaign.store import CampaignStore
from campaign_helpers import ANI, CRASH_SEED, HANG_SEED, ani, write_campaign

pytestmark = [pytest.mark.ns3, pytest.mark.slow]


def _campaign(folder: Path, template: Path, scenarios: Path, **fields) -> Path:
    return write_campaign(folder, template=str(template), scenarios={"files": [f"{scenarios}/*.json"]}, **fields)


def _stamps(store: Path) -> dict[str, tuple[int, int]]:
    """run id -> (inode, mtime) of each published run.json: a recomputed run gets a new file."""
    out = {}
    for path in (store / "runs").glob("*/*/run.json"):
        st = path.stat()
        out[json.loads(path.read_text())["run_id"]] = (st.st_ino, st.st_mtime_ns)
    return out


def _journal_ids(store: Path) -> list[str]:
    return [json.loads(line)["meta"]["run_id"] for line in (store / "journal.jsonl").read_text().splitlines()]


def test_crashes_and_hangs_are_recorded_the_campaign_goes_on_and_a_rerun_computes_nothing_twice(
        tmp_path: Path, fault_template: Path, scenario_dir: Path) -> None:
    path = _campaign(tmp_path, fault_template, scenario_dir, seeds=[1, CRASH_SEED, HANG_SEED], baseline=True,
                     timeout_s=5)  # a hang costs this; a short run takes < 1 s alone, more on a loaded machine
    # (at most 1.6 s measured with the load average at 3.5 on 2 cores, 2026-12-07)
    store = tmp_path / "store"
    proc = ani("campaign", "run", str(path), "--store", str(store), "--workers", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "9 planned, 0 already done" in proc.stdout and "ok 3, failed 3, timeout 3, lost 0" in proc.stdout
    assert "9/9 done (ok 3, failed 3, timeout 3, lost 0)" in proc.stderr, "plain progress lines off a terminal"

    status = ani("campaign", "status", str(store), cwd=tmp_path)
    assert status.returncode == 0 and "ok 3, failed 3, timeout 3, lost 0, remaining 0" in status.stdout
    assert status.stdout.count(f"injected fault: seed {CRASH_SEED}") == 3
    assert status.stdout.count("killed after 5 s") == 3 and status.stdout.count("reproduce: sh ") == 6

    assert ani("campaign", "export", str(path), "--store", str(store), "-o", str(tmp_path / "k.csv"),
               cwd=tmp_path).returncode == 0
    frame = pd.read_csv(tmp_path / "k.csv")
    assert len(frame) == 9 and frame["run_id"].is_unique
    ok = frame[frame["seed"] == 1].set_index("role")
    assert (ok.loc["scenario", "cmp_impacted_flows"] > 0).all(), "each cut compared with the shared baseline"
    assert pd.isna(ok.loc["baseline", "cmp_impacted_flows"])
    assert set(frame.loc[frame["seed"] == HANG_SEED, "status"]) == {"timeout"}

    before = _stamps(store)
    again = ani("campaign", "run", str(path), "--store", str(store), cwd=tmp_path)
    assert again.returncode == 0 and "9 already done" in again.stdout and "0 run now" in again.stdout
    assert _stamps(store) == before
    # the 6 runs retried crash or hang again whatever the time limit: a short one (--timeout) ends the hangs sooner
    retry = ani("campaign", "run", str(path), "--store", str(store), "--retry-failed", "--timeout", "2", cwd=tmp_path)
    assert retry.returncode == 0 and "3 already done" in retry.stdout and "6 run now" in retry.stdout
    assert "ok 3, failed 3, timeout 3, lost 0" in retry.stdout, retry.stdout  # the store's counts
    assert ani("campaign", "status", str(store), cwd=tmp_path).stdout.count("killed after 2 s") == 3
    after = _stamps(store)
    assert {k: v for k, v in after.items() if k in ok["run_id"].values} == \
        {k: v for k, v in before.items() if k in ok["run_id"].values}, "ok runs are never run again"


def test_sigkill_of_the_campaign_then_a_rerun_recomputes_no_finished_run_and_loses_none(
        tmp_path: Path, fault_template: Path, scenario_dir: Path) -> None:
    path = _campaign(tmp_path, fault_template, scenario_dir, seeds={"start": 1, "count": 4})
    planned = set(plan_campaign(load_campaign(path), tmp_path).ids())
    store = tmp_path / "store"
    cmd = [*ANI, "campaign", "run", str(path), "--store", str(store), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not ((store / "journal.jsonl").exists() and len(_journal_ids(store)) >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, "the campaign ended before it was killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_until_gone(proc.pid)  # its workers die with it (and with them any run they held)

    finished = _stamps(store)
    assert set(_journal_ids(store)) <= set(finished) and len(finished) < len(planned), "killed mid-campaign"
    rerun = ani("campaign", "run", str(path), "--store", str(store), "--workers", "2", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"8 planned, {len(finished)} already done" in rerun.stdout and "ok 8" in rerun.stdout
    final = _stamps(store)
    assert {k: final[k] for k in finished} == finished, "a finished run was computed again"
    assert set(final) == planned == set(_journal_ids(store))
    dataset = pd.read_parquet(store / "kpis.parquet")
    assert sorted(dataset["run_id"]) == sorted(planned) and set(dataset["status"]) == {"ok"}
    assert not any((store / "runs" / ".attempts").iterdir())


def _wait_until_gone(pgid: int, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of the killed campaign (group {pgid}) still run after {limit_s} s")


class _KillAWorkerOnce(NullProgress):
    """Progress that SIGKILLs one busy loky worker of this process when the first run finishes."""

    killed: int | None = None

    def advance(self, status: str) -> None:
        super().advance(status)
        if self.killed is None:
            workers = [p for p in psutil.Process().children() if "LokyProcess" in " ".join(p.cmdline())]
            busy = [p for p in workers if p.children()] or workers
            self.killed = busy[0].pid
            os.kill(self.killed, signal.SIGKILL)


def test_a_worker_killed_mid_run_is_retried_and_the_campaign_completes(
        tmp_path: Path, fault_template: Path, scenario_dir: Path) -> None:
    path = _campaign(tmp_path, fault_template, scenario_dir, seeds=[1, 2, 3])
    store = CampaignStore(tmp_path / "store")
    progress = _KillAWorkerOnce()
    with LocalExecutor(store.runs_root, 60, workers=2) as executor:
        summary = run_campaign(path, store, executor, progress)
    assert progress.killed is not None
    assert summary.complete and summary.ok == 6 and summary.lost == 0 and summary.retried >= 1
    events = [json.loads(line) for line in (store.root / "log.jsonl").read_text().splitlines()]
    assert any(e["event"] == "run_retry" and "TerminatedWorkerError" in e["error"] for e in events)


@pytest.mark.dask
def test_a_campaign_on_a_dask_scheduler_completes_when_a_worker_dies_mid_campaign(
        tmp_path: Path, fault_template: Path, scenario_dir: Path) -> None:
    from distributed import Client, LocalCluster

    path = _campaign(tmp_path, fault_template, scenario_dir, seeds={"start": 1, "count": 4})
    store = tmp_path / "store"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        cmd = [*ANI, "campaign", "run", str(path), "--store", str(store), "--cluster", cluster.scheduler_address]
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = _kill_a_busy_worker(client, store, proc)
        out, err = proc.communicate(timeout=300)
    assert victim, "no worker held a run when the first one finished"
    assert proc.returncode == 0, err
    assert "8 planned, 0 already done" in out and "ok 8, failed 0, timeout 0, lost 0" in out
    assert set(pd.read_parquet(store / "kpis.parquet")["status"]) == {"ok"}


def _kill_a_busy_worker(client, store: Path, proc: subprocess.Popen) -> str | None:
    """When the campaign's first run is journaled, SIGKILL a worker process that holds a run."""
    deadline = time.monotonic() + 300
    while not ((store / "journal.jsonl").exists() and _journal_ids(store)):
        assert proc.poll() is None and time.monotonic() < deadline, "the campaign ended before a worker was killed"
        time.sleep(0.02)
    busy = [addr for addr, keys in client.processing().items() if keys]
    if not busy:
        return None
    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    return busy[0]


def test_comparisons_run_in_the_workers_not_in_the_campaign_process(tmp_path: Path, monkeypatch) -> None:
    """A scenario-versus-baseline comparison parses both runs: the workers do it, so that the
    campaign process only dispatches (here, comparing in this process would raise)."""
    import ani.orchestrator.execute.run as run_module

    def no_parsing_here(*args, **kwargs):
        raise AssertionError("compare_runs ran in the campaign process")

    monkeypatch.setattr(run_module, "compare_runs", no_parsing_here)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for i, link in enumerate(["Denver-Kansas_City", "Seattle-Sunnyvale"]):
        (scenarios / f"cut{i}.json").write_text(json.dumps([{"event_type": "fiber_link_failure", "target": link,
                                                              "timestamp": 0.3}]))
    path = write_campaign(tmp_path, scenarios={"files": ["scenarios/*.json"]}, baseline=True)
    store = CampaignStore(tmp_path / "store")
    with LocalExecutor(store.runs_root, 120, workers=2) as executor:
        summary = run_campaign(path, store, executor, NullProgress())
    assert summary.ok == 3 and summary.complete
    entries = CampaignStore(tmp_path / "store").entries()
    compared = [e.record for e in entries.values() if e.record and e.record.comparison]
    assert len(compared) == 2 and all(r.baseline_run_id for r in compared)
    assert all(json.loads((Path(r.folder) / "run.json").read_text())["comparison"] == r.comparison.model_dump(mode="json") for r in compared)
