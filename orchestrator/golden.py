"""Golden outputs: each template reproduces the KPIs recorded in its ``golden/`` folder.

``golden/scenario.json`` (a scenario on the embedded Abilene network),
``golden/params.json`` (parameter overrides) and ``golden/expected.json`` (the
run's headline KPIs). Runs are deterministic per seed, so a template change
that alters results shows up here; ``update=True`` records the new truth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ani.kg.errors import TemplateError
from ani.kg.topology import load_topology
from ani.llm.scenario import load_scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import Template
from ani.orchestrator.records import write_json_atomic
from ani.orchestrator.run import execute_run

REL_TOL = 1e-6


def _differences(expected: dict, actual: dict) -> list[str]:
    out = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key), actual.get(key)
        same = (math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
                if isinstance(a, float) and isinstance(b, float) else a == b)
        if not same:
            out.append(f"{key}: expected {a!r}, got {b!r}")
    return out


def check_golden(template: Template, results: Path, update: bool = False) -> list[str]:
    """Run the template's golden scenario; return the KPI differences (empty = reproduces)."""
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
        write_json_atomic(folder / "expected.json", json.dumps(record.kpis, indent=1, sort_keys=True) + "\n")
        return []
    return _differences(json.loads((folder / "expected.json").read_text()), record.kpis)
