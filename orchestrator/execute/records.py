"""On-disk records of runs (``run.json``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ani.kg.safety import writing
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.measure.summary import RunKpis

RUN_RECORD_VERSION = 1


class RunRecord(BaseModel):
    """The outcome of one ns-3 run: failures are data too."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = RUN_RECORD_VERSION
    run_id: str
    status: Literal["ok", "failed", "timeout"]
    returncode: int | None
    folder: str
    template: str
    template_digest: str
    ns3_version: str
    graph_name: str
    graph_digest: str
    scenario_name: str
    scenario_digest: str
    seed: int
    wall_s: float
    events_processed: int | None = None
    kpi_s: float | None = None  # seconds spent parsing outputs into KPI tables after the program
    stderr_tail: str = ""
    repro_cmd: str
    kpis: RunKpis | None = None  # headline KPIs of this run
    comparison: ScenarioKpis | None = None  # this run against its baseline (baseline_run_id)
    baseline_run_id: str | None = None


def write_json_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_record(record: RunRecord) -> Path:
    """Persist ``record`` as ``run.json`` in its folder."""
    path = Path(record.folder) / "run.json"
    with writing(record.folder):
        write_json_atomic(path, record.model_dump_json(indent=1))
    return path


def load_record(folder: Path) -> RunRecord:
    """Read ``run.json`` from a run folder."""
    return RunRecord.model_validate_json((Path(folder) / "run.json").read_text())
