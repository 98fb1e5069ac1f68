"""The event-type catalogue: one row per kind of intervention, the only place its facts are written.

Every other table of event types (which kinds of component a type applies to,
failures and restores, the mode it puts its target in, the causal rules that
make it reachable, its magnitude range and severity table, its family, its
phrase, whether traffic reroutes after it) is derived here from
:data:`CATALOGUE`. The rows' order is the order in which the frontier offers
the types of one component (failures, then stresses, then restores).

To add an event type
    add a member to :class:`EventType` and a row to :data:`CATALOGUE`; then
    make the ns-3 program execute it (its known-type list and an ``Apply…``
    function in ``ns3_scenarios/ospf_failure/``) and list it under ``events``
    in the manifests of the templates that run it. ``tests/kg/test_event_catalogue.py``
    checks the program, the manifests and the JSON Schema against the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

ComponentKind = Literal["router", "external", "hyperedge", "link", "srlg"]
Role = Literal["failure", "stress", "restore"]
Family = Literal["fiber_link_failure", "router_failure", "router_overload", "ddos_spike", "other"]
SEVERITIES = ("low", "medium", "high", "critical")
COMPONENT_KINDS: tuple[ComponentKind, ...] = ("router", "external", "hyperedge", "link", "srlg")
NODE_KINDS: tuple[ComponentKind, ...] = ("router", "external", "hyperedge")


class EventType(str, Enum):
    """Kinds of intervention. Which ones a template executes is in its manifest."""

    fiber_link_failure = "fiber_link_failure"
    router_failure = "router_failure"
    link_restore = "link_restore"
    router_restore = "router_restore"
    router_overload = "router_overload"
    traffic_spike = "traffic_spike"
    link_degradation = "link_degradation"
    misconfiguration = "misconfiguration"
    srlg_cut = "srlg_cut"


@dataclass(frozen=True)
class Magnitude:
    """What an event's ``magnitude`` means, its range, and what each severity stands for."""

    meaning: str
    low: float  # exclusive
    high: float  # inclusive
    by_severity: tuple[tuple[float, float], ...]  # (magnitude, magnitude2) per SEVERITIES entry
    meaning2: str = ""  # what the program's magnitude2 is (not settable by a scenario)


@dataclass(frozen=True)
class EventTypeInfo:
    """One row of the catalogue.

    ``mode`` is the state the event puts its target in (:mod:`ani.kg.causal`);
    ``enabled_by`` lists the (relation, mode of the cause) pairs of the
    dependency graph that make the type reachable on the effect, and
    ``escalates_from`` the modes of the target itself that do
    (:mod:`ani.kg.dependency`). ``family`` is the paper's Table 2 family it
    belongs to; ``reroutes`` says that traffic reroutes after it (its reroute
    time is measured); ``phrase`` narrates it (``{t}`` = the target).
    """

    type: EventType
    targets: tuple[ComponentKind, ...]
    role: Role
    mode: str | None
    family: Family
    phrase: str
    restore_of: tuple[EventType, ...] = ()
    enabled_by: tuple[tuple[str, str], ...] = ()
    escalates_from: tuple[str, ...] = ()
    reroutes: bool = False
    magnitude: Magnitude | None = None


E = EventType
CATALOGUE: tuple[EventTypeInfo, ...] = (
    EventTypeInfo(E.fiber_link_failure, ("link",), "failure", "failed", "fiber_link_failure",
                  "the fiber link {t} is cut", enabled_by=(("member", "at_risk"),), reroutes=True),
    EventTypeInfo(E.router_failure, ("router", "external", "hyperedge"), "failure", "failed", "router_failure",
                  "router {t} fails", escalates_from=("overloaded",), reroutes=True),
    EventTypeInfo(E.link_degradation, ("link",), "stress", "overloaded", "other", "link {t} degrades",
                  enabled_by=(("attached", "overloaded"), ("attached", "surging"), ("reroute", "failed"),
                              ("reroute", "misconfigured"), ("loads", "surging")),
                  magnitude=Magnitude("packet loss probability", 0.0, 1.0,
                                      ((0.01, 0.005), (0.05, 0.02), (0.2, 0.05), (0.5, 0.1)), "extra delay, s")),
    EventTypeInfo(E.misconfiguration, ("link",), "stress", "misconfigured", "other", "{t} is misconfigured",
                  reroutes=True,
                  magnitude=Magnitude("OSPF cost multiplier", 0.0, 10000.0, ((2, 0), (5, 0), (20, 0), (1000, 0)))),
    EventTypeInfo(E.router_overload, ("router",), "stress", "overloaded", "router_overload",
                  "router {t} is overloaded",
                  enabled_by=(("endpoint", "failed"), ("endpoint", "overloaded"), ("endpoint", "misconfigured"),
                              ("loads", "surging")), escalates_from=("surging",),
                  magnitude=Magnitude("fraction of CPU capacity left", 0.0, 1.0,
                                      ((0.8, 0), (0.5, 0), (0.3, 0), (0.1, 0)))),
    EventTypeInfo(E.traffic_spike, ("router", "external"), "stress", "surging", "ddos_spike",
                  "traffic at {t} surges",
                  magnitude=Magnitude("attack rate as a multiple of the target's link capacity", 0.0, 100.0,
                                      ((0.5, 0), (1.0, 0), (2.0, 0), (4.0, 0)))),
    EventTypeInfo(E.srlg_cut, ("srlg",), "failure", "failed", "fiber_link_failure",
                  "every link of shared-risk group {t} is cut at once", enabled_by=(("shared_risk", "failed"),),
                  reroutes=True),
    EventTypeInfo(E.link_restore, ("link",), "restore", None, "other", "link {t} is restored",
                  restore_of=(E.fiber_link_failure,)),
    EventTypeInfo(E.router_restore, ("router", "external", "hyperedge"), "restore", None, "other",
                  "router {t} is restored", restore_of=(E.router_failure,)),
)

INFO: dict[EventType, EventTypeInfo] = {row.type: row for row in CATALOGUE}


def of(role: Role, kind: ComponentKind | None = None) -> tuple[EventType, ...]:
    """Event types with ``role`` (that apply to ``kind``, if given), in catalogue order."""
    return tuple(r.type for r in CATALOGUE if r.role == role and (kind is None or kind in r.targets))


def stress_type(kind: ComponentKind) -> EventType:
    """The first stress that applies to ``kind``, else its first failure (an SRLG is only cut)."""
    return next(iter(of("stress", kind) + of("failure", kind)))


#: event types that apply to each component kind, in catalogue order (the frontier's order)
APPLICABLE: dict[str, tuple[EventType, ...]] = {
    kind: tuple(r.type for r in CATALOGUE if kind in r.targets) for kind in COMPONENT_KINDS}
FAILURES: frozenset[EventType] = frozenset(of("failure"))
STRESSES: frozenset[EventType] = frozenset(of("stress"))
RESTORES: frozenset[EventType] = frozenset(of("restore"))
#: the restore that ends each failure
RESTORE_FOR: dict[EventType, EventType] = {f: r.type for r in CATALOGUE for f in r.restore_of}
#: the mode an event puts its target in
MODE_OF: dict[EventType, str] = {r.type: r.mode for r in CATALOGUE if r.mode is not None}
#: (relation, mode of the cause) -> event types made reachable on the effect
RULES: dict[tuple[str, str], tuple[EventType, ...]] = {}
#: mode of a component -> event types it makes reachable on itself (escalation)
SELF_RULES: dict[str, tuple[EventType, ...]] = {}
for _row in CATALOGUE:
    for _key in _row.enabled_by:
        RULES[_key] = (*RULES.get(_key, ()), _row.type)
    for _mode in _row.escalates_from:
        SELF_RULES[_mode] = (*SELF_RULES.get(_mode, ()), _row.type)
#: event types that target links / nodes (an SRLG cut targets a group)
LINK_EVENTS: frozenset[EventType] = frozenset(r.type for r in CATALOGUE if r.targets == ("link",))
NODE_EVENTS: frozenset[EventType] = frozenset(r.type for r in CATALOGUE if set(r.targets) <= set(NODE_KINDS))
#: event types after which traffic is rerouted (reroute time is measured for these only)
REROUTES: tuple[str, ...] = tuple(r.type.value for r in CATALOGUE if r.reroutes)
#: event types that take an explicit ``magnitude``: (what it is, lowest, highest); the lowest is exclusive
MAGNITUDE_RANGES: dict[EventType, tuple[str, float, float]] = {
    r.type: (r.magnitude.meaning, r.magnitude.low, r.magnitude.high) for r in CATALOGUE if r.magnitude}


def severity_magnitudes(event_type: EventType, severity: str) -> tuple[float, float]:
    """(magnitude, magnitude2) that ``severity`` stands for; (1, 0) for types without a magnitude."""
    m = INFO[event_type].magnitude
    return m.by_severity[SEVERITIES.index(severity)] if m else (1.0, 0.0)
