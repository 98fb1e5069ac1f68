"""Golden outputs: each template reproduces the KPIs recorded in its ``golden/`` folder.

``golden/scenario.json`` (a scenario on the embedded Abilene network),
``golden/params.json`` (parameter overrides) and ``golden/expected.json`` (the
run's headline KPIs). Runs are deterministic per seed, so a template change
that alters results shows up here; ``update=True`` records the new truth. The
golden run and its baseline are also held to independent computations
(:func:`independent_checks`), which a recorded truth cannot override.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ani.kg.errors import TemplateError
from ani.kg.scenario import Scenario, load_scenario
from ani.kg.topology import load_topology
from ani.kg.graph_queries import resolve_link
from ani.ns3_scenarios.render import RunSpec, baseline_of, render, render_comparable
from ani.ns3_scenarios.templates import Template
from ani.orchestrator.execute.records import write_json_atomic
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.checks import baseline_checks, conservation_checks, cut_checks, probes_over
from ani.orchestrator.measure.summary import kpi_differences, program_summary_differences

REL_TOL = 1e-6


def check_golden(template: Template, results: Path, update: bool = False) -> list[str]:
    """Run the template's golden scenario; return the KPI differences (empty = reproduces).

    Also listed: where the program's ``summary.json`` (the campaigns' fast path)
    disagrees with the reference parse of the same run.
    """
    folder = template.folder / "golden"
    if not (folder / "scenario.json").is_file():
        raise TemplateError(f"{folder}: template {template.manifest.name} has no golden scenario")
    params = json.loads((folder / "params.json").read_text()) if (folder / "params.json").is_file() else {}
    scenario, g = load_scenario(folder / "scenario.json"), load_topology("abilene")
    spec = render(template, scenario, g, template.params(params))
    record = execute_run(spec, results)
    if record.status != "ok" or record.kpis is None:
        raise TemplateError(f"golden run of {template.manifest.name} {record.status}: {record.stderr_tail}")
    if update:
        write_json_atomic(folder / "expected.json",
                          json.dumps(record.kpis.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
    # a template whose program writes summary.json must agree with the reference parse (campaigns use it)
    fast_path = program_summary_differences(record.folder)
    checks = independent_checks(template, scenario, g, spec, Path(record.folder), results)
    if update:
        return fast_path + checks
    expected = json.loads((folder / "expected.json").read_text())
    return kpi_differences(expected, record.kpis.model_dump(mode="json"), REL_TOL) + fast_path + checks


def independent_checks(template: Template, scenario: Scenario, g: nx.Graph, spec: RunSpec, folder: Path,
                       results: Path) -> list[str]:
    """The golden run and its no-failure baseline against independent computations
    (:mod:`ani.orchestrator.measure.checks`): conservation, the baseline's zero loss and path delays,
    and, for the first fibre cut of the scenario, the convergence model's reroute bounds."""
    problems = conservation_checks(folder)
    cuts = [i for i, e in enumerate(scenario.events) if e.event_type == "fiber_link_failure"]
    if cuts:
        link = resolve_link(g, scenario.events[cuts[0]].target)
        if probes_over(g, folder, link):
            problems += cut_checks(g, spec, folder, link, cut_probe=cuts[0])
    base = render_comparable(template, baseline_of(scenario), scenario, g, spec.params)
    record = execute_run(base, results)
    if record.status != "ok":
        return problems + [f"golden baseline run {record.status}: {record.stderr_tail}"]
    return [f"independent check: {p}" for p in problems + baseline_checks(g, base, Path(record.folder))]
