"""``ani loop`` and ``ani evaluate``: thin commands over :mod:`ani.orchestrator.loop.closed_loop` and
:mod:`ani.orchestrator.evaluate.evaluation` (tables as Parquet/JSON, an HTML report next to them)."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import click

from ani.kg.io import KG_SUFFIXES, load_network, open_kg
from ani.kg.safety import ensure_under, safe_name
from ani.llm.registry import available
from ani.orchestrator.campaign.progress import make_progress
from ani.orchestrator.execute.executors import Executor, make_executor
from ani.orchestrator.loop.budget_progress import BudgetProgress
from ani.orchestrator.loop.mitigate import DEFAULT_STRATEGIES, strategy_names
from ani.orchestrator.cli.types import executor_options, slurm_choice, timeout_seconds
from ani.orchestrator.cli.types import parse_params

DEFAULT_RESULTS = Path("results")
PROVIDERS = ["ollama", "openai", "llamacpp", "smollm2"]


def _command() -> str:
    """The command as a user would type it, rebuilt from the parsed options (not sys.argv,
    which belongs to whatever process invoked the CLI, e.g. a test runner)."""
    ctx = click.get_current_context()
    args = ["ani", ctx.info_name or ""]
    for name, value in ctx.params.items():
        flag = "--" + name.replace("_", "-")
        for v in value if isinstance(value, (tuple, list)) else [value]:
            if v is None or v is False:
                continue
            args += [flag] if v is True else [flag, str(v)]
    return shlex.join(args)




def _names(text: str, hint: str, known: list[str] | None = None) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give at least one name", param_hint=hint)
    bad = [n for n in names if known is not None and n not in known]
    if bad:
        raise click.BadParameter(f"unknown {bad}; known: {', '.join(known or [])}", param_hint=hint)
    return names


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of integers", param_hint="--seeds") from None
    if not seeds or min(seeds) < 1:
        raise click.BadParameter("seeds are integers >= 1", param_hint="--seeds")
    return seeds


def _executor(o: dict[str, Any], results: Path) -> Executor:
    """The executor of ``ani loop`` / ``ani evaluate`` from their options (shut down by the caller)."""
    slurm = slurm_choice(o)
    return make_executor(results, workers=o["workers"], timeout_s=o["timeout_s"], cluster=o["cluster"],
                         image=o["image"], slurm=slurm)


def _llm_options(provider: str | None, model: str | None, base_url: str | None) -> dict[str, Any]:
    return {k: v for k, v in {"provider": provider, "model": model, "base_url": base_url}.items() if v}


def _report(kind: str, folder: Path) -> str:
    from ani.orchestrator.evaluate import report_html

    try:
        path = report_html.loop_report(folder) if kind == "loop" else report_html.evaluation_report(folder)
    except report_html.ReportError as exc:
        return f"no HTML report: {exc}"
    return f"report: {path}"


def _fmt(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3g}"


llm_options = [
    click.option("--provider", type=click.Choice(PROVIDERS),
                 help="llm: provider (default $ANI_LLM_PROVIDER or smollm2)"),
    click.option("--model", help="llm: model name, or GGUF path for llamacpp"),
    click.option("--base-url", help="llm: server URL (Ollama, vLLM, llama.cpp server, OpenAI)"),
]
common = [
    click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="template parameter (repeatable)"),
    click.option("--template", "template_name", default="ospf_failure", show_default=True),
    click.option("--iterations", type=click.IntRange(1), default=3, show_default=True),
    click.option("--budget", type=click.IntRange(1), default=12, show_default=True,
                 help="scenario runs per loop (baselines and mitigation runs not counted)"),
    click.option("--max-events", type=click.IntRange(1, 100), default=3, show_default=True),
    click.option("--mitigate-top", type=click.IntRange(0), default=2, show_default=True,
                 help="per iteration, the most damaging new scenarios whose mitigations are evaluated"),
    click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="local ns-3 processes"),
    *executor_options,
    click.option("--timeout", "timeout_s", type=timeout_seconds(), default=600, show_default=True,
                 help="seconds before an ns-3 run is killed"),
    click.option("--report/--no-report", default=True, show_default=True, help="write report.html"),
]


def _apply(options: list[Any]) -> Any:
    def deco(f: Any) -> Any:
        for opt in reversed(options):
            f = opt(f)
        return f
    return deco


@click.command("loop")
@click.option("--topology", required=True,
              help="'abilene', a GraphML file, or a project YAML/JSON knowledge graph (ani kg build)")
@click.option("--generator", "generator_name", default="causal-walk", show_default=True,
              type=click.Choice(available()), help="registered scenario generator")
@_apply(common)
@click.option("--seed", type=click.IntRange(1), default=1, show_default=True, help="ns-3 and generation seed")
@click.option("--feedback/--no-feedback", default=True, show_default=True, help="feed results back to the generator")
@click.option("--screen", type=click.IntRange(1), default=1, show_default=True,
              help="generate K x the candidates, rank them with the fluid tier, simulate the best (budget unchanged)")
@click.option("--strategies", default=",".join(DEFAULT_STRATEGIES), show_default=True,
              help=f"mitigation strategies, comma-separated (of {', '.join(strategy_names())})")
@click.option("--replay-file", "replay_files", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="replay: incident scenario JSON (repeatable)")
@_apply(llm_options)
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS,
              show_default=True, help="where ns-3 run folders go (shared, content-addressed)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="loop folder [default: <results>/loops/<network>-<generator>-seed<seed>]")
def loop(**o: Any) -> None:
    """Closed loop: generate, validate, simulate, KPIs, mitigate, feed back — K iterations within a budget."""
    from ani.orchestrator.loop.closed_loop import LoopConfig, run_loop

    strategies = _names(o["strategies"], "--strategies", strategy_names())
    # a project file is the knowledge graph itself (declared SRLGs, incidents, resources); else build one
    kg = open_kg(o["topology"]) if Path(o["topology"]).suffix.lower() in KG_SUFFIXES else None
    g = kg.topology if kg is not None else load_network(o["topology"])
    llm = o["generator_name"] == "llm"
    opts: dict[str, Any] = _llm_options(o["provider"], o["model"], o["base_url"]) if llm else {}
    if o["replay_files"]:
        opts["incidents"] = list(o["replay_files"])
    config = LoopConfig(generator=o["generator_name"], generator_options=opts, iterations=o["iterations"],
                        budget=o["budget"], template=o["template_name"], params=parse_params(o["params"]), seed=o["seed"],
                        max_events=o["max_events"], feedback=o["feedback"], strategies=strategies,
                        mitigate=bool(strategies) and o["mitigate_top"] > 0, mitigate_top=o["mitigate_top"],
                        workers=o["workers"], timeout_s=o["timeout_s"], screen=o["screen"])
    network = str(g.graph.get("name", "network")).replace(" ", "_")
    out = o["out"] or ensure_under(o["results"] / "loops" / safe_name(f"{network}-{o['generator_name']}-seed{o['seed']}"),
                                   o["results"])
    with _executor(o, o["results"]) as executor:  # a refused executor is one line, before any progress
        generator = _guided_worst_case(config) if o["generator_name"] == "worst-case" else None
        tally = BudgetProgress(make_progress(), config.budget, f"ani loop ({o['generator_name']})")
        try:
            result = run_loop(g, config, out, results=o["results"], executor=executor, kg=kg, log=click.echo,
                              command=_command(), on_run=tally.run, generator=generator)
        finally:
            tally.loop_ended(config.budget)
            tally.close()
    cols = ["iteration", "scenario_runs", "best_damage", "mean_damage", "best_so_far", "diversity_jaccard",
            "validity_after_repair", "cascade_depth_mean", "mitigation_effectiveness_mean"]
    click.echo("  ".join(c.rjust(max(len(c), 9)) for c in cols))  # full names: no truncation
    for _, row in result.iterations.iterrows():
        click.echo("  ".join(_fmt(row[c]).rjust(max(len(c), 9)) for c in cols))
    s = result.summary
    click.echo(f"{s.budget_used} scenario runs, {s.runs_simulated} ns-3 runs simulated, {s.runs_reused} reused, "
               f"best damage {_fmt(s.best_damage)}, {s.wall_s:.0f} s; tables in {out}")
    if o["report"]:
        click.echo(_report("loop", out))


def _guided_worst_case(config: Any) -> Any:
    """``worst-case`` searching with the fluid tier where it can model the loop's parameters, else None."""
    from ani.llm.registry import get_generator
    from ani.ns3_scenarios.templates import get_template
    from ani.orchestrator.loop.screening import fluid_scorer_for

    values = get_template(config.template).params({k: str(v) for k, v in config.params.items()})
    scorer, reason = fluid_scorer_for(values)
    if scorer is None:
        click.echo(f"worst-case: searching by its static proxy (the fluid tier cannot score this set-up: {reason})")
        return None
    click.echo("worst-case: searching with the fluid tier (cascades off for scoring; runs keep the loop's parameters)")
    return get_generator("worst-case", scorer=scorer)


@click.command("evaluate")
@click.option("--networks", default="abilene,Geant2010,Deltacom,Ion,TataNld", show_default=True,
              help="comma-separated: 'abilene', Topology Zoo names (looked up in --zoo) or GraphML paths")
@click.option("--seeds", default="1,2,3,4,5", show_default=True, help="comma-separated seeds (>= 5 for the tests)")
@click.option("--generators", default=None,
              help="comma-separated arms (default: all but composer): llm, causal-walk, rule-based, random, replay, "
                   "worst-case, llm-no-kg, llm-no-causal, llm-no-feedback, frontier-greedy, frontier-random, "
                   "llm-shuffled, llm-own-severity, frontier-greedy-own-severity, composer")
@_apply(common)
@click.option("--zoo", type=click.Path(file_okay=False, exists=True), help="folder of Topology Zoo GraphML files")
@click.option("--llm-max-scenarios", type=click.IntRange(1), help="cap the LLM arms' budget (slow local models)")
@click.option("--strategies", default=",".join(DEFAULT_STRATEGIES), show_default=True,
              help=f"mitigation strategies, comma-separated (of {', '.join(strategy_names())})")
@click.option("--worst-case", type=click.Choice(["fluid", "fluid-seed1"]),
              help="optimality gap: the worst-case reference (exhaustive N-1 and N-2, fluid-screened, "
                   "the top confirmed at packet level on every seed, or on the first) -> gap.parquet")
@click.option("--reuse-only", is_flag=True,
              help="tables from the loops already in --out (shards run apart); run no new loop")
@_apply(llm_options)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS / "evaluation",
              show_default=True, help="evaluation folder (tables, report, loops, ns-3 runs)")
def evaluate(**o: Any) -> None:
    """Every generator, baseline and ablation through the closed loop at an equal budget, on several networks."""
    from ani.orchestrator.evaluate.evaluation import ARMS, DEFAULT_ARMS, EvalConfig
    from ani.orchestrator.evaluate.evaluation import evaluate as run_evaluation

    arms = _names(o["generators"], "--generators", list(ARMS)) if o["generators"] else list(DEFAULT_ARMS)
    config = EvalConfig(networks=_names(o["networks"], "--networks"), seeds=_seeds(o["seeds"]), budget=o["budget"],
                        iterations=o["iterations"], arms=arms, params=parse_params(o["params"]),
                        template=o["template_name"], max_events=o["max_events"], mitigate_top=o["mitigate_top"],
                        llm_max_scenarios=o["llm_max_scenarios"], workers=o["workers"], timeout_s=o["timeout_s"],
                        zoo=o["zoo"], strategies=_names(o["strategies"], "--strategies", strategy_names()),
                        worst_case=o["worst_case"], reuse_only=o["reuse_only"],
                        llm_options={**EvalConfig().llm_options,
                                                    **_llm_options(o["provider"], o["model"], o["base_url"])})
    out = o["out"]
    with _executor(o, out / "runs") as executor:
        result = run_evaluation(config, out, executor=executor, log=click.echo, command=_command(),
                                progress=make_progress())
    for note in result.summary.notes:
        click.echo(f"note: {note}")
    _print_table(result.table)
    for line in result.summary.reach:
        click.echo(f"reach: {line}")
    for line in result.summary.verdicts:
        click.echo(f"verdict: {line}")
    s = result.summary
    click.echo(f"{s.loops} loops, {s.runs_simulated} ns-3 runs simulated, {s.runs_reused} reused, {s.wall_s:.0f} s; "
               f"tables in {out}")
    if o["report"]:
        click.echo(_report("evaluate", out))


def _print_table(table: Any) -> None:
    if table.empty:
        click.echo("no loop finished")
        return
    rows = table[table["network"] == "all"]
    cols = ["validity_after_repair", "diversity", "cascade_depth_mean", "best_damage", "mitigation_effectiveness"]
    click.echo("arm (mean [95 % CI])".ljust(30) + "".join(c[:24].rjust(26) for c in cols))
    for _, r in rows.iterrows():
        cells = [f"{_fmt(r[f'{c}_mean'])} [{_fmt(r[f'{c}_ci95_low'])}, {_fmt(r[f'{c}_ci95_high'])}]".rjust(26)
                 for c in cols]
        click.echo(str(r["arm"]).ljust(30) + "".join(cells))


__all__ = ["evaluate", "loop"]
