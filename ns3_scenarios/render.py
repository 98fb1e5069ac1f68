"""Render a scenario on a knowledge graph into a run specification and a run folder.

A :class:`RunSpec` holds everything a run needs, as validated data: the
program source, the parameter values, and the network, traffic and events
reduced to numbers and safe identifiers. The program's scalar parameters
(those its parameter table declares, :mod:`ani.ns3_scenarios.program_params`)
reach it as ``--name=value`` arguments (:func:`program_command`, the one way
to invoke it); ``input.txt`` is written from the rest record by record, with
the values of the manifest's other parameters, which shaped it, on its
second line as a comment. No text from a graph or a scenario is ever pasted
into the program's source.

Input format (one record per line, whitespace-separated)::

    duration <duration_s>
    node  <index> <id> <cpu_pps (0: no CPU model)>
    link  <index> <u> <v> <capacity_bps> <delay_s> <ospf_cost> <link_id>
    flow  <index> <src> <dst> <rate_bps> <packet_bytes> <start_s> <stop_s> demand|attack|probe
    event <index> <time_s> <event_type> <magnitude> <magnitude2> <duration_s> <label> link|node <n> <target>...
    probe <index> <time_s>
    mitigation <index> <time_s> <kind> link|node <target index> <value>

Probes are the times at which the program records, per flow, the last
delivery of a packet sent before and the first delivery of one sent after: a
scenario's event times, and for its baseline the same times.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from pathlib import Path
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.demands import Demand
from ani.kg.errors import ScenarioError, UnknownComponentError
from ani.kg.safety import writing
from ani.kg.graph_queries import graph_digest
from ani.kg.scenario import EventType, Scenario
from ani.ns3_scenarios.events import EventRow, attack_demands, event_rows
from ani.ns3_scenarios.mitigations import Mitigation, MitigationRow, mitigation_rows
from ani.ns3_scenarios.build import compile_command, ns3_root, ns3_version
from ani.ns3_scenarios.program_params import program_args as param_args, program_parameters
from ani.ns3_scenarios.sizing import (SIZING_DEFAULTS, TrafficSizing, auto_sized, drain_needed_s, given_sizing,
                                     sized_traffic)
from ani.ns3_scenarios.templates import ParamValue, Template
from ani.ns3_scenarios.traffic import file_digest

SAFE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
RUN_SPEC_VERSION = 1
TEMPLATE_TIME_LIMIT_S = 3600.0  # latest event time a template simulates (as warmup_s and observe_s: <= 3600 s)


class LinkRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    u: int = Field(ge=0)
    v: int = Field(ge=0)
    capacity_bps: float = Field(gt=0)
    delay_s: float = Field(ge=0)
    ospf_cost: int = Field(ge=1, le=65535)
    link_id: str = Field(pattern=SAFE_ID.pattern)


class FlowRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    src: int = Field(ge=0)
    dst: int = Field(ge=0)
    rate_bps: float = Field(gt=0)
    packet_bytes: int = Field(ge=64, le=1472)
    start_s: float = Field(ge=0)
    stop_s: float = Field(gt=0)
    kind: Literal["demand", "attack", "probe"] = "demand"


class RunSpec(BaseModel):
    """Everything that determines one ns-3 run; its id is a hash of what the program sees."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = RUN_SPEC_VERSION
    run_id: str
    template: str
    template_digest: str
    program_source: str
    ns3_modules: list[str]
    ns3_version: str
    params: dict[str, ParamValue]
    duration_s: float
    graph_name: str
    graph_digest: str
    scenario: Scenario
    nodes: list[str]
    cpu_pps: list[float]
    links: list[LinkRow]
    flows: list[FlowRow]
    events: list[EventRow]
    probes: list[float]
    trace_file: str | None = None
    trace_digest: str | None = None
    mitigations: list[MitigationRow] = Field(default_factory=list)
    sizing: TrafficSizing | None = None
    #: [lat, lon] of each node (None where the graph has none), for maps; the program never sees it
    coords: list[tuple[float, float] | None] | None = None

    def input_text(self) -> str:
        """The program's ``input.txt``."""
        shaping = {k: v for k, v in self.params.items() if k not in set(program_arg_names(self.program_source))}
        return render_input(shaping, self.duration_s, self.nodes, self.cpu_pps, self.links, self.flows,
                            self.events, self.probes, self.mitigations)


def _num(x: float) -> str:
    return repr(float(x))


def _word(v: ParamValue) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v) if isinstance(v, int) else _num(v)


def render_input(shaping: dict[str, ParamValue], duration_s: float, nodes: list[str], cpu_pps: list[float],
                 links: list[LinkRow], flows: list[FlowRow], events: list[EventRow],
                 probes: list[float], mitigations: list[MitigationRow] | None = None) -> str:
    """``input.txt``; ``shaping``: the parameters that shaped it (not the program's), noted as a comment."""
    lines = ["# ani input v2 (generated from validated values; see the template README)",
             "# made with " + " ".join(f"{k}={_word(v)}" for k, v in sorted(shaping.items())),
             f"duration {_num(duration_s)}"]
    lines += [f"node {i} {n} {_num(c)}" for i, (n, c) in enumerate(zip(nodes, cpu_pps))]
    lines += [f"link {i} {l.u} {l.v} {_num(l.capacity_bps)} {_num(l.delay_s)} {l.ospf_cost} {l.link_id}"
              for i, l in enumerate(links)]
    lines += [f"flow {i} {f.src} {f.dst} {_num(f.rate_bps)} {f.packet_bytes} {_num(f.start_s)} {_num(f.stop_s)}"
              f" {f.kind}" for i, f in enumerate(flows)]
    lines += [f"event {i} {_num(e.time_s)} {e.event_type} {_num(e.magnitude)} {_num(e.magnitude2)} "
              f"{_num(e.duration_s)} {e.label} {e.target_kind} {len(e.targets)} {' '.join(map(str, e.targets))}"
              for i, e in enumerate(events)]
    lines += [f"probe {i} {_num(t)}" for i, t in enumerate(probes)]
    lines += [f"mitigation {i} {_num(m.time_s)} {m.kind} {m.target_kind} {m.target} {_num(m.value)}"
              for i, m in enumerate(mitigations or [])]
    return "\n".join(lines) + "\n"


def _network(g: nx.Graph, capacity_scale: float) -> tuple[list[str], dict[str, int], list[LinkRow]]:
    nodes = [str(n) for n in g.nodes]
    for n in nodes:
        if not SAFE_ID.match(n):
            raise ScenarioError(f"node id {n!r} is not a safe identifier")
    index = {n: i for i, n in enumerate(nodes)}
    links = [LinkRow(u=index[u], v=index[v], capacity_bps=d["capacity_bps"] * capacity_scale,
                     delay_s=d["delay_s"], ospf_cost=d["ospf_cost"], link_id=d["link_id"])
             for u, v, d in g.edges(data=True)]
    return nodes, index, links


def cpu_capacities(g: nx.Graph, params: dict[str, ParamValue], events: list[EventRow]) -> list[float]:
    """Packets/s of each router's CPU model; 0 = none (forwarding takes no time).

    Routers get a CPU when ``cpu_model`` is on, or when a router_overload targets
    them. Capacity: the node's ``cpu_pps`` attribute × ``capacity_scale`` when the
    graph has one, else its (scaled) link capacity in packets of
    ``cpu_reference_bytes`` — enough to forward every link at line rate.
    """
    scale = float(params["capacity_scale"])
    overloaded = {t for e in events if e.event_type == EventType.router_overload.value for t in e.targets}
    out = []
    for i, n in enumerate(g.nodes):
        if not (params["cpu_model"] or i in overloaded):
            out.append(0.0)
            continue
        given = g.nodes[n].get("cpu_pps")
        line_rate = sum(d["capacity_bps"] for _, _, d in g.edges(n, data=True)) * scale
        out.append(float(given) * scale if given else line_rate / (8 * float(params["cpu_reference_bytes"])))
    return out


def run_id_of(program_source: str, input_text: str, args: list[str]) -> str:
    """A run's id: the hash of all the program sees (its source, its input, its arguments, the ns-3 version)."""
    words = [program_source, input_text, "\0".join(args), ns3_version()]
    return hashlib.sha256("\0".join(words).encode()).hexdigest()[:16]


def program_arg_names(program_source: str) -> list[str]:
    """The scalar parameters the program declares (its ``--name=value`` options), in its table's order."""
    return [p.name for p in program_parameters(program_source)]


def program_args(spec: RunSpec) -> list[str]:
    """The run's values of the program's scalar parameters, as ``--name=value`` arguments."""
    return param_args(spec.program_source, spec.params)


def program_command(binary: str | Path, spec: RunSpec, out: str | Path) -> list[str]:
    """The command that runs ``spec`` in its run folder (as the working directory), writing into ``out``.

    The one way to invoke a template program: ``execute_run``, ``run.sh`` and the benchmarks use it.
    """
    trace = ["--trace=trace.bin"] if spec.trace_file else []
    return [str(binary), "--input=input.txt", f"--out={out}", *trace, *program_args(spec)]


def timeline(params: dict[str, ParamValue], scenario: Scenario) -> tuple[float, float, float]:
    """(traffic start, traffic stop, simulation end) in seconds.

    The end leaves ``drain_s`` after the traffic stops; :func:`render` extends it
    to what the network needs to empty (:func:`~ani.ns3_scenarios.sizing.drain_needed_s`).
    """
    start = float(params["warmup_s"])
    last = max([e.timestamp for e in scenario.events], default=start)
    stop = max(start, last) + float(params["observe_s"])
    return start, stop, stop + float(params["drain_s"])


def _flows(g: nx.Graph, params: dict[str, ParamValue], index: dict[str, int], demands: list[Demand] | None,
           start: float, stop: float) -> tuple[list[FlowRow], TrafficSizing | None]:
    """The demand and probe flows of a run (attack flows are added by the caller)."""
    size = int(params["packet_bytes"])
    if demands is None and params["gravity_traffic"]:
        demands, probes, sizing = sized_traffic(g, params)
    else:
        demands = demands or []
        _, probes, sizing = sized_traffic(g, params, demands=False)
        sizing = given_sizing(demands, params, sizing)
    flows = [FlowRow(src=index[d.src], dst=index[d.dst], rate_bps=d.rate_bps, packet_bytes=size,
                     start_s=start, stop_s=stop) for d in demands]
    flows += [FlowRow(src=index[p.src], dst=index[p.dst], rate_bps=p.rate_bps,
                      packet_bytes=int(params.get("probe_bytes", SIZING_DEFAULTS["probe_bytes"])), start_s=start, stop_s=stop, kind="probe")
              for p in probes]
    return flows, sizing


def render(template: Template, scenario: Scenario, g: nx.Graph, params: dict[str, ParamValue],
           demands: list[Demand] | None = None,
           window: tuple[float, float, float] | None = None,
           probes: list[float] | None = None, trace_file: Path | None = None,
           mitigations: list[Mitigation] | None = None) -> RunSpec:
    """Turn a scenario on graph ``g`` into a :class:`RunSpec` for ``template``.

    ``params`` must come from :meth:`Template.params` (validated). Demands
    default to the gravity model scaled to ``load_factor``. ``window`` (traffic
    start, traffic stop, end) defaults to :func:`timeline`; a baseline takes its
    scenario's window and its event times as ``probes`` (default: the event
    times) so the two runs compare flow by flow. ``trace_file`` (see
    :func:`ani.ns3_scenarios.traffic.prepare_trace`) is replayed on top of the
    gravity traffic (``gravity_traffic=false`` to replay it alone).
    ``mitigations`` (:mod:`ani.ns3_scenarios.mitigations`) are applied at their
    times: the same scenario with and without them is a counterfactual pair. Raises
    :class:`ScenarioError` naming the event.
    """
    late = [e for e in scenario.events if e.timestamp > TEMPLATE_TIME_LIMIT_S]
    if late:
        raise ScenarioError(f"scenario {scenario.name[:80]!r}: event {late[0].event_type.value} at "
                            f"{late[0].timestamp:g} s is after the template's time limit of "
                            f"{TEMPLATE_TIME_LIMIT_S:g} s")
    if demands is None:
        params = auto_sized(g, params)  # type: ignore[assignment]
    scale = float(params["capacity_scale"])
    nodes, index, links = _network(g, scale)
    try:
        events = event_rows(g, scenario.events, template.manifest.events, index)
    except UnknownComponentError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from exc
    start, stop, end = window or timeline(params, scenario)
    end = max(end, stop + drain_needed_s(g, scale, int(params.get("queue_packets", 100)), int(params["packet_bytes"])))
    size = int(params["packet_bytes"])
    flows, sizing = _flows(g, params, index, demands, start, stop)
    flows += [FlowRow(src=index[d.src], dst=index[d.dst], rate_bps=d.rate_bps, packet_bytes=size,
                      start_s=t0, stop_s=min(t1, stop), kind="attack")
              for d, t0, t1 in attack_demands(g, events, nodes, scale)]
    cpu = cpu_capacities(g, params, events)
    source = template.source()
    probes = [e.time_s for e in events] if probes is None else probes
    try:
        mrows = mitigation_rows(g, mitigations or [])
    except UnknownComponentError as exc:
        raise ScenarioError(f"mitigation: {exc}") from exc
    if any(m.kind == "scale_cpu" and cpu[m.target] <= 0 for m in mrows):
        raise ScenarioError("mitigation scale_cpu on a router without CPU model (set cpu_model=true)")
    shaping = {k: v for k, v in params.items() if k not in set(program_arg_names(source))}
    text = render_input(shaping, end, nodes, cpu, links, flows, events, probes, mrows)
    trace_digest = file_digest(trace_file) if trace_file else None
    return RunSpec(run_id=run_id_of(source, text + (trace_digest or ""), param_args(source, params)),
                   trace_file=str(trace_file) if trace_file else None, trace_digest=trace_digest, template=template.manifest.name, template_digest=template.digest(),
                   program_source=source, ns3_modules=template.manifest.ns3_modules,
                   ns3_version=ns3_version(), params=params, duration_s=end,
                   graph_name=str(g.graph.get("name", "graph")), graph_digest=graph_digest(g),
                   scenario=scenario, nodes=nodes, cpu_pps=cpu, links=links, flows=flows, events=events,
                   probes=probes, mitigations=mrows, sizing=sizing, coords=node_coords(g))


def node_coords(g: nx.Graph) -> list[tuple[float, float] | None]:
    """Each node's (lat, lon), None where the graph has no coordinates for it."""
    return [None if d.get("lat") is None or d.get("lon") is None else (float(d["lat"]), float(d["lon"]))
            for _, d in g.nodes(data=True)]


RUN_SH = """#!/bin/sh
# Reproduce this run by hand: builds scenario.cc against the ns3 wheel, then runs it.
# Results are written into the folder given as first argument (default: here).
set -e
cd "$(dirname "$0")"
if [ -z "${{NS3:-}}" ]; then NS3={ns3_root}; fi
if [ ! -x ./scenario ]; then
  {compile}
fi
# the scalar parameters are the program's options (./scenario --PrintHelp); input.txt holds the rest
{run}
"""



def baseline_of(scenario: Scenario) -> Scenario:
    """The same run with no event: what the network does when nothing breaks."""
    return Scenario(name="baseline", description=f"no-failure baseline of {scenario.name}", events=[])


def render_comparable(template: Template, scenario: Scenario, reference: Scenario, g: nx.Graph,
                      params: dict[str, ParamValue], demands: list[Demand] | None = None,
                      trace_file: Path | None = None, mitigations: list[Mitigation] | None = None) -> RunSpec:
    """Render ``scenario`` so that it compares flow by flow with ``reference``'s run.

    Same seed and traffic (``params``, ``demands``, ``trace_file``),
    ``reference``'s traffic window, and its event times as probes: the
    no-failure baseline, or a mitigated counterfactual, of ``reference``.
    """
    return render(template, scenario, g, params, demands=demands, window=timeline(params, reference),
                  probes=[e.timestamp for e in reference.events], trace_file=trace_file, mitigations=mitigations)


def render_pair(template: Template, scenario: Scenario, g: nx.Graph, params: dict[str, ParamValue],
                demands: list[Demand] | None = None, trace_file: Path | None = None) -> tuple[RunSpec, RunSpec]:
    """The scenario's run and its comparable no-failure baseline, the one way to render the two.

    Raises :class:`ScenarioError` for a scenario the template cannot run.
    """
    spec = render(template, scenario, g, params, demands=demands, trace_file=trace_file)
    return spec, render_comparable(template, baseline_of(scenario), scenario, g, params, demands=demands,
                                   trace_file=trace_file)


_NS3_MARK = "@NS3@"  # stands for "$NS3" in run.sh; shlex.quote leaves it as it is
_OUT_MARK = "@OUT@"  # stands for the results folder, run.sh's first argument (default: here)


def shell_words(cmd: list[str]) -> str:
    """``cmd`` as one line of sh: every word quoted (shlex.quote), the wheel's root left as ``"$NS3"``
    and the results folder as ``"${1:-.}"``."""
    line = " ".join(shlex.quote(word) for word in cmd)
    return line.replace(_NS3_MARK, '"$NS3"').replace(_OUT_MARK, '"${1:-.}"')


def write_run_folder(spec: RunSpec, folder: Path) -> None:
    """Write the program, its input, ``run.sh`` and ``spec.json`` into ``folder``.

    Raises :class:`~ani.kg.errors.ResultsWriteError` (one line naming the folder) when it cannot be written.
    """
    with writing(folder):
        _write_run_folder(spec, folder)


def _write_run_folder(spec: RunSpec, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.cc").write_text(spec.program_source)
    (folder / "input.txt").write_text(spec.input_text())
    (folder / "spec.json").write_text(spec.model_dump_json(indent=1, exclude={"program_source"}))
    cmd = compile_command(Path("scenario.cc"), Path("scenario"), spec.ns3_modules, Path(_NS3_MARK))
    if spec.trace_file:
        shutil.copyfile(spec.trace_file, folder / "trace.bin")
    script = RUN_SH.format(ns3_root=shlex.quote(str(ns3_root())), compile=shell_words(cmd),
                           run=shell_words(program_command("./scenario", spec, _OUT_MARK)))
    (folder / "run.sh").write_text(script)
    (folder / "run.sh").chmod(0o755)

