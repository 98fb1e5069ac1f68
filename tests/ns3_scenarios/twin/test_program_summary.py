"""The campaigns' fast path: the program's summary.json against the reference parse of the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ani.kg.errors import SimulationError
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.render import render
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.measure.flowmon import read_run_tables
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.run_view import RunView
from ani.orchestrator.measure.summary import (KPI_TABLES, PROGRAM_SUMMARY, ensure_kpi_tables, headline_from_program,
                                      headline_from_tables, program_summary_differences, summarize_run)

pytestmark = [pytest.mark.ns3]

SHORT = {"warmup_s": 0.2, "observe_s": 0.6, "drain_s": 0.2, "load_factor": 0.9}


def _spec(events: list[Event], template: str = "ospf_failure", **params):
    t = get_template(template)
    return render(t, Scenario(name="s", events=events), load_topology("abilene"), t.params({**SHORT, **params}))


@pytest.fixture(scope="module")
def lazy_run(tmp_path_factory: pytest.TempPathFactory):
    """A campaign-style run (no KPI tables written): cuts that leave Seattle unreachable
    (no-route sends) and then congest the detour around Kansas City-Indianapolis."""
    events = [Event(event_type="fiber_link_failure", target="Seattle-Sunnyvale", timestamp=0.3),
              Event(event_type="fiber_link_failure", target="Seattle-Denver", timestamp=0.35),
              Event(event_type="fiber_link_failure", target="Kansas_City-Indianapolis", timestamp=0.4)]
    rec = execute_run(_spec(events, load_factor=1.0), tmp_path_factory.mktemp("lazy"), kpi_tables=False)
    assert rec.status == "ok", rec.stderr_tail
    return rec


def test_campaign_runs_take_the_programs_summary_and_write_no_tables(lazy_run) -> None:
    folder = Path(lazy_run.folder)
    assert (folder / PROGRAM_SUMMARY).is_file()
    assert not any((folder / name).exists() for name in KPI_TABLES)
    assert lazy_run.kpis == headline_from_program(folder)
    reference = headline_from_tables(read_run_tables(folder))
    assert reference.no_route_packets > 0 and reference.congested_links > 0, "the run exercises both counters"
    assert program_summary_differences(folder) == []


def test_kpi_tables_are_written_on_first_use_and_match_an_eager_run(lazy_run, tmp_path: Path) -> None:
    folder = Path(lazy_run.folder)
    view = RunView(folder)
    assert not view.links.empty  # a strategy reading the link table materialises the tables
    assert all((folder / name).is_file() for name in KPI_TABLES)
    stamp = (folder / "flow_kpis.parquet").stat().st_mtime_ns
    assert ensure_kpi_tables(folder) == folder and (folder / "flow_kpis.parquet").stat().st_mtime_ns == stamp


def test_emerged_cascades_and_ddos_flows_agree_on_both_paths(tmp_path: Path) -> None:
    events = [Event(event_type="traffic_spike", target="Kansas_City", timestamp=0.3, severity="critical")]
    rec = execute_run(_spec(events, "ddos_overload", observe_s=1.0), tmp_path, kpi_tables=False)
    assert rec.status == "ok", rec.stderr_tail
    assert program_summary_differences(rec.folder) == []
    assert rec.kpis.congested_links > 0


def test_a_template_without_summary_falls_back_to_the_reference(lazy_run, tmp_path: Path) -> None:
    folder = Path(lazy_run.folder)
    (folder / PROGRAM_SUMMARY).rename(tmp_path / "kept.json")
    try:
        assert headline_from_program(folder) is None
        spec = {"params": {"interval_s": 0.05}}
        kpis = summarize_run(folder, type("Spec", (), spec)(), tables=False)  # type: ignore[arg-type]
        assert kpis == headline_from_tables(read_run_tables(folder))
    finally:
        (tmp_path / "kept.json").rename(folder / PROGRAM_SUMMARY)


@pytest.mark.parametrize("text", ["{not json", json.dumps({"format": "other/9"}), json.dumps([1, 2]),
                                  json.dumps({"format": "ani-run-summary/1", "flows": "many"})])
def test_a_broken_summary_is_an_error_that_names_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / PROGRAM_SUMMARY).write_text(text)
    with pytest.raises(SimulationError, match=PROGRAM_SUMMARY):
        headline_from_program(tmp_path)
