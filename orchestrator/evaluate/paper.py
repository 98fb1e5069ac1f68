"""The paper's quantities with 95 % intervals (Figures 4-6, Tables 1-2), from the evaluation's tables.

* :data:`PAPER_METRICS` -- per arm: validity first try and after repair, diversity (cumulative
  Jaccard), true cascade depth (failures that emerged in the twin, not chain length), best damage,
  mitigation effectiveness; mean and bootstrap 95 % interval over loops (``summary.parquet``);
* :func:`budget_table` -- damage per budget: per (network or ``all``, arm, k) the best *valid* damage
  within the first k scenario runs, mean and interval over seeds (``budget.parquet``);
* :func:`mitigation_families` -- mitigation effectiveness per scenario family (Table 2), all arms
  pooled and per strategy: mean and interval over the mitigated scenarios
  (``mitigation_families.parquet``). The unit is a mitigated scenario; scenarios of one loop share
  a network and a seed, so the interval is narrower than one over independent loops would be.
"""

from __future__ import annotations

import math

import pandas as pd

from ani.orchestrator.evaluate.gap import best_by_budget
from ani.orchestrator.evaluate.stats import bootstrap_ci, summarise_ci

PAPER_METRICS = ("first_try_validity", "validity_after_repair", "diversity", "cascade_depth_mean",
                 "best_damage", "best_damage_per_cost", "mitigation_effectiveness")


def budget_table(scenarios: pd.DataFrame, budget: int, loops: pd.DataFrame | None = None) -> pd.DataFrame:
    """``budget.parquet``: best valid damage within k scenario runs, mean [95 % CI] over seeds."""
    best = best_by_budget(scenarios, budget, loops)
    return summarise_ci(best, ["best_damage"], keys=("network", "arm", "role", "budget")) if len(best) else best


def _cell(vals: pd.Series) -> dict[str, float]:
    vals = pd.to_numeric(vals, errors="coerce").dropna()
    lo, hi = bootstrap_ci(vals)
    return {"n": len(vals), "effectiveness_mean": vals.mean() if len(vals) else math.nan,
            "effectiveness_ci95_low": lo, "effectiveness_ci95_high": hi}


def mitigation_families(scenarios: pd.DataFrame, mitigations: pd.DataFrame) -> pd.DataFrame:
    """Per family: the best strategy's effectiveness per mitigated scenario (``strategy = "best"``), and
    each strategy's effectiveness per candidate run, all arms pooled; mean and 95 % interval."""
    rows = []
    if len(scenarios) and "mitigated" in scenarios:
        hit = scenarios[scenarios["mitigated"].astype(bool)]
        for fam, grp in hit.groupby("family"):
            rows.append({"family": fam, "strategy": "best", **_cell(grp["best_effectiveness"])})
    if len(mitigations) and {"family", "strategy", "effectiveness"} <= set(mitigations):
        ok = mitigations[mitigations["status"] == "ok"] if "status" in mitigations else mitigations
        for (fam, strat), grp in ok.groupby(["family", "strategy"]):
            rows.append({"family": fam, "strategy": strat, **_cell(grp["effectiveness"])})
    return pd.DataFrame(rows, columns=["family", "strategy", "n", "effectiveness_mean", "effectiveness_ci95_low",
                                       "effectiveness_ci95_high"])


def ci_text(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``mean [lo, hi]``, or ``–`` when there is no value."""
    if mean is None or not math.isfinite(mean):
        return "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def paper_table(summary: pd.DataFrame, network: str = "all") -> pd.DataFrame:
    """Per arm, each of :data:`PAPER_METRICS` as ``mean [95 % CI]`` text (one network, or all pooled)."""
    if summary.empty:
        return pd.DataFrame()
    rows = summary[summary["network"] == network]
    out = pd.DataFrame({"arm": rows["arm"].to_numpy(), "loops": rows["loops"].to_numpy()})
    for m in PAPER_METRICS:
        if f"{m}_mean" in rows:
            out[m] = [ci_text(r[f"{m}_mean"], r[f"{m}_ci95_low"], r[f"{m}_ci95_high"]) for _, r in rows.iterrows()]
    return out


def budget_text(budget: pd.DataFrame, network: str = "all") -> pd.DataFrame:
    """Arms x budgets: best damage within k runs as ``mean [95 % CI]`` text."""
    if budget.empty:
        return pd.DataFrame()
    rows = budget[budget["network"] == network]
    wide = {}
    for _, r in rows.iterrows():
        wide.setdefault(r["arm"], {})[f"k = {int(r['budget'])}"] = ci_text(
            r["best_damage_mean"], r["best_damage_ci95_low"], r["best_damage_ci95_high"])
    return pd.DataFrame([{"arm": a, **v} for a, v in wide.items()])


__all__ = ["PAPER_METRICS", "budget_table", "budget_text", "ci_text", "mitigation_families", "paper_table"]
