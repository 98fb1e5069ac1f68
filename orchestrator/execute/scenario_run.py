"""Run a scenario and its no-failure baseline (same seed) side by side."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.demands import Demand
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.render import RunSpec, render, render_pair
from ani.ns3_scenarios.templates import Template
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.execute.executors import make_executor
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import DEFAULT_TIMEOUT_S, attach_comparison
from ani.orchestrator.measure.summary import ensure_kpi_tables


class ScenarioResult(BaseModel):
    """A scenario's run and, when asked for, its baseline run, with the specs they ran (for checks)."""

    model_config = ConfigDict(extra="forbid")

    scenario: RunRecord
    baseline: RunRecord | None = None
    scenario_spec: RunSpec | None = Field(default=None, exclude=True)
    baseline_spec: RunSpec | None = Field(default=None, exclude=True)


def run_scenario(g: nx.Graph, scenario: Scenario, template: Template, params: dict, results: Path,
                 with_baseline: bool = True, jobs: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S,
                 trace_file: Path | None = None, cluster: str | None = None,
                 image: str | None = None, demands: list[Demand] | None = None) -> ScenarioResult:
    """Render and run ``scenario`` (and its baseline, :func:`~ani.ns3_scenarios.render.render_pair`) on ``g``.

    Records land under ``results``; a run finished before (same id) is reused.
    ``demands`` (bit/s in the twin's scaled network) replace the gravity traffic.
    The runs execute on :func:`~ani.orchestrator.execute.executors.make_executor`
    (``jobs`` local processes, or ``cluster`` / ``image``), and their KPI tables
    are written next to them.
    """
    if with_baseline:
        specs = list(render_pair(template, scenario, g, params, demands=demands, trace_file=trace_file))
    else:
        specs = [render(template, scenario, g, params, demands=demands, trace_file=trace_file)]
    executor = make_executor(results, workers=min(jobs, len(specs)), timeout_s=timeout_s, cluster=cluster,
                             image=image)
    with executor:
        records = CachedRunner(results, executor)(specs)
    for rec in records:
        if rec.status == "ok":
            ensure_kpi_tables(Path(rec.folder))
    if not with_baseline:
        return ScenarioResult(scenario=records[0], scenario_spec=specs[0])
    return ScenarioResult(scenario=attach_comparison(records[0], records[1]), baseline=records[1],
                          scenario_spec=specs[0], baseline_spec=specs[1])

