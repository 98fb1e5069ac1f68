"""The intervention cost of a scenario: how much an adversary (or nature) had to do.

Damage alone rewards doing more: cutting five links hurts more than one, an
attack at 4x a link's capacity more than at 1x. Dividing by what was done
compares *where* arms strike, not how hard. The cost of a scenario is

``cost = components_touched + attack_volume``

* ``components_touched`` -- distinct components a failure or stress event
  acts on (a link, a router); an SRLG cut counts every link of the group
  (``kg.srlg_links``; 1 when the group is unknown). Restores touch nothing
  (they undo).
* ``attack_volume`` -- the traffic a ``traffic_spike`` adds, in multiples of
  its target's link capacity (the event's ``magnitude``, else what its
  severity stands for, :func:`~ani.kg.event_types.severity_magnitudes`:
  0.5 / 1 / 2 / 4 for low / medium / high / critical), summed over spikes.

So one fibre cut costs 1, a ``high`` traffic spike 1 + 2 = 3, an SRLG cut of
three links 3. Every term is returned apart (``cost_components``,
``cost_attack_volume``) beside the total ``cost``; the cost is at least 1 for
any non-empty scenario of failures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ani.kg.event_types import RESTORES, EventType, severity_magnitudes
from ani.kg.scenario import Event


def _links(kg: Any, srlg: str) -> list[str]:
    members = getattr(kg, "srlg_links", None)
    got = list(members(srlg)) if callable(members) else []
    return got or [srlg]


def intervention_cost(events: Sequence[Event], kg: Any = None) -> dict[str, float]:
    """``{"cost", "cost_components", "cost_attack_volume"}`` of ``events`` (see the module docstring)."""
    touched: set[str] = set()
    volume = 0.0
    for e in events:
        if e.event_type in RESTORES:
            continue
        if e.event_type == EventType.srlg_cut:
            touched.update(_links(kg, e.target))
        else:
            touched.add(e.target)
        if e.event_type == EventType.traffic_spike:
            volume += e.magnitude if e.magnitude is not None else severity_magnitudes(e.event_type, e.severity)[0]
    return {"cost": len(touched) + volume, "cost_components": float(len(touched)), "cost_attack_volume": volume}


def events_cost(events_json: str, kg: Any = None) -> dict[str, float]:
    """:func:`intervention_cost` of the ``events`` column of a loop's ``evaluated`` table (JSON text)."""
    return intervention_cost([Event.model_validate(e) for e in json.loads(events_json)], kg)


__all__ = ["events_cost", "intervention_cost"]
