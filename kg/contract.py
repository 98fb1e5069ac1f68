"""The contract between the knowledge graph and everything that reasons over it.

Generators (``ani.llm``), the validator's callers and the closed loop use a
knowledge graph only through :class:`CausalModel`; ``ani.kg.model.KnowledgeGraph``
is the implementation. Component ids share one namespace:

* node ids (``"Denver"``), as in the topology;
* link ids (``"Denver-Kansas_City"``; the reversed form resolves too);
* shared-risk group ids, prefixed ``"srlg:"`` (``"srlg:corridor-3"``).

An :class:`Issue` is one violated rule of a scenario, with a stable ``code``
(machine-readable, fed back to an LLM in the repair loop) and a message that
names the event and the component.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, Protocol, runtime_checkable

import networkx as nx
from pydantic import BaseModel, ConfigDict

from ani.kg.scenario import Event, EventType, Scenario

IssueCode = Literal[
    "unknown_target",        # the target names no component
    "wrong_kind",            # the event type does not apply to the target's kind
    "not_reachable",         # the event is not causally reachable from earlier events (nor a declared root)
    "time_order",            # timestamps decrease
    "duplicate",             # the same event (type, target) twice without a restore in between
    "restore_without_failure",
]


class Issue(BaseModel):
    """One rule a scenario breaks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: IssueCode
    event_index: int | None
    message: str


@runtime_checkable
class CausalModel(Protocol):
    """What a generator may ask of a knowledge graph."""

    @property
    def topology(self) -> nx.Graph:
        """The network: nodes and links in the schema of :mod:`ani.kg.topology`."""

    @property
    def digest(self) -> str:
        """A stable hash of the whole graph, all layers included (provenance)."""

    def components(self) -> list[str]:
        """Every component id, stable order."""

    def kind(self, component: str) -> str:
        """``router``, ``hyperedge``, ``external``, ``link`` or ``srlg`` (KeyError if unknown)."""

    def applicable(self, component: str) -> list[EventType]:
        """Event types that are valid interventions on ``component``."""

    def roots(self) -> list[str]:
        """Components on which a scenario may start (any component unless restricted)."""

    def frontier(self, events: Sequence[Event]) -> dict[str, list[EventType]]:
        """Allowed next (target -> event types) given the events so far.

        With no events: the roots. Otherwise the causal frontier of the
        components the events failed or stressed, plus restores of failed
        components. Ranked: most plausible/impactful first (dict order).
        """

    def validate(self, scenario: Scenario) -> list[Issue]:
        """Every rule ``scenario`` breaks; empty when it is valid."""

    def context(self, components: Iterable[str], budget_chars: int = 4000) -> str:
        """Compact text of the k-hop neighbourhood of ``components`` for a prompt, within the budget."""
