"""The campaign store: one folder per campaign that survives crashes and never mixes ns-3 versions.

Layout of a store folder::

    campaign.json     manifest: the campaign, the environment it runs in (ns-3, ani,
                      Python, platform, image), the planned run ids, timestamps
    journal.jsonl     one JSON line per finished run (a record) or per lost run (an
                      infrastructure failure after its retries), appended and fsync'ed
                      as each completes; the last line of a run id wins
    runs/<graph>/<scenario>-<run id>/   one folder per run (its own run.json)
    kpis.parquet      one row per run (derived from the journal, written atomically)
    log.jsonl         the structured log of every campaign run in this store
    .lock             held (flock) while a campaign runs into the store

A run is *done* when the journal holds its record — or when its folder holds a
complete ``run.json`` that the journal missed because the campaign process
died first (:meth:`CampaignStore.reconcile` adopts it). A ``failed`` or
``timeout`` record is done too (failures are data; ``--retry-failed`` runs them
again). A *lost* run is not done: the next campaign run tries it again.

The store is pinned to the environment that first ran into it: a campaign run
whose ns-3 version (or Docker image) differs stops with an error instead of
adding results that could not be compared.

Dataset columns (``kpis.parquet``, :func:`dataset_frame`, ``ani campaign export``)
---------------------------------------------------------------------------------
Identity: ``run_id``, ``role`` (scenario | baseline), ``topology`` (as named in the
campaign), ``scenario_source`` (file), ``mitigation`` (the set's name; empty: unmitigated),
``scenario_name``, ``scenario_digest``, ``baseline_run_id``, ``seed``, ``param_<name>`` for each parameter the campaign
sets. Outcome: ``status`` (ok | failed | timeout | lost), ``returncode``,
``wall_s`` (the program), ``kpi_s`` (parsing its outputs), ``events_processed``, ``attempts``, ``executor``, ``finished_utc``,
``error`` (lost runs), ``stderr_tail``, ``repro_cmd``, ``folder`` (relative to
the store). Provenance: ``template``, ``template_digest``, ``ns3_version``,
``graph_name``, ``graph_digest``. KPIs of the run
(:class:`~ani.orchestrator.measure.summary.RunKpis`): ``flows``, ``tx_packets``,
``rx_packets``, ``loss_ratio``, ``throughput_bps``, ``mean_delay_s``,
``max_p99_delay_s``, ``no_route_packets``, ``congested_links``, ``emerged_failures``,
``cascade_depth``. A scenario
against its baseline (:class:`~ani.orchestrator.measure.kpis.ScenarioKpis`, scenario
rows with a baseline): the same fields prefixed ``cmp_`` (``cmp_impacted_flows``,
``cmp_reroute_time_median_s``, …; ``cmp_impacted_nodes`` joined with ``;``).
Units are in the names; missing values are NaN. The same values with the campaign's
axes as dimensions: :mod:`ani.orchestrator.campaign.export` (xarray).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ani.ns3_scenarios.build import ns3_version
from ani.orchestrator.campaign.plan import Campaign, CampaignError, RunMeta
from ani.kg.safety import clip, read_text, writing
from ani.orchestrator.execute.records import RunRecord, write_json_atomic

STORE_VERSION = 1
IDENTITY = ["run_id", "role", "topology", "scenario_source", "mitigation", "scenario_name", "scenario_digest",
            "baseline_run_id", "seed"]


class Environment(BaseModel):
    """What a store's results depend on besides the runs themselves."""

    model_config = ConfigDict(extra="forbid")

    ns3_version: str
    ani_version: str
    python: str
    platform: str
    image: str | None = None


def current_environment(image: str | None = None) -> Environment:
    """This process's environment (``image``: the Docker image the runs execute in, if any)."""
    return Environment(ns3_version=ns3_version(), ani_version=metadata.version("ani-twin"),
                       python=sys.version.split()[0], platform=platform.platform(), image=image)


class CampaignManifest(BaseModel):
    """``campaign.json``: what the store holds and where it came from."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = STORE_VERSION
    campaign: Campaign
    campaign_file: str
    environment: Environment
    created_utc: str
    updated_utc: str
    planned_run_ids: list[str] = Field(default_factory=list)


class JournalEntry(BaseModel):
    """One line of ``journal.jsonl``: a finished run's record, or a run lost to the infrastructure."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = STORE_VERSION
    kind: Literal["record", "lost"]
    meta: RunMeta
    record: RunRecord | None = None
    error: str | None = None
    attempts: int = Field(default=1, ge=1)
    executor: str
    finished_utc: str = Field(default_factory=lambda: utc_now())


def utc_now() -> str:
    """The current time, ISO 8601 in UTC."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class CampaignStore:
    """A campaign's folder (see the module docstring); one writer at a time.

    Parameters
    ----------
    root : Path
        The store folder (created on :meth:`open_for_run`).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._fd: int | None = None
        self._lock: int | None = None
        self._entries: dict[str, JournalEntry] | None = None
        self.skipped_lines: list[int] = []  # journal lines that could not be read (their runs are redone)

    @property
    def runs_root(self) -> Path:
        """Where the run folders go (the ``results`` of :func:`~ani.orchestrator.execute.run.execute_run`)."""
        return self.root / "runs"

    @property
    def journal_path(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.root / "campaign.json"

    # ------------------------------------------------------------------ opening

    def open_for_run(self, campaign: Campaign, campaign_file: str, env: Environment,
                     planned: list[str]) -> CampaignManifest:
        """Lock the store, check or create its manifest, repair a torn journal tail.

        Raises
        ------
        CampaignError
            If another process holds the store, or its environment differs from ``env``.
        """
        with writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
        try:
            manifest = self._checked_manifest(campaign, campaign_file, env, planned)
            with writing(self.root):
                write_json_atomic(self.manifest_path, manifest.model_dump_json(indent=1))
                _repair_tail(self.journal_path)
                self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            self.close()
            raise
        return manifest

    def _acquire_lock(self) -> None:
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise CampaignError(f"store {self.root} is in use by another campaign run (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = fd

    def _checked_manifest(self, campaign: Campaign, campaign_file: str, env: Environment,
                          planned: list[str]) -> CampaignManifest:
        now = utc_now()
        old = self.manifest() if self.manifest_path.exists() else None
        if old is not None:
            for field, label in (("ns3_version", "ns-3"), ("image", "Docker image")):
                have, want = getattr(old.environment, field), getattr(env, field)
                if have != want:
                    raise CampaignError(
                        f"store {self.root} holds results of {label} {have or 'none (local runs)'}; this run "
                        f"uses {want or 'none (local runs)'}: results are never mixed — give another --store")
        return CampaignManifest(campaign=campaign, campaign_file=campaign_file, environment=env,
                                created_utc=old.created_utc if old else now, updated_utc=now,
                                planned_run_ids=planned)

    def close(self) -> None:
        """Close the journal and release the lock (idempotent)."""
        for attr in ("_fd", "_lock"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)

    def __enter__(self) -> "CampaignStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def exists(self) -> bool:
        """True when the folder holds a campaign manifest."""
        return self.manifest_path.is_file()

    def manifest(self) -> CampaignManifest:
        """The parsed ``campaign.json``."""
        if not self.manifest_path.is_file():
            raise CampaignError(f"{self.root}: not a campaign store (no readable campaign.json)")
        text = read_text(self.manifest_path, CampaignError, "campaign manifest")
        try:
            return CampaignManifest.model_validate_json(text)
        except ValidationError as exc:
            raise CampaignError(f"{self.manifest_path}: invalid manifest ({clip(exc.errors()[0]['msg'], 200)}); "
                                "repair it or give another --store") from None

    def entries(self) -> dict[str, JournalEntry]:
        """The journal: last entry per run id (a torn last line is skipped)."""
        if self._entries is None:
            self._entries, self.skipped_lines = _read_journal(self.journal_path)
        return self._entries

    def done(self, retry_failed: bool = False) -> set[str]:
        """Ids of runs with a record (only ``ok`` ones when ``retry_failed``)."""
        return {rid for rid, e in self.entries().items() if e.kind == "record" and e.record is not None
                and (e.record.status == "ok" or not retry_failed)}

    # ------------------------------------------------------------------ writing

    def append(self, entry: JournalEntry) -> None:
        """Persist ``entry``: one line, one ``write``, fsync'ed before this returns."""
        if self._fd is None:
            raise CampaignError(f"store {self.root} is not open for writing")
        line = (entry.model_dump_json() + "\n").encode()
        with writing(self.root):
            os.write(self._fd, line)
            os.fsync(self._fd)
        self.entries()[entry.meta.run_id] = entry

    def reconcile(self, metas: list[RunMeta], folders: dict[str, Path]) -> list[str]:
        """Adopt complete ``run.json`` files the journal misses (the campaign died after the run).

        Returns the adopted run ids.
        """
        adopted = []
        entries = self.entries()
        for meta in metas:
            if meta.run_id in entries and entries[meta.run_id].kind == "record":
                continue
            record = _read_record(folders[meta.run_id])
            if record is not None and record.run_id == meta.run_id:
                self.append(JournalEntry(kind="record", meta=meta, record=record, executor="adopted"))
                adopted.append(meta.run_id)
        return adopted

    def write_dataset(self) -> Path:
        """Write ``kpis.parquet`` from the journal (atomically); return its path."""
        path = self.root / "kpis.parquet"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        dataset_frame(self).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path


def _repair_tail(path: Path) -> None:
    """Cut a journal line torn by a crash, so the next append starts on a line of its own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def _read_journal(path: Path) -> tuple[dict[str, JournalEntry], list[int]]:
    """(last entry per run id, numbers of the lines that could not be read).

    A line that is not UTF-8 or not an entry (torn by a crash, damaged on disk) is
    skipped and its number returned: its run is adopted from run.json or run again.
    """
    out: dict[str, JournalEntry] = {}
    skipped: list[int] = []
    if not path.exists():
        return out, skipped
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read the journal ({exc.strerror})") from None
    for lineno, raw in enumerate(data.splitlines(), start=1):
        try:
            entry = JournalEntry.model_validate_json(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValidationError, RecursionError):
            skipped.append(lineno)
            continue
        out[entry.meta.run_id] = entry
    return out, skipped


def _read_record(folder: Path) -> RunRecord | None:
    """The run.json of ``folder``, or None when it is missing or unreadable (the run is then redone)."""
    try:
        return RunRecord.model_validate_json((folder / "run.json").read_bytes())
    except (OSError, ValidationError, RecursionError):
        return None


def intact(folder: Path, run_id: str) -> bool:
    """True when ``folder`` holds a readable run.json of ``run_id`` (a journaled run whose folder was
    deleted or whose record was damaged is not done)."""
    record = _read_record(folder)
    return record is not None and record.run_id == run_id


# ---------------------------------------------------------------------- dataset


def dataset_frame(store: CampaignStore) -> pd.DataFrame:
    """One row per run in the store; the columns are documented in the module docstring."""
    rows = [_row(store.root, e) for e in store.entries().values()]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*IDENTITY, "status"])
    return frame.sort_values(["topology", "scenario_source", "role", "seed", "run_id"],
                             kind="stable").reset_index(drop=True) if rows else frame


def _row(root: Path, entry: JournalEntry) -> dict[str, Any]:
    meta, rec = entry.meta, entry.record
    row: dict[str, Any] = {
        "run_id": meta.run_id, "role": meta.role, "topology": meta.topology,
        "scenario_source": meta.scenario_source, "mitigation": meta.mitigation,
        "baseline_run_id": meta.baseline_run_id, "seed": meta.seed,
        **{f"param_{k}": v for k, v in sorted(meta.overrides.items())},
        "status": rec.status if rec else "lost", "attempts": entry.attempts, "executor": entry.executor,
        "finished_utc": entry.finished_utc, "error": entry.error,
    }
    if rec is None:
        return row
    row.update(rec.model_dump(include={"scenario_name", "scenario_digest", "returncode", "wall_s",
                                       "events_processed", "kpi_s", "stderr_tail", "repro_cmd", "template",
                                       "template_digest", "ns3_version", "graph_name", "graph_digest"}))
    row["folder"] = _relative(Path(rec.folder), root)
    row.update(rec.kpis.model_dump(mode="json") if rec.kpis else {})
    for key, value in (rec.comparison.model_dump(mode="json") if rec.comparison else {}).items():
        if key != "schema_version":
            row[f"cmp_{key}"] = ";".join(value) if isinstance(value, list) else value
    return row


def _relative(folder: Path, root: Path) -> str:
    try:
        return str(folder.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(folder)


def export_dataset(store: CampaignStore, output: str | Path) -> Path:
    """Write the store's dataset to ``output`` (``.csv`` or ``.parquet``); return the path.

    Raises
    ------
    CampaignError
        For another file type, or an output that cannot be written.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CampaignError(f"{output}: export writes .csv or .parquet files")
    frame = dataset_frame(store)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(output, index=False) if suffix == ".csv" else frame.to_parquet(output, index=False)
    except OSError as exc:
        raise CampaignError(f"cannot write {output} ({exc.strerror or exc})") from None
    return output


# ---------------------------------------------------------------------- status


class FailureLine(BaseModel):
    """A run that did not end ``ok``: why, and how to reproduce it."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    status: str
    role: str
    scenario_source: str
    seed: int
    reason: str
    repro_cmd: str | None


class StoreStatus(BaseModel):
    """Counts of a store against the last plan run into it."""

    model_config = ConfigDict(extra="forbid")

    store: str
    name: str
    ns3_version: str
    image: str | None
    planned: int
    ok: int
    failed: int
    timeout: int
    lost: int
    remaining: int
    failures: list[FailureLine]


def store_status(store: CampaignStore) -> StoreStatus:
    """Where the campaign in ``store`` stands (read-only; safe while a campaign runs)."""
    manifest = store.manifest()
    entries = store.entries()
    counts = {"ok": 0, "failed": 0, "timeout": 0, "lost": 0}
    failures = []
    for run_id in manifest.planned_run_ids:
        entry = entries.get(run_id)
        if entry is None:
            continue
        status = entry.record.status if entry.record else "lost"
        counts[status] += 1
        if status != "ok":
            failures.append(_failure(entry, status))
    return StoreStatus(store=str(store.root), name=manifest.campaign.name,
                       ns3_version=manifest.environment.ns3_version, image=manifest.environment.image,
                       planned=len(manifest.planned_run_ids), failures=failures,
                       remaining=len(manifest.planned_run_ids) - counts["ok"] - counts["failed"] - counts["timeout"],
                       **counts)


def _failure(entry: JournalEntry, status: str) -> FailureLine:
    text = (entry.record.stderr_tail if entry.record else entry.error) or ""
    return FailureLine(run_id=entry.meta.run_id, status=status, role=entry.meta.role,
                       scenario_source=entry.meta.scenario_source, seed=entry.meta.seed, reason=failure_reason(text),
                       repro_cmd=entry.record.repro_cmd if entry.record else None)


def failure_reason(stderr: str) -> str:
    """The most telling line of a failed run's stderr: an ns-3 ``msg=``, else an error line, else the last."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for pattern in (re.compile(r"msg="), re.compile(r"error|fatal|assert|killed|abort", re.IGNORECASE)):
        found = [line for line in lines if pattern.search(line)]
        if found:
            return found[-1][:300]
    return lines[-1][:300] if lines else ""
