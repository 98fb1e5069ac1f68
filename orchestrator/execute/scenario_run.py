"""Run a scenario and its no-failure baseline (same seed) side by side."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from joblib import Parallel, delayed
from pydantic import BaseModel, ConfigDict

from ani.kg.scenario import Scenario
from ani.ns3_scenarios.render import RunSpec, render, timeline
from ani.ns3_scenarios.templates import Template
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S, attach_comparison, execute_run


class ScenarioResult(BaseModel):
    """A scenario's run and, when asked for, its baseline run."""

    model_config = ConfigDict(extra="forbid")

    scenario: RunRecord
    baseline: RunRecord | None = None


def baseline_of(scenario: Scenario) -> Scenario:
    """The same run with no event: what the network does when nothing breaks."""
    return Scenario(name="baseline", description=f"no-failure baseline of {scenario.name}", events=[])


def run_scenario(g: nx.Graph, scenario: Scenario, template: Template, params: dict, results: Path,
                 with_baseline: bool = True, jobs: int = 2,
                 timeout_s: float = DEFAULT_TIMEOUT_S, trace_file: Path | None = None) -> ScenarioResult:
    """Render and run ``scenario`` (and its baseline) on ``g``; records land under ``results``.

    The baseline uses the same seed, traffic and traffic window as the scenario,
    so differences come from the events alone.
    """
    spec = render(template, scenario, g, params, trace_file=trace_file)
    specs: list[RunSpec] = [spec]
    if with_baseline:
        window = timeline(params, scenario)
        probes = [e.timestamp for e in scenario.events]
        specs.append(render(template, baseline_of(scenario), g, params, window=window, probes=probes,
                            trace_file=trace_file))
    records = Parallel(n_jobs=min(jobs, len(specs)), backend="loky")(
        delayed(execute_run)(s, results, timeout_s) for s in specs)
    if not with_baseline:
        return ScenarioResult(scenario=records[0])
    return ScenarioResult(scenario=attach_comparison(records[0], records[1]), baseline=records[1])

