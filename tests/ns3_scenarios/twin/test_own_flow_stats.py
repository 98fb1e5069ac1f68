"""The program's own per-flow delay histogram, jitter and drop counters against ns-3's FlowMonitor.

The ospf_failure program no longer runs FlowMonitor (it cost ~21 % of a large
run's CPU): its sink counts what the KPIs took from ``flowmon.xml``. Here the
same program source, with FlowMonitor added back (test-only variant), runs one
congested fibre cut on Abilene, and the KPIs from ``flowmon.xml`` are compared
with those from the program's own counters of the same run.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_topology
from ani.ns3_scenarios.build import build_program
from ani.ns3_scenarios.render import render, write_run_folder
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.measure.flowmon import own_flow_stats, read_run_tables
from ani.orchestrator.measure.kpis import flow_kpis

pytestmark = [pytest.mark.ns3, pytest.mark.slow]

#: FlowMonitor writes jitterSum with six significant digits (Time::As): that far the two agree
XML_DIGITS_REL = 5e-6
RUN_ANCHOR = "    Simulator::Run();\n"
FLOWMON = """    FlowMonitorHelper fmHelper;
    fmHelper.SetMonitorAttribute("DelayBinWidth", DoubleValue(twin.in.Param("histogram_bin_s")));
    Ptr<FlowMonitor> monitor = fmHelper.InstallAll();
    Simulator::Run();
    monitor->SerializeToXmlFile(outDir + "/flowmon.xml", true, false);
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """flow_kpis of one run read through flowmon.xml and through the program's own counters."""
    t = get_template("ospf_failure")
    # a cut whose detour overflows (queue drops) and leaves sends without a route (IP drops)
    scenario = Scenario(name="cut", events=[
        Event(event_type="fiber_link_failure", target="Kansas_City-Indianapolis", timestamp=0.3)])
    params = {"warmup_s": 0.2, "observe_s": 0.6, "drain_s": 0.2, "load_factor": 1.0, "capacity_scale": 0.01,
              "packet_bytes": 1000}
    spec = render(t, scenario, load_topology("abilene"), t.params(params))
    assert spec.program_source.count(RUN_ANCHOR) == 1, "test variant: Simulator::Run() not found in main()"
    variant = spec.program_source.replace(RUN_ANCHOR, FLOWMON)
    binary = build_program(variant, spec.ns3_modules, name="ospf_failure_flowmon")
    folder = tmp_path_factory.mktemp("own") / "run"
    write_run_folder(spec, folder)
    subprocess.run([str(binary), "--input=input.txt", "--out=."], cwd=folder, check=True, capture_output=True)
    tables = read_run_tables(folder)  # flowmon.xml present: FlowMonitor's figures
    flowmon, histogram = own_flow_stats(tables.flows, folder)
    own = dataclasses.replace(tables, flowmon=flowmon, delay_histogram=histogram)
    return flow_kpis(tables), flow_kpis(own), folder


def test_the_run_exercises_every_counter(both) -> None:
    fm, _, folder = both
    drops = pd.read_csv(folder / "drops.csv").set_index("reason")["packets"]
    assert drops["queue"] > 0 and drops.filter(like="ip_").sum() > 0, drops.to_dict()
    assert fm["fm_dropped_packets"].sum() > 0 and (fm["jitter_s"] > 0).sum() > 10


def test_own_counters_give_flowmonitors_kpis(both) -> None:
    fm, own, _ = both
    assert list(fm.columns) == list(own.columns) and len(fm) == len(own)
    for column in fm.columns:
        if column == "jitter_s":
            np.testing.assert_allclose(own[column], fm[column], rtol=XML_DIGITS_REL, atol=0)
        else:
            pd.testing.assert_series_equal(own[column], fm[column], check_exact=True, obj=column)


def test_flow_drops_add_up_to_the_drops_by_reason(both) -> None:
    """Per-flow drops (attributed from each dropped packet's headers) against the per-reason counters."""
    _, own, folder = both
    drops = pd.read_csv(folder / "drops.csv").set_index("reason")["packets"]
    assert own["fm_dropped_packets"].sum() == drops["queue"] + drops.filter(like="ip_").sum()


def test_histograms_hold_every_received_packet(both) -> None:
    _, _, folder = both
    hist = pd.read_csv(folder / "delay_histogram.csv")
    flows = pd.read_csv(folder / "flows.csv").set_index("flow")
    counted = hist.groupby("flow")["count"].sum().reindex(flows.index, fill_value=0)
    assert (counted == flows["rx_packets"]).all()
