"""The tables of an evaluation's loops: one row of metrics per loop (:func:`loop_row`), their summary
over seeds with intervals, the ablation ratios and the per-family table (:mod:`.evaluation` writes them)."""

from __future__ import annotations

import math
from typing import Any, Protocol

import pandas as pd

from ani.orchestrator.evaluate.stats import summarise_ci
from ani.orchestrator.loop.closed_loop import FAMILY_KPIS, LoopResult



class Arm(Protocol):
    """What a loop's row needs of its arm (:class:`ani.orchestrator.evaluate.evaluation.Arm`)."""

    name: str
    role: str
    label: str

#: metrics of a loop, each "higher is better" except none; summarised over seeds and normalised for ablations
METRICS = ("first_try_validity", "validity_after_repair", "diversity", "distinct_actions", "cascade_depth_mean",
           "cascade_depth_max", "chain_length_mean", "best_damage", "mean_damage", "mitigation_effectiveness",
           "best_damage_per_cost", "mean_damage_per_cost", "cost_mean", "lost_traffic_max", "impacted_share_max",
           "delay_term_max", "lost_traffic_mean", "impacted_share_mean", "delay_term_mean", "invalid_proposed")
#: the damage terms of :mod:`ani.orchestrator.measure.damage`, reported apart
DAMAGE_TERMS = ("lost_traffic", "impacted_share", "delay_term")
#: metrics tested between arms (paired on shared seeds); the first is the verdicts' metric
TESTED_METRICS = ("best_damage", "best_damage_per_cost", "mean_damage")
ABLATION_METRICS = ("validity_after_repair", "diversity", "cascade_depth_mean", "best_damage",
                    "mitigation_effectiveness")


def loop_row(label: str, arm: Arm, res: LoopResult) -> dict[str, Any]:
    """One row of ``loops.parquet``: the metrics of one loop."""
    it, ev = res.iterations, res.evaluated
    proposed = float(it["proposed"].sum()) if len(it) else 0.0
    counted = ev[ev["valid"].astype(bool)] if len(ev) and "valid" in ev else ev  # invalid: never counted
    ok = counted[counted["damage"].notna()] if len(counted) else counted
    mitigated = ev.loc[ev["mitigated"], "best_effectiveness"].dropna() if len(ev) else pd.Series(dtype=float)
    last = it.iloc[-1] if len(it) else {}
    return {
        "network": label, "arm": arm.name, "role": arm.role, "label": arm.label or arm.name,
        "seed": res.summary.config.seed, "budget": res.summary.config.budget, "budget_used": res.summary.budget_used,
        "first_try_validity": float(it["first_try_valid"].sum()) / proposed if proposed else math.nan,
        "validity_after_repair": float(it["valid"].sum()) / proposed if proposed else math.nan,
        "diversity": float(last.get("cumulative_diversity_jaccard", math.nan)) if len(it) else math.nan,
        "distinct_actions": float(last.get("cumulative_distinct_actions", 0)) if len(it) else 0.0,
        "cascade_depth_mean": float(ok["cascade_depth"].mean()) if len(ok) else math.nan,
        "cascade_depth_max": float(ok["cascade_depth"].max()) if len(ok) else math.nan,
        "chain_length_mean": float(ev["n_events"].mean()) if len(ev) else math.nan,
        # an arm that got no valid scenario simulated with its budget found nothing: 0, not a missing value
        # (a NaN would drop its seeds from the paired tests, in its favour); failed runs stay NaN
        "best_damage": float(ok["damage"].max()) if len(ok) else 0.0 if not len(counted) else math.nan,
        "found_nothing": not len(counted),
        "mean_damage": float(ok["damage"].mean()) if len(ok) else math.nan,
        "mitigation_effectiveness": float(mitigated.mean()) if len(mitigated) else math.nan,
        **_cost_terms(ok),
        "invalid_proposed": int(proposed - float(it["valid"].sum())) if len(it) else 0,
        "invalid_simulated": int(len(ev) - len(counted)),
        "llm_calls": int(it["llm_calls"].sum()) if len(it) else 0,
        "runs_simulated": res.summary.runs_simulated, "runs_reused": res.summary.runs_reused,
        "wall_s": res.summary.wall_s, "folder": str(res.folder),
    }


def _cost_terms(ok: pd.DataFrame) -> dict[str, float]:
    """Damage per unit of cost (best and mean), mean cost, and each damage term's max and mean."""
    def stat(col: str, how: str) -> float:
        vals = ok[col].dropna() if len(ok) and col in ok else pd.Series(dtype=float)
        return float(getattr(vals, how)()) if len(vals) else math.nan
    out = {"best_damage_per_cost": stat("damage_per_cost", "max"),
           "mean_damage_per_cost": stat("damage_per_cost", "mean"), "cost_mean": stat("cost", "mean")}
    for term in DAMAGE_TERMS:
        out.update({f"{term}_max": stat(term, "max"), f"{term}_mean": stat(term, "mean")})
    return out


def summarise(loops: pd.DataFrame) -> pd.DataFrame:
    """Per (network, arm) and over all networks per arm: mean, std, bootstrap 95 % interval
    (``_ci95_low``, ``_ci95_high``) and n of every metric over seeds."""
    return summarise_ci(loops, [m for m in METRICS if m in loops])


def ablation_table(loops: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each arm's metric divided by the reference arm's, per network (then the mean over networks)."""
    if loops.empty or reference not in set(loops["arm"]):
        return pd.DataFrame(columns=["network", "arm", "metric", "value", "reference", "normalised"])
    means = loops.groupby(["network", "arm"])[list(ABLATION_METRICS)].mean()
    rows = []
    for (net, arm), vals in means.iterrows():
        if (net, reference) not in means.index:
            continue
        ref = means.loc[(net, reference)]
        for m in ABLATION_METRICS:
            norm = vals[m] / ref[m] if ref[m] and math.isfinite(ref[m]) and ref[m] != 0 else math.nan
            rows.append({"network": net, "arm": arm, "metric": m, "value": vals[m], "reference": ref[m],
                         "normalised": norm})
    return pd.DataFrame(rows)


def family_table(scenarios: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, family): scenarios, mean damage, and the mean of each KPI Table 2 lists for the family."""
    if scenarios.empty or "family" not in scenarios:
        return pd.DataFrame()
    rows = []
    for (arm, fam), grp in scenarios.dropna(subset=["damage"]).groupby(["arm", "family"]):
        row = {"arm": arm, "family": fam, "scenarios": len(grp), "damage_mean": grp["damage"].mean()}
        row.update({f"{k}_mean": grp[k].mean() for k in FAMILY_KPIS.get(fam, ()) if k in grp})
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["ABLATION_METRICS", "DAMAGE_TERMS", "METRICS", "TESTED_METRICS", "ablation_table",
           "family_table", "loop_row", "summarise"]
