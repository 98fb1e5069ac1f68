"""The failure-scenario model shared by every generator, the validator and the twin.

A scenario is an ordered list of events in simulated time. The event encoding
follows appendix A.2 of the ANI paper::

    {"event_type": "fiber_link_failure", "target": "B-C", "timestamp": 245.8, "severity": "high"}

``timestamp`` is in simulated seconds from the start of the run. Targets name
components of the knowledge graph: a node id (``"Denver"``) or a link id
(``"Denver-KansasCity"``, either order).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ani.kg.errors import ScenarioError
from ani.kg.event_types import MAGNITUDE_RANGES, EventType
from ani.kg.safety import clip, parse_text, read_text, shorten

SCHEMA_VERSION = 1
MAX_EVENT_TIME_S = 86400.0  # one simulated day: room for incident replays of hours; templates limit further
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"  # a name is one line of text (it ends up in folder names and logs)


Severity = Literal["low", "medium", "high", "critical"]


class Event(BaseModel):
    """One timed intervention on one component."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: EventType
    target: str = Field(min_length=1, max_length=200)
    timestamp: float = Field(ge=0.0, le=MAX_EVENT_TIME_S, allow_inf_nan=False,
                             description="simulated seconds from the start of the run (at most MAX_EVENT_TIME_S)")
    severity: Severity = "high"
    duration_s: float | None = Field(default=None, gt=0.0, le=MAX_EVENT_TIME_S, allow_inf_nan=False,
                                     description="for transient events; None = until restored")
    magnitude: float | None = Field(
        default=None, allow_inf_nan=False,
        description="overrides the magnitude the severity stands for (see MAGNITUDE_RANGES): "
                    "e.g. 0.12 = 12 % loss for a link_degradation; only for the event types listed there")

    @model_validator(mode="after")
    def _magnitude_fits_the_event_type(self) -> "Event":
        if self.magnitude is None:
            return self
        if self.event_type not in MAGNITUDE_RANGES:
            raise ValueError(f"{self.event_type.value} takes no magnitude (only "
                             f"{', '.join(t.value for t in MAGNITUDE_RANGES)})")
        what, lo, hi = MAGNITUDE_RANGES[self.event_type]
        if not lo < self.magnitude <= hi:
            raise ValueError(f"magnitude of a {self.event_type.value} is the {what}: "
                             f"greater than {lo:g} and at most {hi:g}, got {self.magnitude:g}")
        return self

    def digest_fields(self) -> dict:
        """What identifies the event in :meth:`Scenario.digest` (an unset magnitude is left out, so
        scenarios written before it existed keep their digests)."""
        data = self.model_dump(mode="json")
        if data.get("magnitude") is None:
            data.pop("magnitude", None)
        return data


class Provenance(BaseModel):
    """Where a scenario came from. Never part of :meth:`Scenario.digest`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: str = Field(min_length=1, description="registry name of the generator")
    model: str | None = Field(default=None, description="LLM provider:model, None for non-LLM generators")
    prompt_sha256: str | None = Field(default=None, description="hash of every prompt sent for this scenario")
    graph_digest: str = Field(min_length=1, description="CausalModel.digest of the graph it was made on")
    seed: int | None = None
    attempts: int = Field(default=1, ge=1, description="generation attempts (1 + repairs)")
    first_try_valid: bool | None = Field(default=None, description="valid before any repair")
    parents: list[str] = Field(default_factory=list, description="digests of scenarios it was composed from")


class Scenario(BaseModel):
    """An ordered, human-readable failure scenario."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(default="scenario", min_length=1, max_length=200, pattern=NO_CONTROL_CHARS)
    description: str = ""
    events: list[Event] = Field(default_factory=list)
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _time_moves_forward(self) -> "Scenario":
        times = [e.timestamp for e in self.events]
        if any(b < a for a, b in zip(times, times[1:])):
            raise ValueError(f"event timestamps must not decrease, got {times}")
        return self

    def digest(self) -> str:
        """Stable hash of everything that determines a run (name, text and provenance excluded)."""
        payload = json.dumps([e.digest_fields() for e in self.events], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _where(loc: tuple) -> str:
    """A validation error's location, each part bounded (a key may be 10,000 characters long)."""
    return ".".join(str(p) if len(str(p)) <= 40 else shorten(p, 40) for p in loc) or "scenario"


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario JSON file.

    A bare list of events (the paper's encoding) is accepted as well as the
    full object. Errors name the file and the offending field.
    """
    path = Path(path)
    text = read_text(path, ScenarioError, "scenario file")
    raw = parse_text(text, json.loads, json.JSONDecodeError, ScenarioError, path, "JSON",
                     lambda exc: f"line {exc.lineno}: {exc.msg}")
    if isinstance(raw, list):
        raw = {"name": path.stem, "events": raw}
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(err['loc'])}: {clip(err['msg'])}" for err in exc.errors()[:5])
        raise ScenarioError(f"{path}: invalid scenario: {problems}") from exc
