"""Executors: where runs execute. One interface with ``concurrent.futures`` semantics.

Every executor turns a :class:`~ani.ns3_scenarios.render.RunSpec` into a
``concurrent.futures.Future`` of its :class:`~ani.orchestrator.execute.records.RunRecord`;
all of them end in the same picklable function, :func:`run_spec`, so a run's
folder, record and reproduce command are the same wherever it ran.

=====================  =================================================================
:class:`LocalExecutor`  a pool of warm worker processes (loky) on this machine
:class:`DaskExecutor`   a ``distributed`` cluster: ``tcp://scheduler:8786`` or a ``LocalCluster``
:class:`DockerExecutor` one container of the project's image per run, ``N`` at a time
=====================  =================================================================

:func:`make_executor` chooses one from options (a cluster address, an image, a
worker count); every entry point builds its executor with it.

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
    Give :func:`make_executor` the option that selects it.
You get
    ``ani campaign run`` drives it: ``planned − done`` submitted a window at a
    time, each record persisted as it completes, infrastructure failures retried a
    bounded number of times (deterministic failures never), progress and logs. The
    same contract tests (``tests/orchestrator/execute/test_executors.py``) run on every backend.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shlex
import shutil
import signal
import subprocess
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ani.kg.errors import ProjectError
from ani.ns3_scenarios.build import build_program, ns3_version
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.records import RunRecord, save_record, write_json_atomic
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


def die_with_parent() -> None:
    """Linux: have the kernel kill this process when the process that started it dies.

    A campaign process killed with SIGKILL cannot stop its pool; without this
    its idle workers would wait forever for work that never comes.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call above
        os._exit(1)


def _local_worker_start() -> None:
    die_with_parent()
    warm_worker()


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

        return ProcessPoolExecutor(max_workers=self._workers, initializer=_local_worker_start)

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

    def prepare(self, specs: Sequence[RunSpec]) -> list[str]:
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


# ------------------------------------------------------------------------ Docker

CONTAINER_RESULTS = "/results"
CONTAINER_CACHE = f"{CONTAINER_RESULTS}/.ani-cache"
QUEUE = ".queue"


def container_user() -> str:
    """``uid:gid`` the containers run as: this user, or the image's ``ani`` (1000) when this is root."""
    uid, gid = os.getuid(), os.getgid()
    return "1000:1000" if uid == 0 else f"{uid}:{gid}"


def share_with_containers(results: Path, user: str) -> None:
    """Let the containers' ``user`` (``uid:gid``) read the queue and write runs in ``results``.

    Run as root, this process writes the store as root but the containers run as
    ``1000``: the mounted ``results`` folder is handed to their uid (its run
    folders, ``.attempts`` and ``.ani-cache`` are then created by them). A
    non-root user's containers run as that user: nothing to do.
    """
    uid, _, gid = user.partition(":")
    results.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0 and uid.isdigit() and int(uid) != 0 and results.stat().st_uid != int(uid):
        os.chown(results, int(uid), int(gid) if gid.isdigit() else -1)


def docker_command(image: str, results: Path, spec_name: str, timeout_s: float, name: str, *,
                   docker: str = "docker", user: str | None = None, build_only: bool = False,
                   extra_args: Sequence[str] = ()) -> list[str]:
    """The ``docker run`` command line that executes one queued spec in the project's image.

    ``results`` (this machine) is mounted at ``/results``; the spec file is
    ``results/.queue/<spec_name>``; compiled programs are cached in
    ``results/.ani-cache``; no network; a non-root user.
    """
    cmd = [docker, "run", "--rm", "--name", name, "--network", "none", "--user", user or container_user(),
           "--label", "ani.role=campaign-run", "-v", f"{results}:{CONTAINER_RESULTS}",
           "-e", f"ANI_CACHE_DIR={CONTAINER_CACHE}", "-w", CONTAINER_RESULTS, *extra_args, image,
           "ani", "campaign", "worker", f"{CONTAINER_RESULTS}/{QUEUE}/{spec_name}",
           "--results", CONTAINER_RESULTS, "--timeout", f"{timeout_s:g}"]
    return cmd + (["--build-only"] if build_only else [])


class DockerExecutor(Executor):
    """One container of ``image`` per run, ``workers`` at a time (no Docker SDK: the ``docker`` CLI).

    Each run's full spec is written to ``results/.queue/``; the container runs
    ``ani campaign worker`` on it (:func:`run_spec`) and prints the record as its
    last line of output. The container's paths are mapped back to this machine's
    in the record, whose reproduce command becomes a ``docker run`` of the
    run's ``run.sh``.
    """

    kind = "docker"

    def __init__(self, image: str, results: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S,
                 workers: int = 2, docker: str = "docker", user: str | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        super().__init__(results, timeout_s)
        if shutil.which(docker) is None:
            raise InfrastructureError(f"the Docker executor needs the {docker!r} command, which is not on PATH")
        self._image, self._docker, self._user = image, docker, user
        self._extra = list(extra_args)
        self._workers = max(1, int(workers))
        self._pool = cf.ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ani-docker")

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def image(self) -> str | None:
        return self._image

    def describe(self) -> str:
        return f"docker {self._image} ({self._workers} containers at a time)"

    def prepare(self, specs: Sequence[RunSpec]) -> list[str]:
        programs = {(s.program_source, *s.ns3_modules): s for s in specs}.values()
        problems = []
        for spec in programs:
            try:
                self._container(spec, build_only=True)
            except EngineError:
                raise  # the engine cannot start containers: stop before dispatching anything
            except InfrastructureError as exc:
                problems.append(str(exc))
        return problems

    def submit(self, spec: RunSpec) -> cf.Future[RunRecord]:
        return self._pool.submit(self._container, spec)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def command(self, spec_name: str, name: str, build_only: bool = False) -> list[str]:
        """The ``docker run`` command for a queued spec file."""
        return docker_command(self._image, self.results, spec_name, self.timeout_s, name, docker=self._docker,
                              user=self._user, build_only=build_only, extra_args=self._extra)

    def _container(self, spec: RunSpec, build_only: bool = False) -> RunRecord | None:
        name = f"ani-{spec.run_id}-{uuid.uuid4().hex[:8]}"
        queued = self.results / QUEUE / f"{name}.json"
        share_with_containers(self.results, self._user or container_user())
        write_json_atomic(queued, spec.model_dump_json())
        queued.chmod(0o644)  # mkstemp makes it 0600: the containers' user may not be this one (root: 1000)
        try:
            proc = self._docker_run(self.command(queued.name, name, build_only), name)
        finally:
            queued.unlink(missing_ok=True)
        if build_only:
            return None
        return self._host_record(proc, spec)

    def _docker_run(self, cmd: list[str], name: str) -> subprocess.CompletedProcess[str]:
        limit = self.timeout_s + 120.0  # the run's own limit is enforced inside; this guards the engine
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired as exc:
            subprocess.run([self._docker, "kill", name], capture_output=True, timeout=60)
            raise InfrastructureError(f"container {name} did not finish in {limit:g} s") from exc
        except OSError as exc:
            raise EngineError(f"cannot start {self._docker!r}: {exc}") from exc
        if proc.returncode != 0:
            # 125: the engine failed; 126/127: the image cannot run the command; others: the entry point
            kind = EngineError if proc.returncode >= 125 else InfrastructureError
            raise kind(f"container {name} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        return proc

    def _host_record(self, proc: subprocess.CompletedProcess[str], spec: RunSpec) -> RunRecord:
        lines = proc.stdout.strip().splitlines()
        try:
            record = RunRecord.model_validate_json(lines[-1])
        except (IndexError, ValueError) as exc:
            raise InfrastructureError(f"run {spec.run_id}: the container printed no record "
                                      f"(stderr: {proc.stderr.strip()[-500:]})") from exc
        inside = Path(record.folder).relative_to(CONTAINER_RESULTS)
        record.folder = str(self.results / inside)
        script = shlex.quote(f"{CONTAINER_RESULTS}/{inside}/run.sh")
        record.repro_cmd = (f"{self._docker} run --rm -v {shlex.quote(str(self.results))}:{CONTAINER_RESULTS} "
                            f"-e ANI_CACHE_DIR={CONTAINER_CACHE} {shlex.quote(self._image)} sh {script}")
        save_record(record)
        return record


def make_executor(results: str | Path, *, workers: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S,
                  cluster: str | None = None, image: str | None = None) -> Executor:
    """The one way to choose where runs execute (``ani run``, campaigns, the loop and evaluations use it).

    ``cluster``: a Dask scheduler address (``tcp://host:8786``); ``image``: a
    container image of the project, ``workers`` containers at a time; neither:
    a local pool of ``workers`` processes.

    Raises
    ------
    ExecutorChoiceError
        If both ``cluster`` and ``image`` are given.
    """
    if cluster and image:
        raise ExecutorChoiceError("give either a Dask cluster or a Docker image, not both")
    if cluster:
        return DaskExecutor(cluster, results, timeout_s)
    if image:
        return DockerExecutor(image, results, timeout_s, workers=workers)
    return LocalExecutor(results, timeout_s, workers=workers)
