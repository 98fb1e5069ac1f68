"""The causally constrained LLM generator (the paper's Causal LLM, sections 4.1-4.2).

A scenario is generated event by event. At each step the allowed actions are
the knowledge graph's causal frontier given the events so far
(:func:`~ani.llm.constraints.step_choices`), sent to the model as a JSON-schema
enum or a GBNF grammar (:func:`~ani.llm.providers.request_options`), so an
answer outside the frontier cannot be decoded by a constraining provider. The
prompt carries the graph context (``kg.context``) and the feedback digest.

Every finished chain goes through ``kg.validate``. A chain that fails (an
answer that is not the step's JSON, or a rule the validator finds) is
repaired: the events before the first broken one are kept, the violations are
fed back in the prompt, and generation resumes -- at most
``constraints.max_attempts`` attempts in all. The report keeps first-try
validity, validity after repair, attempts and drops apart.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from ani.kg.contract import CausalModel
from ani.kg.errors import ProjectError, ScenarioError
from ani.llm.base import BaseGenerator, Candidate, rng_for
from ani.llm.constraints import GenerationConstraints, StepChoices, parse_step, step_choices, step_grammar, step_schema
from ani.llm.controls import shuffled_choices
from ani.llm.feedback import Feedback, Rejection, Violation
from ani.llm.prompts import StepPrompt, step_prompt
from ani.llm.providers import (Dialect, LLMCallError, LLMSettings, make_chat_model, refused_form, request_options,
                               require)
from ani.kg.scenario import Event, Scenario
from ani.llm.text import describe

GRAMMAR_PROVIDERS = ("llamacpp", "smollm2", "openai")
__all__ = ["LLMCallError", "LLMGenerator"]


class LLMGenerator(BaseGenerator):
    """Scenarios from a chat model, constrained per step by the causal frontier.

    Parameters
    ----------
    settings
        Provider, model and decoding settings (default: :meth:`LLMSettings.resolve`).
    chat_model
        A ready langchain-core chat model (tests, custom clients); built from
        ``settings`` when None. ``settings.provider`` still decides how each
        step is constrained.
    shuffle_options
        A control: the step's options in a random order at every step (seeded), in the prompt and
        the enum alike (:func:`~ani.llm.controls.shuffled_choices`) -- does the model read the
        options or their rank?
    client_options
        Passed to :func:`~ani.llm.providers.make_chat_model` (HTTP client options).
    """

    name = "llm"

    def __init__(self, settings: LLMSettings | None = None, chat_model: Any = None, shuffle_options: bool = False,
                 **client_options: Any) -> None:
        self.settings = settings or LLMSettings.resolve()
        self.shuffle_options = bool(shuffle_options)
        self.model_id = self.settings.model_id
        self._chat = chat_model
        self._client_options = client_options
        self.dialect = Dialect(self.settings.structured_output)

    @property
    def chat(self) -> Any:
        """The chat model (built on first use)."""
        if self._chat is None:
            self._chat = make_chat_model(self.settings, **self._client_options)
        return self._chat

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        text = feedback.digest() if feedback else ""
        for i in range(n):
            yield self._scenario(kg, i, constraints, text)

    # --- one scenario: attempts and repairs ------------------------------------------
    def _scenario(self, kg: CausalModel, index: int, constraints: GenerationConstraints, feedback: str) -> Candidate:
        rng, seed = rng_for(constraints, index), constraints.seed + index
        cand = Candidate(scenario=Scenario(name=f"llm-{index:03d}"), seed=seed, attempts=0)
        hasher = hashlib.sha256()
        events: list[Event] = []
        reasons: list[str] = []
        violations: list[Violation] = []
        for attempt in range(1, constraints.max_attempts + 1):
            events, reasons, broken = self._chain(kg, events, reasons, violations, constraints, feedback, rng,
                                                  seed, cand, hasher)
            cand.scenario = Scenario(name=f"llm-{index:03d}", description=describe(events, reasons), events=events)
            violations = [broken] if broken else [Violation.of(i) for i in kg.validate(cand.scenario)]
            if not events and not violations:
                violations = [Violation(code="empty", message="no event was produced")]
            cand.attempts = attempt
            cand.first_try_valid = not violations if cand.first_try_valid is None else cand.first_try_valid
            if not violations:
                break
            if attempt < constraints.max_attempts:
                cand.rejected.append(Rejection.of(events, violations))
            events, reasons = _before_first_break(events, reasons, violations)
        cand.violations = [v for v in violations if v.code == "schema_invalid"]
        cand.prompt_sha256 = hasher.hexdigest()[:16]
        return cand

    # --- one attempt: the event-by-event chain -----------------------------------------------
    def _chain(self, kg: CausalModel, prefix: list[Event], prefix_reasons: list[str],
               violations: Sequence[Violation], constraints: GenerationConstraints, feedback: str,
               rng: random.Random, seed: int, cand: Candidate,
               hasher: Any) -> tuple[list[Event], list[str], Violation | None]:
        """Extend ``prefix`` step by step; returns (events, reasons, schema violation or None)."""
        events, reasons = list(prefix), list(prefix_reasons)
        while len(events) < constraints.max_events:
            step = len(events)
            frontier = kg.frontier(events)
            choices = step_choices(frontier, constraints, rng, step=step)
            if not choices.actions:
                break
            if self.shuffle_options:
                choices = shuffled_choices(choices, random.Random(seed * 1000 + step))
            prompt = step_prompt(self._context(kg, events, choices), feedback, events, violations, choices,
                                 step, constraints.max_events, self.settings.listed_actions)
            hasher.update(prompt.text().encode())
            cand.calls += 1
            answer = self._ask(prompt, choices, constraints, seed * 1000 + step)
            try:
                parsed = parse_step(answer, choices, constraints)
                t = (events[-1].timestamp if events else constraints.start_s) + parsed.delay_s
                events.append(Event(event_type=parsed.event_type, target=parsed.target, timestamp=round(t, 3),
                                    severity=parsed.severity))
            except (ScenarioError, ValidationError) as exc:
                return events, reasons, Violation(code="schema_invalid", event_index=step, message=_short(exc))
            reasons.append(parsed.why)
            if parsed.event_type not in frontier.get(parsed.target, []):
                break  # off-frontier (unconstrained decoding): the validator will say why
            if parsed.stop and len(events) >= constraints.min_events:
                break
        return events, reasons, None

    def _context(self, kg: CausalModel, events: Sequence[Event], choices: StepChoices) -> str:
        if self.settings.context_chars == 0:
            return ""
        focus = list(dict.fromkeys([e.target for e in events] + list(choices.targets[:8])))
        return kg.context(focus, budget_chars=self.settings.context_chars)

    def _ask(self, prompt: StepPrompt, choices: StepChoices, constraints: GenerationConstraints, seed: int) -> str:
        """One chat call under the step's constraint; returns the answer's text.

        For an OpenAI-compatible server the structured-output forms of
        :attr:`dialect` are tried in order until the server accepts one, which
        is then remembered (:class:`~ani.llm.providers.Dialect`).
        """
        messages = _messages(prompt)
        grammar = step_grammar(choices, constraints) if self.settings.provider in GRAMMAR_PROVIDERS else ""
        schema = step_schema(choices, constraints)
        openai = self.settings.provider == "openai" and self.settings.constrained
        forms: tuple[str | None, ...] = self.dialect.forms() if openai else (None,)
        refused: list[str] = []
        for form in forms:
            try:
                text = self._invoke(messages, request_options(self.settings, schema, grammar, seed, form))
            except ProjectError:
                raise
            except Exception as exc:  # provider clients raise many types; name the model, URL and cause
                if form is not None and form != forms[-1] and refused_form(exc):
                    refused.append(form)
                    continue
                raise self._call_error(exc, refused) from exc
            if form is not None:
                self.dialect.accept(form)
            return text
        raise AssertionError("unreachable: the last form returns or raises")

    def _invoke(self, messages: list[Any], options: dict[str, Any]) -> str:
        model = self.chat.bind(**options) if options else self.chat
        return str(model.invoke(messages).text)

    def _call_error(self, exc: Exception, refused: Sequence[str]) -> LLMCallError:
        """``exc`` as a one-line project error naming the model and where it is."""
        note = (f" (the server also refused structured output as {', '.join(refused)}; "
                "try --structured-output none)") if refused else ""
        return LLMCallError(f"{self.model_id} at {self.settings.endpoint}: chat call failed: {_cause(exc)}{note}")


def _messages(prompt: StepPrompt) -> list[Any]:
    """The prompt as langchain-core messages."""
    messages_mod = require("langchain_core.messages", "llm", "the LLM generator")
    kinds = {"system": messages_mod.SystemMessage, "human": messages_mod.HumanMessage}
    return [kinds[role](content=body) for role, body in prompt.messages]


def _cause(exc: Exception) -> str:
    """What a client error says about the server's answer, in one line."""
    if isinstance(exc, IndexError):
        return "the answer has no choice (an empty 'choices' list)"
    if isinstance(exc, json.JSONDecodeError):
        return f"the answer is not valid JSON ({_short(exc)})"
    return f"{type(exc).__name__}: {_short(exc)}"


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def _before_first_break(events: list[Event], reasons: list[str],
                        violations: Sequence[Violation]) -> tuple[list[Event], list[str]]:
    """The events (and reasons) before the first broken one; none when a break has no index."""
    indices = [v.event_index for v in violations]
    if any(i is None for i in indices):
        return [], []
    cut = min(i for i in indices if i is not None)
    return events[:cut], reasons[:cut]


def make_llm_generator(settings: LLMSettings | None = None, chat_model: Any = None, **options: Any) -> LLMGenerator:
    """``llm``: the causally constrained LLM; ``options`` are :class:`LLMSettings` fields or HTTP client options."""
    fields = {k: options.pop(k) for k in list(options) if k in LLMSettings.model_fields}
    return LLMGenerator(settings or LLMSettings.resolve(**fields), chat_model, **options)
