"""Read access to a finished run for mitigation strategies: its KPI tables and what failed in it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ani.kg.model import KnowledgeGraph
from ani.kg.scenario import Event, EventType, Scenario
from ani.ns3_scenarios.events import magnitudes
from ani.ns3_scenarios.render import timeline
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.measure.run_csv import read_run_csv
from ani.orchestrator.measure.summary import KPI_TABLES, ensure_kpi_tables


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass
class RunView:
    """Lazy read access to a finished run's folder (KPI tables, inputs) for strategies."""

    folder: Path

    @classmethod
    def of(cls, record: RunRecord) -> "RunView":
        return cls(Path(record.folder))

    def _parquet(self, name: str) -> pd.DataFrame:
        if name in KPI_TABLES and (self.folder / "spec.json").is_file():
            ensure_kpi_tables(self.folder)  # a campaign run's tables are written on first use
        path = self.folder / name
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    @cached_property
    def spec(self) -> dict[str, Any]:
        """``spec.json`` as plain data (params, nodes, cpu_pps, duration)."""
        return json.loads((self.folder / "spec.json").read_text())

    @cached_property
    def links(self) -> pd.DataFrame:
        return self._parquet("link_kpis.parquet")

    @cached_property
    def link_intervals(self) -> pd.DataFrame:
        return self._parquet("link_interval_kpis.parquet")

    @cached_property
    def cascades(self) -> pd.DataFrame:
        path = self.folder / "cascades.csv"
        return read_run_csv(path) if path.is_file() else pd.DataFrame(columns=["time_s", "event_type", "target",
                                                                              "origin"])

    def has_cpu(self, node: str) -> bool:
        """Whether ``node`` ran with a CPU model (``scale_cpu`` needs one)."""
        nodes = self.spec["nodes"]
        return node in nodes and self.spec["cpu_pps"][nodes.index(node)] > 0

    def traffic_stop_s(self, scenario: Scenario) -> float:
        """When the run's traffic stopped."""
        return timeline(self.spec["params"], scenario)[1]

    def emerged(self) -> list[tuple[float, str, str]]:
        """Failures that emerged during the run: (time, event type, target)."""
        c = self.cascades
        if c.empty:
            return []
        rows = c[c["origin"] == "emerged"]
        return [(float(t), str(e), str(g)) for t, e, g in zip(rows["time_s"], rows["event_type"], rows["target"])]

    def congested(self, exclude: set[str]) -> list[str]:
        """Congested link ids (drops or utilisation ≥ 0.9 in either direction), worst first."""
        df = self.links
        if df.empty:
            return []
        hot = df[df["congested"] & ~df["link"].isin(exclude)]
        hot = hot.sort_values(["drops", "utilisation"], ascending=False)
        return list(dict.fromkeys(hot["link"].astype(str)))

    def first_congested_s(self, link: str, default: float) -> float:
        """Start of the first congested interval of ``link`` (``default`` when unknown)."""
        df = self.link_intervals
        if df.empty:
            return default
        rows = df[(df["link"] == link) & df["congested"]]
        return float(rows["t_start_s"].min()) if len(rows) else default

    def max_utilisation(self) -> dict[str, float]:
        """Per link id, the higher utilisation of its two directions over the run."""
        df = self.links
        return {} if df.empty else df.groupby("link")["utilisation"].max().fillna(0.0).to_dict()


def failed_components(kg: KnowledgeGraph, scenario: Scenario, view: RunView | None = None
                      ) -> tuple[set[str], set[str]]:
    """(links, nodes) down at the end of the scenario: injected failures minus restores, plus emerged ones."""
    links: set[str] = set()
    nodes: set[str] = set()
    for e in scenario.events:
        target = kg.canonical(e.target) or e.target
        if e.event_type == EventType.fiber_link_failure:
            links.add(target)
        elif e.event_type == EventType.srlg_cut:
            links.update(kg.srlg_links(target))
        elif e.event_type == EventType.router_failure:
            nodes.add(target)
        elif e.event_type == EventType.link_restore:
            links.discard(target)
        elif e.event_type == EventType.router_restore:
            nodes.discard(target)
    for _, kind, target in (view.emerged() if view else []):
        (links if kind != EventType.router_failure.value else nodes).add(kg.canonical(target) or target)
    return links, nodes


def residual_graph(kg: KnowledgeGraph, links: set[str], nodes: set[str]) -> nx.Graph:
    g = nx.Graph(kg.topology)
    g.remove_nodes_from(nodes)
    g.remove_edges_from([kg.ends(lid) for lid in links if kg.canonical(lid)])
    return g


def event_magnitude(e: Event) -> float:
    """The magnitude the twin executes ``e`` with (its own, or its severity's)."""
    return magnitudes(e)[0]
