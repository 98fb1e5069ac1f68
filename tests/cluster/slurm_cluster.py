"""A real single-node SLURM cluster for the tests: munged, slurmctld and slurmd started from a temporary folder.

Debian's ``slurm-wlm`` and ``munge`` (installed by ``.ci/run``) provide the daemons; nothing
here is faked. Everything lives in one folder: a fresh munge key, ``slurm.conf`` for this
machine alone (its CPUs, one partition ``ani``), the daemons' state, spool, logs and
sockets. The controller and the node are addressed as 127.0.0.1 only, on free ports.
:meth:`SlurmCluster.stop` kills the three daemons (by their own process ids) and any
job still running.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PARTITION = "ani"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def missing_programs() -> list[str]:
    """The daemons and commands this machine lacks (``.ci/run`` installs them: slurm-wlm, munge)."""
    return [p for p in DAEMONS if shutil.which(p) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)


@dataclass
class SlurmCluster:
    """The daemons of a one-node SLURM cluster whose files are all under ``root``."""

    root: Path
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    host: str = field(default_factory=socket.gethostname)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """What a SLURM client (sbatch, squeue, scancel) needs to find this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "munge").chmod(0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        r = self.root
        self.conf.write_text(f"""\
ClusterName=anitest
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge/munge.socket.2
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=3
MinJobAge=60
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.console", "wb")  # noqa: SIM115 (kept open for the daemon)
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env={**os.environ, **self.env}, start_new_session=True)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start munged, slurmctld and slurmd; return when the node is idle (or raise with the logs)."""
        self.write_config()
        m = self.root / "munge"
        self._spawn("munged", ["munged", "-F", "--force", f"--socket={m}/munge.socket.2", f"--key-file={m}/munge.key",
                               f"--pid-file={m}/munged.pid", f"--log-file={m}/munged.log", f"--seed-file={m}/seed"])
        self._wait(lambda: (m / "munge.socket.2").exists(), 20, "munged did not create its socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.host])
        self._wait(self.node_idle, timeout_s, "the node did not become idle")

    def node_idle(self) -> bool:
        out = self.run(["sinfo", "-h", "-N", "-o", "%t"], check=False)
        return out.strip() in ("idle", "mix", "alloc")

    def _wait(self, ready: object, timeout_s: float, what: str) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if ready():  # type: ignore[operator]
                return
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                break
            time.sleep(0.3)
        raise RuntimeError(f"{what} (exited: {dead or 'none'}); logs:\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for f in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if f.is_file():
                parts.append(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def run(self, cmd: list[str], check: bool = True) -> str:
        """A SLURM client command against this cluster; its standard output."""
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
        return proc.stdout

    def jobs(self) -> dict[str, str]:
        """Job id -> state (``R``, ``PD``, ``CG`` ...) of the jobs the controller still lists."""
        out = self.run(["squeue", "-h", "-o", "%i %t"], check=False)
        return dict(line.split() for line in out.splitlines() if line.strip())

    def stop(self) -> None:
        """Cancel every job, then stop the daemons this object started (by pid), slurmd first."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run(["scancel", "--full", "--user", "root"], check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
