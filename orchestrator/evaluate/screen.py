"""Screening: many scenarios through the fluid tier, ranked by the loop's damage.

You must provide a graph, the template's validated parameters and scenarios
(or a generator to make them); you get a :class:`ScreenResult`: one
:class:`ScreenRow` per scenario (damage and its three terms from
:func:`ani.orchestrator.measure.damage.damage_terms`, the fluid KPIs, or the
reason it was refused), ranked, with the screening rate. Damage is computed
exactly as for a packet-level run: the fluid KPIs are validated as
:class:`~ani.orchestrator.measure.kpis.ScenarioKpis` first.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import networkx as nx
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid import FluidKpis, fluid_twin
from ani.ns3_scenarios.fluid.parallel import evaluate_parallel, planned_workers
from ani.orchestrator.measure.damage import damage, damage_terms
from ani.orchestrator.measure.kpis import ScenarioKpis
from pydantic import BaseModel, ConfigDict


class ScreenRow(BaseModel):
    """One screened scenario: its damage and terms, or why the fluid tier refused it."""

    model_config = ConfigDict(extra="forbid")

    scenario: Scenario
    damage: float | None = None
    terms: dict[str, float] = {}
    kpis: FluidKpis | None = None
    refused: str | None = None


class ScreenResult(BaseModel):
    """Screened scenarios, most damaging first (refused ones last), and the rate."""

    model_config = ConfigDict(extra="forbid")

    rows: list[ScreenRow]
    seconds: float
    setup_seconds: float
    workers: int = 1

    @property
    def rate(self) -> float:
        """Scenarios screened per second (set-up excluded)."""
        return len(self.rows) / self.seconds if self.seconds > 0 else float("inf")

    def table(self, top: int = 20) -> str:
        """The ranked list as text: rank, damage, its terms, scenario and events."""
        lines = [f"{'rank':>4}  {'damage':>6}  {'lost':>6}  {'impact':>6}  {'delay':>6}  scenario: events"]
        for i, r in enumerate(self.rows[:top], 1):
            events = ", ".join(f"{e.event_type.value}({e.target})" for e in r.scenario.events)
            if r.refused:
                lines.append(f"{i:>4}  {'-':>6}  refused: {r.refused}  {r.scenario.name}")
                continue
            t = r.terms
            lines.append(f"{i:>4}  {r.damage:6.3f}  {t['lost_traffic']:6.3f}  {t['impacted_share']:6.3f}  "
                         f"{t['delay_term']:6.3f}  {r.scenario.name}: {events}")
        refused = sum(r.refused is not None for r in self.rows)
        on = f" on {self.workers} processes" if self.workers > 1 else ""
        lines.append(f"screened {len(self.rows)} scenarios in {self.seconds:.3f} s{on}: {self.rate:,.0f} scenarios/s"
                     f" (set-up {self.setup_seconds:.2f} s; {refused} refused)")
        return "\n".join(lines)


def fluid_damage(k: FluidKpis) -> tuple[float, dict[str, float]]:
    """The loop's damage of fluid KPIs, and its terms."""
    sk = ScenarioKpis.model_validate(k.scenario_kpis())
    return damage(sk), damage_terms(sk)


def _damaged(k: FluidKpis) -> tuple[FluidKpis, float, dict[str, float]]:
    return (k, *fluid_damage(k))


def screen_scenarios(g: nx.Graph, scenarios: list[Scenario], params: dict[str, Any],
                     sharing: str = "proportional", workers: int = 1) -> ScreenResult:
    """Screen ``scenarios`` on ``g`` with the fluid tier; raises FluidRefusal if the set-up cannot be modelled.

    ``workers`` > 1: on that many processes forked after the twin's set-up
    (:mod:`ani.ns3_scenarios.fluid.parallel`; at most one per 64 scenarios).
    """
    t0 = time.perf_counter()
    twin = fluid_twin(g, params, sharing)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    rows = []
    # in blocks: the same KPIs as one at a time
    for s, r in zip(scenarios, evaluate_parallel(twin, scenarios, workers, _damaged)):
        if isinstance(r, ScenarioError):
            rows.append(ScreenRow(scenario=s, refused=str(r)))
            continue
        k, d, terms = r
        rows.append(ScreenRow(scenario=s, damage=d, terms=terms, kpis=k))
    t2 = time.perf_counter()
    rows.sort(key=lambda r: (r.refused is not None, -(r.damage or 0.0)))
    return ScreenResult(rows=rows, seconds=t2 - t1, setup_seconds=t1 - t0,
                        workers=planned_workers(workers, len(scenarios)))


def network_of(kg: Any) -> nx.Graph:
    """The knowledge graph's network layer with its SRLGs where the twin reads them (``g.graph["srlgs"]``)."""
    g = kg.topology.copy()
    if getattr(kg, "srlgs", None):
        g.graph["srlgs"] = {s.id.removeprefix("srlg:"): list(s.links) for s in kg.srlgs}
    return g


def _open(topology: str, params: dict[str, Any] | None, template: str) -> tuple[Any, dict[str, Any], Any]:
    from ani.kg.io import open_kg
    from ani.ns3_scenarios.templates import get_template

    from ani.kg.io import KG_SUFFIXES, load_network
    from ani.kg.model import build_kg
    from ani.ns3_scenarios.fluid import refuse_graph

    tmpl = get_template(template)
    values = tmpl.params({k: str(v) for k, v in (params or {}).items()})
    if Path(str(topology).strip()).suffix.lower() in KG_SUFFIXES:
        return tmpl, values, open_kg(topology)
    g = load_network(topology)
    refuse_graph(g)  # before the knowledge graph is built: a graph too large is refused in seconds, not minutes
    return tmpl, values, build_kg(g)


def screen_exhaustive(topology: str, mode: str = "n1", params: dict[str, Any] | None = None,
                      template: str = "ospf_failure", workers: int = 1) -> ScreenResult:
    """:func:`worst_case_n1` (``mode="n1"``) or :func:`worst_case_n2` on a topology file."""
    _, values, kg = _open(topology, params, template)
    return (worst_case_n1 if mode == "n1" else worst_case_n2)(network_of(kg), values, workers)


def screen(topology: str, generator: str, n: int, params: dict[str, Any] | None = None, seed: int = 0,
           template: str = "ospf_failure", min_events: int = 1, max_events: int = 4, workers: int = 1,
           **gen_options: Any) -> ScreenResult:
    """Generate ``n`` scenarios on ``topology`` with a registered generator and screen them.

    ``params`` are template parameter overrides (strings or values, validated by the template);
    ``workers``: processes screening (see :func:`screen_scenarios`).
    """
    from ani.kg.scenario import EventType
    from ani.llm.base import run_generator
    from ani.llm.constraints import GenerationConstraints
    from ani.llm.registry import get_generator

    tmpl, values, kg = _open(topology, params, template)

    constraints = GenerationConstraints(seed=seed, min_events=min_events, max_events=max_events, event_types=tuple(EventType(t) for t in tmpl.manifest.events))
    scenarios = run_generator(get_generator(generator, **gen_options), kg, n, constraints).scenarios
    return screen_scenarios(network_of(kg), scenarios, values, workers=workers)


def single_failures(g: nx.Graph, at_s: float = 1.0) -> list[Scenario]:
    """Every single failure of ``g``: each link, each router with links, each SRLG (``g.graph["srlgs"]``)."""
    from ani.kg.scenario import Event, EventType

    def one(kind: EventType, target: str) -> Scenario:
        return Scenario(name=f"n1-{kind.value}-{target}", events=[Event(event_type=kind, target=target,
                                                                         timestamp=at_s)])

    out = [one(EventType.fiber_link_failure, d["link_id"]) for _, _, d in g.edges(data=True)]
    out += [one(EventType.router_failure, str(n)) for n, k in g.nodes(data="kind") if k == "router" and g.degree(n)]
    out += [one(EventType.srlg_cut, f"srlg:{s}") for s in sorted(g.graph.get("srlgs", {}))]
    return out


def double_link_failures(g: nx.Graph, at_s: float = 1.0) -> list[Scenario]:
    """Every pair of links failing together (N-2 of links): ``L (L - 1) / 2`` scenarios."""
    from itertools import combinations

    from ani.kg.scenario import Event, EventType

    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    return [Scenario(name=f"n2-{a}+{b}", events=[Event(event_type=EventType.fiber_link_failure, target=x,
                                                        timestamp=at_s) for x in (a, b)])
            for a, b in combinations(links, 2)]


#: N-2 is refused above this many scenarios (it grows with the square of the links)
MAX_N2 = 200_000


def worst_case_n2(g: nx.Graph, params: dict[str, Any], workers: int = 1) -> ScreenResult:
    """Exhaustive N-2 of links with the fluid tier, ranked; refused beyond :data:`MAX_N2` pairs."""
    from ani.ns3_scenarios.fluid import FluidRefusal

    pairs = g.number_of_edges() * (g.number_of_edges() - 1) // 2
    if pairs > MAX_N2:
        raise FluidRefusal(f"N-2 of {g.number_of_edges()} links is {pairs:,} scenarios, above the limit "
                           f"of {MAX_N2:,}: screen a sample with a generator instead")
    return screen_scenarios(g, double_link_failures(g, float(params.get("warmup_s", 1.0)) + 0.5), params,
                            workers=workers)


def worst_case_n1(g: nx.Graph, params: dict[str, Any], workers: int = 1) -> ScreenResult:
    """Exhaustive N-1 with the fluid tier: every single link, router and SRLG failure, ranked by damage."""
    return screen_scenarios(g, single_failures(g, float(params.get("warmup_s", 1.0)) + 0.5), params,
                            workers=workers)
