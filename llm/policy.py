"""One intervention policy for every arm of a comparison, applied around any generator.

Why a policy: a comparison of generators measures *search* only when every arm
may do the same things. Before it existed, only the LLM chose a severity (and
picked ``critical`` in 88 % of its steps: a critical ``traffic_spike`` is an
attack at 4x the victim's link capacity, enough on its own to saturate the
damage), while rule-based, replay and worst-case always ran at the default
``high``; and the ``random`` baseline's invalid scenarios were simulated and
counted. :class:`InterventionPolicy` fixes the knobs for every arm alike:

* **event types** -- the template's manifest, through ``GenerationConstraints``
  (already the same object for every generator);
* **maximum events** and **budget** -- the loop's ``max_events`` and
  ``budget`` (the evaluation gives every arm the same);
* **severity / magnitude** -- *fixed for all*, by default at ``high`` for every
  event type (the severity the non-choosing baselines always used): every
  event's severity is overwritten and any explicit ``magnitude`` removed, so a
  scenario's strength is that of its event types and targets, never a knob
  only some arms can turn. We fix it rather than put it in every arm's search
  space because several baselines (rule book, replay, worst-case) have no
  notion of severity, and because damage grows monotonically with magnitude:
  an arm that searches severity mostly learns "pick the largest". Choosing
  severity is measured apart, as an ablation (``severity="own"``: the arm's
  own choice is kept; see the ``*-own-severity`` arms of the evaluation);
* **validity** -- a scenario that fails ``kg.validate`` is *dropped* (never
  simulated, never counted in damage); the generator's report counts it in
  ``dropped`` / ``proposed - valid``, which the evaluation reports apart.

:func:`with_policy` wraps any :class:`~ani.llm.base.Generator`; the wrapper is a
:class:`~ani.llm.base.BaseGenerator` with the inner generator's name, so the
loop's bookkeeping (first-try validity, repairs, provenance) is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ani.kg.contract import CausalModel
from ani.kg.event_types import SEVERITIES
from ani.kg.scenario import Event, Scenario, Severity
from ani.llm.base import BaseGenerator, Candidate, Generator
from ani.llm.constraints import GenerationConstraints
from ani.llm.feedback import Feedback

PolicySeverity = Literal["fixed", "own"]


class InterventionPolicy(BaseModel):
    """What every arm may do (see the module docstring for why severity is fixed).

    ``severity="fixed"`` sets every event to ``fixed_severity`` (and drops any
    explicit magnitude); ``"own"`` keeps what the generator chose (the
    severity ablation). ``drop_invalid`` drops scenarios ``kg.validate``
    rejects before they reach the simulator.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: PolicySeverity = "fixed"
    fixed_severity: Severity = "high"
    drop_invalid: bool = True

    def apply(self, scenario: Scenario) -> Scenario:
        """``scenario`` with its events' severity (and magnitude) set by the policy."""
        if self.severity == "own":
            return scenario
        events = [_fixed(e, self.fixed_severity) for e in scenario.events]
        return scenario.model_copy(update={"events": events})

    def label(self) -> str:
        """One phrase for tables and notes."""
        sev = f"severity fixed at {self.fixed_severity}" if self.severity == "fixed" else "severity chosen by the arm"
        return sev + (", invalid scenarios dropped" if self.drop_invalid else ", invalid scenarios kept")


def _fixed(e: Event, severity: str) -> Event:
    if e.severity == severity and e.magnitude is None:
        return e
    return e.model_copy(update={"severity": severity, "magnitude": None})


class PolicyGenerator(BaseGenerator):
    """``inner`` under ``policy``: same name, same candidates, severity set and invalid ones dropped."""

    def __init__(self, inner: Generator, policy: InterventionPolicy) -> None:
        self.inner, self.policy = inner, policy
        self.name = inner.name  # type: ignore[misc]
        self.model_id = getattr(inner, "model_id", None)
        self.keeps_invalid = (not policy.drop_invalid) and bool(getattr(inner, "keeps_invalid", True))  # type: ignore[misc]

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        if isinstance(self.inner, BaseGenerator):
            source = self.inner.candidates(kg, n, constraints, feedback)
        else:  # a plain Generator: its scenarios, as candidates
            source = (Candidate(scenario=s, seed=constraints.seed)
                      for s in self.inner.generate(kg, n, constraints, feedback))
        for cand in source:
            cand.scenario = self.policy.apply(cand.scenario)
            yield cand


def with_policy(generator: Generator, policy: InterventionPolicy | None) -> Generator:
    """``generator`` under ``policy`` (unchanged when ``policy`` is None)."""
    return generator if policy is None else PolicyGenerator(generator, policy)


__all__ = ["InterventionPolicy", "PolicyGenerator", "SEVERITIES", "with_policy"]
