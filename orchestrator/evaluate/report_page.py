"""``ani report FOLDER``: one self-contained HTML page for a run, a campaign store, a loop or an evaluation.

:func:`write_report` looks at what ``FOLDER`` holds and re-renders its report from
its files (nothing is simulated again), so a report can be made at any time —
after installing the ``report`` extra, after a campaign grew, or to refresh an old one:

* a **run folder** (``spec.json`` + ``run.json``): headline KPIs against the baseline,
  the traffic sizing line, the network map (:mod:`~ani.orchestrator.evaluate.network_map`),
  throughput/loss/delay per interval, the events (injected and emerged), the disrupted flows
  and the links whose load changed most;
* a **campaign store** (``campaign.json``): run counts, failures with their reproduce
  commands, per-scenario KPIs with n, and a map per scenario;
* a **loop** (``loop.json``) or an **evaluation** (``eval.json``): the pages of
  :mod:`~ani.orchestrator.evaluate.report_html`.

Every page comes from the same Jinja2 template (:mod:`~ani.orchestrator.evaluate.html_page`).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ani.orchestrator.evaluate import report_html as R
from ani.orchestrator.evaluate.event_marks import run_events
from ani.orchestrator.evaluate.network_map import MapError, find_baseline, read_utilisation, write_map
from ani.orchestrator.measure.run_csv import read_run_csv

Kind = Literal["run", "campaign", "loop", "evaluation"]
MAX_CAMPAIGN_MAPS = 6


def folder_kind(folder: str | Path) -> Kind:
    """What ``folder`` holds; raises :class:`~ani.orchestrator.evaluate.report_html.ReportError` if nothing known."""
    folder = Path(folder)
    for name, kind in (("loop.json", "loop"), ("eval.json", "evaluation"), ("campaign.json", "campaign")):
        if (folder / name).is_file():
            return kind  # type: ignore[return-value]
    if (folder / "spec.json").is_file() and (folder / "run.json").is_file():
        return "run"
    raise R.ReportError(f"{folder}: not a run folder (spec.json + run.json), a campaign store (campaign.json), "
                        "a loop (loop.json) or an evaluation (eval.json)")


def write_report(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write the report of ``folder`` (default ``folder/report.html``) from its files; return its path."""
    folder = Path(folder)
    kind = folder_kind(folder)
    if kind == "loop":
        return R.loop_report(folder, output)
    if kind == "evaluation":
        return R.evaluation_report(folder, output)
    out = Path(output) if output else folder / "report.html"
    page = run_page(folder) if kind == "run" else campaign_page(folder)
    out.write_text(page)
    return out


# ------------------------------------------------------------------------ helpers
def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _map_html(folder: Path, baseline: Path | None) -> str:
    try:
        files = write_map(folder, baseline)
    except (MapError, OSError, KeyError, ValueError) as exc:
        return f'<p class="note">(no map: {html.escape(str(exc))})</p>'
    return R._img(_png_uri(files.png), "network map") + (
        f'<p class="note">Also as <code>{html.escape(str(files.png))}</code> and '
        f'<code>{html.escape(str(files.svg))}</code>.</p>')


def _fmt(x: Any, scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x * scale:.{digits}g}{unit}"
    return str(x)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- run
KPI_ROWS = [("loss_ratio", "loss", 100, " %"), ("throughput_bps", "throughput", 1e-6, " Mb/s"),
            ("mean_delay_s", "mean delay", 1e3, " ms"), ("max_p99_delay_s", "p99 delay (worst flow)", 1e3, " ms"),
            ("no_route_packets", "packets without a route", 1, ""), ("congested_links", "congested links", 1, ""),
            ("emerged_failures", "emerged failures", 1, ""), ("cascade_depth", "cascade depth", 1, "")]
COMPARISON_ROWS = [("impacted_flows", "impacted flows"), ("lost_all_flows", "flows that lost everything"),
                   ("not_measurable_flows", "flows too thin to measure"), ("disrupted_flows", "disrupted flows"),
                   ("unrecovered_flows", "unrecovered flows"), ("reroute_time_median_s", "reroute time, median (s)"),
                   ("reroute_time_max_s", "reroute time, max (s)"), ("mean_delta_delay_s", "delay increase, mean (s)")]


def sizing_line(spec: dict[str, Any]) -> str:
    """The run's traffic sizing, as ``ani run`` prints it ('' when the spec has none)."""
    from ani.ns3_scenarios.sizing import TrafficSizing

    if not spec.get("sizing"):
        return ""
    params = spec.get("params", {})
    return (TrafficSizing.model_validate(spec["sizing"]).line()
            + f" (capacity_scale {params.get('capacity_scale')}, packet_bytes {params.get('packet_bytes')})")


def _kpi_table(run: dict[str, Any], base: dict[str, Any] | None) -> str:
    cols = {"KPI": [label for _, label, _, _ in KPI_ROWS]}
    if base is not None:
        cols["baseline"] = [_fmt((base.get("kpis") or {}).get(k), s, u) for k, _, s, u in KPI_ROWS]
    cols["scenario"] = [_fmt((run.get("kpis") or {}).get(k), s, u) for k, _, s, u in KPI_ROWS]
    table = R._table(pd.DataFrame(cols))
    comp = run.get("comparison") or {}
    if comp:
        rows = pd.DataFrame({"against the baseline": [label for _, label in COMPARISON_ROWS],
                             "value": [_fmt(comp.get(k), digits=4) for k, _ in COMPARISON_ROWS]})
        nodes = ", ".join(comp.get("impacted_nodes", [])) or "–"
        table += R._table(rows) + f"<p>Impacted nodes: {html.escape(nodes)}</p>"
    return table


def _events_html(folder: Path) -> str:
    ev = run_events(folder)
    if ev.empty:
        return '<p class="note">(no events: a baseline)</p>'
    return R._table(ev) + ('<p class="note"><b>origin</b>: <i>injected</i> by the scenario, or <i>emerged</i> in '
                           "the twin (a cascade; depth = length of its causal chain).</p>")


def _disrupted_html(folder: Path, limit: int = 10) -> str:
    path = folder / "reroutes.parquet"
    if not path.is_file():
        return '<p class="note">(no reroute table)</p>'
    r = pd.read_parquet(path)
    hit = r[r["disrupted"]].sort_values("reroute_time_s", ascending=False).head(limit) if len(r) else r
    if hit.empty:
        return "<p>No flow was disrupted.</p>"
    flows = read_run_csv(folder / "flows.csv", ["flow", "src", "dst"])
    keep = [c for c in ("flow", "src", "dst", "class", "reroute_time_s", "outage_s") if c in hit or c in flows]
    return R._table(hit.merge(flows, on="flow")[keep])


def _links_html(folder: Path, baseline: Path | None, spec: dict[str, Any], limit: int = 12) -> str:
    if baseline is None:
        return '<p class="note">(no baseline to compare with)</p>'
    from ani.orchestrator.evaluate.network_map import read_incidents, utilisation_window

    try:
        u = read_utilisation(folder, baseline, utilisation_window(spec, read_incidents(folder, spec)))
    except (OSError, KeyError, ValueError) as exc:
        return f'<p class="note">(no link table: {html.escape(str(exc))})</p>'
    top = u.reindex(u["delta"].abs().sort_values(ascending=False).index).head(limit)
    return R._table(top.reset_index().rename(columns={"index": "link"}))


def run_page(folder: Path) -> str:
    """The HTML page of one run folder (and its baseline, found next to it)."""
    spec, run = _read_json(folder / "spec.json"), _read_json(folder / "run.json")
    baseline = find_baseline(folder)
    base = _read_json(baseline / "run.json") if baseline else None
    scen = spec.get("scenario", {})
    events = "; ".join(f"{e['event_type']} {e['target']} @{e['timestamp']:g}s" for e in scen.get("events", []))
    head = (f"<p>Scenario <b>{html.escape(str(scen.get('name')))}</b> on {html.escape(str(spec.get('graph_name')))} "
            f"({len(spec.get('nodes', []))} nodes, {len(spec.get('links', []))} links), template "
            f"<code>{html.escape(str(spec.get('template')))}</code>, seed {spec.get('params', {}).get('seed')}, "
            f"run <code>{html.escape(str(run.get('run_id')))}</code>: <b>{html.escape(str(run.get('status')))}</b>"
            f"{' against baseline <code>' + html.escape(baseline.name) + '</code>' if baseline else ''}.</p>"
            f"<p>Events: {html.escape(events or 'none')}</p>"
            f"<p>{html.escape(scen.get('description') or '')}</p>"
            f"<p class='note'>{html.escape(sizing_line(spec))}</p>")
    if run.get("status") != "ok":
        head += (f"<pre>{html.escape(run.get('stderr_tail', ''))}</pre>"
                 f"<p>Reproduce: <code>{html.escape(str(run.get('repro_cmd')))}</code></p>")
        return R._page(f"Run {scen.get('name')} on {spec.get('graph_name')}", [("Run", head)], folder)
    series = R.timeseries_figure(str(folder), str(baseline), None, str(scen.get("name"))) if baseline else None
    sections = [("Run", head), ("Headline KPIs", _kpi_table(run, base)),
                ("Network map", _map_html(folder, baseline)),
                ("Throughput, loss and delay per interval", R._img(series, "time series")),
                ("Events", _events_html(folder)), ("Disrupted flows (worst first)", _disrupted_html(folder)),
                ("Links whose utilisation changed most", _links_html(folder, baseline, spec))]
    return R._page(f"Run {scen.get('name')} on {spec.get('graph_name')}", sections, folder)


# ---------------------------------------------------------------------- campaign
SUMMARY_KPIS = ["loss_ratio", "throughput_bps", "mean_delay_s", "cmp_impacted_flows", "cmp_reroute_time_median_s"]


def _per_scenario(df: pd.DataFrame) -> pd.DataFrame:
    """Per (topology, scenario file, mitigation, role): n ok runs and mean ± std of the headline KPIs."""
    ok = df[df["status"] == "ok"]
    keys = [k for k in ("topology", "scenario_source", "mitigation", "role") if k in ok]
    if ok.empty or not keys:
        return pd.DataFrame()
    rows = []
    for key, grp in ok.groupby(keys, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n (ok runs)"] = len(grp)
        for k in SUMMARY_KPIS:
            if k in grp:
                v = pd.to_numeric(grp[k], errors="coerce").dropna()
                row[k] = "–" if v.empty else (f"{v.mean():.3g} ± {v.std():.2g}" if len(v) > 1 else f"{v.mean():.3g}")
        rows.append(row)
    return pd.DataFrame(rows)


def _loss_figure(df: pd.DataFrame) -> str | None:
    """Loss ratio of each scenario run per scenario file: points, mean ± std bar, n written above."""
    ok = df[(df["status"] == "ok") & (df["role"] == "scenario")] if "role" in df else df.iloc[0:0]
    if ok.empty or "loss_ratio" not in ok:
        return None
    plt = R._plt()
    groups = list(ok.groupby(["topology", "scenario_source", "mitigation"], dropna=False)["loss_ratio"])
    fig, ax = plt.subplots(figsize=(12, 3.6))
    for i, (key, vals) in enumerate(groups):
        vals = 100 * pd.to_numeric(vals, errors="coerce").dropna()
        ax.errorbar(i, vals.mean(), yerr=vals.std() if len(vals) > 1 else 0, fmt="s", color="#d62728", capsize=4)
        ax.scatter([i] * len(vals), vals, color="#1f77b4", s=10, zorder=3)
        ax.annotate(f"n={len(vals)}", (i, vals.max() if len(vals) else 0), xytext=(0, 6), textcoords="offset points",
                    ha="center", fontsize=7)
    ax.set_xticks(range(len(groups)), [" / ".join(str(k) for k in key if k) for key, _ in groups], fontsize=7,
                  rotation=15)
    ax.set_ylabel("loss %")
    ax.set_title("loss of each scenario run (points), mean ± std (red), n runs each", fontsize=10)
    return R.figure_uri(fig)


def _campaign_maps(store: Any, df: pd.DataFrame) -> str:
    ok = df[(df["status"] == "ok") & (df["role"] == "scenario")] if "role" in df else df.iloc[0:0]
    if ok.empty:
        return '<p class="note">(no finished scenario run)</p>'
    folders = {r["run_id"]: store.root / r["folder"] for _, r in df.iterrows() if isinstance(r.get("folder"), str)}
    first = ok.sort_values("seed").drop_duplicates(["topology", "scenario_source", "mitigation"])
    parts = []
    for _, r in first.head(MAX_CAMPAIGN_MAPS).iterrows():
        base = folders.get(r.get("baseline_run_id")) if isinstance(r.get("baseline_run_id"), str) else None
        parts.append(f"<p><b>{html.escape(str(r['scenario_source']))}</b> on {html.escape(str(r['topology']))}, "
                     f"seed {r['seed']}{' (' + html.escape(str(r['mitigation'])) + ')' if r['mitigation'] else ''}"
                     f"</p>" + _map_html(folders[r["run_id"]], base))
    more = len(ok.drop_duplicates(["topology", "scenario_source", "mitigation"])) - len(parts)
    return "".join(parts) + (f'<p class="note">({more} more scenarios: <code>ani report</code> on their run '
                             "folders)</p>" if more > 0 else "")


def campaign_page(folder: Path) -> str:
    """The HTML page of a campaign store (read-only; safe while a campaign runs)."""
    from ani.orchestrator.campaign.store import CampaignStore, dataset_frame, store_status

    store = CampaignStore(folder)
    st = store_status(store)
    df = dataset_frame(store)
    env = store.manifest().environment
    head = (f"<p>Campaign <b>{html.escape(st.name)}</b> in <code>{html.escape(st.store)}</code>: {st.planned} runs "
            f"planned; ok {st.ok}, failed {st.failed}, timeout {st.timeout}, lost {st.lost}, remaining "
            f"{st.remaining}. ns-3 {html.escape(st.ns3_version)}"
            f"{', image ' + html.escape(st.image) if st.image else ''}; ani {html.escape(str(env.ani_version))}.</p>")
    fails = pd.DataFrame([f.model_dump() for f in st.failures])
    sections = [("Campaign", head), ("Per scenario (mean ± std over the ok runs; n each)",
                                     R._table(_per_scenario(df))),
                ("Loss per scenario run", R._img(_loss_figure(df), "loss per scenario")),
                ("Maps (first seed of each scenario)", _campaign_maps(store, df)),
                ("Failures", R._table(fails) if len(fails) else "<p>None.</p>")]
    return R._page(f"Campaign {st.name}", sections, folder)
