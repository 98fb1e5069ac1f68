"""The evaluation: every generator, baseline and ablation through the same closed loop, at an equal budget.

*Arms* (:data:`ARMS`) are a generator with its options and whether it gets
the loop's feedback:

=================  ==================================================================  ==========
arm                what                                                                role
=================  ==================================================================  ==========
``llm``            the causally constrained LLM, KG context in the prompt, feedback    framework
``causal-walk``    random walk over the KG's causal frontier (no LLM)                  framework
``rule-based``     manually defined failures: bridges, betweenness, SRLGs, N-1          baseline
``random``         the twin without LLM: random events on random components             baseline
``replay``         historical incident replay without exploration                       baseline
``worst-case``     greedy most-vital-link cuts (static damage proxy)                    baseline
``llm-no-kg``      the LLM without the knowledge-graph context in its prompt            ablation
``llm-no-causal``  the LLM decoding freely (no frontier grammar; validator + repair)    ablation
``llm-no-feedback`` the LLM without the loop's feedback digest                          ablation
``composer``       recombines the most damaging past scenarios (no LLM; optional)       framework
``frontier-greedy`` the top-ranked option of the LLM's per-step enum, every step        control
``frontier-random`` uniform over the options the LLM's prompt lists, every step         control
``llm-shuffled``   the LLM with the enum's order shuffled at every step                control
``llm-own-severity`` the LLM keeping its own severity choice (severity ablation)        ablation
``frontier-greedy-own-severity`` frontier-greedy at its own severity, critical          ablation
=================  ==================================================================  ==========

**One intervention policy for every arm** (:class:`~ani.llm.policy.InterventionPolicy`,
``EvalConfig.policy``): the same event types (the template's), the same maximum number of events,
the same budget, and severity *fixed* at ``high`` for every event of every arm (an arm's own choice
is overwritten, any explicit magnitude removed) -- except the ``*-own-severity`` arms, the
severity ablation. A scenario ``kg.validate`` rejects is dropped before simulation and never
counted in damage; ``loops.parquet`` reports it apart (``invalid_proposed``). Every scenario carries
its intervention cost (:mod:`ani.orchestrator.measure.cost`), and the tables give damage raw, per
unit of cost and its three terms apart. The controls are described in :mod:`ani.llm.controls`.

**Statistics** (:mod:`ani.orchestrator.evaluate.stats`): 5 seeds per network by default; every cell of
``summary.parquet`` has ``<metric>_ci95_low`` / ``_ci95_high`` (bootstrap) beside its mean;
``tests.parquet`` holds paired permutation tests on shared (network, seed) of every arm against
``llm`` and ``frontier-greedy`` with Δ, its interval, d_z and Holm-adjusted p; ``eval.json``'s
``verdicts`` has one plain line per hypothesis (best damage, all networks pooled).
The optimality gap (:mod:`ani.orchestrator.evaluate.gap`, ``EvalConfig.worst_case="fluid"``): exhaustive
N-1 and N-2 under the same policy, fluid-screened, the top confirmed at packet level on every seed;
each arm's best damage as a fraction of it at every budget. ``EvalConfig.reuse_only`` assembles the
tables from loops already in the folder (an evaluation run as shards over disjoint networks).

Each (network × seed × arm) is one :func:`~ani.orchestrator.loop.closed_loop.run_loop`
with the same budget of scenario runs, template parameters and mitigation
strategies; all loops share one results folder and one warm executor, so a
run two arms both need (a baseline, a repeated scenario) is simulated once.
The LLM arms are skipped, with a note, when no LLM can run here (the
``llm-local`` extra and the SmolLM2 model package, or a configured server).

No public incident history exists for these networks, so ``replay`` replays a
*synthetic* one (:func:`synthetic_incidents`, documented as such): fibre cuts
drawn with probability proportional to fibre length (longer spans are cut more
often), some router failures and overloads.

Traffic is sized per network by the twin's one sizing rule
(:mod:`ani.ns3_scenarios.sizing`, :func:`sized_params`): ``capacity_scale``
and ``packet_bytes`` are chosen so that measurable demand flows carry
``traffic_coverage`` of the gravity volume — unless the user set them — and
recorded per network, so every loop of a network runs the same traffic.

Written to the evaluation folder: ``eval.json`` (configuration, command,
networks with their sizes and parameters, notes, wall time), ``loops.parquet``
(one row per network × arm × seed), ``summary.parquet`` (mean, standard
deviation and bootstrap 95 % interval over seeds), ``tests.parquet`` (paired tests), ``gap.parquet``,
``gap_summary.parquet`` and ``worst_case.parquet`` (when a worst-case reference is configured),
``budget.parquet`` (best valid damage within k runs, with intervals), ``mitigation_families.parquet``
(mitigation effectiveness per family, with intervals; :mod:`.paper`), ``reach.parquet`` and
``reach_options.parquet`` (what each arm could reach at step 0, fluid tier; :mod:`.reach`),
``curves.parquet`` (best-so-far damage per scenario run), ``scenarios.parquet`` and
``mitigations.parquet`` (every scenario and candidate), ``families.parquet`` (the paper's Table 2 families with their
KPIs), ``ablation.parquet`` (metrics normalised to the full framework), the
loops' own folders under ``loops/`` and the ns-3 runs under ``runs/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.errors import ProjectError
from ani.kg.safety import ensure_under, safe_name
from ani.kg.model import build_kg
from ani.llm.policy import InterventionPolicy, with_policy
from ani.llm.registry import get_generator
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.campaign.progress import Progress
from ani.orchestrator.execute.executors import Executor
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.loop.budget_progress import BudgetProgress
from ani.orchestrator.loop.closed_loop import LOOP_DEFAULTS, LoopConfig, LoopResult, read_loop, run_loop
from ani.orchestrator.execute.records import write_json_atomic
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S
from ani.orchestrator.evaluate import gap as gap_mod
from ani.orchestrator.evaluate import paper
from ani.orchestrator.evaluate import reach as reach_mod
from ani.orchestrator.evaluate.stats import compare_arms, verdict_lines
from ani.orchestrator.measure.cost import events_cost
from ani.orchestrator.evaluate.networks import (llm_unavailable, resolve_network, sized_params, synthetic_incidents,
                                                write_incidents)

from ani.orchestrator.evaluate.loop_tables import (TESTED_METRICS,
                                                   ablation_table, family_table, loop_row, summarise)

class Arm(BaseModel):
    """One contender of the evaluation: a registered generator, its options, feedback on or off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    generator: str
    options: dict[str, Any] = Field(default_factory=dict)
    feedback: bool = True
    llm: bool = False
    role: Literal["framework", "baseline", "ablation", "control"] = "baseline"
    label: str = ""
    policy: InterventionPolicy | None = Field(default=None, description="None: the evaluation's policy")


ARMS: dict[str, Arm] = {a.name: a for a in [
    Arm(name="llm", generator="llm", llm=True, role="framework", label="ANI (LLM + KG + causal + feedback)"),
    Arm(name="causal-walk", generator="causal-walk", role="framework", label="causal walk (no LLM)"),
    Arm(name="rule-based", generator="rule-based", label="rule-based fault injection"),
    Arm(name="random", generator="random", label="random (twin without LLM)"),
    Arm(name="replay", generator="replay", label="historical replay (synthetic history)"),
    Arm(name="worst-case", generator="worst-case", label="greedy worst case"),
    Arm(name="llm-no-kg", generator="llm", options={"context_chars": 0}, llm=True, role="ablation",
        label="- knowledge graph in prompt"),
    Arm(name="llm-no-causal", generator="llm", options={"constrained": False}, llm=True, role="ablation",
        label="- causal constraints"),
    Arm(name="llm-no-feedback", generator="llm", feedback=False, llm=True, role="ablation", label="- feedback"),
    Arm(name="composer", generator="composer", role="framework", label="composer (recombines past scenarios)"),
    Arm(name="frontier-greedy", generator="frontier-greedy", role="control",
        label="control: top-ranked option of the enum at every step"),
    Arm(name="frontier-random", generator="frontier-random", role="control",
        label="control: uniform over the listed options"),
    Arm(name="llm-shuffled", generator="llm", options={"shuffle_options": True}, llm=True, role="control",
        label="control: LLM, options shuffled every step"),
    Arm(name="llm-own-severity", generator="llm", llm=True, role="ablation", policy=InterventionPolicy(severity="own"),
        label="+ LLM chooses severity"),
    Arm(name="frontier-greedy-own-severity", generator="frontier-greedy", role="ablation",
        policy=InterventionPolicy(severity="own"), label="frontier-greedy at critical severity"),
]}
#: generators that read ``listed_actions`` (the LLM's prompt size) like the LLM does
CONTROL_GENERATORS = ("frontier-greedy", "frontier-random")
DEFAULT_ARMS = tuple(a for a in ARMS if a != "composer")


class EvalConfig(BaseModel):
    """The size and settings of an evaluation (``eval.json`` keeps it)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    networks: list[str] = Field(default_factory=lambda: ["abilene", "Geant2010", "Deltacom", "Ion", "TataNld"])
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    budget: int = Field(default=8, ge=1, description="scenario runs per loop (network x arm x seed)")
    iterations: int = Field(default=2, ge=1)
    arms: list[str] = Field(default_factory=lambda: list(DEFAULT_ARMS))
    params: dict[str, Any] = Field(default_factory=dict, description="template overrides for every network")
    template: str = "ospf_failure"
    max_events: int = Field(default=3, ge=1)
    mitigate_top: int = Field(default=2, ge=0)
    strategies: list[str] | None = None
    llm_options: dict[str, Any] = Field(default_factory=lambda: {"context_chars": 800, "listed_actions": 12})
    llm_max_scenarios: int | None = Field(default=None, ge=1, description="cap the LLM arms' budget (slow models)")
    workers: int = Field(default=2, ge=1)
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    zoo: str | None = Field(default=None, description="folder of Topology Zoo GraphML files")
    policy: InterventionPolicy = Field(default_factory=InterventionPolicy,
                                       description="what every arm may do (an arm's own policy overrides it)")
    worst_case: str | None = Field(default=None, description="a worst-case reference of evaluate.gap.REFERENCES")
    reuse_only: bool = Field(default=False, description="only loops already in the folder (shards run apart); "
                                                        "a loop not there is skipped with a note")


class NetworkInfo(BaseModel):
    """A network of the evaluation as it was run."""

    model_config = ConfigDict(extra="forbid")

    label: str
    source: str
    nodes: int
    links: int
    routers: int
    params: dict[str, Any]


class EvalSummary(BaseModel):
    """``eval.json``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    config: EvalConfig
    command: str | None = None
    networks: list[NetworkInfo] = Field(default_factory=list)
    arms_run: list[str] = Field(default_factory=list)
    loops: int = 0
    runs_simulated: int = 0
    runs_reused: int = 0
    wall_s: float = 0.0
    notes: list[str] = Field(default_factory=list)
    verdicts: list[str] = Field(default_factory=list, description="one line per hypothesis (best damage, pooled)")
    invalid_proposed: dict[str, int] = Field(default_factory=dict,
                                             description="per arm: invalid scenarios dropped (never simulated)")
    worst_case: dict[str, gap_mod.WorstCase | None] = Field(
        default_factory=dict, description="per network: the optimality gap's reference (None: none)")
    gap: list[str] = Field(default_factory=list, description="per arm: fraction of the worst case at full budget")
    reach: list[str] = Field(default_factory=list, description="per network: what the listed options hold and "
                                                               "each arm's best reachable single event (fluid)")


@dataclass
class EvalResult:
    """What :func:`evaluate` returns (and wrote under ``folder``)."""

    summary: EvalSummary
    loops: pd.DataFrame
    table: pd.DataFrame
    folder: Path


# ------------------------------------------------------------------------ running
def loop_config(config: EvalConfig, arm: Arm, seed: int, params: dict[str, Any]) -> LoopConfig:
    """The loop of one (arm, seed) on one network."""
    budget = min(config.budget, config.llm_max_scenarios) if arm.llm and config.llm_max_scenarios else config.budget
    options = {**config.llm_options, **arm.options} if arm.llm else dict(arm.options)
    if arm.generator in CONTROL_GENERATORS:
        options.setdefault("listed_actions", config.llm_options.get("listed_actions", 40))
    options["policy"] = (arm.policy or config.policy).model_dump()  # part of the loop's identity (reuse)
    extra = {"strategies": config.strategies} if config.strategies is not None else {}
    return LoopConfig(generator=arm.generator, generator_options=options, iterations=config.iterations,
                      budget=budget, template=config.template, params=params, seed=seed,
                      max_events=config.max_events, feedback=arm.feedback, mitigate_top=config.mitigate_top,
                      workers=config.workers, timeout_s=config.timeout_s, **extra)


def _arms(config: EvalConfig, notes: list[str]) -> list[Arm]:
    unknown = [a for a in config.arms if a not in ARMS]
    if unknown:
        raise ProjectError(f"unknown generator/arm {unknown}; known: {', '.join(ARMS)}")
    arms = [ARMS[a] for a in config.arms]
    if any(a.llm for a in arms):
        why = llm_unavailable(config.llm_options)
        if why:
            notes.append(f"LLM arms skipped ({', '.join(a.name for a in arms if a.llm)}): {why}")
            arms = [a for a in arms if not a.llm]
    return arms


def _network_params(config: EvalConfig, g: nx.Graph) -> dict[str, Any]:
    template = get_template(config.template)
    values = template.params({**LOOP_DEFAULTS, **config.params})
    sized = sized_params(g, values)
    return {k: sized[k] for k in sized if k in {*LOOP_DEFAULTS, *config.params, "capacity_scale", "packet_bytes"}}


def evaluate(config: EvalConfig, folder: str | Path, executor: Executor | None = None,
             log: Callable[[str], None] | None = None, command: str | None = None,
             progress: Progress | None = None) -> EvalResult:
    """Run every arm on every network and seed at an equal budget; write the tables into ``folder``.

    See the module docstring for the arms, the outputs and how traffic is sized.
    An arm that cannot run on a network (e.g. a generator error) is skipped with a note.
    ``progress`` (:func:`~ani.orchestrator.campaign.progress.make_progress`) counts the scenario runs.
    """
    folder, log = Path(folder), log or (lambda _: None)
    t0 = time.monotonic()
    summary = EvalSummary(config=config, command=command)
    arms = _arms(config, summary.notes)
    summary.arms_run = [a.name for a in arms]
    total = len(config.networks) * len(config.seeds) * sum(loop_config(config, a, 1, {}).budget for a in arms)
    tally = BudgetProgress(progress, total, "ani evaluate")
    runner = CachedRunner(folder / "runs", executor, config.workers, config.timeout_s)
    results: list[tuple[str, Arm, LoopResult]] = []
    worst: dict[str, gap_mod.WorstCase | None] = {}
    reached: list[reach_mod.ReachResult] = []
    reference = _worst_case_reference(config)
    try:
        for name in config.networks:
            label, g, source = resolve_network(name, config.zoo)
            params = _network_params(config, g)
            summary.networks.append(NetworkInfo(label=label, source=source, nodes=g.number_of_nodes(),
                                                links=g.number_of_edges(), params=params,
                                                routers=sum(1 for _, k in g.nodes(data="kind") if k == "router")))
            kg = build_kg(g, load_factor=float(params.get("load_factor", LOOP_DEFAULTS["load_factor"])))
            results += _network(config, label, g, kg, params, arms, runner, folder, summary.notes, log, tally)
            reached.append(network_reach(config, label, g, kg, params, log))
            if reference is not None:  # the optimality gap (evaluate.gap)
                log(f"{label}: worst-case reference {config.worst_case!r}")
                worst[label] = reference(gap_mod.GapInputs(label, g, kg, config.template, params, config.policy,
                                                           tuple(config.seeds)), runner)
    finally:
        runner.close()
        tally.close()
    summary.loops, summary.runs_simulated, summary.runs_reused = len(results), runner.simulated, runner.reused
    summary.wall_s = time.monotonic() - t0
    return write_tables(folder, summary, results, worst, reached)


def _worst_case_reference(config: EvalConfig) -> gap_mod.WorstCaseReference | None:
    if config.worst_case is None:
        return None
    if config.worst_case not in gap_mod.REFERENCES:
        known = ", ".join(gap_mod.REFERENCES) or "none registered yet (the fluid tier provides them)"
        raise ProjectError(f"unknown worst-case reference {config.worst_case!r}; known: {known}")
    return gap_mod.REFERENCES[config.worst_case]


def _network(config: EvalConfig, label: str, g: nx.Graph, kg: Any, params: dict[str, Any], arms: Sequence[Arm],
             runner: CachedRunner, folder: Path, notes: list[str],
             log: Callable[[str], None], tally: BudgetProgress) -> list[tuple[str, Arm, LoopResult]]:
    start = float(params.get("warmup_s", LOOP_DEFAULTS["warmup_s"])) + 0.1
    incidents = write_incidents(synthetic_incidents(g, 2 * config.budget, start), ensure_under(folder / "incidents" / safe_name(label), folder))
    out = []
    for seed in config.seeds:
        for arm in arms:
            cfg = loop_config(config, arm, seed, params)
            loop_dir = ensure_under(folder / "loops" / safe_name(label) / safe_name(arm.name) / f"seed-{seed}", folder)
            done = read_loop(loop_dir)
            if done is not None and done.summary.config == cfg and done.summary.kg_digest == kg.digest:
                log(f"{label}: {arm.name}, seed {seed}: done in an earlier evaluation here, reused")
                notes.append(f"{label}/{arm.name}/seed {seed}: loop reused from {loop_dir}")
                tally.loop_reused(cfg.budget, done.summary.budget_used)
                out.append((label, arm, with_cost(done, kg)))
                continue
            if config.reuse_only:
                notes.append(f"{label}/{arm.name}/seed {seed}: not in this folder (reuse only), left out")
                tally.loop_reused(cfg.budget, 0)
                continue
            log(f"{label}: {arm.name}, seed {seed}, budget {cfg.budget}")
            opts = {**cfg.generator_options, **({"incidents": incidents} if arm.generator == "replay" else {})}
            policy = InterventionPolicy.model_validate(opts.pop("policy"))
            tally.loop_started()
            try:
                gen = with_policy(get_generator(arm.generator, **opts), policy)
                res = run_loop(g, cfg, loop_dir, runner=runner, generator=gen, kg=kg, on_run=tally.run)
            except ProjectError as exc:
                notes.append(f"{label}/{arm.name}/seed {seed}: skipped: {type(exc).__name__}: {exc}")
                log(notes[-1])
                continue
            finally:
                tally.loop_ended(cfg.budget)
            out.append((label, arm, with_cost(res, kg)))
    return out


def with_cost(res: LoopResult, kg: Any) -> LoopResult:
    """``res`` with each evaluated scenario's intervention cost and damage per unit of cost."""
    ev = res.evaluated
    if ev.empty or "events" not in ev:
        return res
    cost = pd.DataFrame([events_cost(e, kg) for e in ev["events"]], index=ev.index)
    ev = ev.drop(columns=[c for c in cost if c in ev]).join(cost)
    ev["damage_per_cost"] = ev["damage"] / ev["cost"].where(ev["cost"] > 0)
    return LoopResult(res.summary, res.iterations, ev, res.archive, res.mitigations, res.folder)


def write_tables(folder: Path, summary: EvalSummary, results: Sequence[tuple[str, Arm, LoopResult]],
                 worst: dict[str, gap_mod.WorstCase | None] | None = None,
                 reached: Sequence[reach_mod.ReachResult] = ()) -> EvalResult:
    """Write every table of the evaluation and ``eval.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    loops = pd.DataFrame([loop_row(label, arm, res) for label, arm, res in results])
    tag = lambda df, label, arm: df.assign(network=label, arm=arm.name, role=arm.role)  # noqa: E731
    scenarios = pd.concat([tag(r.evaluated, lab, a) for lab, a, r in results if len(r.evaluated)] or [pd.DataFrame()],
                          ignore_index=True)
    mitigations = pd.concat([tag(r.mitigations, lab, a) for lab, a, r in results if len(r.mitigations)]
                            or [pd.DataFrame()], ignore_index=True)
    curves = scenarios[["network", "arm", "role", "seed", "budget_index", "damage", "best_so_far"]] \
        if len(scenarios) else pd.DataFrame()
    table = summarise(loops)
    reference = "llm" if "llm" in summary.arms_run else "causal-walk"
    tests = compare_arms(loops, [m for m in TESTED_METRICS if m in loops])
    summary.verdicts = verdict_lines(tests)
    if len(loops):
        summary.invalid_proposed = {str(a): int(v) for a, v in loops.groupby("arm")["invalid_proposed"].sum().items()}
    frames = {"loops": loops, "summary": table, "scenarios": scenarios, "mitigations": mitigations,
              "curves": curves, "families": family_table(scenarios), "ablation": ablation_table(loops, reference),
              "tests": tests, "budget": paper.budget_table(scenarios, summary.config.budget, loops),
              "mitigation_families": paper.mitigation_families(scenarios, mitigations)}
    if worst:
        gap = gap_mod.gap_table(scenarios, worst, summary.config.budget, loops)
        frames.update(gap=gap, gap_summary=gap_mod.gap_summary(gap), worst_case=gap_mod.confirmed_table(worst))
        summary.worst_case, summary.gap = dict(worst), gap_mod.gap_lines(frames["gap_summary"])
    if reached:
        frames.update(reach_mod.reach_tables(reached))
        summary.reach = reach_mod.reach_line(frames["reach"])
    for name, df in frames.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    write_json_atomic(folder / "eval.json", summary.model_dump_json(indent=1))
    return EvalResult(summary, loops, table, folder)


# -------------------------------------------------------------------------- reach
def network_reach(config: EvalConfig, label: str, g: nx.Graph, kg: Any, params: dict[str, Any],
                  log: Callable[[str], None] | None = None) -> reach_mod.ReachResult:
    """What each configured arm could reach on one network (:mod:`.reach`; fluid tier only, seconds).

    Every arm of ``config.arms`` is listed, also an LLM arm that cannot run here (its options do not
    depend on the model)."""
    loops = [reach_mod.ArmLoop(a, ARMS[a].role, loop_config(config, ARMS[a], (config.seeds or [1])[0], params))
             for a in config.arms if a in ARMS]
    start = float(params.get("warmup_s", LOOP_DEFAULTS["warmup_s"])) + 0.1
    res = reach_mod.network_reach(label, kg, loops, synthetic_incidents(g, 2 * config.budget, start))
    (log or (lambda _: None))(f"{label}: reach of {len(loops)} arms in {res.cpu_seconds:.1f} CPU-s"
                              + (f" (fluid tier refused: {res.note})" if res.note else ""))
    return res


def reach_only(config: EvalConfig, folder: str | Path, log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Only the reach tables of ``config``'s networks (no loop is run), written to ``folder``; returns reach."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reached = []
    for name in config.networks:
        label, g, _ = resolve_network(name, config.zoo)
        params = _network_params(config, g)
        kg = build_kg(g, load_factor=float(params.get("load_factor", LOOP_DEFAULTS["load_factor"])))
        reached.append(network_reach(config, label, g, kg, params, log))
    frames = reach_mod.reach_tables(reached)
    for name, df in frames.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    return frames["reach"]
