"""The evaluation's networks: names resolved to graphs, traffic sized per network, synthetic incidents
for the replay arm, and whether the LLM arms can run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from ani.ns3_scenarios.sizing import auto_sized
from ani.kg.safety import ensure_under, safe_name
from ani.kg.io import KG_SUFFIXES, load_network
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, EventType, Scenario
from ani.kg.settings import load_settings
from ani.orchestrator.execute.records import write_json_atomic

#: metrics of a loop, each "higher is better" except none; summarised over seeds and normalised for ablations


def resolve_network(name: str, zoo: str | Path | None = None) -> tuple[str, nx.Graph, str]:
    """(label, graph, source) of ``abilene``, a Topology Zoo name (``Ion``), a GraphML path or a
    project YAML/JSON file.

    Raises :class:`~ani.kg.errors.TopologyError` (via ``load_network``) naming the input.
    """
    if name.lower() == "abilene":
        return "Abilene", load_topology("abilene"), "embedded"
    path = Path(name)
    if path.suffix.lower() in KG_SUFFIXES:
        return path.stem, load_network(path), str(path)
    if path.suffix.lower() not in (".graphml", ".xml"):
        folder = load_settings(topology_zoo=zoo).topology_zoo
        path = folder / f"{name}.graphml"
    return path.stem, load_topology(path), str(path)


def sized_params(g: nx.Graph, params: dict[str, Any]) -> dict[str, Any]:
    """Template parameters with ``capacity_scale`` and ``packet_bytes`` fixed for ``g`` by the twin's sizing
    rule (:func:`~ani.ns3_scenarios.sizing.auto_sized`; nothing changes when ``auto_size`` is off, e.g.
    because the user set either)."""
    return auto_sized(g, params)


def synthetic_incidents(g: nx.Graph, n: int, start_s: float, seed: int = 0) -> list[Scenario]:
    """A synthetic incident history of ``n`` single failures (no public history exists for these networks).

    75 % fibre cuts, a link drawn with probability proportional to its length
    (propagation delay); 15 % router failures and 10 % router overloads, the
    router drawn uniformly. Seeded, so every arm and seed replays the same history.
    """
    rng = random.Random(seed)
    links = [(str(d["link_id"]), max(float(d["delay_s"]), 1e-5)) for _, _, d in g.edges(data=True)]
    routers = sorted(str(v) for v, k in g.nodes(data="kind") if k == "router" and g.degree(v) > 0)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.75 or not routers:
            kind, target = EventType.fiber_link_failure, rng.choices([l for l, _ in links], [w for _, w in links])[0]
        elif r < 0.9:
            kind, target = EventType.router_failure, rng.choice(routers)
        else:
            kind, target = EventType.router_overload, rng.choice(routers)
        event = Event(event_type=kind, target=target, timestamp=round(start_s + 0.05, 3), severity="high")
        out.append(Scenario(name=f"incident-{i:03d}", events=[event],
                            description=f"synthetic incident: {kind.value} of {target} (no public incident history)"))
    return out


def write_incidents(scenarios: Sequence[Scenario], folder: Path) -> list[Path]:
    """Write incident scenarios as JSON files (what the replay generator reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in scenarios:
        path = ensure_under(folder / f"{safe_name(s.name)}.json", folder)
        write_json_atomic(path, s.model_dump_json(indent=1))
        paths.append(path)
    return paths


def llm_unavailable(options: dict[str, Any]) -> str | None:
    """Why the LLM arms cannot run here (None when they can): a missing extra or model package."""
    from ani.llm.providers import LLMSettings, LLMUnavailableError, require, smollm2_path

    fields = {k: v for k, v in options.items() if k in LLMSettings.model_fields}
    settings = LLMSettings.resolve(**fields)
    try:
        require("langchain_core", "llm", "the LLM generator")
        if settings.provider in ("smollm2", "llamacpp"):
            require("llama_cpp", "llm-local", "the in-process LLM")
        if settings.provider == "smollm2":
            smollm2_path()
    except LLMUnavailableError as exc:
        return str(exc)
    return None
