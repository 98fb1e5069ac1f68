"""The state a scenario puts the network in, and what can causally happen next.

Replaying events gives every component a set of *modes*:

* ``failed``: the target of ``fiber_link_failure``, ``router_failure`` or
  ``srlg_cut``; the links of a failed node; the members of a cut SRLG
  (except members restored since);
* ``overloaded`` (``router_overload``, ``link_degradation``), ``surging``
  (``traffic_spike``), ``misconfigured`` (``misconfiguration``);
* ``at_risk``: an SRLG with a member failed by a link failure or a cut.

Every mode remembers the event that caused it (for causal depth). A restore
(``link_restore``, ``router_restore``) ends every event on its target, and a
``link_restore`` also repairs that link inside a cut SRLG. ``duration_s``
ends an event for duplicate detection and for being *down* (a transiently
failed router is up again at ``timestamp + duration_s``), but a transient
event stays a cause: its modes remain.

The **frontier** of a state is what the dependency graph's rules
(:data:`ani.kg.event_types.RULES`) make reachable from the components in some
mode, plus self-escalation, minus events on components down at the last
event's time and events still active on their target, plus restores of components impaired by a
persistent event of their own (or by an SRLG cut). With no events it is the
roots. Ranked by the damage proxy (``score_bps``) of the target, highest
first; restores come last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import networkx as nx

from ani.kg.scenario import Event, EventType

from .dependency import enabled
from .event_types import APPLICABLE, FAILURES, MODE_OF, RESTORES, SELF_RULES

E = EventType


class StateGraph(Protocol):
    """What the state machine needs of a knowledge graph."""

    dependency: nx.DiGraph

    def canonical(self, component: str) -> str | None: ...

    def links_of(self, node: str) -> list[str]: ...

    def srlg_links(self, srlg: str) -> tuple[str, ...]: ...

    def srlgs_of(self, link: str) -> list[str]: ...


@dataclass
class _Active:
    """One event still in force."""

    index: int
    event_type: EventType
    target: str
    ends_at: float | None
    members: frozenset[str] = frozenset()  # the links of a cut SRLG
    repaired: set[str] = field(default_factory=set)  # members of a cut SRLG restored since

    def down_members(self) -> set[str]:
        """Members of a cut SRLG that are still down."""
        return set(self.members) - self.repaired


@dataclass
class State:
    """The network after a prefix of a scenario.

    ``modes[c][m]`` is the index of the event that put component ``c`` in
    mode ``m`` (causal history: a transient event stays a cause after it
    ends); ``active`` the events not restored; ``now`` the last timestamp;
    ``down`` the components down at ``now`` (a transient failure is down
    until ``timestamp + duration_s``).
    """

    modes: dict[str, dict[str, int]] = field(default_factory=dict)
    active: list[_Active] = field(default_factory=list)
    now: float = 0.0
    count: int = 0
    down: set[str] = field(default_factory=set)

    def failed(self, component: str) -> bool:
        """Whether ``component`` is down at ``now``."""
        return component in self.down

    def is_active(self, event_type: EventType, target: str, at: float) -> bool:
        """Whether an event of this type on this target is still in force at time ``at``."""
        return any(a.event_type == event_type and a.target == target and (a.ends_at is None or a.ends_at > at)
                   for a in self.active)

    def restorable(self, target: str) -> bool:
        """Whether a restore of ``target`` would undo something persistent."""
        for a in self.active:
            if a.ends_at is not None:
                continue
            if a.target == target or target in a.down_members():
                return True
        return False


def _mark(modes: dict[str, dict[str, int]], comp: str, mode: str, index: int) -> None:
    modes.setdefault(comp, {}).setdefault(mode, index)


def _derive(kg: StateGraph, active: Iterable[_Active]) -> dict[str, dict[str, int]]:
    """Modes of every component implied by the events in force."""
    modes: dict[str, dict[str, int]] = {}
    risky: list[tuple[str, int]] = []
    for a in active:
        mode = MODE_OF[a.event_type]
        _mark(modes, a.target, mode, a.index)
        if a.event_type == E.router_failure:
            for lid in kg.links_of(a.target):
                _mark(modes, lid, "failed", a.index)
        elif a.event_type == E.srlg_cut:
            for lid in a.down_members():
                _mark(modes, lid, "failed", a.index)
                risky.append((lid, a.index))
        elif a.event_type == E.fiber_link_failure:
            risky.append((a.target, a.index))
    for lid, index in risky:
        for grp in kg.srlgs_of(lid):
            _mark(modes, grp, "at_risk", index)
    return modes


def down_at(kg: StateGraph, state: State, at: float) -> set[str]:
    """Components down at time ``at``: failed nodes and their links, failed links, cut SRLGs and their members."""
    down: set[str] = set()
    for a in state.active:
        if a.event_type not in FAILURES or (a.ends_at is not None and a.ends_at <= at):
            continue
        down.add(a.target)
        if a.event_type == E.router_failure:
            down.update(kg.links_of(a.target))
        elif a.event_type == E.srlg_cut:
            down.update(a.down_members())
    return down


def apply(kg: StateGraph, state: State, event: Event, target: str) -> None:
    """Update ``state`` with ``event`` on the canonical ``target`` (in place)."""
    state.now = max(state.now, event.timestamp) if state.count else event.timestamp
    index = state.count
    state.count += 1
    if event.event_type in RESTORES:
        for a in state.active:
            if target in a.members:
                a.repaired.add(target)
        state.active = [a for a in state.active if a.target != target]
    else:
        ends = None if event.duration_s is None else event.timestamp + event.duration_s
        members = frozenset(kg.srlg_links(target)) if event.event_type == E.srlg_cut else frozenset()
        state.active.append(_Active(index, event.event_type, target, ends, members))
    state.modes = _derive(kg, state.active)
    state.down = down_at(kg, state, state.now)


def replay(kg: StateGraph, events: Sequence[Event]) -> State:
    """The state after ``events`` (events on unknown targets or of the wrong kind are skipped)."""
    state = State()
    for ev in events:
        target = kg.canonical(ev.target)
        kind = kg.dependency.nodes[target]["kind"] if target is not None else None
        if target is None or ev.event_type not in APPLICABLE[kind]:
            state.count += 1
            continue
        apply(kg, state, ev, target)
    return state


def causes(kg: StateGraph, state: State, event_type: EventType, target: str,
           down: set[str] | None = None) -> list[int]:
    """Indices of the events that make ``event_type`` on ``target`` causally reachable (empty: none).

    Restores and events on targets that are down (``down``, default
    ``state.down``) are never caused; active events are left to the
    duplicate rule.
    """
    if event_type in RESTORES or target in (state.down if down is None else down):
        return []
    found = {i for mode, i in state.modes.get(target, {}).items() if event_type in SELF_RULES.get(mode, ())}
    dep = kg.dependency
    for p, edge in dep.pred[target].items():
        for mode, i in state.modes.get(p, {}).items():
            if event_type in enabled(edge["relations"], mode, edge):
                found.add(i)
    return sorted(found)


def _candidates(kg: StateGraph, state: State) -> dict[str, set[EventType]]:
    dep = kg.dependency
    out: dict[str, set[EventType]] = {}
    for comp, modes in state.modes.items():
        for mode in modes:
            if mode in SELF_RULES:
                out.setdefault(comp, set()).update(SELF_RULES[mode])
            for nbr, edge in dep.succ[comp].items():
                types = enabled(edge["relations"], mode, edge)
                if types:
                    out.setdefault(nbr, set()).update(types)
    return out


def _ranked(kg: StateGraph, comps: Iterable[str]) -> list[str]:
    nodes = kg.dependency.nodes
    return sorted(comps, key=lambda c: (-nodes[c]["score_bps"], c))


def frontier(kg: StateGraph, state: State) -> dict[str, list[EventType]]:
    """Allowed next (target -> event types), ranked; see the module docstring."""
    nodes = kg.dependency.nodes
    allowed: dict[str, list[EventType]] = {}
    for comp, types in _candidates(kg, state).items():
        if state.failed(comp):
            continue
        order = APPLICABLE[nodes[comp]["kind"]]
        keep = [t for t in order if t in types and not state.is_active(t, comp, state.now)]
        if keep:
            allowed[comp] = keep
    out = {c: allowed[c] for c in _ranked(kg, allowed)}
    restores = {c for a in state.active if a.ends_at is None for c in (a.target, *a.down_members())}
    for comp in _ranked(kg, restores):
        restore = next((t for t in APPLICABLE[nodes[comp]["kind"]] if t in RESTORES), None)
        if restore is not None:
            out.setdefault(comp, []).append(restore)
    return out


def root_frontier(kg: StateGraph, roots: Sequence[str]) -> dict[str, list[EventType]]:
    """The frontier of an empty scenario: every root with its non-restore event types, ranked."""
    data = dict(kg.dependency.nodes(data=True))
    types = {kind: [t for t in ts if t not in RESTORES] for kind, ts in APPLICABLE.items()}
    ranked = sorted(roots, key=lambda c: (-data[c]["score_bps"], c))
    return {c: types[data[c]["kind"]].copy() for c in ranked}


def failure_type(kind: str) -> EventType:
    """The failure event of a component kind (``fiber_link_failure``, ``router_failure``, ``srlg_cut``)."""
    return next(t for t in APPLICABLE[kind] if t in FAILURES)
