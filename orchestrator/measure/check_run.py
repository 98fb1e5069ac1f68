"""``ani run --check``: a run and its baseline against the independent computations of :mod:`.checks`.

What can be checked depends on the scenario: every run keeps the packet
balance (sent = received + dropped, nothing in flight at the end); the
no-failure baseline also loses nothing and its fastest packets take the
networkx shortest paths' delay; a scenario of one fibre cut also reroutes
within the convergence model's bounds and loses what its outage and queues
explain (:func:`~ani.orchestrator.measure.checks.cut_checks`). Other
scenarios get the balance only, and the line says so.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from ani.kg.event_types import EventType
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.measure.checks import baseline_checks, conservation_checks, cut_checks


def _link_ends(g: nx.Graph, link_id: str) -> tuple[str, str] | None:
    return next(((str(u), str(v)) for u, v, d in g.edges(data=True) if str(d.get("link_id")) == link_id), None)


def _verdict(what: str, found: list[str], by: str) -> str:
    return f"check {what}: " + (f"confirmed ({by})" if not found else "DISAGREES: " + "; ".join(found))


def check_lines(g: nx.Graph, scenario: Scenario, spec: RunSpec, record: RunRecord,
                baseline_spec: RunSpec | None = None, baseline: RunRecord | None = None) -> tuple[list[str], bool]:
    """One line per checked run (what was checked, and against what) and whether everything agreed."""
    lines, ok = [], True
    if baseline is not None and baseline_spec is not None and baseline.status == "ok":
        found = baseline_checks(g, baseline_spec, Path(baseline.folder))
        ok &= not found
        lines.append(_verdict("baseline", found, "no loss, rate x window packets per flow, fastest packets on "
                                                 "networkx shortest paths, packet balance"))
    if record.status != "ok":
        return lines, ok
    folder = Path(record.folder)
    events = scenario.events
    link = _link_ends(g, events[0].target) if len(events) == 1 and \
        events[0].event_type == EventType.fiber_link_failure else None
    if link is not None:
        found = cut_checks(g, spec, folder, link, cut_probe=0)
        by = "packet balance, probes' reroute times within the convergence model, losses = outage + queues"
    else:
        found = conservation_checks(folder)
        by = "packet balance only: the model checks apply to a single fibre cut"
    ok &= not found
    lines.append(_verdict("scenario", found, by))
    return lines, ok
