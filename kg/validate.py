"""``validate(scenario, kg) -> list[Issue]``: the rules every generated scenario must keep.

Events are checked in order; each gets at most one issue, the first rule it
breaks in this order (codes of :data:`ani.kg.contract.IssueCode`):

1. ``unknown_target``: the target names no component (close matches in the message);
2. ``wrong_kind``: the event type does not apply to the target's kind
   (:data:`ani.kg.event_types.APPLICABLE`);
3. ``time_order``: its timestamp is earlier than the previous event's
   (equal timestamps are allowed: simultaneous events);
4. ``restore_without_failure``: a restore of a component that no persistent
   event impairs (a link down only because its router is, a transient event);
5. ``duplicate``: the same (type, target) is still in force (not restored,
   ``duration_s`` not elapsed);
6. ``not_reachable``: the event is not in the causal frontier of the events
   before it (:mod:`ani.kg.causal`), and it is not a **root**: an event at
   the scenario's first timestamp on a root component (:meth:`roots`) that is
   not already down.

Events with an unknown target or of the wrong kind are left out of the state
that later events are checked against; all others enter it. A scenario built
by walking :meth:`KnowledgeGraph.frontier` (each event taken from the
frontier of those before it, timestamps non-decreasing) is always valid.

:func:`check` also returns each event's causal **depth**: 1 for a root,
otherwise 1 + the largest depth among the events that caused it; a
scenario's cascade depth is the largest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ani.kg.scenario import Event, Scenario

from . import causal
from .contract import Issue
from .event_types import APPLICABLE, RESTORES


class ValidationGraph(causal.StateGraph, Protocol):
    """What the validator needs of a knowledge graph (``KnowledgeGraph`` implements it)."""

    root_ids: tuple[str, ...] | None

    def close_matches(self, component: str, n: int = 5) -> list[str]: ...


@dataclass
class Report:
    """What :func:`check` found: the issues, and per event its depth and causes (event indices)."""

    issues: list[Issue] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    causes: list[list[int]] = field(default_factory=list)

    @property
    def cascade_depth(self) -> int:
        """The longest causal chain of the scenario, in events (0 for no events)."""
        return max(self.depths, default=0)


def _hint(kg: ValidationGraph, target: str) -> str:
    close = kg.close_matches(target)
    return f"; close matches: {', '.join(close)}" if close else ""


def _label(i: int, ev: Event) -> str:
    return f"event {i} ({ev.event_type.value} on {ev.target!r} at {ev.timestamp:g} s)"


def _static(kg: ValidationGraph, i: int, ev: Event, prev_t: float | None) -> tuple[Issue | None, str | None]:
    """Rules 1-3; returns the issue (if any) and the canonical target (None if unusable)."""
    target = kg.canonical(ev.target)
    if target is None:
        msg = f"{_label(i, ev)}: no node, link or SRLG has this id{_hint(kg, ev.target)}"
        return Issue(code="unknown_target", event_index=i, message=msg), None
    kind = kg.dependency.nodes[target]["kind"]
    if ev.event_type not in APPLICABLE[kind]:
        allowed = ", ".join(t.value for t in APPLICABLE[kind])
        msg = f"{_label(i, ev)}: does not apply to a {kind}; a {kind} takes {allowed}"
        return Issue(code="wrong_kind", event_index=i, message=msg), None
    if prev_t is not None and ev.timestamp < prev_t:
        msg = f"{_label(i, ev)}: earlier than the previous event ({prev_t:g} s)"
        return Issue(code="time_order", event_index=i, message=msg), target
    return None, target


def _dynamic(kg: ValidationGraph, state: causal.State, i: int, ev: Event, target: str,
             root_ok: bool) -> tuple[Issue | None, list[int]]:
    """Rules 4-6; returns the issue (if any) and the causing events."""
    down = causal.down_at(kg, state, ev.timestamp)
    if ev.event_type in RESTORES:
        if state.restorable(target):
            return None, []
        why = " (it is down only because of another component)" if target in down else ""
        return Issue(code="restore_without_failure", event_index=i,
                     message=f"{_label(i, ev)}: nothing persistent impairs {target}{why}"), []
    if state.is_active(ev.event_type, target, ev.timestamp):
        return Issue(code="duplicate", event_index=i,
                     message=f"{_label(i, ev)}: the same event on {target} is still in force"), []
    found = causal.causes(kg, state, ev.event_type, target, down)
    if found or (root_ok and target not in down):
        return None, found
    why = "it is already down" if target in down else "no earlier event can cause it in the dependency graph"
    return Issue(code="not_reachable", event_index=i,
                 message=f"{_label(i, ev)}: not causally reachable ({why}) and not a root event"), []


def check(scenario: Scenario, kg: ValidationGraph) -> Report:
    """Validate ``scenario`` and compute the causal depth of each event (see the module docstring)."""
    report = Report()
    state = causal.State()
    roots = set(kg.root_ids) if kg.root_ids is not None else None
    events = scenario.events
    prev_t: float | None = None
    for i, ev in enumerate(events):
        issue, target = _static(kg, i, ev, prev_t)
        prev_t = ev.timestamp if prev_t is None else max(prev_t, ev.timestamp)
        found: list[int] = []
        if target is not None:
            root_ok = ev.timestamp == events[0].timestamp and (roots is None or target in roots)
            dyn, found = _dynamic(kg, state, i, ev, target, root_ok)
            issue = issue or dyn
            causal.apply(kg, state, ev, target)
        else:
            state.count += 1
        if issue is not None:
            report.issues.append(issue)
        report.causes.append(found)
        report.depths.append(1 + max((report.depths[j] for j in found), default=0) if target else 0)
    return report


def validate(scenario: Scenario, kg: ValidationGraph) -> list[Issue]:
    """Every rule ``scenario`` breaks on ``kg``; empty when it is valid.

    Parameters
    ----------
    scenario : Scenario
        The scenario to check.
    kg : KnowledgeGraph
        The graph its targets name.

    Returns
    -------
    list of Issue
        In event order, at most one per event (module docstring).
    """
    return check(scenario, kg).issues
