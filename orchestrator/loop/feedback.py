"""What one loop iteration tells the next: scenario families, novelty, KPI rows, the feedback digest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import networkx as nx
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ani.kg.event_types import FAILURES, INFO
from ani.kg.model import KnowledgeGraph
from ani.llm.base import GenerationReport
from ani.llm.feedback import Feedback, PastScenario, Rejection
from ani.kg.scenario import Scenario
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.measure.damage import damage, damage_terms
from ani.orchestrator.execute.records import RunRecord

#: after a spike and a cascade, the first of these families among the events' (catalogue) families wins
FAMILY_PRECEDENCE = ("router_overload", "fiber_link_failure", "router_failure")



class ScenarioRow(BaseModel):
    """One evaluated scenario of a loop: a row of ``evaluated.parquet`` (and of an evaluation's
    ``scenarios.parquet``, which adds ``network`` and ``arm``). The KPI columns (``damage`` to
    ``emerged_failures``, :func:`kpi_row`) are unset when the scenario or its baseline failed."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    budget_index: int
    generator: str
    seed: int
    name: str
    digest: str
    events: str  # JSON list of the events
    n_events: int
    valid: bool
    first_try_valid: float  # NaN when unknown
    attempts: int
    run_id: str
    baseline_run_id: str
    status: str
    folder: str
    baseline_folder: str
    novelty: float
    damage: float  # NaN when not measured
    best_strategy: str
    best_effectiveness: float | None
    residual_damage: float | None
    mitigated: bool
    lost_traffic: float | None = None
    impacted_share: float | None = None
    delay_term: float | None = None
    flows: int | None = None
    impacted_flows: int | None = None
    lost_all_flows: int | None = None
    impacted_nodes: int | None = None
    loss_excess: float | None = None
    mean_delta_delay_ms: float | None = None
    max_delta_delay_ms: float | None = None
    reroute_time_median_ms: float | None = None
    reroute_time_max_ms: float | None = None
    disrupted_flows: int | None = None
    unrecovered_flows: int | None = None
    congested_links: int | None = None
    throughput_lost_frac: float | None = None
    cascade_depth: int | None = None
    emerged_failures: int | None = None
    family: str
    best_so_far: float


def scenario_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """``evaluated.parquet``: each row checked against :class:`ScenarioRow` (its ``kpis`` object left out)."""
    return pd.DataFrame([ScenarioRow(**{k: v for k, v in r.items() if k != "kpis"}).model_dump() for r in rows],
                        columns=list(ScenarioRow.model_fields))

def render_graph(topology: nx.Graph, kg: KnowledgeGraph) -> nx.Graph:
    """The topology as the renderer needs it: the KG's SRLGs attached (``g.graph["srlgs"]``)."""
    g = topology.copy()
    g.graph["srlgs"] = {s.id.removeprefix("srlg:"): list(s.links) for s in kg.srlgs}
    return g


def actions(s: Scenario) -> frozenset[tuple[str, str]]:
    """A scenario's (event type, target) pairs."""
    return frozenset((e.event_type.value, e.target) for e in s.events)


def scenario_family(s: Scenario, cascade_depth: int = 0) -> str:
    """The paper's Table 2 family of a scenario (first match): DDoS-style spike, cascading
    outage (two or more link/router failures, or a failure that emerged in the twin), router
    overload, fiber link failure (a link or SRLG cut), a single router failure; anything else
    (degradation, misconfiguration, restores only) is ``other``."""
    families = {INFO[e.event_type].family for e in s.events}
    if "ddos_spike" in families:
        return "ddos_spike"
    if cascade_depth >= 1 or sum(e.event_type in FAILURES for e in s.events) >= 2:
        return "cascading_outage"
    return next((f for f in FAMILY_PRECEDENCE if f in families), "other")


def novelty(s: Scenario, earlier: Sequence[frozenset[tuple[str, str]]]) -> float:
    """Jaccard distance of ``s``'s actions to the nearest earlier scenario (1 = nothing shared)."""
    mine = actions(s)
    dists = [1.0 - len(mine & a) / len(mine | a) for a in earlier if mine | a]
    return min(dists, default=1.0)


def _ms(x: float | None) -> float:
    return math.nan if x is None else 1000.0 * x


def kpi_row(k: ScenarioKpis, record: RunRecord) -> dict[str, Any]:
    """The columns of one evaluated scenario that come from its KPIs."""
    return {
        "damage": damage(k), **damage_terms(k), "flows": k.flows, "impacted_flows": k.impacted_flows,
        "lost_all_flows": k.lost_all_flows, "impacted_nodes": len(k.impacted_nodes),
        "loss_excess": damage_terms(k)["lost_traffic"], "mean_delta_delay_ms": _ms(k.mean_delta_delay_s),
        "max_delta_delay_ms": _ms(k.max_delta_delay_s), "reroute_time_median_ms": _ms(k.reroute_time_median_s),
        "reroute_time_max_ms": _ms(k.reroute_time_max_s), "disrupted_flows": k.disrupted_flows,
        "unrecovered_flows": k.unrecovered_flows, "congested_links": k.congested_links,
        "throughput_lost_frac": (1 - k.scenario_throughput_bps / k.baseline_throughput_bps
                                 if k.baseline_throughput_bps > 0 else math.nan),
        "cascade_depth": record.kpis.cascade_depth if record.kpis else 0,
        "emerged_failures": record.kpis.emerged_failures if record.kpis else 0,
    }


def explored_text(scenarios: Sequence[Scenario], limit: int = 500) -> str:
    """The feedback's goal line: components and SRLGs already explored (most recent last), in ``limit`` chars."""
    targets = list(dict.fromkeys(e.target for s in scenarios for e in s.events))
    srlgs = [t for t in targets if t.startswith("srlg:")]
    comps = [t for t in targets if not t.startswith("srlg:")]
    text = (f"Find damaging failures not tried yet. Explored components ({len(comps)}): {', '.join(comps[-25:])}."
            f" Explored SRLGs ({len(srlgs)}): {', '.join(srlgs[-5:]) or 'none'}.")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def loop_feedback(rows: Sequence[dict[str, Any]], scenarios: dict[str, Scenario], rejected: Sequence[Rejection],
                  top: int = 8) -> Feedback:
    """The digest a generator gets: top-damage scenarios with KPIs, recent rejections, what was explored."""
    ranked = sorted((r for r in rows if math.isfinite(r.get("damage", math.nan))), key=lambda r: -r["damage"])
    past = []
    for r in ranked[:top]:
        kpis = {"damage": r["damage"], "loss_pct": 100 * r["loss_excess"],
                "impacted_flows_pct": 100 * r["impacted_share"], "delay_ms": r["mean_delta_delay_ms"],
                "cascade_depth": r["cascade_depth"], "mitigated_pct": 100 * r.get("best_effectiveness", math.nan)}
        past.append(PastScenario(name=r["name"], events=scenarios[r["digest"]].events, impact=r["damage"],
                                 kpis={k: float(v) for k, v in kpis.items() if math.isfinite(v)}))
    explored = [scenarios[r["digest"]] for r in rows]
    return Feedback(past=past, rejected=list(rejected)[-5:], goal=explored_text(explored))


def merge_reports(a: GenerationReport, b: GenerationReport) -> GenerationReport:
    """Counts of two calls of the same generator added up."""
    counts = {k: getattr(a, k) + getattr(b, k) for k in ("requested", "proposed", "returned", "first_try_valid",
                                                        "valid", "repaired", "dropped", "invalid_returned",
                                                        "attempts", "llm_calls")}
    codes = dict(a.issue_codes)
    for k, v in b.issue_codes.items():
        codes[k] = codes.get(k, 0) + v
    return a.model_copy(update={**counts, "issue_codes": codes})


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-able dicts: Python numbers at full precision, NaN as None."""
    def plain(v: Any) -> Any:
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return [{k: plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def nanmean(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else math.nan


def nanmax(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return max(xs) if xs else math.nan
