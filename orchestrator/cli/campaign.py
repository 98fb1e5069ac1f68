"""``ani campaign plan|run|status|export``: thin commands over the campaign library.

``ani campaign worker`` (hidden) is what a container of the project's image runs
for the Docker executor: one queued run spec in, its record as the last line out.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from ani.ns3_scenarios.render import RunSpec
from ani.orchestrator.campaign.plan import CampaignError, load_campaign, plan_campaign_file
from ani.orchestrator.execute.executors import WorkerEnvironmentError, build_programs, make_executor, run_spec
from ani.orchestrator.campaign.store import CampaignStore, export_dataset, store_status
from ani.orchestrator.cli.types import slurm_choice, timeout_seconds, with_executor_options

DEFAULT_ROOT = Path("results") / "campaigns"

store_option = click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path),
                            default=None, help="store folder [default: results/campaigns/<campaign name>]")
campaign_arg = click.argument("campaign_file", type=click.Path(dir_okay=False, path_type=Path))


def _store_for(campaign_file: Path, store_dir: Path | None) -> CampaignStore:
    return CampaignStore(store_dir or DEFAULT_ROOT / load_campaign(campaign_file).name)


def _store_from(source: Path, store_dir: Path | None) -> CampaignStore:
    """A store named by a campaign file (its default or ``--store``) or by its folder."""
    store = _store_for(source, store_dir) if source.is_file() else CampaignStore(store_dir or source)
    if not store.exists():
        raise click.UsageError(f"{store.root} is not a campaign store (nothing has run into it yet)")
    return store


@click.group()
def campaign() -> None:
    """Plan, run, watch and export campaigns of many runs (YAML or TOML campaign files)."""


@campaign.command()
@campaign_arg
@store_option
@click.option("--list", "list_runs", is_flag=True, help="also print one line per run")
def plan(campaign_file: Path, store_dir: Path | None, list_runs: bool) -> None:
    """Expand CAMPAIGN_FILE into its runs and say how many are still to run."""
    store = _store_for(campaign_file, store_dir)
    the_plan = plan_campaign_file(campaign_file, store.root / "scenarios")
    done = store.done() if store.exists() else set()
    roles = Counter(r.role for r in the_plan.runs)
    todo = [r for r in the_plan.runs if r.run_id not in done]
    click.echo(f"campaign {the_plan.campaign.name}: {len(the_plan.runs)} runs ({roles['scenario']} scenario, "
               f"{roles['baseline']} baseline) on {len(the_plan.campaign.topologies)} topologies; "
               f"done {len(the_plan.runs) - len(todo)}, to run {len(todo)}; store {store.root}")
    if the_plan.rejected:
        click.echo(f"{len(the_plan.rejected)} generated scenario(s) left out (the template cannot run them):")
        for line in the_plan.rejected:
            click.echo(f"  {line}")
    if list_runs:
        for r in the_plan.runs:
            state = "done" if r.run_id in done else "todo"
            params = " ".join(f"{k}={v}" for k, v in sorted(r.overrides.items()))
            mitigation = f" mitigation={r.mitigation}" if r.mitigation else ""
            click.echo(f"{r.run_id}  {state}  {r.role:8s} {r.topology}  {r.scenario_source}  seed={r.seed}"
                       f"{mitigation} {params}")


@campaign.command()
@campaign_arg
@store_option
@click.option("--workers", type=click.IntRange(1), default=None,
              help="local worker processes or Docker containers at a time [default: CPU count]")
@with_executor_options
@click.option("--timeout", "timeout_s", type=timeout_seconds(), default=None,
              help="seconds before a run is killed [default: the campaign's timeout_s]")
@click.option("--retry-failed", is_flag=True, help="also run again the runs recorded as failed or timeout")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="a bar on a terminal, plain lines otherwise")
def run(campaign_file: Path, store_dir: Path | None, workers: int | None, timeout_s: float | None,
        retry_failed: bool, progress: bool, **where: Any) -> None:
    """Run what CAMPAIGN_FILE plans and its store does not hold yet; safe to interrupt and re-run.

    Where: local processes (default), a Dask scheduler (--cluster), Dask workers
    as SLURM jobs (--slurm and its options), or containers (--docker).
    """
    from ani.orchestrator.campaign.driver import run_campaign
    from ani.orchestrator.campaign.progress import make_progress

    slurm = slurm_choice(where)  # before any planning
    the_campaign = load_campaign(campaign_file)
    store = _store_for(campaign_file, store_dir)
    timeout = timeout_s or the_campaign.timeout_s
    with make_executor(store.runs_root, workers=workers or os.cpu_count() or 1, timeout_s=timeout,
                       cluster=where["cluster"], image=where["image"], slurm=slurm) as executor:
        summary = run_campaign(campaign_file, store, executor, make_progress(enabled=progress), retry_failed)
    click.echo(f"campaign {the_campaign.name}: {summary.planned} planned, {summary.done_before} already done "
               f"({summary.adopted} recovered), {summary.executed} run now in {summary.wall_s:.1f} s with "
               f"{summary.executor}; ok {summary.ok}, failed {summary.failed}, timeout {summary.timeout}, "
               f"lost {summary.lost}; store {store.root}")
    if summary.skipped_journal_lines:
        click.echo(f"warning: {summary.skipped_journal_lines} unreadable line(s) in {store.journal_path} skipped; "
                   "their runs were recovered from run.json or run again", err=True)
    if summary.redone_damaged:
        click.echo(f"warning: {summary.redone_damaged} journaled run(s) had a missing or unreadable run.json; "
                   "they were run again", err=True)
    if summary.rejected:
        click.echo(f"{summary.rejected} generated scenario(s) left out: see ani campaign plan {campaign_file}")
    if summary.failed or summary.timeout:
        click.echo(f"failures are recorded with their stderr and a reproduce command: ani campaign status {store.root}")
    if not summary.complete:
        click.echo(f"{summary.planned - summary.ok - summary.failed - summary.timeout} runs are not done "
                   "(infrastructure failures); run the same command again to finish them", err=True)
        sys.exit(1)


@campaign.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@store_option
def status(source: Path, store_dir: Path | None) -> None:
    """Counts of a campaign's store (SOURCE: the campaign file or the store folder), and its failures."""
    store = _store_from(source, store_dir)
    st = store_status(store)
    if store.skipped_lines:
        click.echo(f"warning: {len(store.skipped_lines)} unreadable line(s) in {store.journal_path} skipped "
                   f"(first: line {store.skipped_lines[0]}); the next campaign run redoes their runs", err=True)
    click.echo(f"campaign {st.name} (ns-3 {st.ns3_version}{', image ' + st.image if st.image else ''}): "
               f"{st.planned} planned, ok {st.ok}, failed {st.failed}, timeout {st.timeout}, lost {st.lost}, "
               f"remaining {st.remaining}; store {st.store}")
    for f in st.failures:
        click.echo(f"  {f.status:7s} {f.run_id}  {f.role} {f.scenario_source} seed={f.seed}: {f.reason}")
        if f.repro_cmd:
            click.echo(f"          reproduce: {f.repro_cmd}")


EXPORT_FORMATS = {"csv": (".csv",), "parquet": (".parquet",), "xarray": (".nc", ".zarr")}


@campaign.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@store_option
@click.option("--out", "--output", "-o", "output", required=True, type=click.Path(path_type=Path),
              help="the file to write: .csv or .parquet (one row per run), .nc or .zarr (xarray)")
@click.option("--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default=None,
              help="csv | parquet: the KPI table; xarray: the campaign's axes as dimensions "
                   "[default: from the --out extension]")
def export(source: Path, store_dir: Path | None, output: Path, fmt: str | None) -> None:
    """Write the KPIs of a campaign (SOURCE: campaign file or store folder): a table with one row per run, or
    an xarray Dataset (netCDF or Zarr) whose dimensions are the campaign's axes
    (columns and variables: see ani.orchestrator.campaign.store and .export)."""
    fmt = fmt or next((f for f, ends in EXPORT_FORMATS.items() if output.suffix.lower() in ends), None)
    if fmt is None or output.suffix.lower() not in EXPORT_FORMATS[fmt]:
        wanted = " or ".join(EXPORT_FORMATS[fmt]) if fmt else ", ".join(sum(EXPORT_FORMATS.values(), ()))
        raise click.BadParameter(f"{output}: {fmt or 'export'} writes {wanted} files", param_hint="--out")
    store = _store_from(source, store_dir)
    try:
        if fmt == "xarray":
            from ani.orchestrator.campaign.export import describe, write_campaign_dataset

            click.echo(f"{describe(write_campaign_dataset(store, output))} -> {output}")
            return
        path = export_dataset(store, output)
    except CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    click.echo(f"{len(store.entries())} runs -> {path}")


@campaign.command(hidden=True)
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--results", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--timeout", "timeout_s", type=timeout_seconds(0.1), default=3600.0)
@click.option("--build-only", is_flag=True, help="only compile the program into the cache")
def worker(spec_file: Path, results: Path, timeout_s: float, build_only: bool) -> None:
    """Execute one queued run spec (the Docker executor's container command); print its record."""
    spec = RunSpec.model_validate_json(spec_file.read_text())
    if build_only:
        problems = build_programs([spec])
        if problems:
            raise click.ClickException("; ".join(problems))
        return
    try:
        record = run_spec(spec, results, timeout_s)
    except WorkerEnvironmentError as exc:
        click.echo(f"worker environment: {exc}", err=True)
        sys.exit(3)
    click.echo(record.model_dump_json())
