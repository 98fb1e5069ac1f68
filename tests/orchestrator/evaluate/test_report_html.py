"""HTML reports of a loop and of an evaluation: self-contained, with plots a browser really renders."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ani.orchestrator.evaluate.report_html import (ReportError, evaluation_report, filled_curves, loop_report,
                                          network_series)

pytestmark = [pytest.mark.ns3, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")


def images(page: str) -> list[str]:
    return re.findall(r'<img src="(data:image/png;base64,[^"]+)"', page)


def test_loop_report_embeds_its_plots_and_needs_no_network(abilene_loop) -> None:
    page = loop_report(abilene_loop.folder).read_text()
    assert len(images(page)) >= 4
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "Closed loop on Abilene" in page and "Archive" in page


def test_evaluation_report_has_every_figure(small_eval) -> None:
    page = evaluation_report(small_eval.folder).read_text()
    assert len(images(page)) == 5  # budget curves, ablation, cascade depth, time series, mitigation
    for heading in ("Damage per budget", "Figure 6", "Cascade depth", "around its failure",
                    "Mitigation effectiveness", "Table 2"):
        assert heading in page
    assert "pytest small_eval" in page


def test_reports_refuse_a_folder_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no loop.json"):
        loop_report(tmp_path)
    with pytest.raises(ReportError, match="no eval.json"):
        evaluation_report(tmp_path)


def test_time_series_shows_the_dip_and_curves_keep_the_best_of_short_loops(abilene_loop) -> None:
    best = abilene_loop.evaluated.sort_values("damage").iloc[-1]
    base = network_series(Path(best["baseline_folder"]))
    hit = network_series(Path(best["folder"]), set(pd.read_parquet(Path(best["baseline_folder"]) /
                                                                   "flow_kpis.parquet")["flow"]))
    assert hit["throughput_bps"].min() < 0.9 * base["throughput_bps"].median()
    curves = pd.DataFrame({"arm": ["a", "a", "a", "llm"], "seed": [1, 1, 2, 1], "budget_index": [1, 2, 1, 1],
                           "best_so_far": [0.2, 0.5, 0.4, 0.9]})
    filled = filled_curves(curves).set_index(["arm", "seed", "budget_index"])["best_so_far"]
    assert filled[("a", 2, 2)] == 0.4 and filled[("a", 1, 2)] == 0.5  # a seed that ran out keeps its best
    assert ("llm", 1, 2) not in filled.index  # an arm with a smaller budget ends where it ended


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (Debian: apt-get install chromium); "
                    "the headless rendering check needs it")
def test_plots_render_in_headless_chromium(small_eval, tmp_path: Path) -> None:
    from PIL import Image

    HEIGHT = 8000
    page = evaluation_report(small_eval.folder)
    shot = tmp_path / "report.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", f"--window-size=1200,{HEIGHT}", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert rgb.shape[:2] == (HEIGHT, 1200)
    # text and tables are grey; only plotted data is coloured: count saturated pixels band by band
    # (the tables come first, so the page is taken tall enough to hold the figures below them)
    saturated = (rgb.max(axis=2) - rgb.min(axis=2)) > 60
    bands = [saturated[y:y + 500].mean() for y in range(0, HEIGHT, 500)]
    assert max(bands) > 0.01, f"at most {max(bands):.4f} of a band is coloured: plots did not render"
    assert sum(b > 0.002 for b in bands) >= 3, bands
    assert (rgb < 250).any(axis=2).mean() > 0.05  # and the page is not blank
