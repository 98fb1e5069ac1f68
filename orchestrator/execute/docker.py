"""The Docker executor: one container of the project's image per run (the ``docker`` CLI, no SDK)."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.base import EngineError, Executor, InfrastructureError
from ani.orchestrator.execute.records import RunRecord, save_record, write_json_atomic
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S

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


