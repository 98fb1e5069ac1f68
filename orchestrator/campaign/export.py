"""A campaign as an :class:`xarray.Dataset`: its axes are dimensions, each KPI a variable.

``ani campaign export STORE --format xarray --out FILE.nc|FILE.zarr`` (the ``xarray``
extra; ``.zarr`` also needs the ``zarr`` extra). SEM users get the shape they know
from ``get_results_as_xarray``: ``ds.loss_ratio.sel(load_factor=0.6).mean("seed")``.

Dimensions: every axis the campaign file writes as a list, in this order —
``topology`` (``topologies``), ``scenario`` (the scenario labels: file paths
relative to the campaign file, or ``generator:seed#i``), each parameter given as a
list under ``params`` (named as the parameter; ``param_<name>`` if it clashes
with a dimension above; booleans as ``true``/``false``), ``seed`` (``seeds``) and ``mitigation`` (``none`` plus
each set's name; only when the campaign has ``mitigations``). A parameter given as
a single value is fixed: it is an attribute, not a dimension.

One cell is one scenario run. Data variables, on every dimension:

* ``run_id`` and ``status`` (``ok``, ``failed``, ``timeout``, ``lost``, or
  ``missing``: the store has no run for that cell);
* the run's headline KPIs (:class:`~ani.orchestrator.measure.summary.RunKpis`:
  ``loss_ratio``, ``throughput_bps``, …), the scenario against its baseline
  (:class:`~ani.orchestrator.measure.kpis.ScenarioKpis`, prefixed ``cmp_``) and,
  when the campaign has baselines, the baseline run's own headline KPIs
  (prefixed ``baseline_``, with ``baseline_status``). Names and values are those
  of the store's KPI table (:func:`~ani.orchestrator.campaign.store.dataset_frame`);
  each variable has ``long_name`` and ``units`` from the KPI glossary.

A cell whose run failed, timed out, was lost or is missing is NaN in every KPI;
the counts are attributes (``cells``, ``cells_ok``, ``cells_failed``,
``cells_timeout``, ``cells_lost``, ``cells_missing``, ``baseline_runs_not_ok``).
Attributes also carry the campaign (``campaign``, ``campaign_json``), ``template``,
``template_digest``, ``ns3_version``, ``ani_version`` and every fixed template
parameter as ``param_<name>`` (the values the runs saw, from a run's
``spec.json``; booleans as 0/1). Only runs of the store's current plan are
exported (``runs_not_in_plan`` counts the others, e.g. of an edited grid).

netCDF files are netCDF-3 written by xarray's ``scipy`` engine (no system
library needed): integer coordinates become 32-bit (floats beyond 32 bits, e.g. a
seed of 2**32), strings character arrays.
"""

from __future__ import annotations

import json
import os
import shutil
import types
import typing
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ani.kg.safety import clip
from ani.orchestrator.campaign.plan import Campaign, CampaignError
from ani.orchestrator.campaign.store import CampaignManifest, CampaignStore, dataset_frame
from ani.orchestrator.measure.kpis import ScenarioKpis
from ani.orchestrator.measure.summary import RunKpis

if typing.TYPE_CHECKING:
    import xarray as xr

FORMATS = {".nc": "netcdf", ".zarr": "zarr"}
RESERVED_DIMS = ("topology", "scenario", "seed", "mitigation")

#: long name and units of each KPI (the README's KPI glossary; ``orchestrator/measure/kpis.py`` defines them)
RUN_KPI_ATTRS: dict[str, tuple[str, str]] = {
    "flows": ("demand flows (probe flows left out)", "1"),
    "tx_packets": ("send attempts, including sends refused for lack of a route", "1"),
    "rx_packets": ("packets received", "1"),
    "loss_ratio": ("loss ratio: (send attempts - received) / attempts", "1"),
    "throughput_bps": ("throughput: application bytes received x 8 / traffic window", "bit/s"),
    "mean_delay_s": ("mean one-way delay of the packets received", "s"),
    "max_p99_delay_s": ("largest 99th-percentile one-way delay of a flow", "s"),
    "no_route_packets": ("send attempts refused for lack of a route", "1"),
    "congested_links": ("congested link directions: utilisation >= 0.9 or any queue drop", "1"),
    "emerged_failures": ("failures that emerged in the twin (not injected)", "1"),
    "cascade_depth": ("cascade depth: longest causal chain of emerged failures", "1"),
}
CMP_KPI_ATTRS: dict[str, tuple[str, str]] = {
    "flows": ("flows compared", "1"),
    "impacted_flows": ("impacted flows: loss up > 1 point, or mean delay x1.1 and +1 ms, or everything lost", "1"),
    "lost_all_flows": ("flows that received in the baseline and nothing in the scenario", "1"),
    "mean_delta_delay_s": ("mean over flows of the change of mean delay, scenario - baseline", "s"),
    "max_delta_delay_s": ("largest change of a flow's mean delay, scenario - baseline", "s"),
    "baseline_loss_ratio": ("loss ratio of the baseline run (compared flows)", "1"),
    "scenario_loss_ratio": ("loss ratio of the scenario run (compared flows)", "1"),
    "baseline_throughput_bps": ("sum of flow throughputs in the baseline run", "bit/s"),
    "scenario_throughput_bps": ("sum of flow throughputs in the scenario run", "bit/s"),
    "disrupted_flows": ("disrupted demand flows: first packet sent after an event arrives > 2 ms later than in "
                        "the baseline, or never", "1"),
    "unrecovered_flows": ("disrupted demand flows of which nothing sent after the event arrived", "1"),
    "reroute_time_median_s": ("median reroute time: first delivery of a packet sent after the event - event "
                              "time (probe flows)", "s"),
    "reroute_time_max_s": ("largest reroute time", "s"),
    "convergence_time_s": ("convergence time: the largest reroute time", "s"),
    "congested_links": ("congested link directions in the scenario run", "1"),
    "not_measurable_flows": ("flows with fewer than 20 send attempts in the baseline or the scenario", "1"),
    "reroute_resolution_s": ("resolution of the reroute times (the probes' packet gap)", "s"),
}


def _numeric_fields(model: type[BaseModel]) -> list[str]:
    """Fields of ``model`` that hold a number (int or float, possibly None), in declaration order."""
    out = []
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation) if isinstance(field.annotation, types.UnionType) \
            else (field.annotation,)
        kinds = {a for a in args if a is not type(None)}
        if kinds and kinds <= {int, float} and name != "schema_version":
            out.append(name)
    return out


def kpi_attrs() -> dict[str, dict[str, str]]:
    """``variable -> {long_name, units}`` for every KPI variable of the dataset (before ``baseline_`` ones)."""
    out = {name: _attrs(name, RUN_KPI_ATTRS) for name in _numeric_fields(RunKpis)}
    for name in _numeric_fields(ScenarioKpis):
        attrs = _attrs(name, CMP_KPI_ATTRS)
        out[f"cmp_{name}"] = {**attrs, "long_name": f"{attrs['long_name']} (scenario against its baseline)"}
    return out


def _attrs(name: str, table: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The glossary's long name and units of ``name``; else units from its suffix (a KPI added later)."""
    if name in table:
        return {"long_name": table[name][0], "units": table[name][1]}
    units = "s" if name.endswith("_s") else "bit/s" if name.endswith("_bps") else "1"
    return {"long_name": name.replace("_", " "), "units": units}


# ---------------------------------------------------------------------- axes


def campaign_axes(campaign: Campaign, labels: list[str]) -> dict[str, tuple[str, list[Any]]]:
    """``dimension -> (column of the KPI table, coordinate values)``, in dimension order.

    ``labels`` are the scenario labels (the campaign file's sources expand to them only when planned).
    """
    axes: dict[str, tuple[str, list[Any]]] = {"topology": ("topology", list(dict.fromkeys(campaign.topologies))),
                                              "scenario": ("scenario_source", labels)}
    for name, value in campaign.params.items():
        if isinstance(value, list):
            values = list(dict.fromkeys(_normal(v) for v in value))
            axes[f"param_{name}" if name in RESERVED_DIMS else name] = (f"param_{name}", values)
    axes["seed"] = ("seed", list(dict.fromkeys(campaign.seed_list())))
    if campaign.mitigations:
        axes["mitigation"] = ("mitigation", ["none", *(m.name for m in campaign.mitigations)])
    return axes


def _normal(value: Any) -> Any:
    """A parameter value as a template's manifest reads it (``"0.5"`` is 0.5, ``"yes"`` is True)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in ("true", "yes", "on", "false", "no", "off"):
        return text in ("true", "yes", "on")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return value


def _scenario_labels(runs: pd.DataFrame, planned: list[str]) -> list[str]:
    """Scenario labels in plan order (first appearance among the planned run ids)."""
    by_id = dict(zip(runs["run_id"], runs["scenario_source"]))
    return list(dict.fromkeys(by_id[rid] for rid in planned if rid in by_id))


def _positions(runs: pd.DataFrame, axes: dict[str, tuple[str, list[Any]]]) -> np.ndarray:
    """Flat cell index of each run (-1: a value outside the campaign's axes)."""
    shape = tuple(len(values) for _, values in axes.values())
    index = np.zeros(len(runs), dtype=np.int64)
    outside = np.zeros(len(runs), dtype=bool)
    for (column, values), size in zip(axes.values(), shape):
        found = pd.Index(values, dtype=object).get_indexer(_column(runs, column).map(_normal).astype(object))
        outside |= found < 0
        index = index * size + np.maximum(found, 0)
    index[outside] = -1
    return index


def _column(runs: pd.DataFrame, column: str) -> pd.Series:
    if column == "mitigation":
        return runs["mitigation"].fillna("none") if column in runs else pd.Series("none", index=runs.index)
    return runs[column] if column in runs else pd.Series(None, index=runs.index, dtype=object)


# ---------------------------------------------------------------------- the dataset


def campaign_dataset(store: CampaignStore) -> "xr.Dataset":
    """The store's scenario runs as a Dataset (layout in the module docstring).

    Raises
    ------
    CampaignError
        Without xarray, without any scenario run, or when two runs of the plan fall into one cell.
    """
    xr = _xarray()
    manifest = store.manifest()
    frame = dataset_frame(store)
    in_plan = frame[frame["run_id"].isin(set(manifest.planned_run_ids))]
    runs = in_plan[in_plan["role"] == "scenario"].reset_index(drop=True)
    if runs.empty:  # a scenario axis of length 0 cannot be written (netCDF-3 reads it as the unlimited one)
        raise CampaignError(f"{store.root}: no scenario run of the campaign's plan has finished yet: nothing to "
                            "export")
    axes = campaign_axes(manifest.campaign, _scenario_labels(runs, manifest.planned_run_ids))
    cell = _positions(runs, axes)
    _check_unique(runs, cell)
    kept = runs[cell >= 0].reset_index(drop=True)
    cell = cell[cell >= 0]
    if manifest.campaign.baseline:
        kept = _with_baselines(kept, in_plan[in_plan["role"] == "baseline"])
    shape = tuple(len(v) for _, v in axes.values())
    variables = _variables(kept, cell, shape, list(axes), manifest.campaign.baseline)
    coords = {dim: _coordinate(values) for dim, (_, values) in axes.items()}
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs = _dataset_attrs(store, manifest, kept, ds, axes,
                              not_in_plan=len(frame) - len(in_plan), outside=len(runs) - len(kept))
    return ds


def _check_unique(runs: pd.DataFrame, cell: np.ndarray) -> None:
    taken = pd.Series(runs["run_id"].values, index=cell)[cell >= 0]
    twice = taken[taken.index.duplicated(keep=False)]
    if len(twice):
        raise CampaignError(f"runs {', '.join(twice.iloc[:2])} fall into the same cell of the campaign's axes; "
                            "the store's plan does not match its campaign")


def _with_baselines(runs: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with their baseline run's status and headline KPIs as ``baseline_*`` columns."""
    columns = ["status", *(c for c in _numeric_fields(RunKpis) if c in baselines)]
    base = baselines.set_index("run_id")[columns].add_prefix("baseline_")
    base.loc[base["baseline_status"] != "ok", base.columns[1:]] = np.nan
    return runs.join(base, on="baseline_run_id") if "baseline_run_id" in runs else runs


def _variables(runs: pd.DataFrame, cell: np.ndarray, shape: tuple[int, ...], dims: list[str],
               baseline: bool) -> dict[str, tuple[list[str], np.ndarray, dict[str, str]]]:
    """Every data variable: names and values as in the KPI table, NaN where a cell's run is not ok."""
    ok = (runs["status"] == "ok").to_numpy() if len(runs) else np.zeros(0, dtype=bool)
    out = {"run_id": (dims, _cube(runs.get("run_id"), cell, shape, "", ok=None), {"long_name": "run id"}),
           "status": (dims, _cube(runs.get("status"), cell, shape, "missing", ok=None),
                      {"long_name": "ok, failed, timeout, lost, or missing (no run in the store)"})}
    for name, attrs in kpi_attrs().items():
        out[name] = (dims, _cube(runs.get(name), cell, shape, np.nan, ok), attrs)
    if baseline:
        out["baseline_status"] = (dims, _cube(runs.get("baseline_status"), cell, shape, "missing", ok=None),
                                  {"long_name": "status of the cell's baseline run"})
        for name in _numeric_fields(RunKpis):
            attrs = _attrs(name, RUN_KPI_ATTRS)
            out[f"baseline_{name}"] = (dims, _cube(runs.get(f"baseline_{name}"), cell, shape, np.nan, None),
                                       {**attrs, "long_name": f"{attrs['long_name']}, in the baseline run"})
    return out


def _cube(values: pd.Series | None, cell: np.ndarray, shape: tuple[int, ...], fill: Any,
          ok: np.ndarray | None) -> np.ndarray:
    """An array of ``shape`` holding ``values`` at the flat ``cell`` positions (only where ``ok``), else ``fill``."""
    numeric = isinstance(fill, float)
    flat = np.full(int(np.prod(shape)), fill, dtype=float if numeric else object)
    if values is not None and len(values):
        data = pd.to_numeric(values, errors="coerce").to_numpy(float) if numeric \
            else values.fillna(fill).astype(str).to_numpy(object)
        where = cell if ok is None else cell[ok]
        flat[where] = data if ok is None else data[ok]
    return flat.reshape(shape)


def _coordinate(values: list[Any]) -> np.ndarray:
    """Coordinate values as numbers where they all are numbers, else as strings."""
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values)
    return np.asarray([str(v).lower() if isinstance(v, bool) else str(v) for v in values], dtype=object)


def _dataset_attrs(store: CampaignStore, manifest: CampaignManifest, runs: pd.DataFrame, ds: "xr.Dataset",
                   axes: dict[str, tuple[str, list[Any]]], not_in_plan: int, outside: int) -> dict[str, Any]:
    """Provenance, the counts of cells by status and the fixed parameters."""
    campaign, env = manifest.campaign, manifest.environment
    status = pd.Series(ds["status"].values.ravel())
    base = runs["baseline_status"] if "baseline_status" in runs else pd.Series(dtype=object)
    attrs: dict[str, Any] = {
        "title": f"ani campaign {campaign.name}", "campaign": campaign.name, "description": campaign.description,
        "campaign_json": campaign.model_dump_json(), "template": campaign.template,
        "template_digest": ", ".join(sorted(set(runs["template_digest"].dropna()))) if "template_digest" in runs
        else "", "ns3_version": env.ns3_version, "ani_version": env.ani_version, "image": env.image or "",
        "created_utc": manifest.created_utc, "updated_utc": manifest.updated_utc,
        "cells": int(status.size), "cells_missing": int((status == "missing").sum()),
        "baseline_runs_not_ok": int(base.dropna().ne("ok").sum()),
        "runs_not_in_plan": not_in_plan, "runs_outside_axes": outside,
    }
    attrs |= {f"cells_{s}": int((status == s).sum()) for s in ("ok", "failed", "timeout", "lost")}
    varied = {column.removeprefix("param_") for column, _ in axes.values() if column.startswith("param_")}
    fixed = {k: v for k, v in fixed_params(store, runs, campaign).items() if k not in varied and k != "seed"}
    attrs |= {f"param_{k}": int(v) if isinstance(v, bool) else v for k, v in sorted(fixed.items())
              if isinstance(v, (int, float, str))}
    return attrs


def fixed_params(store: CampaignStore, runs: pd.DataFrame, campaign: Campaign) -> dict[str, Any]:
    """Every template parameter as the runs saw it (a run's ``spec.json``); the campaign's own
    single values when no run folder is readable."""
    for folder in runs.loc[runs["status"] == "ok", "folder"].dropna() if "folder" in runs else []:
        try:
            params = json.loads((store.root / folder / "spec.json").read_text())["params"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(params, dict):
            return params
    return {k: v for k, v in campaign.params.items() if not isinstance(v, list)}


# ---------------------------------------------------------------------- writing


def _xarray() -> types.ModuleType:
    try:
        import xarray
    except ImportError:
        raise CampaignError("the xarray export needs xarray: pip install 'ani-twin[xarray]'") from None
    return xarray


def write_campaign_dataset(store: CampaignStore, output: str | Path) -> "xr.Dataset":
    """Write :func:`campaign_dataset` of ``store`` to ``output`` (``.nc``: netCDF-3; ``.zarr``: a Zarr store);
    return the Dataset written.

    Raises
    ------
    CampaignError
        For another extension, a missing package, or an output that cannot be written (one line naming it).
    """
    output = Path(output)
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise CampaignError(f"{output}: the xarray export writes .nc (netCDF) or .zarr files")
    if kind == "zarr":
        _require_zarr(output)
    ds = campaign_dataset(store)
    try:
        _write_netcdf(ds, output) if kind == "netcdf" else _write_zarr(ds, output)
    except OSError as exc:
        raise CampaignError(f"cannot write {output} ({exc.strerror or exc})") from None
    return ds


def _require_zarr(output: Path) -> None:
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise CampaignError(f"{output}: writing .zarr needs zarr: pip install 'ani-twin[zarr]' "
                            "(or write a .nc file)") from None
    if output.exists() and not any((output / m).exists() for m in ("zarr.json", ".zgroup")):
        raise CampaignError(f"{output} exists and is not a Zarr store: give a new path")


def _write_netcdf(ds: "xr.Dataset", output: Path) -> None:
    """netCDF-3 through a temporary file in the same folder, renamed into place (readers never see half)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        _fit_netcdf3(ds).to_netcdf(tmp, engine="scipy")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _fit_netcdf3(ds: "xr.Dataset") -> "xr.Dataset":
    """netCDF-3 has no 64-bit integers: coordinates and attributes beyond 32 bits become floats (exact to 2**53)."""
    def wide(values: np.ndarray) -> bool:
        return values.dtype.kind in "iu" and values.size > 0 and bool((np.abs(values) > 2**31 - 1).any())

    out = ds.assign_coords({name: ds[name].astype(float) for name in ds.coords if wide(ds[name].values)})
    out.attrs = {k: float(v) if isinstance(v, int) and abs(v) > 2**31 - 1 else v for k, v in ds.attrs.items()}
    return out


def _write_zarr(ds: "xr.Dataset", output: Path) -> None:
    """A Zarr store written next to ``output``, then swapped in for the old one (if any)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with warnings.catch_warnings():  # zarr 3: consolidated metadata is not in the v3 spec (xarray reads it)
            warnings.filterwarnings("ignore", message="Consolidated metadata")
            ds.to_zarr(tmp, mode="w")
        shutil.rmtree(output, ignore_errors=True)
        os.replace(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def describe(ds: "xr.Dataset") -> str:
    """One line: the dimensions and their sizes, the KPI count and the cells not ok."""
    dims = " x ".join(f"{d} {n}" for d, n in ds.sizes.items())
    return clip(f"{dims}; {len(kpi_attrs())} KPIs; {ds.attrs['cells_ok']}/{ds.attrs['cells']} cells ok "
                f"(failed {ds.attrs['cells_failed']}, timeout {ds.attrs['cells_timeout']}, "
                f"lost {ds.attrs['cells_lost']}, missing {ds.attrs['cells_missing']})", 400)
