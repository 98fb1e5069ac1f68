"""The campaign store on its own: journal, crash repair, lock, environment pinning, adoption, dataset, export.

These tests write records the way workers do (``run.json`` in a run folder,
journal lines) without running ns-3; the campaign tests run the real thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from ani.orchestrator.campaign.plan import Campaign, CampaignError, RunMeta
from ani.orchestrator.execute.records import RunRecord, save_record
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.measure.summary import RunKpis
from ani.orchestrator.campaign.store import (CampaignStore, JournalEntry, current_environment, dataset_frame, export_dataset,
                                    store_status)
from campaign_helpers import ani, make_scenarios, write_campaign

CAMPAIGN = Campaign(name="t", topologies=["abilene"], scenarios={"files": ["*.json"]})


def _meta(run_id: str, **kw) -> RunMeta:
    return RunMeta(run_id=run_id, role=kw.pop("role", "scenario"), topology="abilene",
                   scenario_source="cut.json", overrides={"load_factor": 0.5}, seed=1, **kw)


RUN_KPIS = RunKpis(flows=110, tx_packets=1000, rx_packets=990, loss_ratio=0.01, throughput_bps=1e6,
                   mean_delay_s=0.01, max_p99_delay_s=0.02, no_route_packets=0, congested_links=0,
                   emerged_failures=0, cascade_depth=0)


def _comparison(impacted_flows: int, impacted_nodes: list[str]) -> ScenarioKpis:
    return ScenarioKpis(flows=110, impacted_flows=impacted_flows, lost_all_flows=0, impacted_nodes=impacted_nodes,
                        mean_delta_delay_s=None, max_delta_delay_s=None, baseline_loss_ratio=0.0,
                        scenario_loss_ratio=0.01, baseline_throughput_bps=1e6, scenario_throughput_bps=1e6,
                        disrupted_flows=0, unrecovered_flows=0, reroute_time_median_s=None,
                        reroute_time_max_s=None, convergence_time_s=None, congested_links=0)


def _record(root: Path, run_id: str, status: str = "ok", **kw) -> RunRecord:
    folder = root / "runs" / "Abilene" / f"cut-{run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    record = RunRecord(run_id=run_id, status=status, returncode=0 if status == "ok" else 1, folder=str(folder),
                       template="ospf_failure", template_digest="t" * 16, ns3_version="3.44.post0",
                       graph_name="Abilene", graph_digest="g" * 16, scenario_name="cut", scenario_digest="s" * 16,
                       seed=1, wall_s=0.5, stderr_tail="" if status == "ok" else "line 1\nboom\n",
                       repro_cmd=f"sh {folder}/run.sh",
                       kpis=RUN_KPIS if status == "ok" else None, **kw)
    save_record(record)
    return record


def _open(store: CampaignStore, planned: list[str], **env) -> None:
    store.open_for_run(CAMPAIGN, "campaign.yaml", current_environment().model_copy(update=env), planned)


def test_each_entry_is_a_line_on_disk_before_append_returns_and_the_last_one_wins(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path)
    _open(store, ["a", "b"])
    store.append(JournalEntry(kind="lost", meta=_meta("a"), error="worker lost", attempts=3, executor="local"))
    assert len(store.journal_path.read_text().splitlines()) == 1
    store.append(JournalEntry(kind="record", meta=_meta("a"), record=_record(tmp_path, "a"), executor="local"))
    store.close()
    again = CampaignStore(tmp_path)
    assert again.entries()["a"].kind == "record" and again.done() == {"a"}


def test_a_line_torn_by_a_crash_is_skipped_and_cut_before_the_next_append(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path)
    _open(store, ["a", "b"])
    store.append(JournalEntry(kind="record", meta=_meta("a"), record=_record(tmp_path, "a"), executor="local"))
    store.close()
    with store.journal_path.open("a") as fh:
        fh.write('{"schema_version": 1, "kind": "rec')  # what a SIGKILL in the middle of a write leaves
    reopened = CampaignStore(tmp_path)
    assert set(reopened.entries()) == {"a"}
    _open(reopened, ["a", "b"])
    reopened.append(JournalEntry(kind="record", meta=_meta("b"), record=_record(tmp_path, "b"), executor="local"))
    reopened.close()
    assert set(CampaignStore(tmp_path).entries()) == {"a", "b"}
    assert all(line.startswith("{") and line.endswith("}") for line in store.journal_path.read_text().splitlines())


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = CampaignStore(tmp_path)
    _open(first, [])
    with pytest.raises(CampaignError, match=f"in use by another campaign run \\(pid {os.getpid()}\\)"):
        _open(CampaignStore(tmp_path), [])
    first.close()
    second = CampaignStore(tmp_path)
    _open(second, [])
    second.close()


def test_results_of_another_ns3_version_or_image_are_never_mixed(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path)
    _open(store, [], ns3_version="3.43")
    store.close()
    with pytest.raises(CampaignError, match="holds results of ns-3 3.43.*never mixed"):
        _open(CampaignStore(tmp_path), [])
    other = CampaignStore(tmp_path / "other")
    _open(other, [], image="ani:1")
    other.close()
    with pytest.raises(CampaignError, match="Docker image ani:1"):
        _open(CampaignStore(tmp_path / "other"), [])


def test_the_cli_refuses_a_store_of_another_ns3_version_in_one_line(tmp_path: Path) -> None:
    make_scenarios(tmp_path)
    path = write_campaign(tmp_path, scenarios={"files": ["*.json"]})
    store = CampaignStore(tmp_path / "store")
    _open(store, [], ns3_version="3.43")
    store.close()
    proc = ani("campaign", "run", str(path), "--store", str(store.root), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "holds results of ns-3 3.43" in proc.stderr
    assert not store.journal_path.read_text()


def test_runs_finished_after_the_journal_was_last_written_are_adopted_from_run_json(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path)
    _open(store, ["a", "b", "c"])
    ra, rb = _record(tmp_path, "a"), _record(tmp_path, "b", status="failed")
    folders = {"a": Path(ra.folder), "b": Path(rb.folder), "c": tmp_path / "runs" / "Abilene" / "cut-c"}
    (folders["c"]).mkdir()
    (folders["c"] / "stdout.txt").write_text("a run that was killed: no run.json")
    adopted = store.reconcile([_meta("a"), _meta("b"), _meta("c")], folders)
    assert sorted(adopted) == ["a", "b"]
    assert store.done() == {"a", "b"} and store.done(retry_failed=True) == {"a"}
    assert store.entries()["a"].executor == "adopted"
    store.close()


def test_dataset_has_one_row_per_run_with_the_documented_columns(tmp_path: Path) -> None:
    store = CampaignStore(tmp_path)
    _open(store, ["a", "b", "c"])
    comparison = _comparison(4, ["Denver", "Houston"])
    store.append(JournalEntry(kind="record", meta=_meta("a", baseline_run_id="c"),
                              record=_record(tmp_path, "a", comparison=comparison), executor="local"))
    store.append(JournalEntry(kind="record", meta=_meta("b"), record=_record(tmp_path, "b", "failed"),
                              executor="local"))
    store.append(JournalEntry(kind="lost", meta=_meta("c", role="baseline"), error="KilledWorker", attempts=3,
                              executor="dask"))
    frame = dataset_frame(store)
    assert len(frame) == 3 and frame["run_id"].is_unique
    for column in ["run_id", "role", "topology", "scenario_source", "seed", "param_load_factor", "status",
                   "wall_s", "loss_ratio", "flows", "repro_cmd", "folder", "ns3_version", "cmp_impacted_flows"]:
        assert column in frame.columns, column
    row = frame.set_index("run_id")
    assert row.loc["a", "cmp_impacted_nodes"] == "Denver;Houston"
    assert row.loc["a", "folder"] == "runs/Abilene/cut-a"
    assert row.loc["c", "status"] == "lost" and pd.isna(row.loc["c", "loss_ratio"])
    assert pd.isna(row.loc["b", "loss_ratio"])
    parquet = pd.read_parquet(store.write_dataset())
    pd.testing.assert_frame_equal(parquet, frame)
    csv = pd.read_csv(export_dataset(store, tmp_path / "out" / "kpis.csv"))
    assert list(csv.columns) == list(frame.columns) and len(csv) == 3
    with pytest.raises(CampaignError, match="xlsx"):
        export_dataset(store, tmp_path / "kpis.xlsx")
    status = store_status(store)
    assert (status.planned, status.ok, status.failed, status.lost, status.remaining) == (3, 1, 1, 1, 1)
    assert [f.reason for f in status.failures] == ["boom", "KilledWorker"]
    store.close()
