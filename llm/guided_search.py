"""A worst-case search guided by a scorer (the fluid tier, injected by the orchestrator).

This layer cannot import the twin (``llm -> kg`` only), so the score comes in
through :class:`ScenarioScorer`: ``score(kg, scenarios) -> damages`` (None for a
scenario the scorer cannot model). The orchestrator's
:class:`~ani.orchestrator.loop.screening.FluidScorer` gives the loop's damage
as the fluid tier estimates it.

The search is a beam search over the causal frontier: every allowed first
action (no restores) is scored as a one-event scenario; the ``beam`` best are
extended by every allowed action of their frontier, the extensions scored, the
``beam`` best kept, up to ``max_events``. The static proxy's own scenarios
(:func:`~ani.llm.vital_links.most_vital_first` from the ``beam`` most vital
links) are scored with them, so the search never returns less than the old
heuristic's best by the scorer's measure. Events are ``max_delay_s / 2``
apart, the first that long after ``start_s`` (as the heuristic places them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ani.kg.contract import CausalModel
from ani.kg.event_types import RESTORES
from ani.kg.scenario import Event, Scenario
from ani.llm.base import event
from ani.llm.constraints import GenerationConstraints
from ani.llm.vital_links import most_vital_first, vital_links


@runtime_checkable
class ScenarioScorer(Protocol):
    """Scores scenarios on a knowledge graph: higher is more damaging; None: cannot be scored."""

    def score(self, kg: CausalModel, scenarios: Sequence[Scenario]) -> list[float | None]:
        """One score per scenario, in order."""


Chain = tuple[Event, ...]


def _extensions(kg: CausalModel, chain: Chain, at: float, constraints: GenerationConstraints) -> list[Chain]:
    """``chain`` plus each allowed next action of its frontier (restores excluded) at time ``at``."""
    out = []
    for target, kinds in kg.frontier(list(chain)).items():
        for kind in kinds:
            if kind not in RESTORES and constraints.allows(kind):
                out.append((*chain, event(kind, target, at)))
    return out


def _scored(kg: CausalModel, scorer: ScenarioScorer, chains: list[Chain], seen: dict[Chain, float]) -> None:
    """Score the chains not scored yet into ``seen`` (unscorable ones are left out)."""
    todo = [c for c in dict.fromkeys(chains) if c not in seen]
    scores = scorer.score(kg, [Scenario(name=f"search-{i}", events=list(c)) for i, c in enumerate(todo)])
    seen.update((c, s) for c, s in zip(todo, scores) if s is not None)


def guided_search(kg: CausalModel, scorer: ScenarioScorer, constraints: GenerationConstraints, n: int,
                  beam: int = 8) -> list[tuple[float, Chain, str]]:
    """The ``n`` highest-scoring event chains found, best first: ``(score, events, where it came from)``."""
    step = constraints.max_delay_ms / 2000.0
    first_at = constraints.start_s + step
    seen: dict[Chain, float] = {}
    origin: dict[Chain, str] = {}
    for link in vital_links(kg, constraints)[:beam]:
        chain = tuple(most_vital_first(kg, link, constraints)[0])
        origin.setdefault(chain, "the static proxy's greedy chain")
    level = _extensions(kg, (), first_at, constraints)
    _scored(kg, scorer, [*origin, *level], seen)
    for depth in range(1, constraints.max_events):
        best = sorted((c for c in level if c in seen), key=lambda c: -seen[c])[:beam]
        level = [x for c in best for x in _extensions(kg, c, first_at + depth * step, constraints)]
        if not level:
            break
        _scored(kg, scorer, level, seen)
    ok = [c for c in seen if len(c) >= constraints.min_events]
    ranked = sorted(ok, key=lambda c: (-seen[c], len(c)))[:n]
    return [(seen[c], c, origin.get(c, f"beam search (beam {beam})")) for c in ranked]
