"""Faults of a real campaign (issue 16): SIGKILL of the campaign and its workers at many random moments,
then resume; damaged and deleted run records are noticed and their runs redone.

Each kill takes the whole process group (the ``ani campaign run`` process and its loky workers)
at a random moment: planning, dispatch, inside runs, while journaling or writing the dataset.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from ani.orchestrator.campaign.plan import plan_campaign_file
from campaign_helpers import ANI, ani, write_campaign

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

KILLS = int(os.environ.get("ANI_SIGKILL_MOMENTS", "20"))
VOLATILE = {"wall_s", "kpi_s", "finished_utc", "executor", "attempts", "folder", "repro_cmd", "stderr_tail", "error"}


def _stamps(store: Path) -> dict[str, tuple[int, int]]:
    """run id -> (inode, mtime) of the program's stdout.txt in each published run folder: a recomputed run
    gets a new file (run.json is no witness: a scenario's comparison with its baseline rewrites it)."""
    out = {}
    for path in (store / "runs").glob("*/*/run.json"):
        st = (path.parent / "stdout.txt").stat()
        out[json.loads(path.read_text())["run_id"]] = (st.st_ino, st.st_mtime_ns)
    return out


def _journal_ids(store: Path) -> list[str]:
    path = store / "journal.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line)["meta"]["run_id"])
        except (ValueError, KeyError):
            pass  # the line a kill tore (the next run repairs it)
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("workers of the killed campaign are still alive")


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _wait_for_journal(proc: subprocess.Popen[bytes], store: Path, seen: int, limit_s: float) -> None:
    """Until the journal holds more than ``seen`` run ids, or ``proc`` has ended."""
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline and len(set(_journal_ids(store))) <= seen:
        time.sleep(0.02)


def _wait_for_store(proc: subprocess.Popen[bytes], store: Path, limit_s: float = 300) -> None:
    """Until ``proc`` holds the store's lock (it has planned and opened the store), or has ended."""
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if (store / ".lock").read_text().strip() == str(proc.pid):
                return
        except OSError:
            pass
        time.sleep(0.02)


def _kpis(store: Path) -> pd.DataFrame:
    frame = pd.read_parquet(store / "kpis.parquet")
    return frame.drop(columns=[c for c in frame.columns if c in VOLATILE]).sort_values("run_id").reset_index(drop=True)


def test_sigkill_at_random_moments_then_resume_loses_nothing_and_recomputes_nothing(
        tmp_path: Path, scenario_dir: Path) -> None:
    path = write_campaign(tmp_path, scenarios={"files": [f"{scenario_dir}/*.json"]}, seeds={"start": 1, "count": 4},
                          baseline=True)
    planned = set(plan_campaign_file(path).ids())
    reference = tmp_path / "reference"
    t0 = time.monotonic()
    assert ani("campaign", "run", str(path), "--store", str(reference), "--workers", "2", "--no-progress",
               cwd=tmp_path).returncode == 0
    whole_s = time.monotonic() - t0

    store = tmp_path / "store"
    cmd = [*ANI, "campaign", "run", str(path), "--store", str(store), "--workers", "2", "--no-progress"]
    rng = random.Random(int(os.environ.get("ANI_FUZZ_SEED", "16")))
    finished: dict[str, tuple[int, int]] = {}
    kills = mid_campaign = 0
    window = whole_s / 8
    while kills < KILLS:
        proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        roll = rng.random()
        if roll < 0.2:  # while it starts, plans, repairs the store
            moment = rng.uniform(0.0, 4.0)
            _wait(proc, moment)
        elif roll < 0.6:  # just after a run was journaled: publishing, comparing, dispatching the next
            _wait_for_journal(proc, store, len(set(_journal_ids(store))), whole_s)
            moment = rng.uniform(0.0, 1.0)
            _wait(proc, moment)
        else:  # once it holds the store, at a random moment that grows until kills make progress
            _wait_for_store(proc, store)
            moment = rng.uniform(0.0, window)
            _wait(proc, moment)
        _kill_group(proc)
        kills += 1
        now = _stamps(store)
        assert {k: now[k] for k in finished} == finished, f"kill {kills} at {moment:.2f} s: a finished run recomputed"
        assert set(_journal_ids(store)) <= set(now), "a journaled run without its published folder"
        assert all(len(list((store / "runs").glob(f"*/*-{rid}"))) == 1 for rid in now), "a run published twice"
        mid_campaign += 0 < len(now) < len(planned)
        window = window if len(now) > len(finished) else min(2 * window, whole_s)
        finished = now
    print(f"{kills} kills, {mid_campaign} with some but not all runs finished; {len(finished)} of {len(planned)} "
          "finished before the last resume")
    assert mid_campaign >= 1, "no kill landed while the campaign had runs both done and to do"
    rerun = ani("campaign", "run", str(path), "--store", str(store), "--workers", "2", "--no-progress", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(planned)} planned" in rerun.stdout and f"ok {len(planned)}" in rerun.stdout
    final = _stamps(store)
    assert {k: final[k] for k in finished} == finished, "a run finished before the last kill was computed again"
    assert set(final) == planned == set(_journal_ids(store))
    pd.testing.assert_frame_equal(_kpis(store), _kpis(reference), check_like=True)


def test_a_garbage_or_deleted_run_record_is_noticed_and_the_run_redone(tmp_path: Path, scenario_dir: Path) -> None:
    path = write_campaign(tmp_path, scenarios={"files": [f"{scenario_dir}/*.json"]}, seeds=[1])
    store = tmp_path / "store"
    assert ani("campaign", "run", str(path), "--store", str(store), "--no-progress", cwd=tmp_path).returncode == 0
    before = _stamps(store)
    assert len(before) == 2
    damaged, deleted = sorted(before)
    damaged_json = next((store / "runs").glob(f"*/*-{damaged}/run.json"))
    damaged_json.write_bytes(b"\x00{not json\xff")
    for f in next((store / "runs").glob(f"*/*-{deleted}")).iterdir():
        f.unlink()
    with (store / "journal.jsonl").open("ab") as fh:
        fh.write(b'{"kind": "record", \xff\xfe garbage}\n')
    again = ani("campaign", "run", str(path), "--store", str(store), "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 journaled run(s) had a missing or unreadable run.json" in again.stderr
    assert "1 unreadable line(s)" in again.stderr and "ok 2" in again.stdout and "2 run now" in again.stdout
    after = _stamps(store)
    assert set(after) == set(before) and all(after[k] != before[k] for k in before), "both runs redone"
    status = ani("campaign", "status", str(store), cwd=tmp_path)
    assert status.returncode == 0 and "unreadable line" in status.stderr
