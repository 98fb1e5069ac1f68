"""The ``ani`` command line: thin over the library; mistakes exit non-zero with a message."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ani.kg.errors import ProjectError
from ani.kg.demands import load_demand_matrix, scaled_demands
from ani.kg.io import load_network
from ani.kg.safety import writing
from ani.kg.topology import load_topology
from ani.kg.scenario import Event, EventType, Scenario, load_scenario
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli.report import format_result
from ani.orchestrator.cli.types import parse_params
from ani.orchestrator.execute.scenario_run import run_scenario
from ani.orchestrator.cli.types import timeout_seconds

DEFAULT_RESULTS = Path("results")

DEMO_SCENARIO = Scenario(
    name="abilene-fiber-cut",
    description=("The Denver-Kansas City fibre is cut at t=1.0 s. Traffic that crossed it is lost until "
                 "BFD-like detection (50 ms), SPF (200 ms) and the FIB update (50 ms) move it onto "
                 "the northern and southern detours, where it competes with existing load."),
    events=[Event(event_type=EventType.fiber_link_failure, target="Denver-Kansas_City",
                  timestamp=1.0, severity="high")],
)




class _Group(click.Group):
    """Turns the project's own errors into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ProjectError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="ani-twin")
def main() -> None:
    """Adversarial network imagination: run failure scenarios in an ns-3 digital twin."""


results_option = click.option("--results", type=click.Path(file_okay=False, path_type=Path),
                              default=DEFAULT_RESULTS, show_default=True, help="output root")
template_option = click.option("--template", "template_name", default="ospf_failure", show_default=True,
                               help="template name or folder")
param_option = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                            help="template parameter override (repeatable)")
jobs_option = click.option("--jobs", type=click.IntRange(1), default=2, show_default=True,
                           help="runs in parallel (scenario and baseline)")


@main.command()
@results_option
@param_option
@jobs_option
@click.option("--map", "draw_map", is_flag=True, help="also draw map.png (and .svg) into the run folder")
@click.option("--check", is_flag=True,
              help="also check the runs against independent computations (networkx paths, the convergence "
                   "model, conservation) and print the verdict; exit 1 when they disagree")
def demo(results: Path, params: tuple[str, ...], jobs: int, draw_map: bool, check: bool) -> None:
    """Fiber cut on the embedded Abilene network, against its baseline; prints the KPIs."""
    _run(load_topology("abilene"), DEMO_SCENARIO, "ospf_failure", params, results, True, jobs, draw_map=draw_map,
         check=check)


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topology", required=True,
              help="'abilene' (embedded), a GraphML file or a project YAML/JSON file (ani kg build)")
@template_option
@param_option
@results_option
@jobs_option
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="also run the no-failure baseline with the same seed and compare")
@click.option("--timeout", "timeout_s", type=timeout_seconds(), default=3600, show_default=True,
              help="seconds before a run is killed")
@click.option("--trace", "trace", type=click.Path(dir_okay=False, path_type=Path),
              help="pcap/pcapng to replay as traffic (looped over the run's traffic window)")
@click.option("--trace-mode", type=click.Choice(["hash", "gravity"]), default="hash", show_default=True,
              help="how the trace's flows are mapped to PoP pairs")
@click.option("--cluster", metavar="ADDRESS", default=None, help="run on a Dask scheduler (tcp://host:8786)")
@click.option("--docker", "image", metavar="IMAGE", default=None, help="run each run in a container of IMAGE")
@click.option("--demands", "demands_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="demand matrix (CSV src,dst,rate_bps or JSON) instead of the gravity traffic; rates in the "
                   "real network's bit/s, scaled by capacity_scale like the links")
@click.option("--map", "draw_map", is_flag=True,
              help="also draw map.png (and .svg) of the run against its baseline into its folder (report extra)")
@click.option("--check", is_flag=True,
              help="also check the runs against independent computations (networkx paths, the convergence "
                   "model, conservation) and print the verdict; exit 1 when they disagree")
def run(scenario_file: Path, topology: str, template_name: str, params: tuple[str, ...], results: Path,
        jobs: int, baseline: bool, timeout_s: float, trace: Path | None, trace_mode: str, cluster: str | None,
        image: str | None, demands_file: Path | None, draw_map: bool, check: bool) -> None:
    """Run SCENARIO_FILE (JSON) on a topology and print its KPIs (a run finished before is reused)."""
    if cluster and image:
        raise click.UsageError("give either --cluster or --docker, not both")
    _run(load_network(topology), load_scenario(scenario_file), template_name, params, results, baseline,
         jobs, timeout_s, trace, trace_mode, cluster, image, demands_file, draw_map, check)


def _run(g, scenario: Scenario, template_name: str, params: tuple[str, ...], results: Path,
         baseline: bool, jobs: int, timeout_s: float = 3600, trace: Path | None = None,
         trace_mode: str = "hash", cluster: str | None = None, image: str | None = None,
         demands_file: Path | None = None, draw_map: bool = False, check: bool = False) -> None:
    template = get_template(template_name)
    values = template.params(parse_params(params))
    demands = None
    if demands_file is not None:
        demands = scaled_demands(g, load_demand_matrix(demands_file), float(values["capacity_scale"]),
                                 str(demands_file))
    trace_file = None
    if trace is not None:
        from ani.ns3_scenarios.render import timeline
        from ani.ns3_scenarios.traffic import prepare_trace

        trace_file = prepare_trace(trace, g, timeline(values, scenario), results / "traces", mode=trace_mode,
                                   seed=int(values["seed"]))
    with writing(results):  # a read-only or full results folder: one line naming it
        result = run_scenario(g, scenario, template, values, results, with_baseline=baseline, jobs=jobs,
                              timeout_s=timeout_s, trace_file=trace_file, cluster=cluster, image=image,
                              demands=demands)
    click.echo(format_result(result))
    if draw_map and result.scenario.status == "ok":
        from ani.orchestrator.cli.reports import map_of_result

        click.echo(map_of_result(result, g))
    agreed = _check(g, scenario, result) if check else True
    if result.scenario.status != "ok" or (result.baseline and result.baseline.status != "ok") or not agreed:
        sys.exit(1)


def _check(g, scenario: Scenario, result) -> bool:
    """Print the independent checks' verdict on the run and its baseline (against the specs they ran)."""
    from ani.orchestrator.measure.check_run import check_lines

    lines, ok = check_lines(g, scenario, result.scenario_spec, result.scenario, result.baseline_spec,
                            result.baseline)
    for line in lines:
        click.echo(line)
    return ok
from ani.orchestrator.cli.campaign import campaign as _campaign  # noqa: E402
main.add_command(_campaign)
from ani.orchestrator.cli.templates import templates as _templates  # noqa: E402
main.add_command(_templates)
from ani.orchestrator.cli.kg import kg as _kg  # noqa: E402
main.add_command(_kg)
from ani.orchestrator.cli.generate import generate as _generate  # noqa: E402
main.add_command(_generate)
from ani.orchestrator.cli.loop import evaluate as _evaluate, loop as _loop  # noqa: E402
main.add_command(_loop)
main.add_command(_evaluate)
from ani.orchestrator.cli.screen import screen as _screen  # noqa: E402
main.add_command(_screen)
from ani.orchestrator.cli.reports import map_command as _map, report as _report  # noqa: E402
main.add_command(_report)
main.add_command(_map)
if __name__ == "__main__":
    main()
