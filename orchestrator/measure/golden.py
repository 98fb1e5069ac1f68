"""Golden outputs: each template reproduces the KPIs recorded in its ``golden/`` folder.

``golden/scenario.json`` (a scenario on the embedded Abilene network),
``golden/params.json`` (parameter overrides) and ``golden/expected.json`` (the
run's headline KPIs). Runs are deterministic per seed, so a template change
that alters results shows up here; ``update=True`` records the new truth.
"""

from __future__ import annotations

import json
from pathlib import Path

from ani.kg.errors import TemplateError
from ani.kg.topology import load_topology
from ani.kg.scenario import load_scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import Template
from ani.orchestrator.execute.records import write_json_atomic
from ani.orchestrator.execute.run import execute_run
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
    spec = render(template, load_scenario(folder / "scenario.json"), load_topology("abilene"),
                  template.params(params))
    record = execute_run(spec, results)
    if record.status != "ok" or record.kpis is None:
        raise TemplateError(f"golden run of {template.manifest.name} {record.status}: {record.stderr_tail}")
    if update:
        write_json_atomic(folder / "expected.json",
                          json.dumps(record.kpis.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
    # a template whose program writes summary.json must agree with the reference parse (campaigns use it)
    fast_path = program_summary_differences(record.folder)
    if update:
        return fast_path
    expected = json.loads((folder / "expected.json").read_text())
    return kpi_differences(expected, record.kpis.model_dump(mode="json"), REL_TOL) + fast_path
