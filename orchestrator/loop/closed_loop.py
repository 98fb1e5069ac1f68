"""The closed loop (the paper's Figure 3): generate → validate → simulate → KPIs → mitigate → feed back.

One iteration:

1. **generate** with the registered generator, given the feedback digest of the
   earlier iterations (:func:`loop_feedback`: the most damaging scenarios with
   their KPIs and how well they were mitigated, what was rejected and why, which
   components and SRLGs were already explored); scenarios already evaluated in
   this loop are dropped (a generator that answers the same list again is asked
   for a longer one once);
2. **validate**: every scenario goes through ``kg.validate`` (the generator's
   report keeps first-try validity and validity after repair apart); a scenario
   the twin cannot execute is rejected with the reason;
3. **simulate** each scenario and its no-failure baseline (same seed, traffic
   window and probes) through an executor. Runs are content-addressed: a run
   whose ``run.json`` already exists under the results folder (same run id) is
   reused, not re-simulated — across iterations, loops and generators;
4. **KPIs**: scenario versus baseline (:func:`~ani.orchestrator.measure.summary.compare_runs`)
   and its :func:`~ani.orchestrator.loop.mitigate.damage`;
5. **mitigate** the ``mitigate_top`` most damaging new scenarios
   (:mod:`ani.orchestrator.loop.mitigate`: counterfactual re-runs, same seed);
6. **archive**: the most damaging and the most novel scenarios so far.

The budget counts *scenario runs* (each evaluated scenario is one, simulated
or reused); baselines and mitigation counterfactuals are reported apart.
Written to the loop's folder: ``evaluated.parquet`` (one row per scenario),
``iterations.parquet``/``.json`` (one row per iteration), ``archive.parquet``/
``.json`` (with the scenarios), ``mitigations.parquet`` (one row per candidate)
and ``loop.json`` (configuration and totals).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.errors import ScenarioError
from ani.kg.model import KnowledgeGraph, build_kg
from ani.llm.base import GenerationResult, Generator, run_generator
from ani.llm.registry import get_generator
from ani.llm.constraints import GenerationConstraints
from ani.llm.feedback import Rejection, Violation
from ani.llm.metrics import mean_jaccard_distance, scenario_metrics
from ani.kg.scenario import EventType, Scenario
from ani.ns3_scenarios.render import RunSpec, render_pair
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.executors import Executor
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.measure.damage import EPS
from ani.orchestrator.loop.mitigate import (DEFAULT_STRATEGIES, MitigationOutcome, best_outcome, evaluate_mitigations,
                                       get_strategies)
from ani.orchestrator.execute.records import RunRecord, write_json_atomic
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S, attach_comparison
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.loop.feedback import (nanmax, nanmean, actions, kpi_row, loop_feedback, scenario_table,
                                            merge_reports, novelty, records, render_graph, scenario_family)

#: template parameters of a loop unless overridden: emergent cascades on, a loaded network, short runs
LOOP_DEFAULTS: dict[str, Any] = {"cascades": True, "load_factor": 0.7, "warmup_s": 0.3, "observe_s": 1.0,
                                 "drain_s": 0.3}
MAX_ROUNDS = 8
Planned = tuple[Scenario, RunSpec, RunSpec]
#: the paper's Table 2: scenario families and the KPIs reported for each
FAMILY_KPIS: dict[str, tuple[str, ...]] = {
    "fiber_link_failure": ("mean_delta_delay_ms", "loss_excess", "impacted_nodes"),
    "router_overload": ("mean_delta_delay_ms", "congested_links", "reroute_time_max_ms"),
    "cascading_outage": ("mean_delta_delay_ms", "loss_excess", "impacted_nodes"),
    "ddos_spike": ("mean_delta_delay_ms", "loss_excess", "congested_links"),
    "router_failure": ("mean_delta_delay_ms", "loss_excess", "impacted_nodes"),
    "other": ("mean_delta_delay_ms", "loss_excess", "impacted_nodes"),
}


class LoopConfig(BaseModel):
    """Everything that determines a closed loop (``loop.json`` keeps it)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    generator: str = "causal-walk"
    generator_options: dict[str, Any] = Field(default_factory=dict)
    iterations: int = Field(default=3, ge=1, le=10_000)
    budget: int = Field(default=12, ge=1, description="scenario runs in all (baselines and mitigations apart)")
    template: str = "ospf_failure"
    params: dict[str, Any] = Field(default_factory=dict, description="template overrides on LOOP_DEFAULTS")
    seed: int = Field(default=1, ge=1, description="ns-3 seed of every run; generation seeds derive from it")
    min_events: int = Field(default=1, ge=1)
    max_events: int = Field(default=3, ge=1)
    max_delay_s: float = Field(default=0.2, gt=0)
    feedback: bool = True
    mitigate: bool = True
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    mitigate_top: int = Field(default=2, ge=0, description="per iteration, the most damaging new scenarios mitigated")
    max_candidates: int = Field(default=4, ge=1)
    reaction_s: float = Field(default=0.1, ge=0)
    repair_s: float = Field(default=0.3, gt=0)
    archive_size: int = Field(default=10, ge=1)
    workers: int = Field(default=2, ge=1)
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    screen: int = Field(default=1, ge=1, description="generate screen x the candidates, simulate the fluid tier's best")


class LoopSummary(BaseModel):
    """``loop.json``: the configuration, the network and the totals of one loop."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    config: LoopConfig
    network: str
    nodes: int
    links: int
    kg_digest: str
    generator_model: str | None = None
    params: dict[str, Any]
    budget_used: int = 0
    runs_simulated: int = 0
    runs_reused: int = 0
    best_damage: float | None = None
    wall_s: float = 0.0
    command: str | None = None
    notes: list[str] = Field(default_factory=list)


@dataclass
class LoopResult:
    """What :func:`run_loop` returns (and wrote under ``folder``)."""

    summary: LoopSummary
    iterations: pd.DataFrame
    evaluated: pd.DataFrame
    archive: pd.DataFrame
    mitigations: pd.DataFrame
    folder: Path


# ---------------------------------------------------------------------------- loop
class ClosedLoop:
    """The state of one loop; :func:`run_loop` is the way to use it."""

    def __init__(self, topology: nx.Graph, config: LoopConfig, runner: CachedRunner,
                 generator: Generator | None = None, kg: KnowledgeGraph | None = None,
                 log: Callable[[str], None] | None = None, on_run: Callable[[str], None] | None = None) -> None:
        self.config, self.runner, self.log = config, runner, log or (lambda _: None)
        self.on_run = on_run or (lambda _: None)
        self.template = get_template(config.template)
        self.params = self.template.params({**LOOP_DEFAULTS, "seed": config.seed, **config.params})
        self.kg = kg or build_kg(topology, load_factor=float(self.params["load_factor"]))
        self.g = render_graph(topology, self.kg)
        self.generator = generator or get_generator(config.generator, **config.generator_options)
        self.strategies = get_strategies(config.strategies, config.reaction_s, config.repair_s)
        self.rows: list[dict[str, Any]] = []
        self.mitigation_rows: list[dict[str, Any]] = []
        self.iteration_rows: list[dict[str, Any]] = []
        self.scenarios: dict[str, Scenario] = {}
        self.rejected: list[Rejection] = []
        self.tried: set[str] = set()
        self.prefix = False
        self.notes: list[str] = []

    # --- generation ---------------------------------------------------------
    def constraints(self, salt: int) -> GenerationConstraints:
        start = float(self.params["warmup_s"]) + 0.1
        types = tuple(EventType(t) for t in self.template.manifest.events)
        c = self.config
        return GenerationConstraints(min_events=c.min_events, max_events=c.max_events, start_s=start,
                                     max_delay_s=c.max_delay_s, event_types=types, seed=c.seed * 100_003 + salt)

    def generate(self, it: int, need: int) -> tuple[GenerationResult, list[Planned]]:
        """Up to ``need`` new, renderable scenarios with their runs, in at most ``MAX_ROUNDS`` calls.

        A scenario seen before in this loop is dropped; one the twin cannot execute is
        rejected (``unrenderable``) and replaced in the next round. A generator that
        answers with the same list again (rule book, replay) is asked for a longer one.
        """
        feedback = loop_feedback(self.rows, self.scenarios, self.rejected) if self.config.feedback else None
        planned: list[Planned] = []
        result: GenerationResult | None = None
        for rnd in range(MAX_ROUNDS):
            missing = need - len(planned)
            if missing <= 0:
                break
            n = len(self.tried) + missing if self.prefix else missing
            got = run_generator(self.generator, self.kg, n, self.constraints(it * 1009 + rnd * 7919), feedback)
            result = got if result is None else GenerationResult(
                scenarios=result.scenarios + got.scenarios, report=merge_reports(result.report, got.report),
                rejected=result.rejected + got.rejected)
            self.rejected.extend(got.rejected)
            fresh = self._fresh(got.scenarios)
            self.prefix = self.prefix or len(got.scenarios) - len(fresh) >= max(1, len(got.scenarios) // 2)
            planned += self._render(it, fresh[:missing])
            if not fresh and rnd > 0 and not got.report.dropped:  # all dropped as invalid: not exhausted
                break
        assert result is not None
        return result, planned

    def _fresh(self, scenarios: Sequence[Scenario]) -> list[Scenario]:
        out: dict[str, Scenario] = {}
        for s in scenarios:
            d = s.digest()
            if s.events and d not in self.tried and d not in out:
                out[d] = s
        self.tried.update(out)
        return list(out.values())

    def _render(self, it: int, scenarios: Sequence[Scenario]) -> list[Planned]:
        out = []
        for s in scenarios:
            try:
                out.append((s.model_copy(update={"name": f"i{it}-{s.name}"}), *self.specs(s)))
            except ScenarioError as exc:
                self.rejected.append(Rejection.of(s.events, [Violation(code="unrenderable", message=str(exc))]))
        return out

    # --- simulation -----------------------------------------------------------
    def specs(self, s: Scenario) -> tuple[RunSpec, RunSpec]:
        """Scenario and baseline runs; the run folder is named by the scenario's digest (content-addressed)."""
        sim = s.model_copy(update={"name": f"s-{s.digest()}"})
        return render_pair(self.template, sim, self.g, self.params)

    def simulate(self, it: int, planned: Sequence[Planned]) -> list[tuple[dict[str, Any], RunRecord, RunRecord]]:
        """Run every planned scenario and its baseline in one batch; one row each."""
        records = self.runner([x for _, spec, base in planned for x in (spec, base)])
        pairs = [(records[2 * k], records[2 * k + 1]) for k in range(len(planned))]
        compared = self.runner.compare(pairs)  # in parallel, on the executor's workers
        out = []
        for (s, _, _), rec, (_, base) in zip(planned, compared, pairs):
            out.append((self.evaluate(it, s, rec, base), rec, base))
        return out

    def evaluate(self, it: int, s: Scenario, rec: RunRecord, base: RunRecord) -> dict[str, Any]:
        """The row of one simulated scenario (KPIs against its baseline, damage, novelty)."""
        d = s.digest()
        prov = s.provenance
        row: dict[str, Any] = {
            "iteration": it, "budget_index": len(self.rows) + 1, "generator": self.generator.name,
            "seed": self.config.seed, "name": s.name, "digest": d, "events": json.dumps(
                [e.model_dump(mode="json", exclude_none=True) for e in s.events]),
            "n_events": len(s.events), "valid": not self.kg.validate(s),
            "first_try_valid": float(prov.first_try_valid) if prov and prov.first_try_valid is not None else math.nan,
            "attempts": prov.attempts if prov else 1, "run_id": rec.run_id, "baseline_run_id": base.run_id,
            "status": rec.status if base.status == "ok" else f"baseline {base.status}", "folder": rec.folder,
            "baseline_folder": base.folder, "novelty": novelty(s, [actions(self.scenarios[r["digest"]])
                                                                   for r in self.rows]),
            "damage": math.nan, "best_strategy": "", "best_effectiveness": math.nan,
            "residual_damage": math.nan, "mitigated": False,
        }
        if rec.status == "ok" and base.status == "ok":
            kpis = self.comparison(rec, base)
            row.update(kpi_row(kpis, rec))
            row["kpis"] = kpis
        row["family"] = scenario_family(s, int(row.get("cascade_depth", 0)))
        prior = [r["damage"] for r in self.rows if math.isfinite(r["damage"])]
        row["best_so_far"] = max([*prior, row["damage"]] if math.isfinite(row["damage"]) else prior,
                                 default=math.nan)
        self.scenarios[d] = s
        self.rows.append(row)
        self.on_run(row["status"])
        return row

    @staticmethod
    def comparison(rec: RunRecord, base: RunRecord) -> ScenarioKpis:
        """The scenario-versus-baseline KPIs, reused from run.json when they were computed before."""
        if rec.comparison is None or rec.baseline_run_id != base.run_id:
            rec = attach_comparison(rec, base)
        return rec.comparison

    # --- mitigation ---------------------------------------------------------------
    def mitigate(self, evaluated: Sequence[tuple[dict[str, Any], RunRecord, RunRecord]]) -> list[MitigationOutcome]:
        if not self.config.mitigate or not self.config.mitigate_top:
            return []
        hit = [x for x in evaluated if "kpis" in x[0] and x[0]["damage"] > EPS]
        hit.sort(key=lambda x: -x[0]["damage"])
        outcomes = []
        for row, rec, base in hit[: self.config.mitigate_top]:
            got = evaluate_mitigations(self.kg, self.g, self.template, self.params, self.scenarios[row["digest"]],
                                       rec, base, row["kpis"], self.runner, self.strategies,
                                       self.config.max_candidates)
            best = best_outcome(got)
            row["mitigated"] = bool(got)
            if best is not None:
                row.update(best_strategy=best.candidate.strategy, best_effectiveness=best.effectiveness,
                           residual_damage=best.damage_mitigated)
            self.mitigation_rows.extend({"iteration": row["iteration"], "generator": row["generator"],
                                         "seed": row["seed"], "family": row["family"], **o.row()} for o in got)
            outcomes.extend(got)
        return outcomes

    # --- one iteration ---------------------------------------------------------------
    def iteration(self, it: int) -> None:
        t0, sim0, reuse0 = time.monotonic(), self.runner.simulated, self.runner.reused
        used = len(self.rows)
        need = math.ceil((self.config.budget - used) / (self.config.iterations - it))
        result, planned = self.generate(it, need * self.config.screen)
        if self.config.screen > 1:
            from ani.orchestrator.loop.screening import screen_candidates

            planned, _ = screen_candidates(self.g, dict(self.params), planned, need)
        fresh = [s for s, _, _ in planned]
        self.log(f"iteration {it}: {len(fresh)} new scenario(s) of {len(result.scenarios)} generated")
        evaluated = self.simulate(it, planned)
        outcomes = self.mitigate(evaluated)
        rows = [r for r, _, _ in evaluated]
        self.iteration_rows.append(self.stats(it, need, result, fresh, rows, outcomes, t0, sim0, reuse0))
        last = self.iteration_rows[-1]
        self.log(f"iteration {it}: best damage {last['best_damage']:.3f}, best so far {last['best_so_far']:.3f}, "
                 f"mitigation effectiveness {last['mitigation_effectiveness_mean']:.2f}")

    def stats(self, it: int, need: int, result: GenerationResult, fresh: Sequence[Scenario],
              rows: Sequence[dict[str, Any]], outcomes: Sequence[MitigationOutcome], t0: float, sim0: int,
              reuse0: int) -> dict[str, Any]:
        rep = result.report
        dmg = [r["damage"] for r in rows]
        metrics = scenario_metrics(list(fresh), self.kg) if fresh else None
        every = [actions(self.scenarios[r["digest"]]) for r in self.rows]
        mitigated = [r["best_effectiveness"] for r in rows if r["mitigated"]]
        return {
            "iteration": it, "requested": need, "proposed": rep.proposed, "returned": rep.returned,
            "new_scenarios": len(fresh), "scenario_runs": len(rows), "budget_used": len(self.rows),
            "first_try_valid": rep.first_try_valid, "valid": rep.valid, "repaired": rep.repaired,
            "first_try_validity": rep.first_try_validity, "validity_after_repair": rep.validity_after_repair,
            "llm_calls": rep.llm_calls, "issue_codes": json.dumps(rep.issue_codes),
            "best_damage": nanmax(dmg), "mean_damage": nanmean(dmg),
            "best_so_far": nanmax([r["damage"] for r in self.rows]),
            "diversity_jaccard": metrics.mean_jaccard_distance if metrics else math.nan,
            "distinct_actions": metrics.distinct_actions if metrics else 0,
            "cumulative_distinct_actions": len(set().union(*every)) if every else 0,
            "cumulative_diversity_jaccard": mean_jaccard_distance(every),
            "action_entropy_bits": metrics.action_entropy_bits if metrics else math.nan,
            "causal_valid_rate": metrics.causal_valid_rate if metrics else math.nan,
            "chain_length_mean": metrics.mean_chain_length if metrics else math.nan,
            "cascade_depth_mean": nanmean([r.get("cascade_depth", math.nan) for r in rows]),
            "cascade_depth_max": nanmax([r.get("cascade_depth", math.nan) for r in rows]),
            "mitigated_scenarios": len(mitigated), "mitigation_runs": sum(o.run_id is not None for o in outcomes),
            "mitigation_effectiveness_mean": nanmean(mitigated), "mitigation_effectiveness_max": nanmax(mitigated),
            "runs_simulated": self.runner.simulated - sim0, "runs_reused": self.runner.reused - reuse0,
            "wall_s": time.monotonic() - t0,
        }

    # --- outputs ---------------------------------------------------------------------
    def archive(self) -> pd.DataFrame:
        """The most damaging (``archive_size``) and then the most novel (half as many) scenarios."""
        df = self.evaluated()
        if df.empty:
            return df.assign(archive_reason=pd.Series(dtype=str))
        k = self.config.archive_size
        best = df.dropna(subset=["damage"]).sort_values("damage", ascending=False).head(k)
        rest = df.drop(index=best.index).sort_values("novelty", ascending=False).head(max(1, k // 2))
        return pd.concat([best.assign(archive_reason="damage"), rest.assign(archive_reason="novelty")],
                         ignore_index=True)

    def evaluated(self) -> pd.DataFrame:
        return scenario_table(self.rows)

    def write(self, folder: Path, summary: LoopSummary) -> LoopResult:
        folder.mkdir(parents=True, exist_ok=True)
        evaluated, archive = self.evaluated(), self.archive()
        iterations = pd.DataFrame(self.iteration_rows)
        mitigations = pd.DataFrame(self.mitigation_rows)
        for name, df in (("evaluated", evaluated), ("iterations", iterations), ("archive", archive),
                         ("mitigations", mitigations)):
            df.to_parquet(folder / f"{name}.parquet", index=False)
        write_json_atomic(folder / "iterations.json", json.dumps(records(iterations), indent=1))
        entries = [{**row, "scenario": self.scenarios[row["digest"]].model_dump(mode="json")}
                   for row in records(archive)]
        write_json_atomic(folder / "archive.json", json.dumps(entries, indent=1))
        write_json_atomic(folder / "loop.json", summary.model_dump_json(indent=1))
        return LoopResult(summary, iterations, evaluated, archive, mitigations, folder)


def read_loop(folder: str | Path) -> LoopResult | None:
    """The loop written in ``folder`` by :func:`run_loop`; None when it holds no complete loop
    (``loop.json`` is written last)."""
    folder = Path(folder)
    try:
        summary = LoopSummary.model_validate_json((folder / "loop.json").read_text())
        frames = {name: pd.read_parquet(folder / f"{name}.parquet")
                  for name in ("iterations", "evaluated", "archive", "mitigations")}
    except (OSError, ValueError):
        return None
    return LoopResult(summary, frames["iterations"], frames["evaluated"], frames["archive"], frames["mitigations"],
                      folder)


def run_loop(topology: nx.Graph, config: LoopConfig, folder: str | Path, results: str | Path | None = None,
             runner: CachedRunner | None = None, executor: Executor | None = None,
             generator: Generator | None = None, kg: KnowledgeGraph | None = None,
             log: Callable[[str], None] | None = None, command: str | None = None,
             on_run: Callable[[str], None] | None = None) -> LoopResult:
    """Run the closed loop on ``topology`` and write its tables into ``folder``.

    Parameters
    ----------
    topology : networkx.Graph
        A graph in the schema of :mod:`ani.kg.topology` (the knowledge graph is built from it
        unless ``kg`` is given).
    config : LoopConfig
        Generator, iterations, budget (scenario runs), template parameters, mitigation settings.
    folder : Path
        Where the loop's tables go.
    results : Path, optional
        Where ns-3 run folders go (default ``folder/runs``); share it between loops so that
        equal runs (baselines, repeated scenarios) are simulated once.
    runner, executor, generator, kg
        Reuse a :class:`CachedRunner` (e.g. one warm pool for many loops), run on another
        :class:`~ani.orchestrator.execute.executors.Executor`, pass a ready generator or knowledge graph.
    log : callable, optional
        Receives one line per stage.
    on_run : callable, optional
        Called with the status of each scenario run as it is evaluated (progress displays).

    Returns
    -------
    LoopResult
    """
    folder = Path(folder)
    own = runner is None
    runner = runner or CachedRunner(results or folder / "runs", executor, config.workers, config.timeout_s)
    t0 = time.monotonic()
    sim0, reuse0 = runner.simulated, runner.reused
    try:
        loop = ClosedLoop(topology, config, runner, generator, kg, log, on_run)
        for it in range(config.iterations):
            if len(loop.rows) >= config.budget:
                break
            loop.iteration(it)
    finally:
        if own:
            runner.close()
    best = [r["damage"] for r in loop.rows if math.isfinite(r["damage"])]
    summary = LoopSummary(config=config, network=str(topology.graph.get("name", "graph")),
                          nodes=topology.number_of_nodes(), links=topology.number_of_edges(),
                          kg_digest=loop.kg.digest, generator_model=getattr(loop.generator, "model_id", None),
                          params=dict(loop.params), budget_used=len(loop.rows),
                          runs_simulated=runner.simulated - sim0, runs_reused=runner.reused - reuse0,
                          best_damage=max(best) if best else None, wall_s=time.monotonic() - t0,
                          command=command, notes=loop.notes)
    return loop.write(folder, summary)
