"""Natural-language descriptions of event chains (for operators; never executed)."""

from __future__ import annotations

from collections.abc import Sequence

from ani.kg.scenario import Event, EventType

RESTORES = frozenset({EventType.link_restore, EventType.router_restore})

_PHRASES: dict[EventType, str] = {
    EventType.fiber_link_failure: "the fiber link {t} is cut",
    EventType.router_failure: "router {t} fails",
    EventType.link_restore: "link {t} is restored",
    EventType.router_restore: "router {t} is restored",
    EventType.router_overload: "router {t} is overloaded",
    EventType.traffic_spike: "traffic at {t} surges",
    EventType.link_degradation: "link {t} degrades",
    EventType.misconfiguration: "{t} is misconfigured",
    EventType.srlg_cut: "every link of shared-risk group {t} is cut at once",
}


def phrase(event: Event) -> str:
    """One clause for ``event``, e.g. ``"t=1.2 s: router Denver fails (high)"``."""
    what = _PHRASES[event.event_type].replace("{t}", event.target)
    level = event.severity if event.magnitude is None else f"{event.severity}, magnitude {event.magnitude:g}"
    return f"t={event.timestamp:g} s: {what} ({level})"


def describe(events: Sequence[Event], reasons: Sequence[str] = ()) -> str:
    """A paragraph narrating ``events`` in order, with a reason after each where one is given."""
    parts = []
    for i, e in enumerate(events):
        reason = reasons[i].strip() if i < len(reasons) and reasons[i].strip() else ""
        parts.append(phrase(e) + (f" -- {reason}" if reason else ""))
    return "; then ".join(parts) + ("." if parts else "no events.")
