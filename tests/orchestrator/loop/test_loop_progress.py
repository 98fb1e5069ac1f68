"""Progress of ``ani loop`` and ``ani evaluate``: counts of scenario runs against the budget, and an ETA."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ani.orchestrator.campaign.progress import PlainProgress
from ani.orchestrator.cli import main
from ani.orchestrator.loop.budget_progress import BudgetProgress, run_status

SHORT_ARGS = ["--param", "warmup_s=0.2", "--param", "observe_s=0.6", "--param", "drain_s=0.2"]
LINE = re.compile(r"^(ani [a-z]+(?: \([a-z-]+\))?): (\d+)/(\d+) done \(ok (\d+), failed (\d+), timeout (\d+), "
                  r"lost (\d+)\); elapsed \d+:\d\d:\d\d, ETA (?:\d+:\d\d:\d\d|\?)(; \d+ of them done before .*)?$")


def lines(text: str) -> list[tuple[int, int, int, int]]:
    """(finished, total, ok, failed) of every progress line in ``text``."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if m:
            out.append((int(m[2]), int(m[3]), int(m[4]), int(m[5])))
    return out


def test_counts_statuses_shrinks_for_short_loops_and_counts_reused_ones() -> None:
    stream = io.StringIO()
    tally = BudgetProgress(PlainProgress(stream, every_s=0.0), 10, "ani evaluate")
    tally.loop_started()
    tally.run("ok")
    tally.run("baseline failed")
    tally.loop_ended(4)  # the generator ran out after 2 of 4
    tally.loop_reused(3, 3)  # a loop found done before
    tally.loop_started()
    for status in ("ok", "timeout", "ok"):
        tally.run(status)
    tally.loop_ended(3)
    tally.close()
    got = lines(stream.getvalue())
    assert got[0] == (0, 10, 0, 0)
    assert got[-1] == (8, 8, 3, 1)  # 2 + 3 reused + 3 of a total shrunk by the 2 unused runs
    assert all(f <= t for f, t, _, _ in got)
    assert "3 of them done before" in stream.getvalue().splitlines()[-1]
    assert run_status("baseline timeout") == "failed" and run_status("timeout") == "timeout"


@pytest.mark.ns3
@pytest.mark.slow
def test_ani_loop_prints_progress_lines_and_full_column_names(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["loop", "--topology", "abilene", "--generator", "worst-case", "--iterations", "1",
                                    "--budget", "2", "--mitigate-top", "0", "--results", str(tmp_path / "runs"),
                                    "--out", str(tmp_path / "loop"), "--no-report", *SHORT_ARGS])
    assert res.exit_code == 0, res.output
    got = lines(res.output)
    assert got[0] == (0, 2, 0, 0) and got[-1][:3] == (2, 2, 2)
    assert "mitigation_effectiveness_mean" in res.output and "ani loop (worst-case): 2/2 done" in res.output


@pytest.mark.ns3
@pytest.mark.slow
def test_ani_evaluate_counts_every_loop_and_a_rerun_counts_reused_ones(tmp_path: Path) -> None:
    args = ["evaluate", "--networks", "abilene", "--seeds", "1", "--budget", "1", "--iterations", "1",
            "--generators", "rule-based,worst-case", "--mitigate-top", "0", "--out", str(tmp_path), "--no-report",
            *SHORT_ARGS]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    got = lines(res.output)
    assert got[0] == (0, 2, 0, 0) and got[-1][:2] == (2, 2)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert lines(again.output)[-1] == (2, 2, 0, 0)  # reused: done, but nothing ran again
    assert "2 of them done before (the counts are this run's)" in again.output
