"""Progress display and structured log: a bar on a terminal, plain lines elsewhere, JSON lines on disk."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from ani.orchestrator.campaign.progress import (LOGGER, NullProgress, PlainProgress, RichProgress, json_log, log_event,
                                       make_progress)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_a_pipe_gets_lines_and_no_progress_gets_nothing() -> None:
    assert isinstance(make_progress(_Terminal()), RichProgress)
    assert isinstance(make_progress(io.StringIO()), PlainProgress)
    assert isinstance(make_progress(_Terminal(), enabled=False), NullProgress)


def test_plain_lines_count_each_status_and_give_an_eta() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, every_s=3600)
    progress.start(total=5, done=1, description="abc")
    for status in ("ok", "failed", "timeout"):
        progress.advance(status)
    progress.note("run x: worker lost — retry 1/2")
    progress.advance("lost")
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("abc: 1/5 done (ok 0, failed 0, timeout 0, lost 0)") and "ETA ?" in lines[0]
    assert lines[1] == "abc: run x: worker lost — retry 1/2"
    assert lines[2].startswith("abc: 5/5 done (ok 1, failed 1, timeout 1, lost 1)") and "ETA 0:00:00" in lines[2]
    assert len(lines) == 3, "at most one line per interval, and always the last one"


def test_the_bar_shows_counts_and_the_total() -> None:
    out = _Terminal()
    progress = RichProgress(out)
    progress.start(total=3, done=1, description="camp")
    progress.advance("ok")
    progress.advance("failed")
    progress.close()
    text = out.getvalue()
    assert "camp" in text and "3/3" in text and "ok 1 failed 1 timeout 0 lost 0" in text


def test_events_are_written_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with json_log(path):
        log_event("run_finished", run_id="abc", status="ok", wall_s=0.5)
        log_event("run_lost", level=logging.WARNING, run_id="def", error="KilledWorker")
    log_event("after_the_block", run_id="x")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["run_finished", "run_lost"]
    assert events[0]["run_id"] == "abc" and events[0]["wall_s"] == 0.5 and events[1]["level"] == "WARNING"
    assert "time" in events[0] and not LOGGER.handlers
