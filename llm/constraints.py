"""Generation constraints and their encodings: JSON schema enums and GBNF grammars.

Constrained generation works one event at a time. At each step the knowledge
graph's causal frontier (:meth:`CausalModel.frontier`) says which targets may
fail next and which event types apply to each. This module turns that frontier
into the *choices* of one step and encodes them for a decoder:

* :func:`step_schema` -- a JSON schema whose ``action`` enum lists exactly the
  allowed ``"<event_type> on <target>"`` pairs (Ollama ``format``,
  OpenAI-compatible ``response_format`` with ``strict``);
* :func:`step_grammar` -- the same choices as a llama.cpp GBNF grammar.

Time moves forward by construction: a step yields a positive *delay* in whole
milliseconds (``delay_ms >= 1``), never an absolute timestamp. Large frontiers
are cut to the top-ranked candidates (the frontier is ranked, most plausible
first) plus a few sampled from the rest, then to the enum limits of the
strictest provider (``max_enum_values``, ``max_enum_chars``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ani.kg.errors import ScenarioError
from ani.kg.scenario import MAX_EVENT_TIME_S, EventType, Severity

SEVERITIES: tuple[str, ...] = get_args(Severity)
ACTION_SEPARATOR = " on "
WHY_MAX_CHARS = 100


class GenerationConstraints(BaseModel):
    """What every generator must respect; the same object for all of them.

    Parameters
    ----------
    min_events, max_events
        Length of a scenario's event chain.
    start_s
        Time of the earliest possible first event (simulated seconds); the
        first event comes ``delay`` after it.
    max_delay_s
        Longest gap between two consecutive events.
    event_types
        Only these event types (e.g. what a template executes); None = all.
    top_k, explore_k
        Per step, keep the ``top_k`` best-ranked frontier targets plus
        ``explore_k`` sampled (by seed) from the rest.
    max_enum_values, max_enum_chars
        Caps on one step's ``action`` enum (count, summed length).
    max_attempts
        LLM generators: attempts per scenario, the first plus repairs.
    seed
        Base seed; scenario ``i`` uses ``seed + i``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_events: int = Field(default=1, ge=1, le=100)
    max_events: int = Field(default=4, ge=1, le=100)
    start_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    max_delay_s: float = Field(default=2.0, ge=0.001, le=3600.0)
    event_types: tuple[EventType, ...] | None = None
    top_k: int = Field(default=24, ge=1, le=1000)
    explore_k: int = Field(default=8, ge=0, le=1000)
    max_enum_values: int = Field(default=250, ge=1)
    max_enum_chars: int = Field(default=7500, ge=16)
    max_attempts: int = Field(default=3, ge=1, le=20)
    seed: int = 0

    @model_validator(mode="after")
    def _lengths(self) -> "GenerationConstraints":
        if self.min_events > self.max_events:
            raise ValueError(f"min_events ({self.min_events}) exceeds max_events ({self.max_events})")
        if self.start_s + self.max_events * self.max_delay_s > MAX_EVENT_TIME_S:
            raise ValueError(f"start_s + max_events x max_delay_s ({self.start_s:g} + {self.max_events} x "
                             f"{self.max_delay_s:g} s) may pass the latest event time, {MAX_EVENT_TIME_S:g} s")
        return self

    @property
    def max_delay_ms(self) -> int:
        """``max_delay_s`` in whole milliseconds (at least 1)."""
        return max(1, int(round(self.max_delay_s * 1000)))

    def allows(self, event_type: EventType) -> bool:
        """True when ``event_type`` is permitted by :attr:`event_types`."""
        return self.event_types is None or event_type in self.event_types


def action_label(event_type: EventType, target: str) -> str:
    """The enum value naming one (event type, target) pair."""
    return f"{event_type.value}{ACTION_SEPARATOR}{target}"


@dataclass(frozen=True)
class StepChoices:
    """The allowed actions of one generation step, best-ranked first.

    ``actions`` maps an enum label to its (event type, target); ``cut`` counts
    the frontier pairs left out by the caps; ``allow_stop`` says whether the
    chain may end after this step.
    """

    actions: dict[str, tuple[EventType, str]]
    cut: int = 0
    allow_stop: bool = True
    frontier_size: int = 0
    targets: tuple[str, ...] = field(default=())

    @property
    def labels(self) -> list[str]:
        """The enum values, in rank order."""
        return list(self.actions)


def _pick_targets(ranked: Sequence[str], top_k: int, explore_k: int, rng: random.Random) -> list[str]:
    """The ``top_k`` first targets, plus ``explore_k`` sampled from the rest (rank order kept)."""
    head, rest = list(ranked[:top_k]), list(ranked[top_k:])
    extra = set(rng.sample(rest, min(explore_k, len(rest))))
    return head + [t for t in rest if t in extra]


def step_choices(frontier: Mapping[str, Sequence[EventType]], constraints: GenerationConstraints,
                 rng: random.Random, *, step: int = 0) -> StepChoices:
    """Turn a ranked frontier into the choices of generation step ``step`` (0-based).

    Event types not permitted by ``constraints`` are removed first; targets
    left with none are dropped. Then targets are cut to top-K (+ explored),
    and actions to the enum caps, in rank order.
    """
    allowed = {t: [e for e in types if constraints.allows(e)] for t, types in frontier.items()}
    ranked = [t for t, types in allowed.items() if types]
    targets = _pick_targets(ranked, constraints.top_k, constraints.explore_k, rng)
    pairs = [(e, t) for t in targets for e in allowed[t]]
    actions: dict[str, tuple[EventType, str]] = {}
    chars = 0
    for e, t in pairs:
        label = action_label(e, t)
        if len(actions) >= constraints.max_enum_values or chars + len(label) > constraints.max_enum_chars:
            break
        actions[label] = (e, t)
        chars += len(label)
    total = sum(len(v) for v in allowed.values())
    allow_stop = constraints.min_events <= step + 1 < constraints.max_events
    return StepChoices(actions=actions, cut=total - len(actions), allow_stop=allow_stop,
                       frontier_size=len(ranked), targets=tuple(dict.fromkeys(t for _, t in actions.values())))


def step_schema(choices: StepChoices, constraints: GenerationConstraints) -> dict[str, Any]:
    """JSON schema of one step's answer, in the strict subset OpenAI accepts.

    Every property is required, ``additionalProperties`` is false, and the
    ``action`` enum is exactly ``choices.labels``. ``stop`` is present only
    when the chain may end after this step.
    """
    if not choices.actions:
        raise ScenarioError("no allowed action at this step: the frontier is empty under the constraints")
    props: dict[str, Any] = {
        "why": {"type": "string", "description": "one sentence: what fails and why it follows from the events so far"},
        "action": {"type": "string", "enum": choices.labels},
        "delay_ms": {"type": "integer", "minimum": 1, "maximum": constraints.max_delay_ms,
                     "description": "milliseconds after the previous event (or after the start)"},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
    }
    if choices.allow_stop:
        props["stop"] = {"type": "boolean", "description": "true if this is the last event of the scenario"}
    return {"title": "NextEvent", "type": "object", "properties": props,
            "required": list(props), "additionalProperties": False}


def _gbnf_literal(text: str) -> str:
    """A GBNF string literal matching exactly ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _json_alternatives(values: Sequence[str]) -> str:
    """GBNF alternatives matching each value as a JSON string."""
    return " | ".join(_gbnf_literal(json.dumps(v)) for v in values)


def step_grammar(choices: StepChoices, constraints: GenerationConstraints) -> str:
    """A llama.cpp GBNF grammar equivalent to :func:`step_schema` (same key order).

    The delay is a positive integer of at most as many digits as
    ``max_delay_ms`` (values above it are clamped on parsing); ``why`` is at
    most ``WHY_MAX_CHARS`` characters without quotes, backslashes or control
    characters.
    """
    if not choices.actions:
        raise ScenarioError("no allowed action at this step: the frontier is empty under the constraints")
    digits = len(str(constraints.max_delay_ms))
    fields = ['"{" ws "\\"why\\":" ws why', '"," ws "\\"action\\":" ws action',
              '"," ws "\\"delay_ms\\":" ws delay', '"," ws "\\"severity\\":" ws severity']
    if choices.allow_stop:
        fields.append('"," ws "\\"stop\\":" ws ("true" | "false")')
    rules = [
        "root ::= " + " ".join(fields) + ' ws "}"',
        f'why ::= "\\"" [^"\\\\\\x00-\\x1f]{{0,{WHY_MAX_CHARS}}} "\\""',
        "action ::= " + _json_alternatives(choices.labels),
        "delay ::= [1-9] [0-9]{0," + str(digits - 1) + "}",
        "severity ::= " + _json_alternatives(SEVERITIES),
        "ws ::= [ ]?",
    ]
    return "\n".join(rules) + "\n"


class StepOutput(BaseModel):
    """One step's answer as the decoder returns it (before mapping onto the graph)."""

    model_config = ConfigDict(extra="forbid")

    why: str = ""
    action: str = Field(min_length=1)
    delay_ms: int
    severity: Severity = "high"
    stop: bool = False


@dataclass(frozen=True)
class ParsedStep:
    """A decoded step mapped onto (event type, target) and a positive delay in seconds."""

    event_type: EventType
    target: str
    delay_s: float
    severity: str
    why: str
    stop: bool


def _split_action(action: str, choices: StepChoices) -> tuple[EventType, str]:
    """Map an action label back to (type, target); labels outside the enum are parsed leniently."""
    if action in choices.actions:
        return choices.actions[action]
    kind, sep, target = action.partition(ACTION_SEPARATOR)
    if not sep or not target.strip():
        raise ScenarioError(f"action {action[:80]!r} is not '<event_type>{ACTION_SEPARATOR}<target>'")
    try:
        return EventType(kind.strip()), target.strip()
    except ValueError:
        raise ScenarioError(f"action {action[:80]!r}: unknown event type {kind.strip()[:40]!r}") from None


def parse_step(text: str, choices: StepChoices, constraints: GenerationConstraints) -> ParsedStep:
    """Decode one step's raw answer.

    An action outside the enum is still mapped when it has the right shape
    (unconstrained decoders), so that the validator -- not this parser --
    judges whether it is grounded. The delay is clamped to
    ``[1, max_delay_ms]`` ms. Raises :class:`ScenarioError` when the answer is
    not JSON or does not have the step's shape (a schema-invalid answer).
    """
    try:
        out = StepOutput.model_validate_json(text.strip())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise ScenarioError(f"schema-invalid answer ({where}: {first['msg']})") from None
    event_type, target = _split_action(out.action, choices)
    delay_ms = min(max(out.delay_ms, 1), constraints.max_delay_ms)
    return ParsedStep(event_type=event_type, target=target, delay_s=delay_ms / 1000.0,
                      severity=out.severity, why=out.why[:WHY_MAX_CHARS].strip(), stop=out.stop and choices.allow_stop)
