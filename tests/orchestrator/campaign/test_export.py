"""``ani campaign export --format xarray``: the campaign's axes as dimensions, each KPI a variable.

The slow tests run real campaigns on ns-3 (Abilene, short runs) and check the
exported file, reopened with xarray, cell by cell against the store's own KPI
table (``kpis.parquet``). The fast tests build stores the way workers write them
(records and journal lines, no ns-3), as ``test_store.py`` does.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ani.orchestrator.campaign.export import campaign_dataset, kpi_attrs, write_campaign_dataset
from ani.orchestrator.campaign.plan import Campaign, CampaignError, RunMeta
from ani.orchestrator.campaign.store import CampaignStore, JournalEntry, current_environment
from ani.orchestrator.cli import main
from ani.orchestrator.execute.records import RunRecord, save_record
from ani.orchestrator.measure.summary import RunKpis
from campaign_helpers import CRASH_SEED, CUTS, SHORT, ani, make_scenarios, write_campaign

xr = pytest.importorskip("xarray", reason="the xarray extra is not installed: pip install 'ani-twin[xarray]'")

DIMS = ("topology", "scenario", "load_factor", "seed", "mitigation")
STEER = [{"name": "steer", "apply": [{"kind": "set_cost", "target": "Denver-Kansas_City", "value": 100,
                                      "at_s": 0.3}]}]


# ---------------------------------------------------------------------- real campaigns (ns-3)


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Abilene, 2 cuts x load_factor 0.4/0.6 x seeds 1/2 x (unmitigated, steer), with baselines: 20 real runs."""
    folder = make_scenarios(tmp_path_factory.mktemp("grid"))
    path = write_campaign(folder, name="grid", scenarios={"files": ["*.json"]},
                          params={**SHORT, "load_factor": [0.4, 0.6]}, seeds=[1, 2], baseline=True,
                          mitigations=STEER)
    proc = ani("campaign", "run", str(path), "--store", str(folder / "store"), "--workers", "2", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "20 planned" in proc.stdout and "ok 20, failed 0" in proc.stdout
    return folder / "store"


def _cell(ds: xr.Dataset, row: pd.Series) -> xr.Dataset:
    mitigation = row["mitigation"] if isinstance(row["mitigation"], str) else "none"
    return ds.sel(topology=row["topology"], scenario=row["scenario_source"], load_factor=row["param_load_factor"],
                  seed=row["seed"], mitigation=mitigation)


def _same(a: object, b: object) -> bool:
    a, b = float(a), float(b)  # type: ignore[arg-type]
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.ns3
@pytest.mark.slow
def test_every_cell_holds_the_kpis_of_its_run_as_the_store_table_has_them(grid_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.nc"
    proc = ani("campaign", "export", str(grid_store), "--format", "xarray", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "topology 1 x scenario 2 x load_factor 2 x seed 2 x mitigation 2" in proc.stdout
    assert "16/16 cells ok" in proc.stdout
    table = pd.read_parquet(grid_store / "kpis.parquet")
    with xr.open_dataset(out) as ds:
        assert tuple(ds["loss_ratio"].dims) == DIMS
        assert list(ds["scenario"].values) == ["cut-chicago.json", "cut-denver.json"]
        assert list(ds["load_factor"].values) == [0.4, 0.6] and list(ds["seed"].values) == [1, 2]
        assert list(ds["mitigation"].values) == ["none", "steer"]
        scenarios = table[table["role"] == "scenario"]
        baselines = table[table["role"] == "baseline"].set_index("run_id")
        assert len(scenarios) == ds["run_id"].size == 16
        kpis = list(kpi_attrs())
        for _, row in scenarios.iterrows():
            cell = _cell(ds, row)
            assert str(cell["run_id"].values) == row["run_id"] and str(cell["status"].values) == "ok"
            for name in kpis:
                assert _same(cell[name].values, row[name]), (row["run_id"], name)
            base = baselines.loc[row["baseline_run_id"]]
            for name in RunKpis.model_fields:
                assert _same(cell[f"baseline_{name}"].values, base[name]), (row["run_id"], name)
        assert int(ds["cmp_impacted_flows"].min()) > 0, "every cut hurts some flows (the cell is not empty)"
        _each_cell_is_the_run_its_files_say(ds, grid_store)
        assert (ds["loss_ratio"].sel(load_factor=0.6) != ds["loss_ratio"].sel(load_factor=0.4)).any()
        assert ds["throughput_bps"].attrs["units"] == "bit/s" and ds["mean_delay_s"].attrs["units"] == "s"
        assert ds["loss_ratio"].attrs["units"] == "1" and "attempts" in ds["loss_ratio"].attrs["long_name"]
        attrs = ds.attrs
        assert attrs["campaign"] == "grid" and attrs["ns3_version"] == table["ns3_version"].iloc[0]
        assert attrs["template_digest"] == table["template_digest"].iloc[0] and attrs["template"] == "ospf_failure"
        assert (attrs["cells"], attrs["cells_ok"], attrs["cells_failed"], attrs["cells_missing"]) == (16, 16, 0, 0)
        assert attrs["param_observe_s"] == 0.5 and attrs["param_warmup_s"] == 0.2
        assert "param_load_factor" not in attrs and "param_seed" not in attrs
        assert json.loads(attrs["campaign_json"])["params"]["load_factor"] == [0.4, 0.6]


def _each_cell_is_the_run_its_files_say(ds: xr.Dataset, store: Path) -> None:
    """Independently of the KPI table: each cell's run folder (``spec.json``, ``run.json``) holds the parameter,
    seed, mitigation and cut of the cell's coordinates, and the cell's KPIs are its ``run.json``'s."""
    folders = {json.loads(p.read_text())["run_id"]: p.parent for p in store.glob("runs/*/*/run.json")}
    cut_of = {name: events[0]["target"] for name, events in CUTS.items()}
    for cell in ds["run_id"].stack(cell=ds["run_id"].dims):
        folder = folders[str(cell.values)]
        spec, record = (json.loads((folder / f).read_text()) for f in ("spec.json", "run.json"))
        assert spec["params"]["load_factor"] == float(cell["load_factor"])
        assert spec["params"]["seed"] == int(cell["seed"]) == record["seed"]
        assert bool(spec["mitigations"]) == (str(cell["mitigation"].values) == "steer")
        assert spec["scenario"]["events"][0]["target"] == cut_of[str(cell["scenario"].values)]
        here = ds.sel(topology="abilene", scenario=str(cell["scenario"].values), load_factor=float(cell["load_factor"]),
                      seed=int(cell["seed"]), mitigation=str(cell["mitigation"].values))
        for name, value in record["kpis"].items():
            assert _same(here[name].values, np.nan if value is None else value), (folder, name)
        for name, value in record["comparison"].items():
            if f"cmp_{name}" in here:
                assert _same(here[f"cmp_{name}"].values, np.nan if value is None else value), (folder, name)


@pytest.mark.ns3
@pytest.mark.slow
def test_zarr_holds_the_same_values_as_netcdf(grid_store: Path, tmp_path: Path) -> None:
    pytest.importorskip("zarr", reason="the zarr extra is not installed: pip install 'ani-twin[zarr]'")
    write_campaign_dataset(CampaignStore(grid_store), tmp_path / "k.nc")
    proc = ani("campaign", "export", str(grid_store), "--out", str(tmp_path / "k.zarr"), cwd=tmp_path)
    assert proc.returncode == 0 and "16/16 cells ok" in proc.stdout, proc.stderr
    with xr.open_dataset(tmp_path / "k.nc") as nc, xr.open_zarr(tmp_path / "k.zarr") as zarr:
        assert nc.sizes == zarr.sizes and nc.attrs == zarr.attrs
        for name in ("run_id", "status"):
            assert [str(v) for v in nc[name].values.ravel()] == [str(v) for v in zarr[name].values.ravel()]
        for name in kpi_attrs():
            np.testing.assert_array_equal(nc[name].values, zarr[name].values)
    again = write_campaign_dataset(CampaignStore(grid_store), tmp_path / "k.zarr")
    with xr.open_zarr(tmp_path / "k.zarr") as zarr:
        assert zarr.sizes == again.sizes, "a Zarr store is replaced by a new export"
    assert not list(tmp_path.glob(".*.tmp")), "no temporary store left behind"


@pytest.mark.ns3
@pytest.mark.slow
def test_runs_missing_from_the_store_are_nan_and_counted(grid_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(grid_store, store)
    lines = (store / "journal.jsonl").read_text().splitlines()
    gone = [json.loads(line)["meta"]["run_id"] for line in lines
            if json.loads(line)["meta"]["role"] == "scenario"][:2]
    (store / "journal.jsonl").write_text("".join(line + "\n" for line in lines
                                                 if json.loads(line)["meta"]["run_id"] not in gone))
    ds = campaign_dataset(CampaignStore(store))
    assert (ds.attrs["cells_missing"], ds.attrs["cells_ok"]) == (2, 14)
    missing = ds["status"] == "missing"
    assert int(missing.sum()) == 2 and set(ds["run_id"].values[missing.values]) == {""}
    assert bool(ds["loss_ratio"].where(missing).isnull().all()) and int(ds["loss_ratio"].count()) == 14


@pytest.mark.ns3
@pytest.mark.slow
def test_a_failed_run_is_nan_in_every_kpi_and_counted(fault_template: Path, tmp_path: Path) -> None:
    make_scenarios(tmp_path)
    path = write_campaign(tmp_path, template=str(fault_template), scenarios={"files": ["cut-denver.json"]},
                          params={**SHORT, "load_factor": [0.5]}, seeds=[1, CRASH_SEED], baseline=True)
    assert ani("campaign", "run", str(path), "--store", "store", "--workers", "2", cwd=tmp_path).returncode == 0
    proc = ani("campaign", "export", "store", "--format", "xarray", "--out", "k.nc", cwd=tmp_path)
    assert proc.returncode == 0 and "1/2 cells ok (failed 1," in proc.stdout, proc.stdout + proc.stderr
    with xr.open_dataset(tmp_path / "k.nc") as ds:
        assert tuple(ds["loss_ratio"].dims) == ("topology", "scenario", "load_factor", "seed")
        assert (ds.attrs["cells_failed"], ds.attrs["cells_ok"], ds.attrs["baseline_runs_not_ok"]) == (1, 1, 1)
        crashed, fine = ds.sel(seed=CRASH_SEED).squeeze(), ds.sel(seed=1).squeeze()
        assert str(crashed["status"].values) == "failed" and str(crashed["baseline_status"].values) == "failed"
        assert len(str(crashed["run_id"].values)) > 0, "the failed run is named (its repro command is in the store)"
        for name in [*kpi_attrs(), *(f"baseline_{k}" for k in RunKpis.model_fields)]:
            assert math.isnan(float(crashed[name])), name
        assert float(fine["flows"]) > 0 and float(fine["baseline_flows"]) > 0 and float(fine["cmp_flows"]) > 0


# ---------------------------------------------------------------------- stores built without ns-3


def _kpis(loss: float) -> RunKpis:
    return RunKpis(flows=10, tx_packets=1000, rx_packets=int(1000 * (1 - loss)), loss_ratio=loss,
                   throughput_bps=1e6, mean_delay_s=0.01, max_p99_delay_s=0.02, no_route_packets=0,
                   congested_links=1, emerged_failures=0, cascade_depth=0)


def _entry(root: Path, run_id: str, lf: float, seed: int, status: str = "ok", extra: dict | None = None,
           **meta: object) -> JournalEntry:
    folder = root / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps({"params": {"observe_s": 0.5, "load_factor": lf, "seed": seed,
                                                             "ecmp": True}}))
    record = RunRecord(run_id=run_id, status=status, returncode=0, folder=str(folder), template="ospf_failure",
                       template_digest="t" * 16, ns3_version="3.44.post0", graph_name="Abilene",
                       graph_digest="g" * 16, scenario_name="cut", scenario_digest="s" * 16, seed=seed, wall_s=0.1,
                       repro_cmd="sh run.sh", kpis=_kpis(lf / 10) if status == "ok" else None)
    save_record(record)
    return JournalEntry(kind="record", record=record, executor="local",
                        meta=RunMeta(run_id=run_id, role="scenario", topology="abilene", scenario_source="cut.json",
                                     overrides={"observe_s": 0.5, "load_factor": lf, **(extra or {})}, seed=seed,
                                     **meta))


def _store(root: Path, entries: list[JournalEntry], planned: list[str], params: dict | None = None) -> CampaignStore:
    campaign = Campaign(name="t", topologies=["abilene"], scenarios={"files": ["*.json"]}, baseline=False,
                        params=params or {"observe_s": 0.5, "load_factor": [0.4, 0.6]}, seeds=[1, 2])
    store = CampaignStore(root)
    store.open_for_run(campaign, "campaign.yaml", current_environment(), planned)
    for entry in entries:
        store.append(entry)
    store.close()
    return CampaignStore(root)


def test_cells_follow_the_campaign_axes_and_only_ok_runs_carry_values(tmp_path: Path) -> None:
    entries = [_entry(tmp_path, "a", 0.4, 1), _entry(tmp_path, "b", 0.6, 2, status="failed"),
               _entry(tmp_path, "c", 0.6, 1), _entry(tmp_path, "old", 0.8, 1)]
    ds = campaign_dataset(_store(tmp_path, entries, ["a", "b", "c", "d"]))
    assert dict(ds.sizes) == {"topology": 1, "scenario": 1, "load_factor": 2, "seed": 2}
    lr = ds["loss_ratio"].squeeze(("topology", "scenario"))
    assert float(lr.sel(load_factor=0.4, seed=1)) == 0.04 and float(lr.sel(load_factor=0.6, seed=1)) == 0.06
    assert math.isnan(float(lr.sel(load_factor=0.6, seed=2))), "a failed run has no KPI values"
    assert math.isnan(float(lr.sel(load_factor=0.4, seed=2))), "no run in the store: NaN"
    status = ds["status"].squeeze(("topology", "scenario"))
    assert [[str(s) for s in row] for row in status.values] == [["ok", "missing"], ["ok", "failed"]]
    assert (ds.attrs["cells_ok"], ds.attrs["cells_failed"], ds.attrs["cells_missing"]) == (2, 1, 1)
    assert ds.attrs["runs_not_in_plan"] == 1, "the run of an older grid point is left out and counted"
    assert ds.attrs["param_observe_s"] == 0.5 and ds.attrs["param_ecmp"] == 1 and "baseline_flows" not in ds


def test_values_written_as_text_in_the_campaign_file_meet_the_values_the_runs_saw(tmp_path: Path) -> None:
    params = {"observe_s": 0.5, "load_factor": ["0.4", "0.6"], "ecmp": ["yes", False]}  # as the template reads them
    entries = [_entry(tmp_path, "a", 0.6, 2, extra={"ecmp": True}), _entry(tmp_path, "b", 0.4, 1, extra={"ecmp": False})]
    ds = campaign_dataset(_store(tmp_path, entries, ["a", "b"], params))
    assert list(ds["load_factor"].values) == [0.4, 0.6] and list(ds["ecmp"].values) == ["true", "false"]
    assert ds.attrs["cells_ok"] == 2 and ds.attrs["runs_outside_axes"] == 0
    assert str(ds["run_id"].sel(load_factor=0.6, seed=2, ecmp="true").squeeze().values) == "a"
    assert str(ds["run_id"].sel(load_factor=0.4, seed=1, ecmp="false").squeeze().values) == "b"


def test_integers_beyond_32_bits_survive_netcdf3(tmp_path: Path) -> None:
    seed = 2**32 + 1
    store = _store(tmp_path / "s", [_entry(tmp_path / "s", "a", 0.4, seed)], ["a"])
    manifest = json.loads(store.manifest_path.read_text())
    manifest["campaign"]["seeds"] = [1, seed]
    store.manifest_path.write_text(json.dumps(manifest))
    write_campaign_dataset(CampaignStore(store.root), tmp_path / "k.nc")
    with xr.open_dataset(tmp_path / "k.nc") as ds:
        assert list(ds["seed"].values) == [1, seed] and ds.attrs["cells_ok"] == 1
        assert float(ds["loss_ratio"].sel(seed=seed, load_factor=0.4).squeeze()) == 0.04


def test_export_errors_are_one_line_naming_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path / "s", [_entry(tmp_path / "s", "a", 0.4, 1)], ["a"])
    runner = CliRunner()

    def export(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, ["campaign", "export", str(store.root), *args])
        assert "Traceback" not in result.output and not isinstance(result.exception, (KeyError, OSError))
        return result.exit_code, result.output

    code, out = export("--format", "hdf5", "--out", str(tmp_path / "k.nc"))
    assert code == 2 and "Invalid value for '--format'" in out
    code, out = export("--format", "xarray", "--out", str(tmp_path / "k.csv"))
    assert code == 2 and "k.csv: xarray writes .nc or .zarr files" in out
    code, out = export("--out", str(tmp_path / "k.xlsx"))
    assert code == 2 and "k.xlsx: export writes .csv, .parquet, .nc, .zarr files" in out
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for name in ("k.nc", "k.csv"):
        code, out = export("--out", str(blocker / name))
        assert code == 2 and f"cannot write {blocker / name}" in out, out
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    (tmp_path / "notzarr.zarr").mkdir()
    code, out = export("--out", str(tmp_path / "notzarr.zarr"))
    assert code == 2 and "exists and is not a Zarr store" in out
    monkeypatch.setitem(sys.modules, "zarr", None)  # a fake: zarr not installed (it is, for the other tests)
    code, out = export("--out", str(tmp_path / "new.zarr"))
    assert code == 2 and "pip install 'ani-twin[zarr]'" in out and not (tmp_path / "new.zarr").exists()
    monkeypatch.setitem(sys.modules, "xarray", None)  # a fake: xarray not installed
    code, out = export("--out", str(tmp_path / "k.nc"))
    assert code == 2 and "pip install 'ani-twin[xarray]'" in out
    code, out = export("--out", str(tmp_path / "k.csv"))
    assert code == 0 and (tmp_path / "k.csv").is_file(), "the table export needs no xarray"


def test_the_library_refuses_another_extension_and_a_store_without_a_scenario_run(tmp_path: Path) -> None:
    store = _store(tmp_path / "s", [_entry(tmp_path / "s", "a", 0.4, 1)], ["a"])
    with pytest.raises(CampaignError, match=r"k\.h5: the xarray export writes \.nc"):
        write_campaign_dataset(store, tmp_path / "k.h5")
    empty = _store(tmp_path / "e", [], ["a"])
    with pytest.raises(CampaignError, match="no scenario run of the campaign's plan has finished yet"):
        write_campaign_dataset(empty, tmp_path / "k.nc")
    assert not (tmp_path / "k.nc").exists()
