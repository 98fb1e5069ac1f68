"""The adversarial scenario composer (paper section 4.4).

It turns simpler scenarios into harder ones: it *combines* the failure events
of several parent scenarios (the most damaging past scenarios of the feedback
first, then scenarios of a base generator), *orders* them so that each one is
causally reachable from the ones before, makes the first two *simultaneous*
outages, and *injects stress* -- a traffic spike or router overload at the
busiest point of the frontier right after the failures (the peak). Every
event is taken from ``kg.frontier`` of the events before it, so the composed
scenario obeys the same validity rules as any other.

You must provide
    a base :class:`~ani.llm.base.Generator` (by name through :mod:`ani.llm.registry`),
    used when the feedback has too few past scenarios.
You get
    scenarios of up to ``constraints.max_events`` events whose provenance
    lists the digests of their parents.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from ani.kg.contract import CausalModel
from ani.kg.event_types import RESTORES
from ani.kg.scenario import Event, EventType, Scenario
from ani.llm.base import BaseGenerator, Candidate, Generator, event, rng_for
from ani.llm.constraints import GenerationConstraints
from ani.llm.feedback import Feedback
from ani.llm.text import describe

STRESS = (EventType.traffic_spike, EventType.router_overload)
Action = tuple[EventType, str]


class ComposerGenerator(BaseGenerator):
    """Combine, reorder and stress parent scenarios into multi-step adversarial scenarios.

    Parameters
    ----------
    base
        Generator of parent scenarios when the feedback has fewer than
        ``parents`` past scenarios (the registry's ``composer`` builds it by
        name, default ``causal-walk``).
    parents
        Parents per composed scenario.
    """

    name = "composer"

    def __init__(self, base: Generator, parents: int = 3) -> None:
        self.base = base
        self.parents = parents

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        past, base = self._pool(kg, n, constraints, feedback)
        for i in range(n):
            rng = rng_for(constraints, i)
            chosen = _pick(past, base, self.parents, rng)
            events, notes = compose(kg, [s.events for s in chosen], constraints, rng)
            yield Candidate(scenario=Scenario(name=f"composed-{i:03d}", description=describe(events, notes),
                                              events=events),
                            seed=constraints.seed + i, parents=[s.digest() for s in chosen])

    def _pool(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
              feedback: Feedback | None) -> tuple[list[Scenario], list[Scenario]]:
        """Parents: past scenarios (most damaging first) and base-generator scenarios."""
        past = [Scenario(name=p.name, events=p.events) for p in (feedback.ranked() if feedback else []) if p.events]
        want = max(self.parents * 2, n + self.parents) - len(past)
        base: list[Scenario] = []
        if want > 0:
            base_constraints = constraints.model_copy(update={"seed": constraints.seed + 7919})
            base = [s for s in self.base.generate(kg, want, base_constraints, None) if s.events]
        return past, base


def _pick(past: Sequence[Scenario], base: Sequence[Scenario], k: int, rng: random.Random) -> list[Scenario]:
    """``k`` distinct parents. With past scenarios, the first (leading) parent is one of them,
    drawn with weight ``1/(rank+1)`` (the most damaging most often); the others are drawn
    uniformly from all the rest."""
    chosen: list[Scenario] = []
    if past:
        chosen.append(rng.choices(list(past), weights=[1.0 / (r + 1) for r in range(len(past))])[0])
    rest = [s for s in [*past, *base] if s is not chosen[0]] if chosen else [*past, *base]
    return chosen + rng.sample(rest, min(k - len(chosen), len(rest)))


def _failures(parents: Sequence[Sequence[Event]]) -> list[Action]:
    """Failure actions of the parents, interleaved (first of each parent first), without restores."""
    queues = [[(e.event_type, e.target) for e in evs if e.event_type not in RESTORES] for evs in parents]
    merged: list[Action] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        merged += [q[rank] for q in queues if rank < len(q) and q[rank] not in merged]
    return merged


def _next_reachable(kg: CausalModel, events: list[Event], todo: list[Action],
                    constraints: GenerationConstraints) -> Action | None:
    """The first action of ``todo`` allowed after ``events`` (it is removed from ``todo``)."""
    frontier = kg.frontier(events)
    for action in todo:
        if constraints.allows(action[0]) and action[0] in frontier.get(action[1], []):
            todo.remove(action)
            return action
    return None


def _stress(kg: CausalModel, events: list[Event], constraints: GenerationConstraints) -> Action | None:
    """The best-ranked stress event (traffic spike, then overload) the frontier allows."""
    frontier = kg.frontier(events)
    for kind in STRESS:
        if constraints.allows(kind):
            for target, kinds in frontier.items():
                if kind in kinds:
                    return kind, target
    return None


def compose(kg: CausalModel, parents: Sequence[Sequence[Event]], constraints: GenerationConstraints,
            rng: random.Random) -> tuple[list[Event], list[str]]:
    """Compose one scenario from the parents' events (see the module docstring).

    Returns the events and a note per event. The first two failures share a
    timestamp (a simultaneous outage); later events are 1 ms to
    ``max_delay_s`` apart; one stress event follows the failures when the
    frontier allows it and there is room.
    """
    todo = _failures(parents)
    events: list[Event] = []
    notes: list[str] = []
    t = constraints.start_s + rng.randint(1, constraints.max_delay_ms) / 1000.0
    room = max(1, constraints.max_events - 1)
    while len(events) < room and (action := _next_reachable(kg, events, todo, constraints)):
        if len(events) >= 2:
            t += rng.randint(1, constraints.max_delay_ms) / 1000.0
        notes.append("simultaneous with the other opening event" if len(events) < 2
                     else "combined from another parent scenario")
        events.append(event(action[0], action[1], t, "critical" if len(events) < 2 else "high"))
    if not events or len(events) >= constraints.max_events:
        return events, notes
    if stress := _stress(kg, events, constraints):
        t += rng.randint(1, max(1, constraints.max_delay_ms // 4)) / 1000.0
        events.append(event(stress[0], stress[1], t, "critical"))
        notes.append("stress injected at the peak, while traffic reroutes")
    elif action := _next_reachable(kg, events, todo, constraints):
        t += rng.randint(1, constraints.max_delay_ms) / 1000.0
        events.append(event(action[0], action[1], t))
        notes.append("combined from another parent scenario")
    return events, notes
