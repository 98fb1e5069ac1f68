"""Self-contained HTML reports of a closed loop and of an evaluation, from their Parquet tables.

Plots are drawn with matplotlib (Agg, no display) and embedded as PNG data
URIs: one file, no network access, readable offline. The figures:

* damage versus budget: best-so-far damage per scenario run, per generator
  (mean over seeds, band = min..max), one panel per network;
* ablations normalised to the full framework (the paper's Figure 6);
* cascade-depth distributions (measured emerged-failure chains) per generator;
* KPI time series of the most damaging scenario around its failure: network
  throughput dip and recovery, loss and delay per interval against the
  baseline (and the best mitigation), event times and reroute times marked
  (from the runs' ``interval_kpis.parquet`` and ``reroutes.parquet``);
* mitigation effectiveness per strategy and per scenario family.

Plot colours are the only saturated pixels of the page (text and tables are
grey), which is what the headless-browser test measures.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ani.kg.errors import ProjectError
from ani.orchestrator.loop.feedback import ScenarioRow
from ani.orchestrator.evaluate.event_marks import events_text, full_bins, mark_events
from ani.orchestrator.evaluate import report_stats
from ani.orchestrator.measure.summary import ensure_kpi_tables

ABLATION_CLIP = 3.0
DEPTH_BINS = [(0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 10**9, ">10")]


class ReportError(ProjectError, ValueError):
    """A report cannot be made from this folder (the message names what is missing)."""


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ReportError("the HTML report needs the 'report' extra: pip install 'ani-twin[report]'") from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig: Any) -> str:
    """A matplotlib figure as a PNG data URI (the figure is closed)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _img(uri: str | None, alt: str) -> str:
    if not uri:
        return f'<p class="note">({html.escape(alt)}: no data)</p>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    if df is None or df.empty:
        return '<p class="note">(no rows)</p>'
    return df.to_html(index=False, float_format=lambda x: f"{x:.{digits}g}", na_rep="–", border=0, escape=True)


def _page(title: str, sections: Sequence[tuple[str, str]], source: str | Path = "") -> str:
    from ani.orchestrator.evaluate.html_page import render_page  # the Jinja2 page (report extra)

    return render_page(title, sections, source=source)


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def _scenarios(folder: Path, name: str) -> pd.DataFrame:
    """A table of :class:`~ani.orchestrator.loop.feedback.ScenarioRow` rows; ReportError naming missing columns."""
    df = _read(folder, name)
    missing = [c for c in ScenarioRow.model_fields if c not in df.columns]
    if len(df) and missing:
        raise ReportError(f"{folder / name}.parquet: columns {', '.join(missing)} missing "
                          "(written by another version of ani? run the loop again)")
    return df


# ------------------------------------------------------------------ time series
def network_series(run_folder: Path, flows: set[int] | None = None) -> pd.DataFrame:
    """Per interval, over the network's flows (``flows``: only these ids): throughput (bit/s),
    loss ratio of the packets sent in the interval, and mean delay (s)."""
    df = pd.read_parquet(ensure_kpi_tables(run_folder) / "interval_kpis.parquet")
    if flows is not None:
        df = df[df["flow"].isin(flows)]
    if "tx_failed" not in df.columns:  # tables written before refused sends were binned
        df = df.assign(tx_failed=0)
    g = df.groupby("t_start_s")[["rx_bytes", "tx_packets", "tx_failed", "rx_by_send", "rx_packets",
                                 "delay_sum_s"]].sum()
    attempts = g["tx_packets"] + g["tx_failed"]
    width = float(pd.Series(g.index).diff().median()) if len(g) > 1 else 1.0
    out = pd.DataFrame({"throughput_bps": g["rx_bytes"] * 8 / width,
                        "loss_ratio": (1 - g["rx_by_send"] / attempts.where(attempts > 0)),
                        "mean_delay_s": g["delay_sum_s"] / g["rx_packets"].where(g["rx_packets"] > 0)})
    return full_bins(out.reset_index(), run_folder, width)  # a bin the traffic stopped inside is partial


def timeseries_figure(scenario_folder: str, baseline_folder: str, mitigated_folder: str | None = None,
                      title: str = "") -> str | None:
    """Throughput, loss and delay per interval around the failure; None when a table is missing."""
    try:
        base_flows = set(pd.read_parquet(ensure_kpi_tables(baseline_folder) / "flow_kpis.parquet")["flow"])
        runs = [("baseline", baseline_folder, "#7f7f7f"), ("scenario", scenario_folder, "#d62728")]
        if mitigated_folder:
            runs.append(("best mitigation", mitigated_folder, "#2ca02c"))
        series = [(label, network_series(Path(f), base_flows), c) for label, f, c in runs]
        end = float(series[0][1]["t_start_s"].max())
        series = [(label, df[df["t_start_s"] <= end], c) for label, df, c in series]
    except (OSError, KeyError, ValueError, ProjectError):
        return None
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(12, 6.5), sharex=True)
    for label, s, color in series:
        axes[0].plot(s["t_start_s"], s["throughput_bps"] / 1e6, color=color, label=label, lw=1.6)
        axes[1].plot(s["t_start_s"], 100 * s["loss_ratio"], color=color, lw=1.6)
        axes[2].plot(s["t_start_s"], 1000 * s["mean_delay_s"], color=color, lw=1.6)
    marks = mark_events(axes, scenario_folder)  # injected, emerged and reconvergence, told apart
    _reroute_note(axes[0], Path(scenario_folder))
    axes[0].set_ylabel("throughput Mb/s")
    axes[1].set_ylabel("loss %")
    axes[2].set_ylabel("delay ms")
    axes[2].set_xlabel("simulated time (s); intervals that end after the traffic stopped are left out")
    axes[0].legend(handles=axes[0].get_legend_handles_labels()[0] + marks, loc="lower left", fontsize=8)
    axes[0].set_title(title, fontsize=10)
    return figure_uri(fig)


def _reroute_note(ax: Any, folder: Path) -> None:
    path = folder / "reroutes.parquet"
    if not path.is_file():
        return
    rr = pd.read_parquet(path)
    times = rr.loc[rr["disrupted"], "reroute_time_s"].dropna() if len(rr) else pd.Series(dtype=float)
    if len(times):
        ax.text(0.99, 0.05, f"reroute time median {1000 * times.median():.0f} ms, max {1000 * times.max():.0f} ms "
                f"({len(times)} flows)", transform=ax.transAxes, ha="right", fontsize=8)


# ---------------------------------------------------------------------- figures
def budget_curves_figure(curves: pd.DataFrame) -> str | None:
    """Best-so-far damage versus scenario runs, per arm; one panel per network."""
    if curves.empty:
        return None
    plt = _plt()
    nets = list(dict.fromkeys(curves["network"]))
    fig, axes = plt.subplots(1, len(nets), figsize=(min(4.2 * len(nets), 16), 3.8), squeeze=False, sharey=True)
    colors = _colors(sorted(set(curves["arm"])))
    for ax, net in zip(axes[0], nets):
        sub = filled_curves(curves[curves["network"] == net])
        for arm, grp in sub.groupby("arm"):
            stats = grp.groupby("budget_index")["best_so_far"].agg(["mean", "min", "max"])
            ax.plot(stats.index, stats["mean"], marker="o", ms=3, color=colors[arm],
                    label=f"{arm} (n={grp['seed'].nunique()} seeds; band min..max)")
            ax.fill_between(stats.index, stats["min"], stats["max"], color=colors[arm], alpha=0.15)
        ax.set_title(net, fontsize=10)
        ax.set_xlabel("scenario runs (budget)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0][0].set_ylabel("best damage so far")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return figure_uri(fig)


def filled_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Best-so-far damage of every (arm, seed) at every budget index up to the largest one the arm ran.

    A loop that spent less than the others of its arm (its generator ran out) keeps its last
    best, so averages over seeds compare equal budgets; an arm with a smaller budget (a capped
    LLM) ends where its budget ended.
    """
    if curves.empty:
        return curves
    tops = curves.groupby("arm")["budget_index"].max()
    parts = []
    for (arm, seed), grp in curves.groupby(["arm", "seed"]):
        best = grp.set_index("budget_index")["best_so_far"].reindex(range(1, int(tops[arm]) + 1)).ffill()
        parts.append(pd.DataFrame({"arm": arm, "seed": seed, "budget_index": best.index, "best_so_far": best.values}))
    return pd.concat(parts, ignore_index=True).dropna(subset=["best_so_far"])


def _colors(names: Sequence[str]) -> dict[str, Any]:
    cmap = _plt().get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def ablation_figure(ablation: pd.DataFrame, reference: str, arms: Sequence[str]) -> str | None:
    """Grouped bars: each metric of each arm (mean over networks) divided by the reference arm's (= 1).

    Bars are cut at ``ABLATION_CLIP`` with the ratio written on top (a reference near zero
    makes ratios explode)."""
    if ablation.empty:
        return None
    df = ablation[ablation["arm"].isin([reference, *arms])]
    sums = df.groupby(["metric", "arm"])[["value", "reference"]].mean()
    mean = (sums["value"] / sums["reference"].where(sums["reference"] != 0)).unstack("arm")
    if mean.empty:
        return None
    plt = _plt()
    order = [a for a in [reference, *arms] if a in mean.columns]
    fig, ax = plt.subplots(figsize=(12, 3.8))
    width = 0.8 / len(order)
    colors = _colors(order)
    for k, arm in enumerate(order):
        xs = [i + k * width for i in range(len(mean.index))]
        vals = mean[arm].fillna(0.0)
        ax.bar(xs, vals.clip(upper=ABLATION_CLIP), width, label=arm, color=colors[arm])
        for x, v in zip(xs, vals):
            if v > ABLATION_CLIP:
                ax.text(x, ABLATION_CLIP, f"{v:.0f}x", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="#333", lw=0.8)
    ax.set_ylim(0, ABLATION_CLIP * 1.12)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(mean.index))], list(mean.index), fontsize=8)
    ax.set_ylabel(f"relative to {reference}")
    ax.legend(fontsize=8)
    return figure_uri(fig)


def cascade_figure(scenarios: pd.DataFrame, by: str = "arm") -> str | None:
    """Share of scenarios per measured cascade depth, per generator (and the events per scenario)."""
    if scenarios.empty or "cascade_depth" not in scenarios:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"wspace": 0.45})
    for ax, col, title in ((a1, "cascade_depth", "measured cascade depth (emerged failures)"),
                           (a2, "n_events", "events per scenario (causal chain length)")):
        data = scenarios.dropna(subset=[col])
        data = data.assign(**{col: data[col].map(_depth_bin)}) if col == "cascade_depth" else data
        counts = data.groupby([by, col]).size().unstack(col, fill_value=0)
        if col == "cascade_depth":
            counts = counts[[b for _, _, b in DEPTH_BINS if b in counts.columns]]
        share = counts.div(counts.sum(axis=1), axis=0)
        bottom = pd.Series(0.0, index=share.index)
        cmap = plt.get_cmap("viridis")
        for i, depth in enumerate(share.columns):
            ax.barh(share.index, share[depth], left=bottom, color=cmap(i / max(1, len(share.columns) - 1)),
                    label=str(depth))
            bottom += share[depth]
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("share of scenarios")
        ax.legend(fontsize=7, title="depth" if col == "cascade_depth" else "events", title_fontsize=7,
                  bbox_to_anchor=(1.0, 1.0), loc="upper left")
    return figure_uri(fig)


def _depth_bin(depth: float) -> str:
    return next(label for lo, hi, label in DEPTH_BINS if lo <= depth <= hi)


def mitigation_figure(mitigations: pd.DataFrame) -> str | None:
    """Effectiveness (relative damage reduction) per strategy and per scenario family: mean ± std, each point."""
    if mitigations.empty or "effectiveness" not in mitigations:
        return None
    ok = mitigations.dropna(subset=["effectiveness"])
    if ok.empty:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    for ax, col in zip(axes, ("strategy", "family")):
        if col not in ok:
            continue
        groups = list(ok.groupby(col)["effectiveness"])
        names = [str(n) for n, _ in groups]
        colors = _colors(names)
        for i, (name, vals) in enumerate(groups):
            ax.bar(i, vals.mean(), yerr=vals.std() if len(vals) > 1 else 0, color=colors[str(name)], alpha=0.7,
                   capsize=3)
            ax.annotate(f"n={len(vals)}", (i, vals.max()), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=7)
            ax.scatter([i] * len(vals), vals, color="#333", s=8, zorder=3)
        ax.set_xticks(range(len(names)), names, fontsize=8, rotation=15)
        ax.axhline(0, color="#333", lw=0.8)
        ax.set_title(f"per {col}", fontsize=10)
    axes[0].set_ylabel("effectiveness (damage reduction)")
    return figure_uri(fig)


def iterations_figure(iterations: pd.DataFrame, evaluated: pd.DataFrame) -> str | None:
    """Loop: damage per scenario run with best so far; diversity, validity and mitigation per iteration."""
    if iterations.empty:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 3.6))
    if len(evaluated):
        a1.scatter(evaluated["budget_index"], evaluated["damage"], color="#1f77b4", s=18, label="scenario")
        a1.step(evaluated["budget_index"], evaluated["best_so_far"], where="post", color="#d62728",
                label="best so far")
    a1.set_xlabel("scenario runs")
    a1.set_ylabel("damage")
    a1.legend(fontsize=8)
    for col, color in (("diversity_jaccard", "#2ca02c"), ("first_try_validity", "#ff7f0e"),
                       ("validity_after_repair", "#9467bd"), ("mitigation_effectiveness_mean", "#8c564b"),
                       ("mean_damage", "#1f77b4")):
        a2.plot(iterations["iteration"], iterations[col], marker="o", color=color, label=col)
    a2.set_xlabel("iteration")
    a2.legend(fontsize=7)
    for ax in (a1, a2):
        ax.xaxis.get_major_locator().set_params(integer=True)
    return figure_uri(fig)


# ------------------------------------------------------------------------ pages
def _best_series(scenarios: pd.DataFrame, mitigations: pd.DataFrame, title: str) -> str | None:
    ok = scenarios.dropna(subset=["damage"]) if len(scenarios) else scenarios
    if ok.empty:
        return None
    best = ok.sort_values("damage", ascending=False).iloc[0]
    mitigated = None
    if len(mitigations) and "effectiveness" in mitigations:
        mine = mitigations[(mitigations["scenario_digest"] == best["digest"])].dropna(subset=["effectiveness"])
        if len(mine):
            mitigated = mine.sort_values("effectiveness", ascending=False).iloc[0]["folder"]
    events = ", ".join(f"{e['event_type']} {e['target']}@{e['timestamp']:g}s" for e in json.loads(best["events"]))
    return timeseries_figure(best["folder"], best["baseline_folder"], mitigated,
                             f"{title}: {best['name']} (damage {best['damage']:.2f}) — {events}"[:160])


def loop_report(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write ``report.html`` (default) for the loop in ``folder``; returns its path."""
    folder = Path(folder)
    if not (folder / "loop.json").is_file():
        raise ReportError(f"{folder}: no loop.json (not a loop folder)")
    summary = json.loads((folder / "loop.json").read_text())
    it, mit, arch = (_read(folder, n) for n in ("iterations", "mitigations", "archive"))
    ev = _scenarios(folder, "evaluated")
    cfg = summary["config"]
    head = (f"<p>{summary['network']} ({summary['nodes']} nodes, {summary['links']} links), generator "
            f"<code>{html.escape(cfg['generator'])}</code>, {len(it)} iterations, {summary['budget_used']} scenario "
            f"runs ({summary['runs_simulated']} ns-3 runs simulated, {summary['runs_reused']} reused), "
            f"{summary['wall_s']:.0f} s. Damage = lost traffic + impacted-flow share + delay increase / 50 ms "
            f"(0..3).</p>")
    cols = ["name", "family", "damage", "loss_excess", "impacted_share", "mean_delta_delay_ms", "cascade_depth",
            "best_strategy", "best_effectiveness", "novelty", "archive_reason"]
    sections = [
        ("Summary", head + _img(iterations_figure(it, ev), "damage and quality per iteration")),
        ("Per iteration", _table(it.drop(columns=["wall_s"], errors="ignore"))),
        ("Most damaging scenario around its failure", _img(_best_series(ev, mit, "most damaging"), "time series")),
        ("Cascade depth", _img(cascade_figure(ev.assign(arm=cfg["generator"])), "cascade depth")),
        ("Mitigation effectiveness", _img(mitigation_figure(mit), "mitigation effectiveness")
         + _table(mit[[c for c in ("scenario_name", "candidate", "status", "damage_unmitigated", "damage_mitigated",
                                   "effectiveness", "rationale") if c in mit]] if len(mit) else mit)),
        ("Archive", _table(arch.assign(events=arch["events"].map(events_text))[
            [c for c in ["name", "events", *cols[1:]] if c in arch]] if len(arch) else arch)),
    ]
    out = Path(output) if output else folder / "report.html"
    out.write_text(_page(f"Closed loop on {summary['network']}", sections, folder))
    return out


def evaluation_report(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write ``report.html`` (default) for the evaluation in ``folder``; returns its path."""
    folder = Path(folder)
    if not (folder / "eval.json").is_file():
        raise ReportError(f"{folder}: no eval.json (not an evaluation folder)")
    info = json.loads((folder / "eval.json").read_text())
    tables = {n: _read(folder, n) for n in ("loops", "summary", "curves", "mitigations", "families", "ablation",
                                            "budget", "mitigation_families", "gap_summary")}
    tables["scenarios"] = _scenarios(folder, "scenarios")
    from ani.orchestrator.evaluate.reach import reach_html  # pulls in the generators: only for evaluations

    reference = "llm" if "llm" in info["arms_run"] else "causal-walk"
    ablations = [a for a in info["arms_run"] if a.startswith("llm-")] or \
        [a for a in info["arms_run"] if a != reference]
    sections = [
        ("Setup", _setup_html(info)),
        ("Verdicts", report_stats.verdicts_html(info)),
        ("Damage: raw, per unit of intervention cost, and its terms (all networks; mean [95 % CI])",
         report_stats.damage_ci_html(tables["summary"], _table)),
        ("Paper quantities (mean [95 % CI])",
         report_stats.paper_html(tables["summary"], tables["budget"], tables["mitigation_families"], _table)),
        ("Optimality gap", report_stats.gap_html(info, tables["gap_summary"], _table)),
        ("What each arm could reach (step-0 options, fluid tier)", reach_html(_read(folder, "reach"), _table)),
        ("Damage per budget", _img(budget_curves_figure(tables["curves"]), "damage versus budget")),
        ("Ablations normalised to the full framework (Figure 6)",
         _img(ablation_figure(tables["ablation"], reference, ablations), "ablation")
         + f'<p class="note">Reference: <code>{reference}</code> = 1.</p>'),
        ("Cascade depth", _img(cascade_figure(tables["scenarios"]), "cascade depth distributions")),
        ("Most damaging scenario around its failure",
         _img(_best_series(tables["scenarios"], tables["mitigations"], "most damaging"), "time series")),
        ("Mitigation effectiveness", _img(mitigation_figure(tables["mitigations"]), "mitigation effectiveness")),
        ("Metrics per generator (all networks; mean and std over seeds)", _summary_html(tables["summary"])),
        ("Scenario families (Table 2) and their KPIs", _table(tables["families"])),
    ]
    out = Path(output) if output else folder / "report.html"
    out.write_text(_page("Adversarial network imagination: evaluation", sections, folder))
    return out


def _setup_html(info: dict[str, Any]) -> str:
    cfg = info["config"]
    nets = pd.DataFrame([{k: n[k] for k in ("label", "nodes", "links", "routers")}
                         | {"capacity_scale": n["params"].get("capacity_scale"),
                            "packet_bytes": n["params"].get("packet_bytes")} for n in info["networks"]])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in info.get("notes", []))
    cmd = html.escape(info.get("command") or "(library call)")
    return (f"<p>Command: <code>{cmd}</code>; {info['wall_s']:.0f} s; {info['loops']} loops; "
            f"{info['runs_simulated']} ns-3 runs simulated, {info['runs_reused']} reused. Seeds {cfg['seeds']}, "
            f"budget {cfg['budget']} scenario runs per loop in {cfg['iterations']} iterations; arms "
            f"{', '.join(info['arms_run'])}.</p>{_table(nets)}" + (f"<ul class='note'>{notes}</ul>" if notes else ""))


def _summary_html(summary: pd.DataFrame) -> str:
    if summary.empty:
        return _table(summary)
    rows = summary[summary["network"] == "all"]
    out = pd.DataFrame({"arm": rows["arm"], "role": rows["role"], "n (loops; mean ± std over them)": rows["loops"]})
    for m in ("first_try_validity", "validity_after_repair", "diversity", "cascade_depth_mean", "best_damage",
              "mean_damage", "mitigation_effectiveness"):
        out[m] = [_pm(a, b) for a, b in zip(rows[f"{m}_mean"], rows[f"{m}_std"])]
    return _table(out)


def _pm(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.3g} ± {std:.2g}" if math.isfinite(std) else f"{mean:.3g}"
