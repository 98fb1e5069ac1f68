"""Progress of closed loops and evaluations in scenario runs against their budgets, on the campaign's display.

``ani loop`` and ``ani evaluate`` run for an hour or more: :class:`BudgetProgress`
counts their scenario runs (the budget's unit) on a
:class:`~ani.orchestrator.campaign.progress.Progress` — a ``rich`` bar with counts
and ETA on a terminal, plain ``ani loop: 4/12 done (ok 4, failed 0, …); elapsed …,
ETA …`` lines elsewhere (:func:`~ani.orchestrator.campaign.progress.make_progress`).
A loop that ends under its budget (its generator ran out) shrinks the total; a loop
reused from an earlier evaluation counts as done without skewing the ETA.
"""

from __future__ import annotations

from ani.orchestrator.campaign.progress import NullProgress, Progress


def run_status(status: str) -> str:
    """A scenario row's status as a progress status: ok, timeout or failed (a failed baseline too)."""
    return status if status in ("ok", "timeout") else "failed"


class BudgetProgress:
    """Scenario runs of one or more loops, counted against the sum of their budgets."""

    def __init__(self, progress: Progress | None, total: int, description: str) -> None:
        self.progress = progress or NullProgress()
        self.total = total
        self._runs = 0
        self.progress.start(total, 0, description)

    def loop_started(self) -> None:
        """A loop begins: its runs are counted from here."""
        self._runs = 0

    def run(self, status: str) -> None:
        """One scenario run was evaluated (its row's ``status``)."""
        self._runs += 1
        self.progress.advance(run_status(status))

    def loop_ended(self, budget: int) -> None:
        """The loop ended (or was skipped) after the runs counted since :meth:`loop_started`."""
        self._shrink(budget - self._runs)

    def loop_reused(self, budget: int, runs: int) -> None:
        """A loop of ``runs`` scenario runs was found done in an earlier evaluation."""
        self.progress.reuse(runs)
        self._shrink(budget - runs)

    def _shrink(self, unused: int) -> None:
        if unused > 0:
            self.total -= unused
            self.progress.resize(self.total)

    def close(self) -> None:
        self.progress.close()
