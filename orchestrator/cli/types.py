"""Click parameter types shared by the commands."""

from __future__ import annotations

import math
from typing import Any

import click

from ani.orchestrator.campaign.plan import MAX_TIMEOUT_S


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that also refuses ``nan`` and ``inf`` (which pass click's own range checks)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def timeout_seconds(minimum: float = 1.0) -> FiniteFloatRange:
    """Seconds before a run is killed: finite, between ``minimum`` and :data:`MAX_TIMEOUT_S`."""
    return FiniteFloatRange(min=minimum, max=MAX_TIMEOUT_S)


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--param NAME=VALUE`` options as a dict (values stay strings: the template's manifest converts them)."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        out[name.strip()] = value.strip()
    return out
