"""The network map of real runs: checked pixel by pixel where the cut, the detours and the losses must be."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate.network_map import (EMERGED_COLOR, INJECTED_COLOR, LOSS_COLOR, MapFiles,
                                                   find_baseline, read_map_data, write_map)
from ani.orchestrator.execute.scenario_run import ScenarioResult, run_scenario

pytestmark = [pytest.mark.ns3, pytest.mark.slow]


def rgb_of(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])


def pixels(png: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def near(img: np.ndarray, color: str, tol: int = 40) -> np.ndarray:
    """Mask of the pixels within ``tol`` (per channel) of ``color``."""
    return (np.abs(img - rgb_of(color)) <= tol).all(axis=2)


def around(mask: np.ndarray, xy: tuple[float, float], r: int) -> int:
    x, y = round(xy[0]), round(xy[1])
    return int(mask[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].sum())


@pytest.fixture(scope="module")
def cut_map(cut_run: ScenarioResult) -> MapFiles:
    return write_map(cut_run.scenario.folder)


def test_the_map_is_geographic_and_finds_its_baseline(cut_run: ScenarioResult, cut_map: MapFiles) -> None:
    assert find_baseline(Path(cut_run.scenario.folder)) == Path(cut_run.baseline.folder)
    assert cut_map.png.is_file() and cut_map.svg is not None and cut_map.svg.read_text().startswith("<?xml")
    px = cut_map.node_pixels
    assert px["Seattle"][0] < px["Denver"][0] < px["Kansas_City"][0] < px["New_York"][0]  # west to east
    assert px["Seattle"][1] < px["Houston"][1]  # north is up
    assert pixels(cut_map.png).shape[:2] == (cut_map.size[1], cut_map.size[0])


def test_the_cut_link_is_drawn_in_the_failure_colour(cut_map: MapFiles) -> None:
    img = pixels(cut_map.png)
    cut = near(img, INJECTED_COLOR)
    a, b = cut_map.node_pixels["Denver"], cut_map.node_pixels["Kansas_City"]
    quarter = (0.75 * a[0] + 0.25 * b[0], 0.75 * a[1] + 0.25 * b[1])  # on the link, clear of the labels
    assert around(cut, quarter, 6) > 5
    far = cut_map.node_pixels["Los_Angeles"]
    assert around(cut, far, 25) == 0  # and nowhere near an intact part of the network


def test_nodes_whose_flows_lost_packets_are_ringed(cut_run: ScenarioResult, cut_map: MapFiles) -> None:
    data = read_map_data(cut_run.scenario.folder)
    assert data.down["link"] == {"Denver-Kansas_City"} and not data.down["node"]
    assert "Denver" in data.lost  # Denver's flows to the east crossed the cut
    ring = near(pixels(cut_map.png), LOSS_COLOR)
    for node in data.lost:
        assert around(ring, cut_map.node_pixels[node], 30) > 20, node
    # the detours carry more traffic than in the baseline: some link's utilisation went up
    assert data.utilisation.drop(index="Denver-Kansas_City")["delta"].max() > 0.02


def test_a_baseline_drawn_against_itself_shows_no_failure_and_no_loss(cut_run: ScenarioResult, cut_map: MapFiles,
                                                                       tmp_path: Path) -> None:
    base = cut_run.baseline.folder
    files = write_map(base, baseline=base, out=tmp_path / "base.png", svg=False)
    img = pixels(files.png)
    legend_only = near(img, INJECTED_COLOR).sum()
    assert legend_only < 100
    assert near(pixels(cut_map.png), INJECTED_COLOR).sum() > legend_only + 300  # the cut link and its label
    assert around(near(img, LOSS_COLOR), files.node_pixels["Denver"], 30) == 0
    assert files.svg is None


def ladder() -> nx.Graph:
    g = nx.Graph(name="Ladder")
    for u, v, mbps, cost in [("S", "X1", 10, 10), ("X1", "T", 10, 10), ("S", "X2", 4, 15), ("X2", "T", 4, 15),
                             ("S", "X3", 2, 20), ("X3", "T", 2, 20)]:
        for n in (u, v):
            g.add_node(n, kind="router", label=n, lat=None, lon=None)
        g.add_edge(u, v, link_id=f"{u}-{v}", capacity_bps=mbps * 1e6, delay_s=0.001, ospf_cost=cost, parallel=1)
    return g


def test_emerged_failures_are_orange_with_arrows_and_the_layout_is_stable(tmp_path: Path) -> None:
    """The cascade ladder of test_cascades: cutting S-X1 overloads path 2, then path 3 (no coordinates)."""
    template = get_template("ospf_failure")
    params = template.params({"warmup_s": 0.2, "drain_s": 0.2, "interval_s": 0.05, "capacity_scale": 1.0,
                              "cascades": True, "probe_interval_s": 0.0, "load_factor": 0.8, "observe_s": 2.5})
    scen = Scenario(name="c", events=[Event(event_type="fiber_link_failure", target="S-X1", timestamp=0.3)])
    result = run_scenario(ladder(), scen, template, params, tmp_path / "runs")
    first = write_map(result.scenario.folder)
    data = read_map_data(result.scenario.folder)
    emerged = [i for i in data.incidents if i.origin == "emerged"]
    assert emerged and not data.geographic
    assert all(i.cause is not None for i in emerged)
    img = pixels(first.png)
    assert near(img, EMERGED_COLOR, 25).sum() > 200  # dashed links, labels and arrows
    second = write_map(result.scenario.folder, out=tmp_path / "again.png", svg=False)
    assert second.node_pixels == first.node_pixels  # a fixed seed: the same picture every time
