"""Replay of the real MAWI sample inside ns-3: every packet, at its time, with its size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ani.kg.topology import load_topology
from ani.ns3_scenarios.trace_file import read_trace
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render, timeline
from ani.ns3_scenarios.templates import get_template
from ani.ns3_scenarios.traffic import prepare_trace
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.summary import program_summary_differences

pytestmark = [pytest.mark.ns3]

PARAMS = {"gravity_traffic": False, "warmup_s": 0.2, "observe_s": 1.0, "drain_s": 0.3}


def replay(tmp_path: Path, mawi: Path, scenario: Scenario):
    g = load_topology("abilene")
    template = get_template("ospf_failure")
    params = template.params(PARAMS)
    trace = prepare_trace(mawi, g, timeline(params, scenario), tmp_path / "traces")
    rec = execute_run(render(template, scenario, g, params, trace_file=trace), tmp_path / "runs")
    assert rec.status == "ok", rec.stderr_tail
    assert program_summary_differences(rec.folder) == []  # the campaigns' fast path, replayed flows too
    return rec, read_trace(trace)


def test_replay_conserves_packets_and_bytes(tmp_path: Path, shared_data: Path) -> None:
    mawi = shared_data / "mawi" / "mawi-samplepointB-200601051400-first10k.pcap"
    rec, (flows_idx, packets) = replay(tmp_path, mawi, Scenario(name="calm"))
    flows = pd.read_csv(Path(rec.folder) / "flows.csv")
    replayed = flows[flows["class"] == "trace"]
    # gravity traffic off: the trace's flows and the probes
    assert len(replayed) == len(flows_idx) and set(flows["class"]) == {"trace", "probe"}
    # the 0.905 s sample looped over the 1.0 s window: 9,738 IPv4 packets and then some
    assert len(packets) > 9738
    assert replayed["tx_packets"].sum() + replayed["tx_failed"].sum() == len(packets)
    assert replayed["rx_packets"].sum() == len(packets)  # 26 Mb/s on an idle backbone: nothing lost
    # each packet keeps its IP size: payload = IP length - 28 (UDP+IP), padded to the 12-byte header
    payload = np.maximum(12, packets["ip_bytes"].astype(np.int64) - 28)
    assert replayed["rx_bytes"].sum() == payload.sum()
    # and its time: every flow starts at its first packet's time
    first = pd.Series(packets["t_s"]).groupby(packets["flow"]).min()
    assert np.allclose(replayed["start_s"].to_numpy(), first.to_numpy())


def test_replayed_traffic_feels_a_fiber_cut(tmp_path: Path, shared_data: Path) -> None:
    mawi = shared_data / "mawi" / "mawi-samplepointB-200601051400-first10k.pcap"
    cut = Scenario(name="cut", events=[Event(event_type="fiber_link_failure", target="Denver-Kansas_City",
                                             timestamp=0.5)])
    rec, _ = replay(tmp_path, mawi, cut)
    flows = pd.read_csv(Path(rec.folder) / "flows.csv")
    lost = (flows["tx_packets"] + flows["tx_failed"] - flows["rx_packets"]).sum()
    assert lost > 0
    assert rec.kpis is not None and rec.kpis.loss_ratio > 0
