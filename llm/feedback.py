"""The feedback digest a generator receives from the closed loop.

Past scenarios with their KPIs (what hurt the network, what did not) and
rejected scenarios with the rules they broke. An LLM generator puts
:meth:`Feedback.digest` into its prompt; the composer recombines the events of
the most damaging past scenarios.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from ani.kg.contract import Issue
from ani.kg.scenario import Event


class PastScenario(BaseModel):
    """A scenario that was simulated, with its KPIs (units in the names, e.g. ``loss_pct``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "scenario"
    events: list[Event]
    kpis: dict[str, float] = Field(default_factory=dict)
    impact: float | None = Field(default=None, description="one number to rank by; higher = more damage")


class Violation(BaseModel):
    """A broken rule: a validator :class:`~ani.kg.contract.Issue`, or a generator-side one.

    Generator-side codes: ``schema_invalid`` (an answer that is not the
    step's JSON shape), ``empty`` (no event at all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    event_index: int | None = None
    message: str

    @classmethod
    def of(cls, issue: "Issue | Violation") -> "Violation":
        """The violation for a validator issue (or itself)."""
        return cls(code=issue.code, event_index=issue.event_index, message=issue.message)


class Rejection(BaseModel):
    """A scenario that broke rules, with the rules."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event]
    issues: list[Violation]

    @classmethod
    def of(cls, events: Sequence[Event], issues: Sequence["Issue | Violation"]) -> "Rejection":
        """A rejection of ``events`` for ``issues``."""
        return cls(events=list(events), issues=[Violation.of(i) for i in issues])


class Feedback(BaseModel):
    """What the generator should learn from earlier rounds."""

    model_config = ConfigDict(extra="forbid")

    past: list[PastScenario] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    goal: str = Field(default="", max_length=500, description="what the operator wants to find")

    def ranked(self) -> list[PastScenario]:
        """Past scenarios, most damaging first (unknown impact last)."""
        def key(p: PastScenario) -> float:
            return -p.impact if p.impact is not None and math.isfinite(p.impact) else math.inf
        return sorted(self.past, key=key)

    def digest(self, budget_chars: int = 1500) -> str:
        """Compact text for a prompt: the most damaging past scenarios, then recent rejections."""
        lines: list[str] = []
        if self.goal:
            lines.append(f"Goal: {self.goal}")
        for p in self.ranked()[:5]:
            kpis = ", ".join(f"{k}={v:.4g}" for k, v in sorted(p.kpis.items()))
            lines.append(f"Simulated: {_events_text(p.events)} -> {kpis or 'no KPIs'}")
        for r in self.rejected[-5:]:
            why = "; ".join(f"{i.code}: {i.message}" for i in r.issues[:3])
            lines.append(f"Rejected: {_events_text(r.events)} because {why}")
        text = "\n".join(lines)
        return text if len(text) <= budget_chars else text[: budget_chars - 3] + "..."


def _events_text(events: Sequence[Event]) -> str:
    """``[t=1.0 fiber_link_failure A-B, ...]`` as compact JSON-safe text."""
    return json.dumps([f"t={e.timestamp:g} {e.event_type.value} {e.target}" for e in events])
