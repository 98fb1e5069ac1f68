"""Fixtures of the cluster tests: a real single-node SLURM cluster for the session (``slurm_cluster.py``).

The cluster is started by the first test that asks for it and stopped at the end of
the session; where ``slurm-wlm``/``munge`` are not installed, or the daemons cannot
run, the tests skip with the reason (``.ci/run`` installs them as root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster, missing_programs


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """munged + slurmctld + slurmd on this machine (127.0.0.1 only), partition ``ani`` with its CPUs."""
    pytest.importorskip("dask_jobqueue", reason="the dask extra brings dask-jobqueue: pip install -e '.[dask]'")
    missing = missing_programs()
    if missing:
        pytest.skip(f"SLURM is not installed here (missing {', '.join(missing)}): "
                    "apt-get install slurm-wlm munge, as .ci/run does")
    if os.geteuid() != 0:
        pytest.skip("the test SLURM cluster runs its daemons as root (as CI does); this is not root")
    cluster = SlurmCluster(Path(tmp_path_factory.mktemp("slurm")))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in cluster.env.items():
            mp.setenv(key, value)  # for sbatch/scancel started by dask-jobqueue in this process
        try:
            cluster.start()
        except RuntimeError as exc:
            cluster.stop()
            pytest.skip(f"the SLURM daemons could not start here: {str(exc)[:2000]}")
        try:
            yield cluster
        finally:
            cluster.stop()
