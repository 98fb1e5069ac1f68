"""A FAKE Docker engine for the tests: no engine runs on the development machines.

``python fake_docker.py run [OPTIONS] IMAGE COMMAND...`` does what ``docker run``
would do for the commands the Docker executor builds, without a container: it
checks what the real engine would be asked (``--rm``, a non-root ``--user``,
``--network none``), maps every ``-v HOST:CONTAINER`` path in the command, its
environment and working folder to the host path, runs the command on this
machine (so the image's entry point — ``ani campaign worker`` — really runs,
with real ns-3), and maps host paths in its output back to container paths, so
the executor sees what a container prints. Run as root with a non-root
``--user``, it also checks what that user could do in a real container: write
the mounted folders, read the files the command names (the queued spec).
``kill`` is accepted and does nothing; anything else exits 125 like an engine error.
"""

from __future__ import annotations

import os
import subprocess
import sys

VALUED = {"--name", "--network", "--user", "--label", "-v", "-e", "-w"}


def parse(args: list[str]) -> tuple[dict[str, list[str]], str, list[str]]:
    """(options, image, command) of a ``docker run`` argument list."""
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in VALUED:
            opts.setdefault(args[i], []).append(args[i + 1])
            i += 2
        else:
            opts.setdefault(args[i], []).append("")
            i += 1
    return opts, args[i], args[i + 1:]


def refuse(message: str) -> int:
    print(f"fake docker: {message}", file=sys.stderr)
    return 125


def can(path: str, uid: int, gid: int, bits: int) -> bool:
    """Whether ``uid:gid`` has permission ``bits`` (4 read, 2 write) on ``path`` (its mode, not root's)."""
    st = os.stat(path)
    shift = 6 if st.st_uid == uid else 3 if st.st_gid == gid else 0
    return bool((st.st_mode >> shift) & bits)


def refuse_as_container_user(user: str, mounts: list[tuple[str, ...]], command: list[str]) -> str | None:
    """Why the container's non-root ``user`` could not run ``command`` here as root can (``None``: it could)."""
    uid, _, gid = user.partition(":")
    if os.getuid() != 0 or not uid.isdigit():
        return None
    uid_n, gid_n = int(uid), int(gid) if gid.isdigit() else -1
    for host, _inside in mounts:
        if not can(host, uid_n, gid_n, 2):
            return f"{host} (mounted) is not writable by the container's user {user}"
    for arg in command:
        if os.path.isfile(arg) and not can(arg, uid_n, gid_n, 4):
            return f"{arg} is not readable by the container's user {user}"
    return None


def run(args: list[str]) -> int:
    opts, _image, command = parse(args)
    user = opts.get("--user", ["root"])[-1]
    if "--rm" not in opts or opts.get("--network") != ["none"] or user.split(":")[0] in ("root", "0"):
        return refuse(f"expected --rm, --network none and a non-root --user, got {opts}")
    mounts = sorted((tuple(v.split(":")[:2]) for v in opts.get("-v", [])), key=lambda m: -len(m[1]))

    def to_host(text: str) -> str:
        for host, inside in mounts:
            if text == inside or text.startswith(inside + "/") or text.startswith(inside + "="):
                return host + text[len(inside):]
            text = text.replace("=" + inside, "=" + host)
        return text

    env = dict(os.environ)
    env.update(dict(to_host(e).split("=", 1) for e in opts.get("-e", [])))
    cwd = to_host(opts.get("-w", ["/"])[-1])
    problem = refuse_as_container_user(user, mounts, [to_host(a) for a in command])
    if problem:  # what the container's entry point would fail with (not an engine error)
        print(f"fake docker: {problem}", file=sys.stderr)
        return 2
    proc = subprocess.run([to_host(a) for a in command], env=env, cwd=cwd, capture_output=True, text=True)
    out = proc.stdout
    for host, inside in mounts:
        out = out.replace(host, inside)
    sys.stdout.write(out)
    sys.stderr.write(proc.stderr)
    return proc.returncode


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run(argv[1:])
    if argv[:1] == ["kill"]:
        return 0
    return refuse(f"unsupported command {argv[:1]}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
