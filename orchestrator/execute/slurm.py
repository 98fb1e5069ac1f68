"""The SLURM executor: Dask workers started as SLURM batch jobs through ``dask-jobqueue``.

:class:`SlurmExecutor` starts a Dask scheduler in this process, submits
``jobs`` batch jobs (``sbatch``) that each run one Dask worker with ``cores``
threads, and is then a :class:`~ani.orchestrator.execute.dask.DaskExecutor` on
that cluster. A worker job that ends early (``scancel``, pre-emption, node
failure, walltime) loses its runs to the scheduler, which reschedules them on the
other workers; a keeper resubmits the missing job, so a campaign also survives
losing its only worker. :meth:`SlurmExecutor.shutdown` cancels the jobs.

Site settings that are not options here (an account's QoS, modules to load, a
scheduler interface, extra ``#SBATCH`` lines) come from Dask's own configuration,
``~/.config/dask/jobqueue.yaml``, key ``jobqueue.slurm`` (dask-jobqueue's
documentation lists them). PBS, LSF, SGE, HTCondor and OAR have their own
``dask-jobqueue`` classes (``PBSCluster`` ...): give one to ``DaskExecutor``
(untested here: see the README's Campaigns section).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ani.kg.errors import ProjectError
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.base import InfrastructureError
from ani.orchestrator.execute.dask import DaskExecutor
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S

SLURM_LOGS = ".slurm"  # under the results folder: one .out/.err per worker job
KEEP_JOBS_EVERY_S = 5.0


class SlurmError(ProjectError, ValueError):
    """SLURM refuses the worker jobs (no such partition, more cores than a node has, no ``sbatch``)."""


class SlurmOptions(BaseModel):
    """The worker jobs to request (``ani campaign run --slurm``, ``ani loop``, ``ani evaluate``).

    Each job runs one Dask worker that executes ``cores`` runs at a time.
    """

    model_config = ConfigDict(extra="forbid")
    partition: str | None = Field(None, description="SLURM partition (-p); None: the cluster's default")
    jobs: int = Field(1, ge=1, description="worker jobs kept running")
    cores: int = Field(1, ge=1, description="CPUs per job = runs a worker executes at once")
    memory: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*([kKMGT]i?)?B?$", description="memory per job (--mem): 4GB")
    walltime: str = Field("01:00:00", pattern=r"^(\d+-)?\d+(:\d{1,2}){0,2}$",
                          description="time limit per job (-t, [D-]HH:MM:SS); an expired job is resubmitted")
    account: str | None = Field(None, description="account to charge (-A)")
    interface: str | None = Field(None, description="network interface of the scheduler and workers (ib0, lo)")
    start_timeout_s: float = Field(600.0, gt=0, description="seconds to wait for the first worker job to start")


def _cluster(options: SlurmOptions, log_dir: Path) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` for ``options`` (its scheduler starts in this process)."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise InfrastructureError("the SLURM executor needs the `dask` extra (dask-jobqueue): "
                                  "pip install 'ani-twin[dask]'") from exc
    extra = {"interface": options.interface} if options.interface else {}
    scheduler = {"dashboard_address": None, **dask.config.get("jobqueue.slurm.scheduler-options", {})}
    return SLURMCluster(queue=options.partition, account=options.account, cores=options.cores, processes=1,
                        memory=options.memory, walltime=options.walltime, log_directory=str(log_dir),
                        python=dask.config.get("jobqueue.slurm.python", None) or sys.executable,
                        scheduler_options=scheduler, **extra)


def check_job(job_script: str, options: SlurmOptions) -> None:
    """Ask SLURM whether it would accept ``job_script`` (``sbatch --test-only``); raise :class:`SlurmError` if not."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as script:
        script.write(job_script)
        script.flush()
        proc = subprocess.run(["sbatch", "--test-only", script.name], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        reason = reason.removeprefix("sbatch: error: ").removeprefix("Batch job submission failed: ")
        where = f"partition {options.partition!r}" if options.partition else "the default partition"
        raise SlurmError(f"SLURM refuses the worker jobs ({where}, {options.cores} cores, {options.memory}, "
                         f"{options.walltime}): {reason}")


class SlurmExecutor(DaskExecutor):
    """Runs on Dask workers that are SLURM jobs, ``options.jobs`` of them kept alive.

    Parameters
    ----------
    options : SlurmOptions
        The jobs to request.
    results : Path
        The run folders; every compute node must see it at the same path (a shared
        file system), checked before the first run.

    Raises
    ------
    SlurmError
        If ``sbatch`` is missing or SLURM refuses the job (checked with ``--test-only``).
    """

    kind = "slurm"

    def __init__(self, options: SlurmOptions, results: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if shutil.which("sbatch") is None:
            raise SlurmError("the SLURM executor needs SLURM's `sbatch` command, which is not on PATH")
        self.options = options
        log_dir = Path(results).resolve() / SLURM_LOGS
        self.cluster = _cluster(options, log_dir)
        try:
            check_job(self.cluster.job_script(), options)
            self.cluster.scale(jobs=options.jobs)
            super().__init__(self.cluster, results, timeout_s)
        except BaseException:
            self.cluster.close()
            raise
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep_jobs, name="ani-slurm-keeper", daemon=True)
        self._keeper.start()

    def _keep_jobs(self) -> None:
        """Resubmit worker jobs that ended (the cluster forgets a lost worker after its lost-worker timeout)."""
        while not self._stop.wait(KEEP_JOBS_EVERY_S):
            try:
                self.cluster.scale(jobs=self.options.jobs)
            except Exception:  # noqa: BLE001  (closing: the next round or shutdown settles it)
                continue

    def describe(self) -> str:
        where = self.options.partition or "default partition"
        return (f"slurm {where}: {self.options.jobs} job(s) x {self.options.cores} core(s), "
                f"scheduler {self.client.scheduler.address}")

    def job_ids(self) -> dict[str, str]:
        """Worker name -> SLURM job id of the jobs this executor submitted and still tracks."""
        return {name: job.job_id for name, job in self.cluster.workers.items() if getattr(job, "job_id", None)}

    def prepare(self, specs: Sequence[RunSpec]) -> list[str]:
        self._wait_for_a_worker()
        return super().prepare(specs)

    def _wait_for_a_worker(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=self.options.start_timeout_s)
        except TimeoutError as exc:
            logs = self.results / SLURM_LOGS
            raise InfrastructureError(f"no SLURM worker job started within {self.options.start_timeout_s:g} s "
                                      f"(jobs {sorted(self.job_ids().values())}; see squeue and {logs})") from exc

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._stop.set()
        try:
            super().shutdown(wait, cancel_futures=cancel_futures)
        finally:
            self.cluster.close()  # scancel of every worker job
