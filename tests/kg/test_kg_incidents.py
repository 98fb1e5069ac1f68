"""Historical incidents: reading CSV/JSON, replay scenarios, historical dependency edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ani.kg.errors import TopologyError
from ani.kg.incidents import history_edges, incident_scenarios, load_incidents
from ani.kg.model import build_kg
from ani.kg.topology import abilene
from ani.kg.scenario import EventType

CSV = """incident_id,component,event_type,start,end,severity,description
cut-7,Denver-Kansas_City,fiber_link_failure,2015-03-01T10:00:00Z,2015-03-01T14:00:00Z,critical,backhoe
cut-7,Kansas_City,router_overload,2015-03-01T10:00:30Z,,,
spike,Chicago,traffic_spike,100,160,low,
"""


def test_csv_and_json_read_the_same(tmp_path: Path) -> None:
    rows = load_incidents(_file(tmp_path / "inc.csv", CSV))
    assert [r.incident_id for r in rows] == ["cut-7", "cut-7", "spike"]
    assert rows[0].end_s - rows[0].start_s == 4 * 3600 and rows[0].severity == "critical"
    assert rows[1].end_s is None and rows[1].severity == "high"
    as_json = [{k: v for k, v in r.items() if v != ""} for r in _dicts(CSV)]
    again = load_incidents(_file(tmp_path / "inc.json", json.dumps({"incidents": as_json})))
    assert again == rows


def test_replay_scenarios(tmp_path: Path) -> None:
    rows = load_incidents(_file(tmp_path / "inc.csv", CSV))
    cut, spike = incident_scenarios(rows)
    assert cut.name == "incident-cut-7" and cut.description == "backhoe"
    assert [(e.event_type.value, e.timestamp) for e in cut.events] == [
        ("fiber_link_failure", 1.0), ("router_overload", 31.0), ("link_restore", 14401.0)]
    assert spike.events[0].duration_s == 60
    kg = build_kg(abilene(), incidents=rows)
    assert kg.validate(cut) == []  # overload of an end router is causally reachable from the cut
    edges = history_edges(rows, kg.canonical)
    assert edges[("Denver-Kansas_City", "Kansas_City")] == {"event_types": (EventType.router_overload,), "count": 1}


@pytest.mark.parametrize(("text", "needle"), [
    ("incident_id,component,event_type,start\ni,A,fiber_link_failure,yesterday\n", "line 2: 'yesterday'"),
    ("incident_id,component,event_type,start\ni,A,link_restore,1\n", "line 2: event_type"),
    ("incident_id,component,event_type,start,end\ni,A,fiber_link_failure,5,1\n", "line 2: row: Value error, end (1.0) is before"),
    ("incident_id,component,event_type,start\ni,A,meteor,1\n", "line 2: event_type"),
    ("incident_id,component,kind,start\n", "line 1: unknown column(s) ['kind']"),
    ("incident_id,component,event_type\ni,A,fiber_link_failure\n", "line 2: missing 'start'"),
])
def test_malformed_csv_names_the_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(TopologyError, match="bad.csv") as err:
        load_incidents(_file(tmp_path / "bad.csv", text))
    assert needle in str(err.value)


def test_malformed_json(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="entry 1: component"):
        load_incidents(_file(tmp_path / "b.json", json.dumps([
            {"incident_id": "i", "component": "A", "event_type": "router_failure", "start": 1},
            {"incident_id": "i", "event_type": "router_failure", "start": 2}])))
    with pytest.raises(TopologyError, match="not valid JSON"):
        load_incidents(_file(tmp_path / "c.json", "[{"))
    with pytest.raises(TopologyError, match="cannot read"):
        load_incidents(tmp_path / "absent.csv")


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _dicts(text: str) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(text.splitlines()))
