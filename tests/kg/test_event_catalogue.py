"""The event-type catalogue is the one source: the program, the manifests and the JSON Schema agree with it."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from ani.kg.dependency import Relation
from ani.kg.event_types import (APPLICABLE, CATALOGUE, INFO, MAGNITUDE_RANGES, MODE_OF, RESTORE_FOR, RULES,
                                SELF_RULES, SEVERITIES, EventType)
from ani.ns3_scenarios.templates import discover
from ani.orchestrator.loop.closed_loop import FAMILY_KPIS

ROOT = Path(__file__).resolve().parents[2]
PROGRAM_DIR = ROOT / "ns3_scenarios" / "ospf_failure"
NAMES = {t.value for t in EventType}


def program_known_types() -> set[str]:
    """The C++ program's list of known event types: the one brace list of string literals naming them.

    Every ``*.cc`` and ``*.h`` file of the template is read, so the list may live in any header.
    """
    lists = []
    for path in sorted(PROGRAM_DIR.glob("*.cc")) + sorted(PROGRAM_DIR.glob("*.h")):
        for body in re.findall(r"\{([^{}]*)\}", path.read_text()):
            literals = re.findall(r'"([a-z_]+)"', body)
            if "fiber_link_failure" in literals and not re.sub(r'"[a-z_]+"|[\s,]', "", body):
                lists.append(set(literals))
    assert len(lists) == 1, f"expected one list of known event types in {PROGRAM_DIR}, found {len(lists)}"
    return lists[0]


def test_one_row_per_event_type() -> None:
    assert [r.type for r in CATALOGUE] == list(INFO) and set(INFO) == set(EventType)


def test_the_programs_known_types_are_the_catalogue() -> None:
    assert program_known_types() == NAMES


def test_manifests_name_only_catalogued_types_and_the_base_template_runs_them_all() -> None:
    templates = discover()
    assert all(set(t.manifest.events) <= NAMES for t in templates.values())
    assert set(templates["ospf_failure"].manifest.events) == NAMES


def test_the_json_schema_enumerates_the_catalogue() -> None:
    schema = json.loads(resources.files("ani.kg.data").joinpath("kg.schema.json").read_text())
    assert set(schema["$defs"]["EventType"]["enum"]) == NAMES


@pytest.mark.parametrize("row", CATALOGUE, ids=lambda r: r.type.value)
def test_rows_are_consistent(row) -> None:
    modes = set(MODE_OF.values()) | {"at_risk"}
    assert "{t}" in row.phrase and row.targets
    assert (row.mode is None) == (row.role == "restore") == bool(row.restore_of)
    assert all(rel in {r.value for r in Relation} and mode in modes for rel, mode in row.enabled_by)
    assert set(row.escalates_from) <= modes
    assert all(INFO[f].role == "failure" and set(INFO[f].targets) & set(row.targets) for f in row.restore_of)
    assert row.family in FAMILY_KPIS
    if row.magnitude is not None:
        m = row.magnitude
        assert len(m.by_severity) == len(SEVERITIES)
        assert all(m.low < value <= m.high for value, _ in m.by_severity)


def test_derived_tables_keep_the_frontiers_order() -> None:
    """Row order sets the order in which the frontier offers a component's types (and so generated scenarios)."""
    E = EventType
    assert APPLICABLE == {
        "router": (E.router_failure, E.router_overload, E.traffic_spike, E.router_restore),
        "external": (E.router_failure, E.traffic_spike, E.router_restore),
        "hyperedge": (E.router_failure, E.router_restore),
        "link": (E.fiber_link_failure, E.link_degradation, E.misconfiguration, E.link_restore),
        "srlg": (E.srlg_cut,),
    }
    assert RULES[("loads", "surging")] == (E.link_degradation, E.router_overload)
    assert SELF_RULES == {"overloaded": (E.router_failure,), "surging": (E.router_overload,)}
    assert RESTORE_FOR == {E.fiber_link_failure: E.link_restore, E.router_failure: E.router_restore}
    assert list(MAGNITUDE_RANGES) == [E.link_degradation, E.misconfiguration, E.router_overload, E.traffic_spike]
