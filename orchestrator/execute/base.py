"""The executor contract: :class:`Executor`, the one function every backend runs (:func:`run_spec`), and its errors.

Every executor turns a :class:`~ani.ns3_scenarios.render.RunSpec` into a
``concurrent.futures.Future`` of its :class:`~ani.orchestrator.execute.records.RunRecord`;
all of them end in the same picklable function, :func:`run_spec`, so a run's
folder, record and reproduce command are the same wherever it ran. The backends
live one per module (:mod:`.local`, :mod:`.dask`, :mod:`.slurm`, :mod:`.docker`);
:func:`~ani.orchestrator.execute.executors.make_executor` chooses one.

You must provide (to add an executor)
    a subclass of :class:`Executor` with ``submit(spec) -> Future[RunRecord]``
    that runs :func:`run_spec` (``spec``, the executor's ``results`` folder as the
    worker sees it, ``timeout_s``) somewhere, ``shutdown(wait, cancel_futures)``
    and ``workers`` (how many runs it executes at once). The future's result is
    the record — for crashed, hung or mis-configured runs too (``failed`` /
    ``timeout``); it raises only when the *infrastructure* failed (a worker or
    container lost, an engine error, a worker whose ns-3 differs:
    :class:`InfrastructureError` or the backend's own exception). Override
    :meth:`Executor.prepare` when the workers cannot see this machine's build cache.
    Give :func:`~ani.orchestrator.execute.executors.make_executor` the option that selects it.
You get
    ``ani campaign run`` drives it: ``planned − done`` submitted a window at a
    time, each record persisted as it completes, infrastructure failures retried a
    bounded number of times (deterministic failures never), progress and logs. The
    same contract tests (``tests/orchestrator/execute/test_executors.py``) run on every backend.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import signal
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ani.kg.errors import ProjectError
from ani.ns3_scenarios.build import build_program, ns3_version
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.records import RunRecord, write_json_atomic
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S, execute_run, failure_record


STAGING = ".attempts"


class InfrastructureError(ProjectError, RuntimeError):
    """A run could not execute for a reason outside the run itself; the campaign retries it."""


class EngineError(InfrastructureError):
    """The container engine itself failed (not reachable, refused the container): no run can start."""


class ExecutorChoiceError(ProjectError, ValueError):
    """Contradictory executor options (a cluster and an image at once)."""


class WorkerEnvironmentError(InfrastructureError):
    """The worker's ns-3 differs from the one the run was planned with (results would not compare)."""


def run_spec(spec: RunSpec, results: Path, timeout_s: float = DEFAULT_TIMEOUT_S,
             kpi_tables: bool = False) -> RunRecord:
    """Execute ``spec`` here (in a worker); the one function every executor runs.

    The run executes in a private staging folder under ``results/.attempts``
    that is renamed into place only when its record is complete, so a run
    folder is never half-written, and a program orphaned by a dead worker
    cannot write into the folder of the run's next attempt. A program that does
    not build or refuses its input becomes a ``failed`` record; a crash or hang
    becomes ``failed``/``timeout`` (:func:`~ani.orchestrator.execute.run.execute_run`).
    The run's KPI tables are written on first use
    (:func:`~ani.orchestrator.measure.summary.ensure_kpi_tables`) unless ``kpi_tables``.

    Raises
    ------
    WorkerEnvironmentError
        If this worker's ns-3 version is not the spec's.
    """
    have = ns3_version()
    if have != spec.ns3_version:
        raise WorkerEnvironmentError(f"worker {os.uname().nodename} pid {os.getpid()} has ns-3 {have}; "
                                     f"run {spec.run_id} was planned with ns-3 {spec.ns3_version}")
    results = Path(results)
    staging = results / STAGING / f"{spec.run_id}-{uuid.uuid4().hex[:12]}"
    try:
        record = execute_run(spec, staging, timeout_s, kpi_tables=kpi_tables)
    except InfrastructureError:
        raise
    except ProjectError as exc:
        record = failure_record(spec, staging, f"{type(exc).__name__}: {exc}")
    return _publish(record, staging, results)


def _publish(record: RunRecord, staging: Path, results: Path) -> RunRecord:
    """Move a finished run folder from ``staging`` to its place under ``results`` (rename, same file system)."""
    src = Path(record.folder)
    dst = results / src.relative_to(staging)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        os.replace(dst, staging / "previous")
    record.folder = str(dst)
    record.repro_cmd = record.repro_cmd.replace(str(src), str(dst))
    write_json_atomic(src / "run.json", record.model_dump_json(indent=1))  # then the rename publishes both
    os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)
    return record


def build_programs(specs: Sequence[RunSpec]) -> list[str]:
    """Compile each distinct template program of ``specs`` once (cached); return the failures.

    A failure is not raised: the runs of that program then fail one by one, as data.
    """
    seen: dict[tuple[str, ...], RunSpec] = {}
    for spec in specs:
        seen.setdefault((spec.program_source, *spec.ns3_modules), spec)
    problems = []
    for spec in seen.values():
        try:
            build_program(spec.program_source, spec.ns3_modules, name=spec.template)
        except ProjectError as exc:
            problems.append(f"{spec.template}: {exc}")
    return problems


def die_with_parent(parent_pid: int | None = None) -> None:
    """Linux: have the kernel kill this process when the process that started it dies.

    A campaign process killed with SIGKILL cannot stop its pool; without this
    its idle workers would wait forever for work that never comes. If the parent
    (``parent_pid``) is already gone, exit now. (Not "parent is pid 1": in a
    container the campaign process itself is pid 1.)
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before the call above
        os._exit(1)


def warm_worker() -> int:
    """Import what a run needs, once per worker process; returns the pid."""
    import ani.orchestrator.execute.run  # noqa: F401  (pandas, pyarrow, pydantic, the parsers)

    return os.getpid()


class Executor(ABC):
    """Runs :class:`RunSpec` objects somewhere; see the module docstring for the contract.

    Parameters
    ----------
    results : Path
        The folder run folders go into, as this machine sees it.
    timeout_s : float
        Wall-clock limit of each ns-3 program (then a ``timeout`` record).
    """

    kind: ClassVar[str] = "executor"

    def __init__(self, results: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.results = Path(results).resolve()
        self.timeout_s = float(timeout_s)
        self._calls: cf.ThreadPoolExecutor | None = None  # the default submit_call's thread

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many runs execute at once."""

    @property
    def image(self) -> str | None:
        """The container image the runs execute in (``None``: this environment)."""
        return None

    def describe(self) -> str:
        """One line for logs and the manifest: kind and size."""
        return f"{self.kind} ({self.workers} workers)"

    def prepare(self, specs: Sequence[RunSpec]) -> list[str]:
        """Before dispatch: compile every program once, here, so workers find it in the cache."""
        return build_programs(specs)

    @abstractmethod
    def submit(self, spec: RunSpec) -> cf.Future[RunRecord]:
        """Start ``spec``; the future's result is its :class:`RunRecord`."""

    def submit_call(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Run a short picklable function of finished runs (a scenario-versus-baseline
        comparison) where the runs run, so that the campaign process stays free to dispatch.
        Default: a thread of this process (for backends that only start ns-3 programs)."""
        if self._calls is None:
            self._calls = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ani-call")
        return self._calls.submit(fn, *args)

    def _shutdown_calls(self) -> None:
        if self._calls is not None:
            self._calls.shutdown(wait=True)
            self._calls = None

    @abstractmethod
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Release the workers (``wait``: let submitted runs finish first)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=False, cancel_futures=True)
        self._shutdown_calls()


