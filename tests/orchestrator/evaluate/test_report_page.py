"""``ani report FOLDER`` for a run, a campaign store and a loop: one self-contained page, re-renderable, and
the loop-report fixes (events listed, emerged told apart, partial bins dropped, n with error bars)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ani.orchestrator.cli import main
from ani.orchestrator.evaluate.event_marks import events_text, run_events, traffic_stop_s
from ani.orchestrator.evaluate.report_html import ReportError, network_series
from ani.orchestrator.evaluate.report_page import folder_kind, write_report

pytestmark = [pytest.mark.ns3, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")


def headings(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def images(page: str) -> list[str]:
    return re.findall(r'<img src="(data:image/png;base64,[^"]+)"', page)


def test_a_run_report_has_kpis_sizing_map_series_and_events(cut_run) -> None:
    folder = Path(cut_run.scenario.folder)
    assert folder_kind(folder) == "run"
    page = write_report(folder).read_text()
    assert headings(page)[:5] == ["Run", "Headline KPIs", "Network map", "Throughput, loss and delay per interval",
                                  "Events"]
    assert len(images(page)) == 2  # the map and the time series
    assert "capacity_scale" in page and "traffic:" in page  # the sizing line from spec.json
    assert "Denver-Kansas_City" in page and "injected" in page and "impacted flows" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert f"ani report {folder}" in page
    assert (folder / "map.png").is_file()


def test_a_report_is_re_rendered_from_the_files_at_any_time(cut_run, tmp_path: Path) -> None:
    folder = Path(cut_run.scenario.folder)
    first = write_report(folder, tmp_path / "a.html").read_text()
    (folder / "map.png").unlink()
    second = write_report(folder, tmp_path / "b.html").read_text()
    assert headings(first) == headings(second) and len(images(second)) == 2
    assert (folder / "map.png").is_file()


def test_the_baseline_has_a_report_too_and_a_stranger_folder_is_refused(cut_run, tmp_path: Path) -> None:
    page = write_report(cut_run.baseline.folder, tmp_path / "base.html").read_text()
    assert "no events: a baseline" in page
    with pytest.raises(ReportError, match="not a run folder"):
        write_report(tmp_path)


def test_the_time_series_leaves_out_the_partial_last_bin(cut_run) -> None:
    for folder in (cut_run.scenario.folder, cut_run.baseline.folder):
        s = network_series(Path(folder))
        width = float(s["t_start_s"].diff().median())
        assert s["t_start_s"].max() + width <= traffic_stop_s(folder) + 1e-9
        # the last plotted interval carries full traffic: no artificial drop at the end
        assert s["throughput_bps"].iloc[-1] > 0.8 * s["throughput_bps"].median()


def test_the_cli_writes_the_report_and_the_map(cut_run, tmp_path: Path) -> None:
    folder = cut_run.scenario.folder
    res = CliRunner().invoke(main, ["report", folder, "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("report: ") and (tmp_path / "r.html").is_file()
    res = CliRunner().invoke(main, ["map", folder, "--out", str(tmp_path / "m.png"), "--topology", "abilene"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.png").is_file() and (tmp_path / "m.svg").is_file()
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 1 and "not a run folder" in res.output


def test_a_campaign_report_has_counts_n_per_scenario_and_maps(cut_campaign: Path) -> None:
    assert folder_kind(cut_campaign) == "campaign"
    page = write_report(cut_campaign).read_text()
    assert "3 runs planned; ok 3, failed 0" in page
    assert "n (ok runs)" in page and "cut0.json" in page and "cut1.json" in page
    assert len(images(page)) == 3  # the loss figure and one map per scenario
    assert "Failures" in headings(page)


def test_the_loop_report_lists_events_and_tells_emerged_from_injected(abilene_loop) -> None:
    page = write_report(abilene_loop.folder).read_text()
    archive = page[page.index("<h2>Archive</h2>"):]
    assert "<th>events</th>" in archive
    for row in abilene_loop.archive.itertuples():
        assert events_text(row.events).split(" @")[0] in archive
    assert "overflow-x:auto" in page  # wide tables scroll
    best = abilene_loop.evaluated.sort_values("damage").iloc[-1]
    ev = run_events(best["folder"])
    casc = pd.read_csv(Path(best["folder"]) / "cascades.csv")
    assert set(ev.loc[ev["origin"] == "emerged", "event"]) == set(casc.loc[casc["origin"] == "emerged", "event"])
    assert json.loads(best["events"])


def test_events_text_is_short_and_readable() -> None:
    text = events_text(json.dumps([{"event_type": "fiber_link_failure", "target": "A-B", "timestamp": 1.0},
                                   {"event_type": "router_failure", "target": "C", "timestamp": 1.5}]))
    assert text == "fiber_link_failure A-B @1s; router_failure C @1.5s"
    assert events_text("not json") == ""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (Debian: apt-get install chromium; "
                    ".ci/run installs it): the headless rendering check of the run report needs it")
def test_the_run_report_renders_in_headless_chromium(cut_run, tmp_path: Path) -> None:
    from PIL import Image

    from ani.orchestrator.evaluate.network_map import INJECTED_COLOR

    page = write_report(cut_run.scenario.folder, tmp_path / "run.html")
    shot = tmp_path / "run.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,2400", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    target = np.array([int(INJECTED_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(rgb - target) <= 40).all(axis=2).sum() > 100  # the map's cut link is on the rendered page
    saturated = (rgb.max(axis=2) - rgb.min(axis=2)) > 60
    assert saturated.mean() > 0.01
