"""A real Docker engine for the tests, and the project's image built from the Dockerfile.

:class:`DockerEngine` starts Debian's ``dockerd`` (``docker.io``, installed by
``.ci/run``) on a private socket, without a bridge network or iptables rules (the
runs use ``--network none``; a Dask worker container uses the host's loopback).
Its image store is kept in :data:`CACHE` so that a later run on the same machine
reuses the base image and the dependency layer.

:func:`build_image` builds the image as the README's "Docker" section says: the
base ``python:3.11-slim-bookworm`` pulled from the registry when one is reachable;
otherwise (as on the development machines) a local base made from Debian packages
(``debootstrap --variant=minbase`` with python3, python3-venv, g++, make, imported
with ``docker import``) and a wheelhouse of every dependency built with this
machine's ``pip wheel``, then ``docker build --network none``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "ani-tests"
REGISTRY_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "ani-base:bookworm"
BASE_PACKAGES = "python3,python3-venv,g++,make"
SOURCES = ("pyproject.toml", "README.md", "kg", "llm", "ns3_scenarios", "orchestrator")


def docker_cli() -> str | None:
    """The ``docker`` client: Debian's (``/usr/bin/docker``) first, else the one on PATH."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")


@dataclass
class DockerEngine:
    """``dockerd`` with its sockets and state in ``root`` and its image store in ``data_root``."""

    root: Path
    data_root: Path = field(default_factory=lambda: CACHE / "docker")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def start(self, timeout_s: float = 60.0) -> str:
        """Start the engine; ``""`` when it answers, else the reason it cannot run here (from its log)."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        log = self.root / "dockerd.log"
        cmd = ["dockerd", "--data-root", str(self.data_root), "--exec-root", str(self.root / "exec"),
               "--pidfile", str(self.root / "dockerd.pid"), "-H", self.host, "--bridge=none", "--iptables=false",
               "--ip6tables=false"]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return f"dockerd exited {self.proc.returncode}: {_last_error(log)}"
            if self.docker("info", check=False, timeout=20).returncode == 0:
                return ""
            time.sleep(0.5)
        return f"dockerd did not answer within {timeout_s:g} s: {_last_error(log)}"

    def cannot_run(self, image: str) -> str:
        """``""`` if a container of ``image`` starts here (cgroups, overlay, namespaces), else the engine's reason."""
        proc = self.docker("run", "--rm", "--network", "none", image, "true", check=False, timeout=120)
        return "" if proc.returncode == 0 else proc.stderr.strip()[-500:]

    def docker(self, *args: str, check: bool = True, timeout: float = 1800,
               **kwargs: object) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([docker_cli() or "docker", *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env}, **kwargs)  # type: ignore[call-overload]
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} ... exited {proc.returncode}: {proc.stderr[-3000:]}")
        return proc

    def has_image(self, name: str) -> bool:
        return self.docker("image", "inspect", name, check=False).returncode == 0

    def stop(self) -> None:
        """Stop the engine this object started (by its pid), and any container still running."""
        if self.proc is None or self.proc.poll() is not None:
            return
        running = self.docker("ps", "-q", check=False).stdout.split()
        if running:
            self.docker("kill", *running, check=False)
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        for mount in reversed(self.mounts()):  # dockerd leaves its network namespace file mounted
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)

    def mounts(self) -> list[str]:
        """Mount points under ``root`` (from /proc/mounts)."""
        lines = Path("/proc/mounts").read_text().splitlines()
        return [p for p in (line.split()[1] for line in lines) if p.startswith(f"{self.root}/")]


def _last_error(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if "level=error" in line or "failed" in line]
    return (lines[-1] if lines else log.read_text(errors="replace")[-500:]).strip()[:500]


@dataclass
class BuiltImage:
    """What :func:`build_image` made, and what it measured (seconds, bytes)."""

    name: str
    base: str
    how: str
    build_s: float
    size_bytes: int


def pull_base(engine: DockerEngine) -> bool:
    """Pull :data:`REGISTRY_BASE`; False when no registry is reachable."""
    return engine.docker("pull", REGISTRY_BASE, check=False, timeout=300).returncode == 0


def local_base(engine: DockerEngine, work: Path) -> None:
    """Make :data:`LOCAL_BASE` from Debian packages (debootstrap, then ``docker import``), once per engine store."""
    if engine.has_image(LOCAL_BASE):
        return
    if shutil.which("debootstrap") is None:
        raise RuntimeError("no registry and no debootstrap: apt-get install debootstrap (as .ci/run does)")
    rootfs = work / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(rootfs),
                    "http://deb.debian.org/debian"], check=True, capture_output=True, timeout=1800)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (rootfs / cache).glob("*"):
            if f.is_file():
                f.unlink()
    tarball = work / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")
    engine.docker("import", "--change", 'CMD ["/bin/bash"]', str(tarball), LOCAL_BASE)
    shutil.rmtree(rootfs, ignore_errors=True)
    tarball.unlink()


def installed_versions() -> str:
    """``name==version`` of every distribution in this environment (the wheelhouse's constraints)."""
    from importlib.metadata import distributions

    pins = {d.metadata["Name"].lower(): d.version for d in distributions() if d.metadata["Name"]}
    for own_or_build_tool in ("ani-twin", "pip", "setuptools", "wheel"):
        pins.pop(own_or_build_tool, None)
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()) if "+" not in version)


def wheelhouse(python: str) -> Path:
    """Every dependency of the project and its dask extra as wheels, at this environment's versions (so that
    the image computes with what the tests compare it to), plus the build backend; cached by both."""
    pins = installed_versions()
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + pins.encode()).hexdigest()[:16]
    folder = CACHE / "wheels" / digest
    if (folder / ".complete").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "constraints.txt").write_text(pins)
    proc = subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(folder), "-c",
                           str(folder / "constraints.txt"), f"{REPO}[dask]", "setuptools>=77", "wheel"],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"pip wheel failed: {proc.stderr[-2000:]}")
    for own in folder.glob("ani_twin-*.whl"):
        own.unlink()  # the project itself is built from the sources in the image
    (folder / ".complete").touch()
    return folder


def build_context(work: Path, wheels: Path | None) -> Path:
    """A build context: the project's sources as .dockerignore lets them in, and ``wheels/`` if given."""
    ctx = work / "context"
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            ctx.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / name)
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy2(REPO / name, ctx / name)
    if wheels is not None:
        (ctx / "wheels").mkdir()
        for whl in wheels.glob("*.whl"):
            os.link(whl, ctx / "wheels" / whl.name) if whl.stat().st_dev == ctx.stat().st_dev else shutil.copy2(
                whl, ctx / "wheels" / whl.name)
    return ctx


@dataclass
class Base:
    """The base image to build on, how it was had, and what the build needs with it."""

    image: str
    how: str
    wheels: Path | None
    network: str
    seconds: float


def base_image(engine: DockerEngine, work: Path, python: str) -> Base:
    """The registry's base if reachable (packages from PyPI), else a local Debian base and an offline wheelhouse."""
    t0 = time.monotonic()
    if pull_base(engine):
        return Base(REGISTRY_BASE, "registry base, packages from PyPI", None, "host", time.monotonic() - t0)
    local_base(engine, work)
    return Base(LOCAL_BASE, "local Debian base, offline wheelhouse", wheelhouse(python), "none", time.monotonic() - t0)


def build_image(engine: DockerEngine, work: Path, base: Base, name: str = "ani-test:latest") -> BuiltImage:
    """``docker build`` of the Dockerfile on ``base``; the image's size as the engine reports it."""
    t0 = time.monotonic()
    ctx = build_context(work, base.wheels)
    build = ["build", "--network", base.network, "--build-arg", f"BASE={base.image}"]
    # the build stage gets a tag too, so that pruning the images older builds left behind keeps its layers
    # (the next build's cache); without the prune the kept image store grows by ~1 GB a build
    engine.docker(*build, "--target", "build", "-t", f"{name.split(':')[0]}-build", str(ctx))
    engine.docker(*build, "-t", name, str(ctx))
    engine.docker("image", "prune", "--force")
    size = int(engine.docker("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())
    return BuiltImage(name, base.image, base.how, time.monotonic() - t0, size)
