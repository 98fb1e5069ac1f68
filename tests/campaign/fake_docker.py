"""A FAKE Docker engine for the tests: no engine runs on the development machines.

``python fake_docker.py run [OPTIONS] IMAGE COMMAND...`` does what ``docker run``
would do for the commands the Docker executor builds, without a container: it
checks what the real engine would be asked (``--rm``, a non-root ``--user``,
``--network none``), maps every ``-v HOST:CONTAINER`` path in the command, its
environment and working folder to the host path, runs the command on this
machine (so the image's entry point — ``ani campaign worker`` — really runs,
with real ns-3), and maps host paths in its output back to container paths, so
the executor sees what a container prints. ``kill`` is accepted and does
nothing; anything else exits 125 like an engine error.
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
