"""The one table of scenario generators: a name -> a factory ``(**options) -> Generator``.

To add a generator, write its class (:mod:`ani.llm.base` says what you must
provide) and add one row to :data:`GENERATORS`. Importing this module imports
no LLM library (the ``llm`` row's client is created on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ani.kg.contract import CausalModel
from ani.kg.scenario import Scenario
from ani.llm.base import Generator, GeneratorError
from ani.llm.composer import ComposerGenerator
from ani.llm.constraints import GenerationConstraints
from ani.llm.controls import FrontierGreedyGenerator, FrontierRandomGenerator
from ani.llm.feedback import Feedback
from ani.llm.generators import (CausalWalkGenerator, RandomGenerator, ReplayGenerator, RuleBasedGenerator,
                                WorstCaseGenerator)
from ani.llm.llm_generator import make_llm_generator

Factory = Callable[..., Generator]


def _composer(base: str | Generator = "causal-walk", parents: int = 3, **base_options: Any) -> Generator:
    """``composer``: parents from ``base`` (a registry name, built with ``base_options``, or a generator)."""
    inner = get_generator(base, **base_options) if isinstance(base, str) else base
    return ComposerGenerator(inner, parents)


GENERATORS: dict[str, Factory] = {
    "causal-walk": CausalWalkGenerator,
    "random": RandomGenerator,
    "rule-based": RuleBasedGenerator,
    "replay": ReplayGenerator,
    "worst-case": WorstCaseGenerator,
    "composer": _composer,
    "llm": make_llm_generator,
    "frontier-greedy": FrontierGreedyGenerator,
    "frontier-random": FrontierRandomGenerator,
}


def available() -> list[str]:
    """Generator names, sorted."""
    return sorted(GENERATORS)


def get_generator(name: str, **options: Any) -> Generator:
    """Build the generator named ``name`` with ``options``.

    Raises
    ------
    GeneratorError
        If no generator has that name (the message lists the names).
    """
    if name not in GENERATORS:
        raise GeneratorError(f"unknown generator {name!r}; available: {', '.join(available())}")
    return GENERATORS[name](**options)


def generate(generator: str | Generator, kg: CausalModel, n: int,
             constraints: GenerationConstraints | None = None, feedback: Feedback | None = None,
             **options: Any) -> list[Scenario]:
    """Convenience: ``get_generator(generator, **options).generate(kg, n, constraints, feedback)``."""
    gen = get_generator(generator, **options) if isinstance(generator, str) else generator
    return gen.generate(kg, n, constraints, feedback)
