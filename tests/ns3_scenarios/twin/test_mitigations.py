"""Mitigations applied by the twin: each one, with and without, same seed (counterfactual pairs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ani.kg.errors import ScenarioError
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.mitigations import Mitigation
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import execute_run

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

SHORT = {"warmup_s": 0.2, "observe_s": 0.8, "drain_s": 0.2, "load_factor": 0.4}
SPIKE = Scenario(name="spike", events=[Event(event_type="traffic_spike", target="Denver", timestamp=0.3,
                                             severity="high", duration_s=0.6)])


def run(tmp_path: Path, scenario: Scenario, mitigations: list[Mitigation] | None = None, **params) -> RunRecord:
    template = get_template("ospf_failure")
    spec = render(template, scenario, load_topology("abilene"), template.params({**SHORT, **params}),
                  mitigations=mitigations)
    rec = execute_run(spec, tmp_path)
    assert rec.status == "ok", rec.stderr_tail
    return rec


def legit_loss(rec: RunRecord) -> float:
    flows = pd.read_csv(Path(rec.folder) / "flows.csv")
    legit = flows[flows["class"] == "demand"]
    return float((legit["tx_packets"] + legit["tx_failed"] - legit["rx_packets"]).sum() / legit["tx_packets"].sum())


def test_rate_limiting_the_attack_at_ingress_protects_the_network(tmp_path: Path) -> None:
    bare = run(tmp_path / "bare", SPIKE)
    limited = run(tmp_path / "limited", SPIKE, [Mitigation(kind="rate_limit", target="Denver", value=0.1,
                                                           at_s=0.3)])
    assert legit_loss(limited) < 0.5 * legit_loss(bare)
    flows = pd.read_csv(Path(limited.folder) / "flows.csv")
    attack_sent = flows[flows["class"] == "attack"]["tx_packets"].sum()
    bare_sent = pd.read_csv(Path(bare.folder) / "flows.csv").query("`class` == 'attack'")["tx_packets"].sum()
    assert attack_sent == pytest.approx(0.1 * bare_sent, rel=0.05)
    events = pd.read_csv(Path(limited.folder) / "events.csv")
    assert "mitigate_rate_limit" in set(events["event_type"])


def test_more_capacity_on_the_victims_links_lowers_the_loss(tmp_path: Path) -> None:
    bare = run(tmp_path / "bare", SPIKE)
    links = ["Seattle-Denver", "Sunnyvale-Denver", "Denver-Kansas_City"]
    wider = run(tmp_path / "wider", SPIKE, [Mitigation(kind="scale_capacity", target=link, value=4.0, at_s=0.3)
                                            for link in links])
    # the attack also congests links further upstream, which this does not widen: a partial cure
    assert legit_loss(wider) < 0.9 * legit_loss(bare)


def test_a_null_mitigation_changes_nothing(tmp_path: Path) -> None:
    bare = run(tmp_path / "bare", SPIKE)
    null = run(tmp_path / "null", SPIKE, [Mitigation(kind="scale_capacity", target="Seattle-Denver", value=1.0,
                                                     at_s=0.3)])
    assert null.run_id != bare.run_id
    pd.testing.assert_frame_equal(pd.read_parquet(Path(bare.folder) / "flow_kpis.parquet"),
                                  pd.read_parquet(Path(null.folder) / "flow_kpis.parquet"))


def test_steering_traffic_off_a_link_by_cost(tmp_path: Path) -> None:
    rec = run(tmp_path, Scenario(name="calm"), [Mitigation(kind="set_cost", target="Denver-Kansas_City",
                                                           value=65535, at_s=0.3)])
    events = pd.read_csv(Path(rec.folder) / "events.csv")
    assert list(events["phase"]) == ["inject", "reconverge"]
    series = pd.read_csv(Path(rec.folder) / "link_timeseries.csv")
    late = series[(series["link"] == "Denver-Kansas_City") & (series["t_start_s"] >= 0.65)]
    assert late["tx_packets"].sum() == 0


def test_more_cpu_ends_an_overload(tmp_path: Path) -> None:
    overload = Scenario(name="ovl", events=[Event(event_type="router_overload", target="Kansas_City",
                                                  timestamp=0.3, severity="critical")])
    bare = run(tmp_path / "bare", overload)
    more = run(tmp_path / "more", overload, [Mitigation(kind="scale_cpu", target="Kansas_City", value=20,
                                                        at_s=0.5)])
    nodes = pd.read_csv(Path(more.folder) / "node_timeseries.csv")
    assert nodes[nodes["t_start_s"] >= 0.6]["cpu_drops"].sum() == 0
    assert legit_loss(more) < legit_loss(bare)


def test_cpu_mitigation_needs_a_cpu_model_and_targets_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="CPU model"):
        run(tmp_path, Scenario(name="calm"), [Mitigation(kind="scale_cpu", target="Denver", value=2, at_s=0.3)])
    with pytest.raises(ScenarioError, match="Atlantis"):
        run(tmp_path, Scenario(name="calm"), [Mitigation(kind="set_cost", target="Denver-Atlantis", value=2,
                                                         at_s=0.3)])
