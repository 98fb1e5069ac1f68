"""The local executor: a pool of warm worker processes on this machine (loky, as joblib uses)."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ani.orchestrator.execute.base import Executor, die_with_parent, run_spec, warm_worker
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S
from ani.ns3_scenarios.render import RunSpec


def _local_worker_start(parent_pid: int) -> None:
    die_with_parent(parent_pid)
    warm_worker()


class LocalExecutor(Executor):
    """A pool of ``workers`` warm processes on this machine (loky, as joblib uses).

    Each worker imports the run code once (:func:`warm_worker`) and then takes
    runs one after another; a worker that dies breaks the pool, whose pending
    futures raise ``TerminatedWorkerError``; the next :meth:`submit` starts a
    fresh pool.
    """

    kind = "local"

    def __init__(self, results: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 2) -> None:
        super().__init__(results, timeout_s)
        self._workers = max(1, int(workers))
        self._pool: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    def _new_pool(self) -> Any:
        from joblib.externals.loky import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self._workers, initializer=_local_worker_start,
                                   initargs=(os.getpid(),))

    def submit(self, spec: RunSpec) -> cf.Future[RunRecord]:
        return self.submit_call(run_spec, spec, self.results, self.timeout_s)

    def submit_call(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        from joblib.externals.loky import BrokenProcessPool

        if self._pool is None:
            self._pool = self._new_pool()
        try:
            return self._pool.submit(fn, *args)
        except (BrokenProcessPool, RuntimeError):
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, kill_workers=cancel_futures)
            self._pool = None


