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


SLURM_FIELDS = ("partition", "jobs", "cores", "memory", "walltime", "account", "interface")

executor_options = [
    click.option("--cluster", metavar="ADDRESS", default=None, help="run on a Dask scheduler (tcp://host:8786)"),
    click.option("--slurm", is_flag=True, help="run on Dask workers started as SLURM jobs (dask-jobqueue)"),
    click.option("--partition", metavar="NAME", default=None, help="with --slurm: partition [default: SLURM's]"),
    click.option("--jobs", type=click.IntRange(1), default=None, help="with --slurm: worker jobs [default: 1]"),
    click.option("--cores", type=click.IntRange(1), default=None,
                 help="with --slurm: CPUs per job, runs each worker executes at once [default: 1]"),
    click.option("--memory", metavar="SIZE", default=None, help="with --slurm: memory per job [default: 4GB]"),
    click.option("--walltime", metavar="[D-]HH:MM:SS", default=None,
                 help="with --slurm: time limit per job, resubmitted when it expires [default: 01:00:00]"),
    click.option("--account", default=None, help="with --slurm: account to charge"),
    click.option("--interface", metavar="IFACE", default=None,
                 help="with --slurm: network interface of the scheduler and workers (ib0) [default: dask config]"),
    click.option("--docker", "image", metavar="IMAGE", default=None, help="run each run in a container of IMAGE"),
]


def with_executor_options(f: Any) -> Any:
    """Decorate a command with :data:`executor_options` (in the order above)."""
    for opt in reversed(executor_options):
        f = opt(f)
    return f


def slurm_choice(o: dict[str, Any]) -> Any:
    """The :class:`~ani.orchestrator.execute.slurm.SlurmOptions` of a command's options, or ``None`` without ``--slurm``.

    Raises ``click.UsageError`` for a SLURM option without ``--slurm``, for two
    executors at once, and ``click.BadParameter`` naming a malformed ``--memory``/``--walltime``.
    """
    from pydantic import ValidationError

    from ani.orchestrator.execute.slurm import SlurmOptions

    chosen = [flag for flag, on in (("--cluster", o.get("cluster")), ("--slurm", o.get("slurm")),
                                    ("--docker", o.get("image"))) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"give one of --cluster, --slurm and --docker, not {' and '.join(chosen)}")
    given = {k: o[k] for k in SLURM_FIELDS if o.get(k) is not None}
    if not o.get("slurm"):
        if given:
            raise click.UsageError(f"--{next(iter(given))} applies to --slurm only")
        return None
    try:
        return SlurmOptions(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "slurm"
        raise click.BadParameter(f"{given.get(name)!r}: {err['msg']}", param_hint=f"--{name}") from None
