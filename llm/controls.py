"""Controls for the LLM: the same per-step enum, no model at all.

The LLM chooses, at every step, one action of the enum :func:`~ani.llm.constraints.step_choices`
builds from the causal frontier -- ranked by traffic volume, the busiest first --
and the prompt lists the first ``listed_actions`` of them. If a model that
always picks option 0 does as well as the LLM, the LLM's contribution is the
ranking, not its reading of the network. These controls answer that:

``frontier-greedy``
    the top-ranked option at every step. Scenario ``i`` is the ``i``-th chain
    in rank order: its step ``s`` takes option ``(i // L**s) % L`` of that step's
    enum, ``L`` = the listed options (so scenario 0 is option 0 at every step,
    scenario 1 takes option 1 first and then option 0, ...), and it runs to
    ``max_events`` (or until the frontier is empty). Without this enumeration a
    loop would see one scenario only. Its own severity is ``critical`` (the
    greedy choice of a damage seeker), which the evaluation's policy
    overwrites unless the arm is the severity ablation.
``frontier-random``
    uniform over the options the prompt lists (``labels[:listed_actions]``) at
    every step, a chain length uniform in ``[min_events, max_events]``, a
    delay uniform in ``[1 ms, max_delay]``, a severity uniform over the four.

Both use exactly the LLM's enum (same constraints, same seeded exploration of
the frontier's tail) and are valid by construction. :func:`shuffled_choices`
is the third control, used by the LLM generator's ``shuffle_options``: the
same enum in a random order at every step (does the model read the options
or their rank?).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

from ani.kg.contract import CausalModel
from ani.kg.event_types import SEVERITIES
from ani.kg.scenario import Event
from ani.llm.base import BaseGenerator, Candidate, event, rng_for
from ani.llm.constraints import GenerationConstraints, StepChoices, step_choices
from ani.llm.feedback import Feedback
from ani.llm.generators import _scenario

DEFAULT_LISTED = 40  # LLMSettings.listed_actions' default


def listed(choices: StepChoices, listed_actions: int) -> list[str]:
    """The labels the LLM's prompt lists at this step, in rank order."""
    return choices.labels[:max(1, listed_actions)]


def shuffled_choices(choices: StepChoices, rng: random.Random) -> StepChoices:
    """The same actions in a random order (targets reordered to match)."""
    items = list(choices.actions.items())
    rng.shuffle(items)
    actions = dict(items)
    targets = tuple(dict.fromkeys(t for _, t in actions.values()))
    return replace(choices, actions=actions, targets=targets)


class _FrontierControl(BaseGenerator):
    """Shared set-up: the LLM's enum at every step, ``listed_actions`` of it listed."""

    def __init__(self, listed_actions: int = DEFAULT_LISTED) -> None:
        self.listed_actions = int(listed_actions)

    def _choices(self, kg: CausalModel, events: list[Event], constraints: GenerationConstraints,
                 rng: random.Random) -> list[str] | None:
        choices = step_choices(kg.frontier(events), constraints, rng, step=len(events))
        self._last = choices
        return listed(choices, self.listed_actions) if choices.actions else None


class FrontierGreedyGenerator(_FrontierControl):
    """``frontier-greedy``: option 0 at every step; scenario ``i`` enumerates chains in rank order."""

    name = "frontier-greedy"

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        delay = max(1, constraints.max_delay_ms // 2) / 1000.0
        for i in range(n):
            rng = rng_for(constraints, 0)  # the same exploration sample for every chain: one enum per prefix
            events: list[Event] = []
            t, code = constraints.start_s, i
            while len(events) < constraints.max_events:
                labels = self._choices(kg, events, constraints, rng)
                if not labels:
                    break
                pick = code % len(labels)
                code //= len(labels)
                kind, target = self._last.actions[labels[pick]]
                t += delay
                events.append(event(kind, target, t, "critical"))
            yield Candidate(scenario=_scenario(f"greedy-{i:03d}", events), seed=constraints.seed)


class FrontierRandomGenerator(_FrontierControl):
    """``frontier-random``: uniform over the listed options at every step."""

    name = "frontier-random"

    def candidates(self, kg: CausalModel, n: int, constraints: GenerationConstraints,
                   feedback: Feedback | None) -> Iterator[Candidate]:
        for i in range(n):
            rng = rng_for(constraints, i)
            length = rng.randint(constraints.min_events, constraints.max_events)
            events: list[Event] = []
            t = constraints.start_s
            while len(events) < length:
                labels = self._choices(kg, events, constraints, rng)
                if not labels:
                    break
                kind, target = self._last.actions[rng.choice(labels)]
                t += rng.randint(1, constraints.max_delay_ms) / 1000.0
                events.append(event(kind, target, t, rng.choice(SEVERITIES)))
            yield Candidate(scenario=_scenario(f"frandom-{i:03d}", events), seed=constraints.seed + i)


__all__ = ["FrontierGreedyGenerator", "FrontierRandomGenerator", "listed", "shuffled_choices"]
