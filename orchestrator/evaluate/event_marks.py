"""What the time-series plots need to tell injected from emerged events, and where traffic really stops.

* :func:`run_events` — a run's ``events.csv`` with each event's origin (``injected`` by the
  scenario, or ``emerged`` in the twin, from ``cascades.csv``) and cascade depth;
* :func:`mark_events` — vertical lines on time-series axes: injected events blue and dashed,
  emerged failures orange and dotted (so a one-event DDoS that caused a 4-deep cascade does not
  read as four injected events), reconvergence purple, with a legend entry each;
* :func:`traffic_stop_s` — when the run's demand traffic stops: a bin that ends after it is
  partial (fewer packets sent in it), which reads like an effect, so plots drop it;
* :func:`events_text` — a scenario's events (the JSON of a loop table) as one short line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ani.orchestrator.measure.run_csv import read_run_csv

INJECTED = "#1f77b4"
EMERGED = "#ff7f0e"
RECONVERGED = "#9467bd"


def run_events(folder: str | Path) -> pd.DataFrame:
    """``events.csv`` of a run with ``origin`` (injected | emerged) and ``depth`` columns (empty if none)."""
    folder = Path(folder)
    path = folder / "events.csv"
    cols = ["time_s", "event", "event_type", "target", "phase", "origin", "depth"]
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    ev = read_run_csv(path)
    ev["origin"], ev["depth"] = "injected", 0
    casc = folder / "cascades.csv"
    if casc.is_file():
        c = read_run_csv(casc)
        emerged = c[c["origin"] == "emerged"].set_index("event")["depth"]
        hit = ev["event"].isin(emerged.index)
        ev.loc[hit, "origin"] = "emerged"
        ev.loc[hit, "depth"] = ev.loc[hit, "event"].map(emerged)
    return ev[cols]


def mark_events(axes: Any, folder: str | Path) -> list[Any]:
    """Draw the run's events on every axis of ``axes``; return legend handles for what was drawn."""
    from matplotlib.lines import Line2D

    ev = run_events(folder)
    styles = {"injected": (INJECTED, "--"), "emerged": (EMERGED, ":"), "reconverge": (RECONVERGED, "--")}
    drawn: dict[str, int] = {}
    for t, phase, origin in zip(ev["time_s"], ev["phase"], ev["origin"]):
        key = "reconverge" if phase == "reconverge" else origin if phase == "inject" else None
        if key is None:
            continue
        color, ls = styles[key]
        for ax in axes:
            ax.axvline(t, color=color, ls=ls, lw=0.9 if key != "emerged" else 1.3)
        drawn[key] = drawn.get(key, 0) + 1
    labels = {"injected": "injected event", "emerged": "emerged failure (in the twin)",
              "reconverge": "reconvergence"}
    return [Line2D([], [], color=styles[k][0], ls=styles[k][1], label=f"{labels[k]} ({n})")
            for k, n in drawn.items()]


def traffic_stop_s(folder: str | Path) -> float | None:
    """When the run's demand flows stop (``spec.json``); None when unknown."""
    try:
        spec = json.loads((Path(folder) / "spec.json").read_text())
    except (OSError, ValueError):
        return None
    stops = [f["stop_s"] for f in spec.get("flows", []) if f.get("kind", "demand") == "demand"]
    return max(stops) if stops else None


def full_bins(series: pd.DataFrame, folder: str | Path, width: float) -> pd.DataFrame:
    """``series`` (a ``t_start_s`` column) without the bins that end after the traffic stopped."""
    stop = traffic_stop_s(folder)
    if stop is None or series.empty:
        return series
    return series[series["t_start_s"] + width <= stop + 1e-9]


def events_text(events_json: str, limit: int = 160) -> str:
    """``fiber_link_failure Denver-Kansas_City @1s; …`` from a loop table's ``events`` JSON."""
    try:
        events = json.loads(events_json)
    except (TypeError, ValueError):
        return ""
    text = "; ".join(f"{e.get('event_type')} {e.get('target')} @{float(e.get('timestamp', 0)):g}s" for e in events)
    return text if len(text) <= limit else text[: limit - 1] + "…"
