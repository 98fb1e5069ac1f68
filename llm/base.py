"""One interface for every scenario generator (the registry that names them is :mod:`ani.llm.registry`).

A generator is anything with ``name`` and
``generate(kg, n, constraints, feedback=None) -> list[Scenario]``
(:class:`Generator`). Subclass :class:`BaseGenerator` to get that method,
:meth:`BaseGenerator.run` (scenarios *and* a :class:`GenerationReport`) and the
validation every scenario goes through.

You must provide
    ``name`` (the registry name) and ``candidates(kg, n, constraints,
    feedback)``, an iterator of at most ``n`` :class:`Candidate` objects. Use
    only the :class:`~ani.kg.contract.CausalModel` protocol to read the graph.
You get
    every candidate checked with ``kg.validate``; invalid ones dropped (or
    returned and counted, for generators with ``keeps_invalid``); provenance
    (generator, model, prompt hash, graph digest, seed, attempts) attached;
    counts of first-try validity, repairs, attempts and drops in the report.
    If the backend fails mid-run (raise :class:`BackendError`: a model
    server down, a crashed model process), :meth:`BaseGenerator.run` keeps
    every scenario made so far and records the one-line message in
    ``report.error``.

Name a new generator in the table of :mod:`ani.llm.registry`. Importing this
module imports no LLM library.
"""

from __future__ import annotations

import logging
import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ani.kg.contract import CausalModel
from ani.kg.errors import ProjectError
from ani.llm.constraints import GenerationConstraints
from ani.llm.feedback import Feedback, Rejection, Violation
from ani.kg.scenario import Event, Provenance, Scenario


log = logging.getLogger(__name__)


class GeneratorError(ProjectError, ValueError):
    """A generator cannot be built or cannot work on this graph (the message says why)."""


class BackendError(ProjectError, RuntimeError):
    """A generator's backend (a model server, a model process) failed mid-run; the message names it.

    :meth:`BaseGenerator.run` catches it, keeps the scenarios made so far and
    records the message in :attr:`GenerationReport.error`.
    """


@runtime_checkable
class Generator(Protocol):
    """What the loop and the CLI need of a scenario generator."""

    name: str

    def generate(self, kg: CausalModel, n: int, constraints: GenerationConstraints | None = None,
                 feedback: Feedback | None = None) -> list[Scenario]:
        """At most ``n`` scenarios on ``kg`` under ``constraints``."""


@dataclass
class Candidate:
    """One scenario proposed by a generator, with what it cost to make."""

    scenario: Scenario
    seed: int | None = None
    attempts: int = 1
    first_try_valid: bool | None = None
    prompt_sha256: str | None = None
    calls: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


class GenerationReport(BaseModel):
    """Counts for one call of a generator; first-try and after-repair validity kept apart."""

    model_config = ConfigDict(extra="forbid")

    generator: str
    model: str | None = None
    requested: int = Field(ge=0)
    proposed: int = 0
    returned: int = 0
    first_try_valid: int = 0
    valid: int = 0
    repaired: int = 0
    dropped: int = 0
    invalid_returned: int = 0
    attempts: int = 0
    llm_calls: int = 0
    issue_codes: dict[str, int] = Field(default_factory=dict)
    error: str | None = Field(default=None, description="why the run stopped early (a BackendError), if it did")

    @property
    def first_try_validity(self) -> float:
        """First-try valid / proposed (NaN when nothing was proposed)."""
        return self.first_try_valid / self.proposed if self.proposed else float("nan")

    @property
    def validity_after_repair(self) -> float:
        """Valid after repair / proposed (NaN when nothing was proposed)."""
        return self.valid / self.proposed if self.proposed else float("nan")


class GenerationResult(BaseModel):
    """Scenarios, the report, and what was rejected and why (for the next feedback digest)."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[Scenario]
    report: GenerationReport
    rejected: list[Rejection] = Field(default_factory=list)
    _exception: BackendError | None = PrivateAttr(default=None)


class BaseGenerator(ABC):
    """Validation, provenance and bookkeeping shared by every generator (see module docstring)."""

    name: ClassVar[str] = "base"
    keeps_invalid: ClassVar[bool] = False
    model_id: str | None = None

    @abstractmethod
    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        """Propose at most ``n`` scenarios."""

    def generate(self, kg: CausalModel, n: int, constraints: GenerationConstraints | None = None,
                 feedback: Feedback | None = None) -> list[Scenario]:
        """At most ``n`` scenarios on ``kg``; each one passed ``kg.validate`` unless ``keeps_invalid``.

        Raises :class:`BackendError` if the backend failed before any scenario
        was made (use :meth:`run` to see a partial run's error).
        """
        result = self.run(kg, n, constraints, feedback)
        if result._exception is not None and not result.scenarios:
            raise result._exception
        return result.scenarios

    def run(self, kg: CausalModel, n: int, constraints: GenerationConstraints | None = None,
            feedback: Feedback | None = None) -> GenerationResult:
        """Like :meth:`generate`, with the report and the rejected scenarios."""
        if n < 0:
            raise GeneratorError(f"n must be >= 0, got {n}")
        constraints = constraints or GenerationConstraints()
        report = GenerationReport(generator=self.name, model=self.model_id, requested=n)
        result = GenerationResult(scenarios=[], report=report)
        codes: Counter[str] = Counter()
        try:
            for cand in self.candidates(kg, n, constraints, feedback):
                self._account(kg, cand, result, codes)
        except BackendError as exc:
            report.error, result._exception = str(exc), exc
            log.warning("%s stopped after %d scenario(s): %s", self.name, report.proposed, exc)
        report.issue_codes = dict(sorted(codes.items()))
        return result

    def _account(self, kg: CausalModel, cand: Candidate, result: GenerationResult, codes: Counter[str]) -> None:
        """Validate one candidate and book it into ``result``."""
        rep = result.report
        issues = [Violation.of(i) for i in kg.validate(cand.scenario)] + cand.violations
        if not cand.scenario.events and not issues:
            issues.append(Violation(code="empty", message="the scenario has no event"))
        valid = not issues
        first = valid if cand.first_try_valid is None else cand.first_try_valid
        rep.proposed += 1
        rep.attempts += cand.attempts
        rep.llm_calls += cand.calls
        rep.first_try_valid += int(first)
        rep.valid += int(valid)
        rep.repaired += int(valid and not first)
        result.rejected.extend(cand.rejected)
        codes.update(r.code for rej in cand.rejected for r in rej.issues)
        codes.update(i.code for i in issues)
        if issues:
            result.rejected.append(Rejection.of(cand.scenario.events, issues))
        if valid or self.keeps_invalid:
            result.scenarios.append(self._stamp(kg, cand, first))
            rep.returned += 1
            rep.invalid_returned += int(not valid)
        else:
            rep.dropped += 1

    def _stamp(self, kg: CausalModel, cand: Candidate, first_try_valid: bool) -> Scenario:
        prov = Provenance(generator=self.name, model=self.model_id, prompt_sha256=cand.prompt_sha256,
                          graph_digest=kg.digest, seed=cand.seed, attempts=cand.attempts,
                          first_try_valid=first_try_valid, parents=cand.parents)
        return cand.scenario.model_copy(update={"provenance": prov})


# --- helpers for generators ----------------------------------------------------
def rng_for(constraints: GenerationConstraints, index: int) -> random.Random:
    """The random stream of scenario ``index``: seeded by ``constraints.seed + index``."""
    return random.Random(constraints.seed * 1_000_003 + index)


def event(kind: Any, target: str, timestamp: float, severity: str = "high") -> Event:
    """An :class:`Event` with the timestamp rounded to the millisecond."""
    return Event(event_type=kind, target=target, timestamp=round(timestamp, 3), severity=severity)


def in_frontier(kg: CausalModel, events: Sequence[Event], kind: Any, target: str) -> bool:
    """True when ``(kind, target)`` is an allowed next event after ``events``."""
    return kind in kg.frontier(events).get(target, [])


class _Adopted(BaseGenerator):
    """A plain :class:`Generator` given the bookkeeping of :class:`BaseGenerator`."""

    keeps_invalid = True

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.model_id = getattr(inner, "model_id", None)

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        for s in self.inner.generate(kg, n, constraints, feedback):
            yield Candidate(scenario=s, seed=constraints.seed)


def run_generator(generator: Generator, kg: CausalModel, n: int, constraints: GenerationConstraints | None = None,
                  feedback: Feedback | None = None) -> GenerationResult:
    """Scenarios, report and rejections from any generator (a plain one's output is validated and counted)."""
    gen = generator if isinstance(generator, BaseGenerator) else _Adopted(generator)
    return gen.run(kg, n, constraints, feedback)
