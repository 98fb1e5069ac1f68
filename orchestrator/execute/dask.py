"""The Dask executor: runs on a ``distributed`` cluster through ``Client.get_executor()``."""

from __future__ import annotations

import concurrent.futures as cf
import socket
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ani.kg.errors import ProjectError
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.base import Executor, InfrastructureError, build_programs, run_spec, warm_worker
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S

STORE_PROBE = ".ani-store-probe"


class StoreNotSharedError(ProjectError, RuntimeError):
    """A worker cannot see the results folder at this machine's path (no shared file system there)."""


def store_visible(probe: str, token: str) -> str:
    """On a worker: ``""`` if it reads ``token`` in the file ``probe`` and can write beside it, else why not."""
    host, path = socket.gethostname(), Path(probe)
    try:
        if path.read_text() != token:
            return f"host {host} sees a different folder at that path"
    except OSError as exc:
        return f"host {host} cannot read the store there ({type(exc).__name__}: {exc.strerror or exc})"
    scratch = path.with_name(f"{path.name}-{host}-{uuid.uuid4().hex[:8]}")
    try:
        scratch.write_text(host)
        scratch.unlink()
    except OSError as exc:
        return f"host {host} cannot write in the store ({type(exc).__name__}: {exc.strerror or exc})"
    return ""


class DaskExecutor(Executor):
    """Runs on a ``distributed`` cluster through ``Client.get_executor()``.

    Parameters
    ----------
    address : str or distributed cluster object
        ``tcp://host:8786`` of a running scheduler, or a cluster (``LocalCluster``,
        a ``dask-jobqueue`` cluster). Workers must import ``ani`` (the project's
        image, or ``pip install 'ani-twin[dask]'``), have the same ns-3 version,
        and see ``results`` at the same path (a shared file system).

    A worker that dies mid-run is replaced by the scheduler and its runs are
    rescheduled (``distributed.scheduler.allowed-failures`` times, then the
    future raises ``KilledWorker`` and the campaign's own retries apply).
    """

    kind = "dask"

    def __init__(self, address: Any, results: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(results, timeout_s)
        try:
            from distributed import Client
        except ImportError as exc:
            raise InfrastructureError("the Dask executor needs the `dask` extra: "
                                      "pip install 'ani-twin[dask]'") from exc
        try:
            self.client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise InfrastructureError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        self._executor = self.client.get_executor(pure=False)

    @property
    def workers(self) -> int:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # every worker, not the first few
        except TypeError:  # distributed before 2025.1 lists them all anyway
            info = self.client.scheduler_info()
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def describe(self) -> str:
        return f"dask {self.client.scheduler.address} ({self.workers} worker threads)"

    def check_store(self) -> None:
        """Raise :class:`StoreNotSharedError` unless every worker sees ``results`` as this machine does.

        This machine writes a token into the folder; each worker must read it back
        at the same path and write a file beside it (a shared file system).
        """
        token = uuid.uuid4().hex
        probe = self.results / f"{STORE_PROBE}-{token[:12]}"
        self.results.mkdir(parents=True, exist_ok=True)
        probe.write_text(token)
        try:
            seen = self.client.run(store_visible, str(probe), token)
        except Exception:  # noqa: BLE001  (a worker lost now is handled when runs are submitted)
            return
        finally:
            probe.unlink(missing_ok=True)
        blind = {worker: why for worker, why in seen.items() if why}
        if blind:
            worker, why = sorted(blind.items())[0]
            raise StoreNotSharedError(
                f"{len(blind)} of {len(seen)} Dask worker(s) cannot see the store {self.results} "
                f"(worker {worker}: {why}); workers need it at the same path on a shared file system "
                "(README: Campaigns, 'A cluster's file systems')")

    def prepare(self, specs: Sequence[RunSpec]) -> list[str]:
        self.check_store()
        problems = build_programs(specs)
        programs = list({(s.program_source, *s.ns3_modules): s for s in specs}.values())
        try:  # workers that do not share this machine's cache compile once each, before any run
            self.client.run(warm_worker)
            for worker_problems in self.client.run(build_programs, programs).values():
                problems += worker_problems
        except Exception as exc:  # noqa: BLE001  (a worker lost now is handled when runs are submitted)
            problems.append(f"preparing the workers: {type(exc).__name__}: {exc}")
        return sorted(set(problems))

    def submit(self, spec: RunSpec) -> cf.Future[RunRecord]:
        return self._executor.submit(run_spec, spec, self.results, self.timeout_s)

    def submit_call(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        return self._executor.submit(fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()


