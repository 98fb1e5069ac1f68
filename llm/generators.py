"""The non-LLM generators: causal walk, rule-based, random, historical replay, greedy worst-case.

All of them read the graph only through :class:`~ani.kg.contract.CausalModel`
and are deterministic for a given ``constraints.seed``. All but ``random`` are
valid by construction (every event is taken from ``kg.frontier``); ``random``
is the "twin without LLM" baseline and returns what it draws, valid or not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import networkx as nx
from ani.kg.contract import CausalModel
from ani.kg.event_types import RESTORES
from ani.kg.scenario import Event, EventType, Scenario, load_scenario
from ani.llm.base import BaseGenerator, Candidate, GeneratorError, event, rng_for
from ani.llm.constraints import GenerationConstraints, step_choices
from ani.llm.feedback import Feedback
from ani.llm.guided_search import ScenarioScorer, guided_search
from ani.llm.text import describe
from ani.llm.vital_links import most_vital_first, vital_links

RESTORE_WEIGHT = 0.2
WALK_TRIES = 20


def _delay(rng: random.Random, constraints: GenerationConstraints) -> float:
    """A positive delay in whole milliseconds, uniform in ``[1 ms, max_delay_s]``."""
    return rng.randint(1, constraints.max_delay_ms) / 1000.0


def _scenario(name: str, events: Sequence[Event], reasons: Sequence[str] = ()) -> Scenario:
    return Scenario(name=name, description=describe(events, reasons), events=list(events))


# --- causal walk (the offline default) ---------------------------------------------
class CausalWalkGenerator(BaseGenerator):
    """A random walk over the causal frontier: each event is drawn from ``kg.frontier(events so far)``.

    Targets are drawn with weight ``1/sqrt(rank+1)`` among the step's choices
    (top-K ranked + explored), failures preferred over restores. A walk that
    dead-ends (empty frontier) before ``min_events`` is redrawn, up to
    ``WALK_TRIES`` times; the longest is kept.
    """

    name = "causal-walk"

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        for i in range(n):
            rng = rng_for(constraints, i)
            walks = (self._walk(kg, constraints, rng) for _ in range(WALK_TRIES))
            best: list[Event] = []
            for walk in walks:
                best = walk if len(walk) > len(best) else best
                if len(best) >= constraints.min_events:
                    break
            yield Candidate(scenario=_scenario(f"walk-{i:03d}", best), seed=constraints.seed + i)

    def _walk(self, kg: CausalModel, constraints: GenerationConstraints, rng: random.Random) -> list[Event]:
        length = rng.randint(constraints.min_events, constraints.max_events)
        events: list[Event] = []
        t = constraints.start_s
        for step in range(length):
            choices = step_choices(kg.frontier(events), constraints, rng, step=step)
            if not choices.actions:
                break
            pairs = list(choices.actions.values())
            rank = {tgt: r for r, tgt in enumerate(choices.targets)}
            weights = [(RESTORE_WEIGHT if e in RESTORES else 1.0) / (rank[tgt] + 1) ** 0.5 for e, tgt in pairs]
            kind, target = rng.choices(pairs, weights=weights)[0]
            t += _delay(rng, constraints)
            events.append(event(kind, target, t, rng.choice(["medium", "high", "critical"])))
        return events


# --- random (the unconstrained "twin without LLM" baseline) ------------------------
class RandomGenerator(BaseGenerator):
    """Uniformly random event types on uniformly random components; no causal constraint.

    May produce invalid scenarios (wrong kind, unreachable, restores of
    nothing): that is the point. They are returned and counted
    (``report.invalid_returned``).
    """

    name = "random"
    keeps_invalid = True

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        components = kg.components()
        types = list(constraints.event_types or EventType)
        for i in range(n):
            rng = rng_for(constraints, i)
            t, events = constraints.start_s, []
            for _ in range(rng.randint(constraints.min_events, constraints.max_events)):
                t += _delay(rng, constraints)
                events.append(event(rng.choice(types), rng.choice(components), t))
            yield Candidate(scenario=_scenario(f"random-{i:03d}", events), seed=constraints.seed + i)


# --- rule-based fault injection ------------------------------------------------------
def _link_id(g: nx.Graph, u: str, v: str) -> str:
    return str(g.edges[u, v].get("link_id", f"{u}-{v}"))


def rule_targets(kg: CausalModel, top_betweenness: int = 10) -> list[tuple[EventType, str, str]]:
    """The rule book: (event type, target, rule), the rule families taken in turn, no duplicates.

    Families, each in its own priority order: bridges (a cut partitions the
    network), the ``top_betweenness`` links of highest edge betweenness (OSPF
    cost as weight), SRLG cuts, N-1 router failures (highest degree first),
    N-1 link failures (every link, file order).
    """
    g = kg.topology
    between = nx.edge_betweenness_centrality(g, weight="ospf_cost")
    busiest = [_link_id(g, u, v) for (u, v), _ in sorted(between.items(), key=lambda kv: -kv[1])][:top_betweenness]
    routers = sorted((n for n, k in g.nodes(data="kind") if k == "router"), key=lambda n: -g.degree(n))
    families = [
        [(EventType.fiber_link_failure, _link_id(g, u, v), "bridge") for u, v in nx.bridges(g)],
        [(EventType.fiber_link_failure, t, "betweenness") for t in busiest],
        [(EventType.srlg_cut, c, "srlg") for c in kg.components() if kg.kind(c) == "srlg"],
        [(EventType.router_failure, str(t), "n-1 router") for t in routers],
        [(EventType.fiber_link_failure, _link_id(g, u, v), "n-1 link") for u, v in g.edges],
    ]
    interleaved = [fam[i] for i in range(max(map(len, families))) for fam in families if i < len(fam)]
    seen: set[tuple[EventType, str]] = set()
    return [r for r in interleaved if (r[0], r[1]) not in seen and not seen.add((r[0], r[1]))]


class RuleBasedGenerator(BaseGenerator):
    """Manually defined failures (the paper's baseline 1): one event each, from :func:`rule_targets`.

    Rules whose event is not allowed as a first event (``kg.frontier([])``)
    or by ``constraints.event_types`` are skipped. Fewer than ``n`` scenarios
    come back when the rule book runs out.
    """

    name = "rule-based"

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        first = kg.frontier([])
        t = constraints.start_s + constraints.max_delay_ms / 2000.0
        ok = [(e, tgt, why) for e, tgt, why in rule_targets(kg)
              if constraints.allows(e) and e in first.get(tgt, [])]
        for i, (kind, target, why) in enumerate(ok[:n]):
            events = [event(kind, target, t)]
            yield Candidate(scenario=_scenario(f"rule-{i:03d}", events, [f"rule: {why}"]), seed=constraints.seed)


# --- historical replay ------------------------------------------------------------------
class ReplayGenerator(BaseGenerator):
    """Replays historical incidents (the paper's baseline 3), in order, without exploration.

    Incidents come from ``incidents`` (scenario JSON files) or, when none are
    given, from the knowledge graph's ``incidents`` (records of past incidents,
    one scenario per incident, if the graph exposes them).
    """

    name = "replay"

    def __init__(self, incidents: Sequence[str | Path] = ()) -> None:
        self.paths = [Path(p) for p in incidents]

    def _incidents(self, kg: CausalModel) -> list[Scenario]:
        if self.paths:
            return [load_scenario(p) for p in self.paths]
        source = getattr(kg, "incidents", None)
        records = source() if callable(source) else source
        if records is None:
            raise GeneratorError("replay: this knowledge graph exposes no historical incidents; "
                                 "build it with incidents (ani generate --incidents FILE) or pass scenario files")
        records = list(records)
        if records and not isinstance(records[0], Scenario):
            from ani.kg.incidents import (
                incident_scenarios,  # the KG's own incident records
            )

            return incident_scenarios(records)
        return records

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        incidents = self._incidents(kg)
        if not incidents:
            raise GeneratorError("replay: the knowledge graph has no historical incidents "
                                 "(build it with incidents: ani generate --incidents FILE)")
        for i, inc in enumerate(incidents[:n]):
            name = inc.name if inc.name != "scenario" else f"replay-{i:03d}"
            text = inc.description or describe(inc.events)
            yield Candidate(scenario=Scenario(name=name, description=text, events=inc.events))


# --- greedy worst case -----------------------------------------------------------------
class WorstCaseGenerator(BaseGenerator):
    """Most-vital links, greedily: scenario ``i`` cuts the ``i``-th most damaging link, then
    keeps taking the most damaging action of the causal frontier on the damaged network.

    Damage is a static proxy (:mod:`ani.llm.vital_links`): gravity traffic a cut
    displaces plus, ten-fold, the traffic it disconnects (half for stress
    events, the sum over its links for a router).

    With a ``scorer`` (a :class:`~ani.llm.guided_search.ScenarioScorer`; the
    orchestrator passes the fluid tier's), the generator searches instead:
    :func:`~ani.llm.guided_search.guided_search`, a beam search (``beam``) over
    the causal frontier ranked by the scorer, which also scores the proxy's own
    chains; the ``n`` best chains found are the scenarios.
    """

    name = "worst-case"

    def __init__(self, scorer: ScenarioScorer | None = None, beam: int = 8) -> None:
        if beam < 1:
            raise GeneratorError(f"worst-case: beam must be >= 1, got {beam}")
        self.scorer, self.beam = scorer, beam

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        if not constraints.allows(EventType.fiber_link_failure):
            raise GeneratorError("worst-case cuts links: the constraints exclude fiber_link_failure")
        if self.scorer is not None:
            for i, (score, events, origin) in enumerate(guided_search(kg, self.scorer, constraints, n, self.beam)):
                reasons = [f"{origin}; scored {score:.3f}"] + [""] * (len(events) - 1)
                yield Candidate(scenario=_scenario(f"worst-{i:03d}", events, reasons), seed=constraints.seed)
            return
        starts = vital_links(kg, constraints)
        for i, first in enumerate(starts[:n]):
            events, reasons = most_vital_first(kg, first, constraints)
            yield Candidate(scenario=_scenario(f"worst-{i:03d}", events, reasons), seed=constraints.seed)
