"""A map of a finished run against its baseline: what broke, where the traffic went, who lost packets.

:func:`write_map` draws one run folder (``spec.json``, ``events.csv``,
``cascades.csv``, the KPI tables) as ``map.png`` and ``map.svg``:

* **layout**: geographic (longitude, latitude) when the run's ``spec.json``
  carries node coordinates (``coords``, from the graph's ``lat``/``lon``), a
  force layout with a fixed seed otherwise (the same picture every time);
* **links**: colour = utilisation change against the baseline (red: more load,
  blue: less; averaged over the intervals from the first event to the end of
  the traffic, the busier direction), width = the scenario's utilisation;
  without a baseline, colour = the scenario's utilisation;
* **failures**: components an injected event took down (magenta, dashed),
  failures that *emerged* in the twin (orange, dashed, labelled with their
  depth, an arrow from each to the event that caused it), components
  restored by the end (green), stressed ones (degraded, overloaded; brown);
* **nodes whose flows lost packets** (more than in the baseline): a gold ring,
  its size growing with the packets lost, the count written next to it.

You must provide a run folder written by a template program (and its
baseline's, found through ``run.json``'s ``baseline_run_id`` next to it, or
given). You get the image files and the pixel position of every node in the
PNG (:class:`MapFiles`), which the tests use to check the picture.
matplotlib comes with the ``report`` extra.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pandas as pd

from ani.kg.errors import ProjectError
from ani.kg.event_types import FAILURES, RESTORES, EventType
from ani.orchestrator.measure.run_csv import read_run_csv

INJECTED_COLOR = "#d000d0"   # components an injected event took down
EMERGED_COLOR = "#ff7f00"    # failures that emerged in the twin
RESTORED_COLOR = "#00a060"   # restored by the end of the run
STRESSED_COLOR = "#8c564b"   # degraded / overloaded, still forwarding
LOSS_COLOR = "#e6b800"       # ring around nodes whose flows lost packets
NODE_COLOR = "#404040"
DPI = 100
FIGSIZE = (11.0, 7.0)


class MapError(ProjectError, ValueError):
    """A map cannot be drawn from this folder (the message names what is missing)."""


@dataclass
class Incident:
    """One event of the run (injected or emerged) and the components it acted on."""

    index: int
    time_s: float
    event_type: str
    kind: Literal["link", "node"]
    components: list[str]
    origin: Literal["injected", "emerged"]
    cause: int | None = None
    depth: int = 0


@dataclass
class MapData:
    """Everything the map shows, read from a run folder and its baseline."""

    title: str
    nodes: list[str]
    links: list[tuple[str, str, str]]  # (link id, u, v)
    pos: dict[str, tuple[float, float]]
    geographic: bool
    utilisation: pd.DataFrame  # index link id; columns scenario, baseline, delta
    window: tuple[float, float]
    incidents: list[Incident]
    down: dict[str, set[str]] = field(default_factory=lambda: {"link": set(), "node": set()})
    restored: dict[str, set[str]] = field(default_factory=lambda: {"link": set(), "node": set()})
    stressed: dict[str, set[str]] = field(default_factory=lambda: {"link": set(), "node": set()})
    lost: dict[str, int] = field(default_factory=dict)
    has_baseline: bool = False


@dataclass
class MapFiles:
    """The files written and where each node is in the PNG (column, row in pixels)."""

    png: Path
    svg: Path | None
    node_pixels: dict[str, tuple[float, float]]
    size: tuple[int, int]  # (width, height) of the PNG


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MapError("the network map needs the 'report' extra: pip install 'ani-twin[report]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ------------------------------------------------------------------------ reading
def find_baseline(folder: Path) -> Path | None:
    """The baseline run folder of ``folder`` (its ``run.json`` names it; it lives next to it)."""
    try:
        base_id = json.loads((folder / "run.json").read_text()).get("baseline_run_id")
    except (OSError, ValueError):
        return None
    if not base_id:
        return None
    found = sorted(p for p in folder.parent.glob(f"*-{base_id}") if (p / "spec.json").is_file())
    return found[0] if found else None


def _spec(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "spec.json").read_text())
    except (OSError, ValueError) as exc:
        raise MapError(f"{folder}: not a run folder (spec.json unreadable: {exc})") from None


def layout(nodes: list[str], links: list[tuple[str, str, str]],
           coords: list[Any] | None) -> tuple[dict[str, tuple[float, float]], bool]:
    """Node positions: (lon, lat) when at least half the nodes have coordinates (the others at the
    mean of their placed neighbours), else a force layout with seed 0; and whether it is geographic."""
    placed = {n: (float(c[1]), float(c[0])) for n, c in zip(nodes, coords or []) if c is not None}
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from((u, v) for _, u, v in links)
    if len(placed) * 2 < len(nodes) or len(placed) < 2:
        pos = nx.spring_layout(g, seed=0)
        return {n: (float(x), float(y)) for n, (x, y) in pos.items()}, False
    xs, ys = [p[0] for p in placed.values()], [p[1] for p in placed.values()]
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    for k, n in enumerate(n for n in nodes if n not in placed):
        near = [placed[m] for m in g.neighbors(n) if m in placed]
        bx, by = ((sum(p[0] for p in near) / len(near), sum(p[1] for p in near) / len(near)) if near else (cx, cy))
        angle = 2.4 * k
        placed[n] = (bx + 0.4 * math.cos(angle), by + 0.4 * math.sin(angle))
    return placed, True


def read_incidents(folder: Path, spec: dict[str, Any]) -> list[Incident]:
    """Injected events (from ``spec.json``) and emerged ones (``cascades.csv``), with their components."""
    names = spec["nodes"]
    link_ids = [l["link_id"] for l in spec["links"]]
    out = []
    times = _event_times(folder)
    for i, e in enumerate(spec.get("events", [])):
        comps = [link_ids[t] if e["target_kind"] == "link" else names[t] for t in e["targets"]]
        out.append(Incident(i, times.get(i, float(e["time_s"])), e["event_type"], e["target_kind"], comps,
                            "injected"))
    path = folder / "cascades.csv"
    if path.is_file():
        c = read_run_csv(path)
        for r in c[c["origin"] == "emerged"].itertuples(index=False):
            kind = "node" if r.event_type in (EventType.router_failure.value, EventType.router_overload.value) \
                else "link"
            cause = int(r.cause)
            out.append(Incident(int(r.event), float(r.time_s), str(r.event_type), kind, [str(r.target)], "emerged",
                                cause if cause >= 0 else None, int(r.depth)))
    return out


def _event_times(folder: Path) -> dict[int, float]:
    path = folder / "events.csv"
    if not path.is_file():
        return {}
    ev = read_run_csv(path)
    ev = ev[ev["phase"] == "inject"]
    return {int(i): float(t) for i, t in zip(ev["event"], ev["time_s"])}


def _states(folder: Path, incidents: list[Incident], data: MapData) -> None:
    """Fill ``data.down`` / ``restored`` / ``stressed``: the components' state at the end of the run."""
    by_index = {inc.index: inc for inc in incidents}
    path = folder / "events.csv"
    rows = read_run_csv(path).sort_values("time_s", kind="stable") if path.is_file() else pd.DataFrame(
        columns=["event", "phase"])
    for i, phase in zip(rows["event"], rows["phase"]):
        inc = by_index.get(int(i))
        if inc is None:
            continue
        kind, comps, etype = inc.kind, set(inc.components), EventType(inc.event_type)
        if etype in FAILURES and phase == "inject":
            data.down[kind] |= comps
            data.restored[kind] -= comps
        elif etype in RESTORES or phase == "restore":  # a restore event, or a failure's own end
            data.restored[kind] |= comps
            data.down[kind] -= comps
        elif phase == "inject":
            data.stressed[kind] |= comps
        elif phase == "end":
            data.stressed[kind] -= comps


def utilisation_window(spec: dict[str, Any], incidents: list[Incident]) -> tuple[float, float]:
    """From the first injected event (the traffic start when none) to the end of the demand traffic."""
    stops = [f["stop_s"] for f in spec.get("flows", []) if f.get("kind", "demand") == "demand"]
    starts = [f["start_s"] for f in spec.get("flows", [])]
    stop = max(stops, default=float(spec.get("duration_s", 0.0)))
    first = min((inc.time_s for inc in incidents if inc.origin == "injected"), default=min(starts, default=0.0))
    return float(first), float(stop)


def _link_utilisation(folder: Path, window: tuple[float, float]) -> pd.Series:
    """Per (link id, sending node), mean utilisation over the intervals inside ``window``."""
    from ani.orchestrator.measure.summary import ensure_kpi_tables

    ensure_kpi_tables(folder)
    path = folder / "link_interval_kpis.parquet"
    if path.is_file():
        df = pd.read_parquet(path)
        inside = df[(df["t_start_s"] >= window[0] - 1e-9) & (df["t_start_s"] < window[1] - 1e-9)]
        if len(inside):
            return inside.groupby(["link", "from"])["utilisation"].mean()
    df = pd.read_parquet(folder / "link_kpis.parquet")
    return df.set_index(["link", "from"])["utilisation"]


def read_utilisation(folder: Path, baseline: Path | None, window: tuple[float, float]) -> pd.DataFrame:
    """Per link id: the scenario's and the baseline's utilisation and their difference, in the direction
    whose utilisation changed most (without a baseline: the busier direction)."""
    scen = _link_utilisation(folder, window)
    base = _link_utilisation(baseline, window) if baseline is not None else scen * math.nan
    both = pd.DataFrame({"scenario": scen, "baseline": base.reindex(scen.index)}).fillna({"scenario": 0.0})
    both["delta"] = both["scenario"] - both["baseline"]
    key = both["delta"].abs().fillna(both["scenario"])
    pick = key.groupby(level="link").idxmax()
    out = both.loc[list(pick)].droplevel("from")
    return out


def read_lost(folder: Path, baseline: Path | None) -> dict[str, int]:
    """Per source node, packets its demand and probe flows lost beyond the baseline's (> 0 only)."""
    from ani.orchestrator.measure.summary import ensure_kpi_tables

    path = ensure_kpi_tables(folder) / "flow_kpis.parquet"
    scen = pd.read_parquet(path)
    scen = scen[scen["class"] != "attack"] if "class" in scen else scen
    lost = scen.set_index("flow")["lost_packets"]
    if baseline is not None:
        base = pd.read_parquet(ensure_kpi_tables(baseline) / "flow_kpis.parquet").set_index("flow")["lost_packets"]
        lost = (lost - base.reindex(lost.index).fillna(0)).clip(lower=0)
    per = lost.groupby(scen.set_index("flow")["src"]).sum()
    return {str(n): int(v) for n, v in per.items() if v > 0}


def read_map_data(folder: str | Path, baseline: str | Path | None = None,
                  coords: list[Any] | None = None) -> MapData:
    """Read what :func:`draw_map` shows from run ``folder`` and its baseline (found when not given).

    ``coords`` ([lat, lon] or None per node) replaces the ``spec.json``'s (a run folder written
    before specs carried coordinates is reused as it is, since its run id does not change)."""
    folder = Path(folder)
    spec = _spec(folder)
    base = Path(baseline) if baseline is not None else find_baseline(folder)
    names = spec["nodes"]
    links = [(l["link_id"], names[l["u"]], names[l["v"]]) for l in spec["links"]]
    pos, geographic = layout(names, links, coords if coords is not None else spec.get("coords"))
    incidents = read_incidents(folder, spec)
    window = utilisation_window(spec, incidents)
    scen = spec.get("scenario", {})
    data = MapData(title=f"{scen.get('name', folder.name)} on {spec.get('graph_name', 'graph')}", nodes=names,
                   links=links, pos=pos, geographic=geographic,
                   utilisation=read_utilisation(folder, base, window), window=window, incidents=incidents,
                   lost=read_lost(folder, base), has_baseline=base is not None)
    _states(folder, incidents, data)
    return data


# ------------------------------------------------------------------------ drawing
def _component_xy(data: MapData, kind: str, name: str) -> tuple[float, float] | None:
    if kind == "node":
        return data.pos.get(name)
    for lid, u, v in data.links:
        if lid == name:
            (x1, y1), (x2, y2) = data.pos[u], data.pos[v]
            return (x1 + x2) / 2, (y1 + y2) / 2
    return None


def _link_style(data: MapData, lid: str) -> tuple[str | None, str]:
    """(override colour, line style) of a link in a failure state (None: coloured by utilisation)."""
    emerged = {c for inc in data.incidents if inc.origin == "emerged" and inc.kind == "link" for c in inc.components}
    if lid in data.down["link"]:
        return (EMERGED_COLOR if lid in emerged else INJECTED_COLOR), "--"
    if lid in data.restored["link"]:
        return RESTORED_COLOR, "-"
    if lid in data.stressed["link"]:
        return STRESSED_COLOR, ":"
    return None, "-"


def _draw_links(ax: Any, data: MapData, plt: Any) -> Any:
    from matplotlib.colors import Normalize, TwoSlopeNorm

    u = data.utilisation
    if data.has_baseline:
        lim = max(0.05, float(u["delta"].abs().max(skipna=True) or 0.0))
        norm, cmap, values = TwoSlopeNorm(0.0, -lim, lim), plt.get_cmap("coolwarm"), u["delta"]
    else:
        norm, cmap, values = Normalize(0.0, 1.0), plt.get_cmap("viridis"), u["scenario"]
    for lid, a, b in data.links:
        (x1, y1), (x2, y2) = data.pos[a], data.pos[b]
        override, style = _link_style(data, lid)
        util = float(u["scenario"].get(lid, 0.0)) if lid in u.index else 0.0
        val = values.get(lid, math.nan) if lid in values.index else math.nan
        color = override or ("#bbbbbb" if not math.isfinite(val) else cmap(norm(val)))
        width = 3.0 if override else 1.0 + 7.0 * min(1.0, max(0.0, util))
        ax.plot([x1, x2], [y1, y2], color=color, lw=width, ls=style, solid_capstyle="round",
                zorder=3 if override else 2)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    return sm


def _draw_nodes(ax: Any, data: MapData) -> None:
    xs = [data.pos[n][0] for n in data.nodes]
    ys = [data.pos[n][1] for n in data.nodes]
    top = max(data.lost.values(), default=1)
    for n in data.lost:
        x, y = data.pos[n]
        ax.scatter([x], [y], s=260 + 900 * data.lost[n] / top, facecolors="none", edgecolors=LOSS_COLOR,
                   linewidths=3.5, zorder=4)
        ax.annotate(f"{data.lost[n]} lost", (x, y), xytext=(9, -14), textcoords="offset points", fontsize=7,
                    color="#6b5500", zorder=6)
    colors = [INJECTED_COLOR if n in data.down["node"] else RESTORED_COLOR if n in data.restored["node"]
              else STRESSED_COLOR if n in data.stressed["node"] else NODE_COLOR for n in data.nodes]
    emerged = {c for inc in data.incidents if inc.origin == "emerged" and inc.kind == "node" for c in inc.components}
    colors = [EMERGED_COLOR if n in emerged and n in data.down["node"] else c for n, c in zip(data.nodes, colors)]
    ax.scatter(xs, ys, s=[110 if c != NODE_COLOR else 45 for c in colors], c=colors, zorder=5,
               edgecolors="white", linewidths=0.8)
    if len(data.nodes) <= 60:
        for n in data.nodes:
            ax.annotate(n.replace("_", " "), data.pos[n], xytext=(5, 5), textcoords="offset points", fontsize=7,
                        color="#222222", zorder=6)


def _draw_incidents(ax: Any, data: MapData) -> None:
    by_index = {inc.index: inc for inc in data.incidents}
    for inc in data.incidents:
        xy = _component_xy(data, inc.kind, inc.components[0]) if inc.components else None
        if xy is None:
            continue
        color = INJECTED_COLOR if inc.origin == "injected" else EMERGED_COLOR
        label = (f"#{inc.index} injected: {inc.event_type} @{inc.time_s:g}s" if inc.origin == "injected"
                 else f"#{inc.index} emerged (depth {inc.depth}, cause #{inc.cause}): {inc.event_type} "
                      f"@{inc.time_s:.2f}s")
        ax.annotate(label, xy, xytext=(0, 12 if inc.origin == "injected" else -18), textcoords="offset points",
                    fontsize=7, color=color, ha="center", zorder=7,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": color, "lw": 0.6, "alpha": 0.85})
        cause = by_index.get(inc.cause) if inc.cause is not None else None
        target = _component_xy(data, cause.kind, cause.components[0]) if cause and cause.components else None
        if inc.origin == "emerged" and target is not None:
            ax.annotate("", xy=target, xytext=xy, zorder=6,
                        arrowprops={"arrowstyle": "-|>", "color": EMERGED_COLOR, "lw": 1.6,
                                    "connectionstyle": "arc3,rad=0.25", "shrinkA": 6, "shrinkB": 6})


def _legend(ax: Any) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=INJECTED_COLOR, lw=3, ls="--", label="failed (injected)"),
               Line2D([], [], color=EMERGED_COLOR, lw=3, ls="--", label="failed (emerged; arrow to its cause)"),
               Line2D([], [], color=RESTORED_COLOR, lw=3, label="restored"),
               Line2D([], [], color=STRESSED_COLOR, lw=3, ls=":", label="stressed (degraded, overloaded)"),
               Line2D([], [], marker="o", ls="", mfc="none", mec=LOSS_COLOR, mew=2.5, ms=12,
                      label="node whose flows lost packets")]
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)


def draw_map(data: MapData) -> tuple[Any, Any]:
    """The map as a matplotlib (figure, axes)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    fig.subplots_adjust(left=0.03, right=0.88, top=0.92, bottom=0.04)
    sm = _draw_links(ax, data, plt)
    _draw_nodes(ax, data)
    _draw_incidents(ax, data)
    _legend(ax)
    cax = fig.add_axes((0.9, 0.15, 0.018, 0.7))
    what = "utilisation change vs baseline" if data.has_baseline else "utilisation (no baseline)"
    fig.colorbar(sm, cax=cax).set_label(f"{what}, {data.window[0]:g}-{data.window[1]:g} s; width = utilisation",
                                        fontsize=8)
    if data.geographic:
        mid = sum(p[1] for p in data.pos.values()) / len(data.pos)
        ax.set_aspect(1 / max(0.2, math.cos(math.radians(mid))), adjustable="datalim")
    ax.margins(0.08)
    ax.set_axis_off()
    layout_name = "geographic layout (lon, lat)" if data.geographic else "force layout (no coordinates)"
    ax.set_title(f"{data.title} ({layout_name})", fontsize=10)
    return fig, ax


def write_map(folder: str | Path, baseline: str | Path | None = None, out: str | Path | None = None,
              svg: bool = True, coords: list[Any] | None = None) -> MapFiles:
    """Draw run ``folder`` against its baseline into ``out`` (default ``folder/map.png``) and an SVG next to it
    (``coords``: see :func:`read_map_data`)."""
    plt = _plt()
    data = read_map_data(folder, baseline, coords)
    fig, ax = draw_map(data)
    png = Path(out) if out else Path(folder) / "map.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    pixels = {n: (float(x), float(height - y)) for n, (x, y) in
              zip(data.nodes, ax.transData.transform([data.pos[n] for n in data.nodes]))}
    fig.savefig(png, dpi=DPI)
    svg_path = png.with_suffix(".svg") if svg else None
    if svg_path is not None:
        fig.savefig(svg_path)
    plt.close(fig)
    return MapFiles(png, svg_path, pixels, (width, height))
