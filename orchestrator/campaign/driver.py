"""Run a campaign into its store: ``planned − done``, each record persisted as it completes.

:func:`run_campaign` plans the campaign, locks and checks the store (same ns-3
version, same image), adopts the records of runs that finished after the last
campaign process died, compiles each program once, then keeps a window of runs
submitted to the executor. Each finished run is appended to the journal before
the next is looked at; a scenario is compared with its baseline as soon as both
are done. An exception from a future is an infrastructure failure (worker lost,
engine error): the run is submitted again up to ``campaign.retries`` times,
then journaled as *lost* (and tried again by the next campaign run). A run's own
failure (crash, hang, bad input) is a record and is never retried.
"""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import time
from collections import deque
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ani.orchestrator.campaign.plan import CampaignError, CampaignPlan, PlannedRun, plan_campaign_file
from ani.orchestrator.execute.executors import STAGING, Executor
from ani.orchestrator.campaign.progress import NullProgress, Progress, json_log, log_event
from ani.orchestrator.execute.records import RunRecord
from ani.orchestrator.execute.run import attach_comparison, run_folder
from ani.orchestrator.campaign.store import intact, CampaignStore, JournalEntry, current_environment

DATASET_EVERY_S = 30.0


class CampaignSummary(BaseModel):
    """What one ``ani campaign run`` did, and where the campaign stands after it."""

    model_config = ConfigDict(extra="forbid")

    store: str
    executor: str
    planned: int
    done_before: int
    adopted: int
    executed: int
    retried: int
    ok: int
    failed: int
    timeout: int
    lost: int
    rejected: int = 0
    redone_damaged: int = 0  # journaled runs whose run.json was missing or unreadable, run again
    skipped_journal_lines: int = 0  # journal lines that could not be read
    wall_s: float

    @property
    def complete(self) -> bool:
        """Every planned run has a record."""
        return self.ok + self.failed + self.timeout == self.planned


def run_campaign(campaign_file: str | Path, store: CampaignStore, executor: Executor,
                 progress: Progress | None = None, retry_failed: bool = False) -> CampaignSummary:
    """Run the campaign in ``campaign_file`` into ``store`` with ``executor``.

    Parameters
    ----------
    campaign_file : path
        YAML or TOML campaign (:mod:`ani.orchestrator.campaign.plan`).
    store : CampaignStore
        Its ``runs_root`` must be the executor's ``results`` folder.
    executor : Executor
        Any backend (:mod:`ani.orchestrator.execute.executors`); it is not shut down here.
    progress : Progress, optional
        Receives start, one ``advance`` per finished run, notes, close.
    retry_failed : bool
        Also run again the runs whose record is ``failed`` or ``timeout``.

    Raises
    ------
    CampaignError
        Invalid campaign, store in use, or a store of another ns-3 version or image.
    """
    path = Path(campaign_file)
    plan = plan_campaign_file(path, store.root / "scenarios")
    if executor.results != store.runs_root.resolve():
        raise CampaignError(f"the executor writes to {executor.results}, the store's runs are in {store.runs_root}")
    env = current_environment(executor.image)
    store.open_for_run(plan.campaign, str(path.resolve()), env, plan.ids())
    try:
        with json_log(store.root / "log.jsonl"):
            return _Driver(plan, store, executor, progress or NullProgress(), retry_failed).run()
    finally:
        store.close()


class _Driver:
    """One campaign run: the state of the dispatch loop."""

    def __init__(self, plan: CampaignPlan, store: CampaignStore, executor: Executor, progress: Progress,
                 retry_failed: bool) -> None:
        self.plan, self.store, self.executor, self.progress = plan, store, executor, progress
        self.retry_failed = retry_failed
        self.by_id = {r.run_id: r for r in plan.runs}
        self.scenarios_of: dict[str, list[str]] = {}
        for r in plan.runs:
            if r.baseline_run_id:
                self.scenarios_of.setdefault(r.baseline_run_id, []).append(r.run_id)
        self.attempts: dict[str, int] = {}
        self.comparing: dict[cf.Future[RunRecord], tuple[str, str]] = {}  # (scenario, baseline) being compared
        self.executed = self.retried = 0
        self.damaged: list[str] = []  # journaled runs found without a readable run.json (run again)
        self.t0 = time.monotonic()
        self._last_dataset = self.t0

    def run(self) -> CampaignSummary:
        done, adopted = self._resume()
        todo = [r for r in self.plan.runs if r.run_id not in done]
        log_event("campaign_start", campaign=self.plan.campaign.name, store=str(self.store.root),
                  executor=self.executor.describe(), planned=len(self.plan.runs), done=len(done),
                  adopted=len(adopted), todo=len(todo))
        for line in self.plan.rejected:
            log_event("scenario_rejected", reason=line)
        self.progress.start(len(self.plan.runs), len(done), self.plan.campaign.name)
        try:
            self._dispatch(todo)
        finally:
            self.progress.close()
            self.store.write_dataset()
        summary = self._summary(len(done), len(adopted))
        log_event("campaign_end", **summary.model_dump())
        return summary

    def _resume(self) -> tuple[set[str], list[str]]:
        """(done run ids, ids adopted from run.json): what an earlier campaign process left."""
        # staging folders of attempts that died with an earlier campaign process (we hold the lock)
        shutil.rmtree(self.store.runs_root / STAGING, ignore_errors=True)
        folders = {r.run_id: run_folder(r.spec, self.store.runs_root) for r in self.plan.runs}
        adopted = self.store.reconcile([r.meta() for r in self.plan.runs], folders)
        done = self.store.done(self.retry_failed) & set(self.by_id)
        if self.store.skipped_lines:
            log_event("journal_lines_skipped", lines=self.store.skipped_lines[:100])
        damaged = sorted(rid for rid in done if not intact(folders[rid], rid))
        if damaged:
            log_event("damaged_runs_redone", run_ids=damaged[:100], first=str(folders[damaged[0]]))
            done -= set(damaged)
        self.damaged = damaged
        for run_id in sorted(done):  # comparisons the earlier process did not get to
            self._compare(run_id)
        return done, adopted

    def _dispatch(self, todo: list[PlannedRun]) -> None:
        if todo:
            for problem in self.executor.prepare([r.spec for r in todo]):
                self.progress.note(f"build problem (its runs will fail): {problem[:300]}")
        pending = deque(todo)
        running: dict[cf.Future[RunRecord], PlannedRun] = {}
        while pending or running or self.comparing:
            window = max(2, 2 * self.executor.workers)  # a cluster may grow or shrink while it runs
            while pending and len(running) < window:
                run = pending.popleft()
                self.attempts[run.run_id] = self.attempts.get(run.run_id, 0) + 1
                running[self._submit(run)] = run
            finished, _ = cf.wait([*running, *self.comparing], timeout=DATASET_EVERY_S,
                                  return_when=cf.FIRST_COMPLETED)
            for future in finished:
                if future in self.comparing:
                    self._compared(future)
                    continue
                retry = self._complete(running.pop(future), future)
                if retry is not None:
                    pending.append(retry)
            self._maybe_write_dataset()

    def _submit(self, run: PlannedRun) -> cf.Future[RunRecord]:
        try:
            return self.executor.submit(run.spec)
        except Exception as exc:  # the backend refused the run: an infrastructure failure like any other
            failed: cf.Future[RunRecord] = cf.Future()
            failed.set_exception(exc)
            return failed

    def _complete(self, run: PlannedRun, future: cf.Future[RunRecord]) -> PlannedRun | None:
        """Persist a finished run; return it when it must be submitted again."""
        attempt = self.attempts[run.run_id]
        try:
            record = future.result()
        except BaseException as exc:  # noqa: BLE001  (cancelled, worker lost, engine error)
            return self._infrastructure_failure(run, attempt, exc)
        self.store.append(JournalEntry(kind="record", meta=run.meta(), record=record, attempts=attempt,
                                       executor=self.executor.kind))
        self.executed += 1
        log_event("run_finished", run_id=run.run_id, status=record.status, role=run.role,
                  scenario=run.scenario_source, seed=run.seed, wall_s=round(record.wall_s, 3), attempt=attempt)
        self._compare(run.run_id)
        self.progress.advance(record.status)
        return None

    def _infrastructure_failure(self, run: PlannedRun, attempt: int, exc: BaseException) -> PlannedRun | None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempt <= self.plan.campaign.retries:
            self.retried += 1
            log_event("run_retry", run_id=run.run_id, attempt=attempt, error=error)
            first = error.splitlines()[0][:200] if error else ""
            self.progress.note(f"run {run.run_id}: {first} — retry {attempt}/{self.plan.campaign.retries}")
            return run
        self.store.append(JournalEntry(kind="lost", meta=run.meta(), error=error, attempts=attempt,
                                       executor=self.executor.kind))
        log_event("run_lost", run_id=run.run_id, attempts=attempt, error=error)
        self.progress.advance("lost")
        return None

    def _compare(self, run_id: str) -> None:
        """Have the executor compare every scenario whose pair is now complete with its baseline.

        The comparison parses both run folders: it runs where the runs run
        (:meth:`~ani.orchestrator.execute.executors.Executor.submit_call`), not in this
        process, which would otherwise become the bottleneck of a wide campaign.
        """
        run = self.by_id[run_id]
        pairs = [(run_id, run.baseline_run_id)] if run.role == "scenario" else \
            [(s, run_id) for s in self.scenarios_of.get(run_id, [])]
        entries = self.store.entries()
        busy = {scen for scen, _ in self.comparing.values()}
        for scen_id, base_id in pairs:
            scen, base = entries.get(scen_id), entries.get(base_id or "")
            if not (scen and base and scen.record and base.record) or scen.record.comparison is not None:
                continue
            if scen.record.status != "ok" or base.record.status != "ok" or scen_id in busy:
                continue
            try:
                future = self.executor.submit_call(attach_comparison, scen.record.model_copy(deep=True), base.record)
            except Exception as exc:  # noqa: BLE001  (the backend refused it: the next campaign run retries)
                log_event("comparison_failed", run_id=scen_id, baseline_run_id=base_id, error=str(exc))
                continue
            self.comparing[future] = (scen_id, str(base_id))

    def _compared(self, future: cf.Future[RunRecord]) -> None:
        """Journal a finished comparison (a failed one is logged; the next campaign run tries again)."""
        scen_id, base_id = self.comparing.pop(future)
        try:
            record = future.result()
        except BaseException as exc:  # noqa: BLE001  (bad output, worker lost)
            log_event("comparison_failed", run_id=scen_id, baseline_run_id=base_id,
                      error=f"{type(exc).__name__}: {exc}"[:2000])
            return
        entry = self.store.entries().get(scen_id)
        if entry is not None:
            self.store.append(entry.model_copy(update={"record": record}))

    def _maybe_write_dataset(self) -> None:
        if time.monotonic() - self._last_dataset >= DATASET_EVERY_S:
            self.store.write_dataset()
            self._last_dataset = time.monotonic()

    def _summary(self, done_before: int, adopted: int) -> CampaignSummary:
        entries = self.store.entries()
        counts = {"ok": 0, "failed": 0, "timeout": 0, "lost": 0}
        for run_id in self.by_id:
            entry = entries.get(run_id)
            if entry is not None:
                counts[entry.record.status if entry.record else "lost"] += 1
        return CampaignSummary(store=str(self.store.root), executor=self.executor.describe(),
                               planned=len(self.by_id), done_before=done_before, adopted=adopted,
                               executed=self.executed, retried=self.retried, rejected=len(self.plan.rejected),
                               redone_damaged=len(self.damaged),
                               skipped_journal_lines=len(self.store.skipped_lines),
                               wall_s=time.monotonic() - self.t0, **counts)
