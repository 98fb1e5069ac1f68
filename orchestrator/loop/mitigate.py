"""The mitigation engine: candidate recovery strategies, evaluated as counterfactual re-runs.

A scenario's unmitigated run is the *factual*; each candidate mitigation is the
same scenario, same seed, same traffic window and probes, re-run with the
candidate's changes (:mod:`ani.ns3_scenarios.mitigations`) and extra restore
events: a counterfactual pair, so any difference comes from the mitigation.

Damage (one scalar per scenario, from its :class:`~ani.orchestrator.measure.kpis.ScenarioKpis`)
------------------------------------------------------------------------------------
::

    damage = lost_traffic + impacted_share + delay_term            (0 <= damage <= 3)

``lost_traffic``
    ``scenario_loss_ratio - baseline_loss_ratio``, clipped at 0: the fraction of
    the network's own send attempts lost because of the scenario.
``impacted_share``
    ``impacted_flows / flows`` (impacted as :func:`ani.orchestrator.measure.kpis.compare` defines it).
``delay_term``
    ``mean_delta_delay_s / DELAY_REF_S`` clipped to [0, 1]: the mean one-way
    delay increase over flows, normalised by ``DELAY_REF_S`` (50 ms, a backbone
    one-way delay budget).

Effectiveness of a mitigation = relative improvement versus the unmitigated run
(same seed): ``(damage_u - damage_m) / damage_u``, and the same per KPI
(:data:`IMPROVEMENT_KPIS`: excess loss, impacted flows, delay increase, lost
throughput, max reroute time, congested links, unrecovered flows, impacted
nodes). Undefined (NaN) when the unmitigated value is below ``EPS``; 1 = the
damage is gone, 0 = no change, negative = the mitigation made it worse.

Strategies (plug-ins)
---------------------
=============  ==========================================================================
``reroute``    OSPF cost steering: traffic off a degraded link, around an overloaded
               router, and off congested links whose detour (in the graph without the
               failed components) has spare capacity in the unmitigated run
``capacity``   resource reallocation: congested links ×2, an overloaded router's CPU back
               to full, a DDoS victim's links × (1 + attack magnitude)
``rate_limit`` DDoS filtering: attack flows toward each spike's victim policed to 10 %
               at their ingress
``rollback``   restore failed links/routers (injected and emerged) after ``repair_s``;
               undo an OSPF cost misconfiguration after ``reaction_s``
``null``       a placebo (capacity × 1 on one link): a control, not in the defaults
=============  ==========================================================================

To add one, implement :class:`Strategy` and :func:`register_strategy` it.

You must provide
    ``name`` and ``propose(kg, scenario, unmitigated) -> list[MitigationCandidate]``:
    candidates built from the knowledge graph (:class:`~ani.kg.model.KnowledgeGraph`),
    the scenario and the unmitigated run's record (its folder holds the KPI
    tables; :class:`RunView` reads them). Targets must be components of the
    graph; times are simulated seconds. Return ``[]`` when nothing applies.
You get
    each candidate rendered with the scenario's seed, traffic window and
    probes, run through the loop's executor (content-addressed: a repeated
    candidate is not re-simulated), compared with the scenario's baseline and
    scored (:class:`MitigationOutcome`: damage before/after, effectiveness,
    per-KPI improvements); a candidate the twin cannot execute becomes an
    outcome with ``status="unrenderable"`` and its reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.errors import ProjectError, ScenarioError
from ani.kg.model import KnowledgeGraph
from ani.kg.scenario import Event, EventType, Scenario
from ani.ns3_scenarios.mitigations import Mitigation
from ani.ns3_scenarios.render import RunSpec, render_comparable
from ani.ns3_scenarios.templates import ParamValue, Template
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.measure.summary import compare_runs
from ani.orchestrator.measure.damage import (IMPROVEMENT_KPIS, damage, improvements,
                                     relative_improvement)
from ani.orchestrator.measure.run_view import RunView, event_magnitude, residual_graph, failed_components

MAX_COST = 65535
SPARE_UTILISATION = 0.8
RATE_LIMIT_KEEP = 0.1
DEFAULT_STRATEGIES = ("reroute", "capacity", "rate_limit", "rollback")
Runner = Callable[[Sequence[RunSpec]], list[RunRecord]]


class MitigationError(ProjectError, ValueError):
    """An unknown strategy or a strategy that cannot work (the message names it)."""


# ------------------------------------------------------------------------- candidates
class MitigationCandidate(BaseModel):
    """One recovery strategy for one scenario: changes the twin applies, and restore events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    strategy: str = Field(min_length=1)
    mitigations: list[Mitigation] = Field(default_factory=list)
    restore_events: list[Event] = Field(default_factory=list)
    rationale: str = ""


class MitigationOutcome(BaseModel):
    """A candidate's counterfactual run, scored against the unmitigated run (same seed)."""

    model_config = ConfigDict(extra="forbid")

    scenario_name: str
    scenario_digest: str
    candidate: MitigationCandidate
    status: str
    reason: str = ""
    run_id: str | None = None
    folder: str | None = None
    damage_unmitigated: float
    damage_mitigated: float | None = None
    effectiveness: float | None = None
    improvements: dict[str, float | None] = Field(default_factory=dict)
    kpis: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        """A flat row for a table (the candidate's changes as JSON text)."""
        c = self.candidate
        out = {"scenario_name": self.scenario_name, "scenario_digest": self.scenario_digest,
               "candidate": c.name, "strategy": c.strategy, "status": self.status, "reason": self.reason,
               "run_id": self.run_id, "folder": self.folder, "damage_unmitigated": self.damage_unmitigated,
               "damage_mitigated": _nan(self.damage_mitigated), "effectiveness": _nan(self.effectiveness),
               "changes": json.dumps([m.model_dump() for m in c.mitigations]),
               "restores": json.dumps([e.model_dump(mode="json") for e in c.restore_events]),
               "rationale": c.rationale}
        out.update({f"improvement_{k}": _nan(self.improvements.get(k)) for k in IMPROVEMENT_KPIS})
        return out


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


# ------------------------------------------------------------------------ strategies
@runtime_checkable
class Strategy(Protocol):
    """A mitigation strategy: proposes candidates for one scenario (see the module docstring)."""

    name: str

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        """Candidates for ``scenario`` given its unmitigated run."""


@dataclass
class Timing:
    """When strategies act: ``reaction_s`` after what they react to; repairs take ``repair_s``."""

    reaction_s: float = 0.1
    repair_s: float = 0.3


class RerouteStrategy(Timing):
    """Traffic rerouting by OSPF cost (see the module docstring)."""

    name = "reroute"

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        view = RunView.of(unmitigated)
        down_links, down_nodes = failed_components(kg, scenario, view)
        changes: dict[str, Mitigation] = {}
        why = []
        for e in scenario.events:
            t = e.timestamp + self.reaction_s
            target = kg.canonical(e.target) or e.target
            if e.event_type == EventType.link_degradation and self._detour(kg, target, down_links, down_nodes):
                changes[target] = Mitigation(kind="set_cost", target=target, value=MAX_COST, at_s=t)
                why.append(f"steer traffic off degraded {target}")
            elif e.event_type == EventType.router_overload:
                for lid in kg.links_of(target):
                    if lid not in down_links and self._detour(kg, lid, down_links, down_nodes | {target}):
                        changes.setdefault(lid, Mitigation(kind="set_cost", target=lid, value=MAX_COST, at_s=t))
                why.append(f"route transit around overloaded {target}")
        util = view.max_utilisation()
        start = scenario.events[0].timestamp if scenario.events else 0.0
        for lid in view.congested(down_links | set(changes))[:3]:
            path = self._detour(kg, lid, down_links, down_nodes)
            if path and max((util.get(p, 0.0) for p in path), default=0.0) < SPARE_UTILISATION:
                cost = kg.topology.edges[kg.ends(lid)]["ospf_cost"]
                t = view.first_congested_s(lid, start) + self.reaction_s
                changes[lid] = Mitigation(kind="set_cost", target=lid, value=min(MAX_COST, cost * 10), at_s=t)
                why.append(f"steer off congested {lid} onto {len(path)}-link detour with spare capacity")
        if not changes:
            return []
        return [MitigationCandidate(name="reroute", strategy=self.name, mitigations=list(changes.values()),
                          rationale="; ".join(why))]

    @staticmethod
    def _detour(kg: KnowledgeGraph, link: str, down_links: set[str], down_nodes: set[str]) -> list[str]:
        """Link ids of the cheapest path between ``link``'s ends without it and the failed parts ([] if none)."""
        a, b = kg.ends(link)
        g = residual_graph(kg, down_links | {link}, down_nodes)
        if a not in g or b not in g:
            return []
        try:
            path = nx.shortest_path(g, a, b, weight="ospf_cost")
        except nx.NetworkXNoPath:
            return []
        return [str(g.edges[u, v]["link_id"]) for u, v in zip(path, path[1:])]


class CapacityStrategy(Timing):
    """Resource reallocation: more link capacity or router CPU where the scenario bites."""

    name = "capacity"

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        view = RunView.of(unmitigated)
        down_links, _ = failed_components(kg, scenario, view)
        changes: dict[tuple[str, str], Mitigation] = {}
        why = []
        for e in scenario.events:
            t, target = e.timestamp + self.reaction_s, kg.canonical(e.target) or e.target
            if e.event_type == EventType.router_overload and view.has_cpu(target):
                changes[("cpu", target)] = Mitigation(kind="scale_cpu", target=target, value=1 / event_magnitude(e), at_s=t)
                why.append(f"CPU of {target} back to full")
            elif e.event_type == EventType.traffic_spike:
                for lid in kg.links_of(target):
                    if lid not in down_links:
                        changes[("cap", lid)] = Mitigation(kind="scale_capacity", target=lid,
                                                           value=1 + event_magnitude(e), at_s=t)
                why.append(f"links of DDoS victim {target} x{1 + event_magnitude(e):g}")
        start = scenario.events[0].timestamp if scenario.events else 0.0
        for lid in view.congested(down_links)[:3]:
            if ("cap", lid) not in changes:
                t = view.first_congested_s(lid, start) + self.reaction_s
                changes[("cap", lid)] = Mitigation(kind="scale_capacity", target=lid, value=2.0, at_s=t)
                why.append(f"congested {lid} x2")
        if not changes:
            return []
        return [MitigationCandidate(name="capacity", strategy=self.name, mitigations=list(changes.values()),
                          rationale="; ".join(why))]


class RateLimitStrategy(Timing):
    """DDoS filtering: police attack flows toward each spike's victim at their ingress."""

    name = "rate_limit"

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        changes = {}
        for e in scenario.events:
            if e.event_type == EventType.traffic_spike:
                target = kg.canonical(e.target) or e.target
                changes.setdefault(target, Mitigation(kind="rate_limit", target=target, value=RATE_LIMIT_KEEP,
                                                      at_s=e.timestamp + self.reaction_s))
        if not changes:
            return []
        return [MitigationCandidate(name="rate_limit", strategy=self.name, mitigations=list(changes.values()),
                          rationale=f"attack flows toward {', '.join(changes)} policed to {RATE_LIMIT_KEEP:.0%}")]


class RollbackStrategy(Timing):
    """Restore what failed after ``repair_s``; undo a cost misconfiguration after ``reaction_s``."""

    name = "rollback"

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        view = RunView.of(unmitigated)
        stop = view.traffic_stop_s(scenario)
        down_links, down_nodes = failed_components(kg, scenario, view)
        when = self._failure_times(kg, scenario, view)
        restores = [Event(event_type=EventType.link_restore, target=lid, timestamp=self._at(when[lid], stop))
                    for lid in sorted(down_links) if lid in when]
        restores += [Event(event_type=EventType.router_restore, target=n, timestamp=self._at(when[n], stop))
                     for n in sorted(down_nodes) if n in when]
        undo = [Mitigation(kind="set_cost", target=kg.canonical(e.target) or e.target,
                           value=kg.topology.edges[kg.ends(e.target)]["ospf_cost"],
                           at_s=min(e.timestamp + self.reaction_s, stop))
                for e in scenario.events if e.event_type == EventType.misconfiguration]
        if not restores and not undo:
            return []
        parts = [f"restore {len(restores)} failed component(s) after {self.repair_s:g} s"] if restores else []
        parts += [f"undo {len(undo)} cost misconfiguration(s)"] if undo else []
        return [MitigationCandidate(name="rollback", strategy=self.name, mitigations=undo,
                          restore_events=sorted(restores, key=lambda e: e.timestamp), rationale="; ".join(parts))]

    def _at(self, t: float, stop: float) -> float:
        """Repair time, kept inside the traffic window (halfway to its end when the window is short)."""
        return round(t + self.repair_s if t + self.repair_s < stop else (t + stop) / 2, 6)

    @staticmethod
    def _failure_times(kg: KnowledgeGraph, scenario: Scenario, view: RunView) -> dict[str, float]:
        """Last time each component failed (injected or emerged)."""
        out: dict[str, float] = {}
        for e in scenario.events:
            target = kg.canonical(e.target) or e.target
            if e.event_type == EventType.srlg_cut:
                out.update({lid: e.timestamp for lid in kg.srlg_links(target)})
            elif e.event_type in (EventType.fiber_link_failure, EventType.router_failure):
                out[target] = e.timestamp
        for t, _, target in view.emerged():
            out[kg.canonical(target) or target] = t
        return out


class NullStrategy(Timing):
    """A placebo: multiplies one link's capacity by 1. Its effectiveness must be 0 (a control)."""

    name = "null"

    def propose(self, kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord) -> list[MitigationCandidate]:
        lid = next(iter(kg.topology.edges(data="link_id")))[2]
        t = scenario.events[0].timestamp if scenario.events else 0.0
        return [MitigationCandidate(name="null", strategy=self.name, rationale="placebo",
                          mitigations=[Mitigation(kind="scale_capacity", target=lid, value=1.0, at_s=t)])]


StrategyFactory = Callable[..., Strategy]
_STRATEGIES: dict[str, StrategyFactory] = {
    "reroute": RerouteStrategy, "capacity": CapacityStrategy, "rate_limit": RateLimitStrategy,
    "rollback": RollbackStrategy, "null": NullStrategy,
}


def register_strategy(name: str, factory: StrategyFactory) -> None:
    """Make ``factory(reaction_s=..., repair_s=...) -> Strategy`` available as ``name``."""
    _STRATEGIES[name] = factory


def strategy_names() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(_STRATEGIES)


def get_strategies(names: Iterable[str] = DEFAULT_STRATEGIES, reaction_s: float = 0.1,
                   repair_s: float = 0.3) -> list[Strategy]:
    """Build the named strategies; raises :class:`MitigationError` for an unknown name."""
    out = []
    for name in names:
        if name not in _STRATEGIES:
            raise MitigationError(f"unknown mitigation strategy {name!r}; known: {', '.join(strategy_names())}")
        out.append(_STRATEGIES[name](reaction_s=reaction_s, repair_s=repair_s))
    return out


# ---------------------------------------------------------------------------- engine
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def mitigated_scenario(scenario: Scenario, candidate: MitigationCandidate) -> Scenario:
    """The scenario with the candidate's restore events merged in (time order kept)."""
    events = sorted([*scenario.events, *candidate.restore_events], key=lambda e: e.timestamp)
    name = _UNSAFE.sub("_", f"m-{scenario.digest()}-{candidate.name}")[:200]
    return Scenario(name=name, description=f"{scenario.description} | mitigation: {candidate.rationale}"[:2000],
                    events=events)


def candidate_spec(template: Template, g: nx.Graph, params: dict[str, ParamValue], scenario: Scenario,
                   candidate: MitigationCandidate) -> RunSpec:
    """The counterfactual run: same seed, traffic window and probes as the scenario's own run."""
    return render_comparable(template, mitigated_scenario(scenario, candidate), scenario, g, params,
                             mitigations=candidate.mitigations)


def propose(kg: KnowledgeGraph, scenario: Scenario, unmitigated: RunRecord, strategies: Sequence[Strategy],
            max_candidates: int = 6) -> list[MitigationCandidate]:
    """Candidates of every strategy, in strategy order, at most ``max_candidates``, no duplicate changes."""
    out, seen = [], set()
    for strategy in strategies:
        for cand in strategy.propose(kg, scenario, unmitigated):
            key = cand.model_dump_json(include={"mitigations", "restore_events"})
            if key not in seen:
                seen.add(key)
                out.append(cand)
    return out[:max_candidates]


def evaluate_mitigations(kg: KnowledgeGraph, g: nx.Graph, template: Template, params: dict[str, ParamValue],
                         scenario: Scenario, unmitigated: RunRecord, baseline: RunRecord,
                         unmitigated_kpis: ScenarioKpis, runner: Runner,
                         strategies: Sequence[Strategy], max_candidates: int = 6) -> list[MitigationOutcome]:
    """Propose candidates, run them (through ``runner``) and score each against the unmitigated run."""
    before = damage(unmitigated_kpis)
    base = {"scenario_name": scenario.name, "scenario_digest": scenario.digest(), "damage_unmitigated": before}
    outcomes: list[MitigationOutcome] = []
    runnable: list[tuple[MitigationCandidate, RunSpec]] = []
    for cand in propose(kg, scenario, unmitigated, strategies, max_candidates):
        try:
            runnable.append((cand, candidate_spec(template, g, params, scenario, cand)))
        except ScenarioError as exc:
            outcomes.append(MitigationOutcome(**base, candidate=cand, status="unrenderable", reason=str(exc)))
    records = runner([spec for _, spec in runnable]) if runnable else []
    compare = getattr(runner, "compare", None)  # a CachedRunner compares on its workers, in parallel
    if compare is not None and records:
        records = compare([(rec, baseline) for rec in records])
    for (cand, _), rec in zip(runnable, records):
        outcomes.append(score(cand, rec, baseline, unmitigated_kpis, base))
    return outcomes


def score(candidate: MitigationCandidate, record: RunRecord, baseline: RunRecord, unmitigated_kpis: ScenarioKpis,
          base: dict[str, Any]) -> MitigationOutcome:
    """Compare a finished counterfactual run with the baseline and the unmitigated run."""
    if record.status != "ok":
        return MitigationOutcome(**base, candidate=candidate, status=record.status, run_id=record.run_id,
                                 folder=record.folder, reason=record.stderr_tail[-300:])
    if record.comparison is not None and record.baseline_run_id == baseline.run_id:
        kpis = record.comparison
    else:
        kpis = compare_runs(Path(baseline.folder), Path(record.folder))
    after = damage(kpis)
    imp = improvements(unmitigated_kpis, kpis)
    return MitigationOutcome(**base, candidate=candidate, status="ok", run_id=record.run_id, folder=record.folder,
                             damage_mitigated=after,
                             effectiveness=_finite(relative_improvement(base["damage_unmitigated"], after)),
                             improvements={k: _finite(v) for k, v in imp.items()},
                             kpis=kpis.model_dump(mode="json"))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def best_outcome(outcomes: Sequence[MitigationOutcome]) -> MitigationOutcome | None:
    """The candidate with the highest effectiveness (None when none was scored)."""
    scored = [o for o in outcomes if o.effectiveness is not None]
    return max(scored, key=lambda o: o.effectiveness or 0.0) if scored else None
