"""Historical incidents: past failures, read from CSV or JSON.

They feed the replay baseline (:func:`incident_scenarios`) and add
``historical`` edges to the dependency graph (components that failed one
after the other in the same incident).

File schema (one row per component event of an incident; :class:`IncidentEvent`):

============== ======== ==========================================================
column         required meaning
============== ======== ==========================================================
incident_id    yes      groups the rows of one incident
component      yes      a component id of the graph (node, link ``u-v``, ``srlg:…``)
event_type     yes      an :class:`~ani.kg.scenario.EventType` (not a restore)
start          yes      when it happened: seconds (a number) or ISO 8601 date-time
                        (a naive one is read as UTC)
end            no       when it was repaired (same forms); empty = not recorded
severity       no       ``low``, ``medium``, ``high`` (default) or ``critical``
description    no       free text
============== ======== ==========================================================

CSV has a header row with these names; JSON is a list of objects with these
keys (or ``{"incidents": [...]}``). Errors name the file and the CSV line or
JSON entry.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ani.kg.scenario import Event, EventType, Scenario, Severity

from .errors import TopologyError
from .event_types import RESTORE_FOR, RESTORES

COLUMNS = ("incident_id", "component", "event_type", "start", "end", "severity", "description")


def _seconds(value: Any) -> float | None:
    """Seconds from a number or an ISO 8601 date-time (naive = UTC); None for empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is neither seconds nor an ISO 8601 date-time") from exc
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


class IncidentEvent(BaseModel):
    """One component event of a past incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str = Field(min_length=1)
    component: str = Field(min_length=1)
    event_type: EventType
    start_s: float = Field(description="seconds (epoch seconds for a date-time)")
    end_s: float | None = None
    severity: Severity = "high"
    description: str = ""

    @field_validator("event_type")
    @classmethod
    def _not_restore(cls, value: EventType) -> EventType:
        if value in RESTORES:
            raise ValueError("a restore is not an incident; give the repair time as 'end'")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> "IncidentEvent":
        if self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"end ({self.end_s}) is before start ({self.start_s})")
        return self


def _record(row: dict[str, Any]) -> IncidentEvent:
    data = {k: v for k, v in row.items() if k not in ("start", "end")}
    data = {k: v for k, v in data.items() if not (k in ("severity", "description") and v in (None, ""))}
    if "start" not in row:
        raise ValueError("missing 'start'")
    data["start_s"] = _seconds(row.get("start"))
    if data["start_s"] is None:
        raise ValueError("empty 'start'")
    data["end_s"] = _seconds(row.get("end"))
    return IncidentEvent.model_validate(data)


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "row"
        return f"{field}: {err['msg']}"
    return str(exc)


def _rows(path: Path) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    text = path.read_text()
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
        raw = raw.get("incidents", raw) if isinstance(raw, dict) else raw
        if not isinstance(raw, list):
            raise TopologyError(str(path), "expected a list of incident rows (or {'incidents': [...]})")
        return "entry", list(enumerate(raw))
    reader = csv.DictReader(text.splitlines())
    unknown = set(reader.fieldnames or []) - set(COLUMNS)
    if unknown:
        raise TopologyError(str(path), f"line 1: unknown column(s) {sorted(unknown)}; allowed: {', '.join(COLUMNS)}")
    return "line", [(reader.line_num, row) for row in reader]


def load_incidents(path: str | Path) -> list[IncidentEvent]:
    """Read past incidents from a CSV or JSON file (schema in the module docstring).

    Raises
    ------
    TopologyError
        For an unreadable file or a malformed row; the message names the
        file and the line (CSV) or entry (JSON).
    """
    path = Path(path)
    try:
        where, rows = _rows(path)
    except OSError as exc:
        raise TopologyError(str(path), f"cannot read incident file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise TopologyError(str(path), f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    out = []
    for pos, row in rows:
        if not isinstance(row, dict):
            raise TopologyError(str(path), f"{where} {pos}: expected an object")
        try:
            out.append(_record(row))
        except (ValidationError, ValueError) as exc:
            raise TopologyError(str(path), f"{where} {pos}: {_problem(exc)}") from None
    return out


def by_incident(records: Iterable[IncidentEvent]) -> dict[str, list[IncidentEvent]]:
    """Records grouped by incident id (first-seen order), each sorted by start time."""
    groups: dict[str, list[IncidentEvent]] = defaultdict(list)
    for r in records:
        groups[r.incident_id].append(r)
    return {k: sorted(v, key=lambda r: r.start_s) for k, v in groups.items()}


def history_edges(records: Iterable[IncidentEvent],
                  canonical: Callable[[str], str | None]) -> dict[tuple[str, str], dict[str, object]]:
    """(cause, effect) pairs seen in incidents: ``effect`` failed no earlier than ``cause``, same incident.

    Returns
    -------
    dict
        ``(a, b) -> {"event_types": tuple of EventType seen on b, "count": n}``.
    """
    acc: dict[tuple[str, str], tuple[set[EventType], int]] = {}
    for recs in by_incident(records).values():
        for i, a in enumerate(recs):
            for b in recs[i + 1:] + [r for r in recs[:i] if r.start_s == a.start_s]:
                ca, cb = canonical(a.component), canonical(b.component)
                if ca and cb and ca != cb:
                    types, n = acc.get((ca, cb), (set(), 0))
                    acc[(ca, cb)] = (types | {b.event_type}, n + 1)
    return {k: {"event_types": tuple(sorted(t, key=lambda e: e.value)), "count": n} for k, (t, n) in acc.items()}


def incident_scenarios(records: Iterable[IncidentEvent], offset_s: float = 1.0) -> list[Scenario]:
    """One replay scenario per incident, times relative to its first event.

    Parameters
    ----------
    records : iterable of IncidentEvent
        Past incidents.
    offset_s : float
        Simulated time of the incident's first event.

    Returns
    -------
    list of Scenario
        Named ``incident-<id>``. A recorded ``end`` becomes a restore event
        for a link or router failure, and ``duration_s`` for other events.
    """
    out = []
    for inc, recs in by_incident(records).items():
        t0 = recs[0].start_s
        events = []
        for r in recs:
            at = offset_s + r.start_s - t0
            restore = RESTORE_FOR.get(r.event_type)
            duration = r.end_s - r.start_s if r.end_s is not None and restore is None and r.end_s > r.start_s else None
            events.append(Event(event_type=r.event_type, target=r.component, timestamp=at,
                                severity=r.severity, duration_s=duration))
            if r.end_s is not None and restore is not None:
                events.append(Event(event_type=restore, target=r.component, timestamp=offset_s + r.end_s - t0))
        events.sort(key=lambda e: e.timestamp)
        text = "; ".join(dict.fromkeys(r.description for r in recs if r.description))
        out.append(Scenario(name=f"incident-{inc}"[:200], description=text, events=events))
    return out
