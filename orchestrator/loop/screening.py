"""``ani loop --screen K``: generate K x the candidates, rank them with the fluid tier, simulate the best.

The fluid tier sees no emergent cascades (queue dynamics held over time), so
candidates are ranked with ``cascades`` off; the packet-level runs keep the
loop's parameters. Candidates the fluid tier refuses are ranked last (kept
only if too few others are left). The budget counts packet-level runs only:
screening is free of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import networkx as nx
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid import FluidRefusal, fluid_twin, refuse_setup
from ani.orchestrator.evaluate.screen import fluid_damage, network_of

P = TypeVar("P", bound=tuple)


class FluidScorer:
    """The fluid tier as the worst-case search's scorer (:class:`~ani.llm.guided_search.ScenarioScorer`).

    ``score(kg, scenarios)``: the loop's damage of each scenario as the fluid
    tier estimates it on ``kg``'s network (``cascades`` off, as in screening);
    None for a scenario it refuses. Raises :class:`FluidRefusal` if the set-up
    (``params``) cannot be modelled at all.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {**params, "cascades": False}
        self._twins: dict[str, Any] = {}
        self.scored = 0

    def score(self, kg: Any, scenarios: Sequence[Scenario]) -> list[float | None]:
        if kg.digest not in self._twins:
            self._twins = {kg.digest: fluid_twin(network_of(kg), self.params)}
        twin = self._twins[kg.digest]
        out = [None if isinstance(k, ScenarioError) else fluid_damage(k)[0] for k in twin.evaluate_many(list(scenarios))]
        self.scored += len(scenarios)
        return out


def fluid_scorer_for(params: dict[str, Any]) -> tuple[FluidScorer | None, str]:
    """A :class:`FluidScorer` for the worst-case search under ``params`` (validated template values;
    ``cascades`` off for scoring, as in screening), or None and the reason the fluid tier cannot model them."""
    values = {**params, "cascades": False}
    try:
        refuse_setup(values)
    except FluidRefusal as exc:
        return None, str(exc)
    return FluidScorer(values), ""


def screen_candidates(g: nx.Graph, params: dict[str, Any], planned: Sequence[P], keep: int
                      ) -> tuple[list[P], list[float | None]]:
    """The ``keep`` candidates (tuples whose first item is a Scenario) of highest fluid damage, and all damages."""
    twin = fluid_twin(g, {**params, "cascades": False})
    kpis = twin.evaluate_many([item[0] for item in planned])
    scores = [None if isinstance(k, ScenarioError) else fluid_damage(k)[0] for k in kpis]
    order = sorted(range(len(planned)), key=lambda i: (scores[i] is None, -(scores[i] or 0.0)))
    return [planned[i] for i in order[:keep]], scores
