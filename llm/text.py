"""Natural-language descriptions of event chains (for operators; never executed)."""

from __future__ import annotations

from collections.abc import Sequence

from ani.kg.event_types import INFO
from ani.kg.scenario import Event


def phrase(event: Event) -> str:
    """One clause for ``event``, e.g. ``"t=1.2 s: router Denver fails (high)"``."""
    what = INFO[event.event_type].phrase.replace("{t}", event.target)
    level = event.severity if event.magnitude is None else f"{event.severity}, magnitude {event.magnitude:g}"
    return f"t={event.timestamp:g} s: {what} ({level})"


def describe(events: Sequence[Event], reasons: Sequence[str] = ()) -> str:
    """A paragraph narrating ``events`` in order, with a reason after each where one is given."""
    parts = []
    for i, e in enumerate(events):
        reason = reasons[i].strip() if i < len(reasons) and reasons[i].strip() else ""
        parts.append(phrase(e) + (f" -- {reason}" if reason else ""))
    return "; then ".join(parts) + ("." if parts else "no events.")
