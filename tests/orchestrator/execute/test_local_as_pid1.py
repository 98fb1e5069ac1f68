"""The local pool works when the campaign process is pid 1, as ``ani`` is in a container.

Found by the Docker image test: the pool's workers took "my parent is pid 1" for
"my parent died" and exited at once, so every run of ``ani demo`` in the image was
lost. Here the process runs as pid 1 of a new pid namespace (``unshare --pid``,
root only: skipped otherwise).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import os
from ani.orchestrator.execute.local import LocalExecutor
assert os.getpid() == 1, os.getpid()
with LocalExecutor('/tmp', workers=2) as ex:
    print(ex.submit_call(os.getppid).result(timeout=120))
"""


def test_a_pool_started_by_pid_1_keeps_its_workers() -> None:
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a pid namespace here: {probe.stderr.strip()}")
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", CODE],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "1", "the worker's parent is the pid-1 process"
