"""Executors: where runs execute. One interface with ``concurrent.futures`` semantics.

Every executor turns a :class:`~ani.ns3_scenarios.render.RunSpec` into a
``concurrent.futures.Future`` of its :class:`~ani.orchestrator.execute.records.RunRecord`;
all of them end in the same picklable function, :func:`~ani.orchestrator.execute.base.run_spec`.
The contract (and how to add a backend) is in :mod:`ani.orchestrator.execute.base`.

======================  =========================  ==================================================
module                  executor                   where runs execute
======================  =========================  ==================================================
:mod:`.local`           :class:`LocalExecutor`     a pool of warm worker processes on this machine
:mod:`.dask`            :class:`DaskExecutor`      a ``distributed`` cluster: ``tcp://scheduler:8786``,
                                                   a ``LocalCluster`` or any ``dask-jobqueue`` cluster
:mod:`.slurm`           :class:`SlurmExecutor`     Dask workers started as SLURM jobs (dask-jobqueue)
:mod:`.docker`          :class:`DockerExecutor`    one container of the project's image per run
======================  =========================  ==================================================

:func:`make_executor` chooses one from options; every entry point (``ani run``,
``ani campaign run``, ``ani loop``, ``ani evaluate``) builds its executor with it.
The backends' names are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from ani.orchestrator.execute.base import (STAGING, EngineError, Executor, ExecutorChoiceError, InfrastructureError,
                                           WorkerEnvironmentError, build_programs, die_with_parent, run_spec,
                                           warm_worker)
from ani.orchestrator.execute.dask import DaskExecutor, StoreNotSharedError
from ani.orchestrator.execute.docker import DockerExecutor, container_user, docker_command, share_with_containers
from ani.orchestrator.execute.local import LocalExecutor
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S
from ani.orchestrator.execute.slurm import SlurmError, SlurmExecutor, SlurmOptions

__all__ = ["STAGING", "DaskExecutor", "DockerExecutor", "EngineError", "Executor", "ExecutorChoiceError",
           "InfrastructureError", "LocalExecutor", "SlurmError", "SlurmExecutor", "SlurmOptions",
           "StoreNotSharedError", "WorkerEnvironmentError", "build_programs", "container_user", "die_with_parent",
           "docker_command", "make_executor", "run_spec", "share_with_containers", "warm_worker"]


def make_executor(results: str | Path, *, workers: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S,
                  cluster: str | None = None, image: str | None = None,
                  slurm: SlurmOptions | None = None) -> Executor:
    """The one way to choose where runs execute (``ani run``, campaigns, the loop and evaluations use it).

    ``cluster``: a Dask scheduler address (``tcp://host:8786``); ``slurm``: Dask
    workers as SLURM jobs; ``image``: a container image of the project,
    ``workers`` containers at a time; none: a local pool of ``workers`` processes.

    Raises
    ------
    ExecutorChoiceError
        If more than one of ``cluster``, ``slurm`` and ``image`` is given.
    """
    chosen = [name for name, value in (("a Dask cluster", cluster), ("SLURM", slurm), ("a Docker image", image))
              if value]
    if len(chosen) > 1:
        raise ExecutorChoiceError(f"give one of a Dask cluster, SLURM or a Docker image, not {' and '.join(chosen)}")
    if cluster:
        return DaskExecutor(cluster, results, timeout_s)
    if slurm:
        return SlurmExecutor(slurm, results, timeout_s)
    if image:
        return DockerExecutor(image, results, timeout_s, workers=workers)
    return LocalExecutor(results, timeout_s, workers=workers)
