"""The twin's numbers against independent computations, on real networks of several sizes.

Each check computes the expected value without the twin: delays from the
shortest paths networkx finds on the knowledge graph (with the twin's
documented tie-break: among equal-cost next hops, the link listed first),
reroute times from the convergence model (detection + LSA flooding + SPF +
FIB + the new path), and the packet balance from conservation (every packet a
flow sent was received or dropped somewhere, and the run says where).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from ani.kg.topology import load_graphml, load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render
from ani.orchestrator.measure.checks import baseline_checks, busiest_cut, cut_checks, min_delay_checks, probes_over
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.run import execute_run

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

#: Abilene (11 PoPs) with the default sizing; Geant2010 (37) with the default sizing;
#: Deltacom (113) and TataNld (145) with a fixed, cheaper one.
NETWORKS = {"Abilene": {}, "Geant2010": {},
            "Deltacom": {"capacity_scale": 0.01, "packet_bytes": 500, "max_flows": 400},
            "TataNld": {"capacity_scale": 0.01, "packet_bytes": 500, "max_flows": 300}}
SHORT = {"warmup_s": 0.2, "observe_s": 1.3, "drain_s": 0.2, "seed": 3}
CUT_AT = 0.5


def network(name: str, shared_data: Path) -> nx.Graph:
    if name == "Abilene":
        return load_topology("abilene")
    path = shared_data / "topologyzoo" / f"{name}.graphml"
    if not path.is_file():
        pytest.skip(f"Topology Zoo file {path} is not present")
    return load_graphml(path)


def run(g: nx.Graph, name: str, events: list[Event], tmp: Path, probes: list[float] | None = None) -> tuple:
    template = get_template("ospf_failure")
    spec = render(template, Scenario(name="v", events=events), g,
                  template.params({**SHORT, **NETWORKS[name]}), probes=probes)
    rec = execute_run(spec, tmp)
    assert rec.status == "ok", rec.stderr_tail
    return spec, Path(rec.folder)


@pytest.fixture(scope="module", params=list(NETWORKS))
def baseline(request, shared_data: Path, tmp_path_factory) -> tuple:
    name = request.param
    g = network(name, shared_data)
    spec, folder = run(g, name, [], tmp_path_factory.mktemp(f"base-{name}"))
    return name, g, spec, folder


def test_a_baseline_below_saturation_loses_nothing(baseline) -> None:
    """No failure, load below capacity: every packet a flow sent arrives; nothing is dropped; nothing in flight;
    every flow sent rate x window packets; each flow's fastest packet took its shortest path's delay."""
    name, g, spec, folder = baseline
    flows = pd.read_csv(folder / "flows.csv")
    assert len(flows) > 0 and (flows["tx_failed"] == 0).all()
    assert pd.read_csv(folder / "drops.csv")["packets"].sum() == 0
    assert baseline_checks(g, spec, folder) == [], name


@pytest.fixture(scope="module")
def fiber_cut(baseline, tmp_path_factory) -> tuple:
    name, g, base_spec, base_folder = baseline
    flows = pd.read_csv(base_folder / "flows.csv")
    u, v = busiest_cut(g, flows[flows["class"] == "demand"])
    after = CUT_AT + 1.0  # well after reconvergence: probed for the new paths' delay
    ev = [Event(event_type="fiber_link_failure", target=f"{u}-{v}", timestamp=CUT_AT, severity="high")]
    spec, folder = run(g, name, ev, tmp_path_factory.mktemp(f"cut-{name}"), probes=[CUT_AT, after])
    return name, g, spec, folder, (u, v)


def test_a_fiber_cut_agrees_with_the_convergence_model_and_conservation(fiber_cut) -> None:
    """sent = received + dropped; packets 1 s after the cut take the detour's delay; every probe over the cut
    link reroutes within the convergence model's bounds and loses its rate x its sending outage."""
    name, g, spec, folder, cut = fiber_cut
    assert probes_over(g, folder, cut) >= 1, "no probe crossed the cut link"
    drops = pd.read_csv(folder / "drops.csv").set_index("reason")["packets"]
    assert drops.get("medium", 0) > 0  # the cut fibre dropped what was on it
    assert cut_checks(g, spec, folder, cut, cut_probe=0, late_probe=1) == [], name


def test_the_checks_can_fail(fiber_cut) -> None:
    """The same checks on the wrong link or the wrong model parameters report disagreement."""
    name, g, spec, folder, (u, v) = fiber_cut
    slower = spec.model_copy(update={"params": {**spec.params, "spf_delay_s": 1.0}})
    assert cut_checks(g, slower, folder, (u, v), cut_probe=0)  # reroute times below the model's bound
    faster = spec.model_copy(update={"params": {**spec.params, "capacity_scale": 10 * spec.params["capacity_scale"]}})
    assert min_delay_checks(g, faster, pd.read_csv(folder / "flows.csv"))  # slower than the path allows
