"""Run one rendered scenario in ns-3, and a scenario against its no-failure baseline.

:func:`execute_run` is the single picklable unit of work every executor runs:
it builds (or reuses) the template's program, runs it in the run folder with a
time limit, parses the results into KPIs and writes ``run.json``. A crashing or
hanging program becomes a ``failed``/``timeout`` record with the tail of its
stderr and a command that reproduces it.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from ani.kg.errors import ProjectError
from ani.kg.safety import ensure_under, safe_name, writing
from ani.ns3_scenarios.build import build_program
from ani.ns3_scenarios.render import RunSpec, program_command, write_run_folder
from ani.orchestrator.execute.records import RunRecord, save_record
from ani.orchestrator.measure.summary import compare_runs, summarize_run

DEFAULT_TIMEOUT_S = 3600.0


def run_folder(spec: RunSpec, results: Path) -> Path:
    """``results/<graph>/<scenario>-<run id>``: one folder per run.

    The graph and scenario names are data: they become safe, bounded path components
    (:func:`~ani.kg.safety.safe_name`; the originals stay in ``run.json``), and the folder
    is checked to lie under ``results``.
    """
    folder = Path(results) / safe_name(spec.graph_name.replace(" ", "_")) / \
        f"{safe_name(spec.scenario.name)}-{safe_name(spec.run_id, 64)}"
    return ensure_under(folder, results)


def _record(spec: RunSpec, folder: Path, status: str, rc: int | None, wall: float, stdout: str,
            stderr: str) -> RunRecord:
    events = None
    for line in stdout.splitlines():
        if line.startswith("events_processed "):
            events = int(line.split()[1])
    return RunRecord(run_id=spec.run_id, status=status, returncode=rc, folder=str(folder),
                     template=spec.template, template_digest=spec.template_digest,
                     ns3_version=spec.ns3_version, graph_name=spec.graph_name,
                     graph_digest=spec.graph_digest, scenario_name=spec.scenario.name,
                     scenario_digest=spec.scenario.digest(), seed=int(spec.params["seed"]),
                     wall_s=wall, events_processed=events, stderr_tail=stderr[-2000:],
                     repro_cmd=f"sh {shlex.quote(str(folder / 'run.sh'))}")


def execute_run(spec: RunSpec, results: Path, timeout_s: float = DEFAULT_TIMEOUT_S,
                kpi_tables: bool = True) -> RunRecord:
    """Run ``spec`` in its folder under ``results`` and return its record (also written to run.json).

    ``kpi_tables``: write the run's KPI tables now; campaigns leave them to
    :func:`~ani.orchestrator.measure.summary.ensure_kpi_tables` (on first use).
    """
    folder = run_folder(spec, results)
    write_run_folder(spec, folder)
    start = time.monotonic()
    binary = build_program(spec.program_source, spec.ns3_modules, name=spec.template)
    cmd = program_command(binary, spec, ".")
    try:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout_s)
        status, rc, out, err = ("ok" if proc.returncode == 0 else "failed"), proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        status, rc = "timeout", None
        out, err = _text(exc.stdout), _text(exc.stderr) + f"\nkilled after {timeout_s:g} s"
    with writing(folder):
        (folder / "stdout.txt").write_text(out)
        (folder / "stderr.txt").write_text(err)
    record = _record(spec, folder, status, rc, time.monotonic() - start, out, err)
    if status == "ok":
        parse_start = time.monotonic()
        try:
            record.kpis = summarize_run(folder, spec, tables=kpi_tables)
        except ProjectError as exc:
            record.status, record.stderr_tail = "failed", f"KPI parsing failed: {exc}"
        record.kpi_s = time.monotonic() - parse_start
    save_record(record)
    return record


def failure_record(spec: RunSpec, results: Path, message: str) -> RunRecord:
    """A ``failed`` record, saved as run.json, for a run whose program could not even start
    (it did not compile, its input was refused): a failure of the run, not of the machine."""
    folder = run_folder(spec, results)
    write_run_folder(spec, folder)
    record = _record(spec, folder, "failed", None, 0.0, "", message)
    save_record(record)
    return record


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def attach_comparison(scenario: RunRecord, baseline: RunRecord) -> RunRecord:
    """Add the scenario-versus-baseline KPIs to the scenario's record (and run.json)."""
    if scenario.status == "ok" and baseline.status == "ok":
        scenario.comparison = compare_runs(Path(baseline.folder), Path(scenario.folder))
        scenario.baseline_run_id = baseline.run_id
        save_record(scenario)
    return scenario
