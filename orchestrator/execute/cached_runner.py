"""Runs specs through an executor, reusing any finished run with the same id (runs are content-addressed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.executors import Executor, make_executor
from ani.orchestrator.execute.records import RunRecord, load_record
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S, attach_comparison, failure_record, run_folder


class CachedRunner:
    """Runs specs through an executor; a run whose ``run.json`` exists (status ok, same id) is reused.

    Parameters
    ----------
    results : Path
        Where run folders live (``results/<graph>/<scenario>-<run id>``).
    executor : Executor, optional
        Any :class:`~ani.orchestrator.execute.executors.Executor` (local pool, Dask, Docker);
        default: :func:`~ani.orchestrator.execute.executors.make_executor` with ``workers`` (a local
        pool), made on first use and shut down by :meth:`close`.
    """

    def __init__(self, results: str | Path, executor: Executor | None = None, workers: int = 2,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.results = Path(results).resolve()
        self._executor, self._owned = executor, executor is None
        self.workers, self.timeout_s = workers, timeout_s
        self.simulated = self.reused = 0

    def cached(self, spec: RunSpec) -> RunRecord | None:
        """The finished record of a run with ``spec``'s id under ``results``, if any."""
        exact = run_folder(spec, self.results)
        folders = [exact] if (exact / "run.json").is_file() else sorted(exact.parent.glob(f"*-{spec.run_id}"))
        for folder in folders:
            try:
                rec = load_record(folder)
            except (OSError, ValueError):
                continue
            if rec.status == "ok" and rec.run_id == spec.run_id:
                return rec
        return None

    def __call__(self, specs: Sequence[RunSpec]) -> list[RunRecord]:
        done: dict[str, RunRecord] = {}
        todo: dict[str, RunSpec] = {}
        for spec in specs:
            if spec.run_id in done or spec.run_id in todo:
                continue
            rec = self.cached(spec)
            if rec is not None:
                done[spec.run_id] = rec
                self.reused += 1
            else:
                todo[spec.run_id] = spec
        if todo:
            done.update(self._run(list(todo.values())))
        return [done[s.run_id] for s in specs]

    def compare(self, pairs: Sequence[tuple[RunRecord, RunRecord]]) -> list[RunRecord]:
        """Each (run, baseline) run's record with its comparison against the baseline attached.

        Comparisons parse both run folders: they run in parallel on the executor's
        workers (:meth:`~ani.orchestrator.execute.executors.Executor.submit_call`); one
        already in ``run.json`` is reused. A pair that is not ``ok``, or whose
        comparison fails there, comes back unchanged (the caller decides).
        """
        out = [rec for rec, _ in pairs]
        futures = {}
        for i, (rec, base) in enumerate(pairs):
            if rec.status == "ok" and base.status == "ok" and not (
                    rec.comparison is not None and rec.baseline_run_id == base.run_id):
                futures[i] = self._ready().submit_call(attach_comparison, rec, base)
        for i, fut in futures.items():
            try:
                out[i] = fut.result()
            except Exception:  # noqa: BLE001  (the caller compares in-process and sees the error itself)
                pass
        return out

    def _ready(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(self.results, workers=self.workers, timeout_s=self.timeout_s)
        return self._executor

    def _run(self, specs: list[RunSpec]) -> dict[str, RunRecord]:
        executor = self._ready()
        executor.prepare(specs)
        futures = [(s, executor.submit(s)) for s in specs]
        out = {}
        for spec, fut in futures:
            try:
                out[spec.run_id] = fut.result()
            except Exception as exc:  # noqa: BLE001  (infrastructure: the run becomes a failure, as data)
                out[spec.run_id] = failure_record(spec, self.results, f"infrastructure: {type(exc).__name__}: {exc}")
            self.simulated += 1
        return out

    def close(self) -> None:
        """Shut down the executor if this runner made it."""
        if self._owned and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
