"""The project's error hierarchy.

Every error the project raises on purpose derives from :class:`ProjectError`
and from the builtin it specialises, so callers can catch either. Each error
carries the offending input (a path, a component id, a run id) in its message.
"""

from __future__ import annotations


class ProjectError(Exception):
    """Base class of every error raised on purpose by the project."""


class TopologyError(ProjectError, ValueError):
    """A topology file cannot be turned into the graph model.

    The message names the file and the reason (element, attribute, line).
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class UnknownComponentError(ProjectError, KeyError):
    """A scenario names a node or link that the graph does not have."""

    def __init__(self, target: str, kind: str, hint: str = "") -> None:
        self.target = target
        self.kind = kind
        shown = repr(target) if len(target) <= 80 else f"{target[:80]!r}... ({len(target)} chars)"
        msg = f"unknown {kind} {shown}"
        super().__init__(msg + (f" ({hint})" if hint else ""))

    def __str__(self) -> str:  # KeyError quotes its argument; keep it readable
        return str(self.args[0])


class ScenarioError(ProjectError, ValueError):
    """A scenario is malformed or cannot be executed by a template."""


class TemplateError(ProjectError, ValueError):
    """A template or its parameters are invalid."""


class SimulationError(ProjectError, RuntimeError):
    """An ns-3 program could not be built or did not finish."""


class SettingsError(ProjectError, ValueError):
    """A setting (argument, ``ANI_*`` variable or ``ani.toml`` entry) is invalid; the message names it."""


class UnsafePathError(ProjectError, ValueError):
    """A path derived from data would leave the folder it must stay in (the results root)."""


class ResultsWriteError(ProjectError, OSError):
    """The results folder cannot be written (read-only, full, missing permission); names the folder."""
