"""The report's sections for the statistics: verdicts, damage with intervals, per cost, per term, invalid apart."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

DAMAGE_COLUMNS = ("best_damage", "best_damage_per_cost", "cost_mean", "lost_traffic_max", "impacted_share_max",
                  "delay_term_max", "invalid_proposed")


def _ci(row: pd.Series, m: str) -> str:
    mean = row.get(f"{m}_mean", math.nan)
    if mean is None or not math.isfinite(mean):
        return "–"
    lo, hi = row.get(f"{m}_ci95_low", math.nan), row.get(f"{m}_ci95_high", math.nan)
    return f"{mean:.3g} [{lo:.3g}, {hi:.3g}]" if math.isfinite(lo) and math.isfinite(hi) else f"{mean:.3g}"


def verdicts_html(info: dict[str, Any]) -> str:
    """The verdict lines of ``eval.json`` and the policy they were measured under."""
    policy = (info.get("config") or {}).get("policy") or {}
    sev = (f"severity fixed at {policy.get('fixed_severity')} for every arm but the *-own-severity ablations"
           if policy.get("severity") == "fixed" else "severity chosen by each arm")
    lines = "".join(f"<li>{html.escape(v)}</li>" for v in info.get("verdicts", []))
    invalid = info.get("invalid_proposed") or {}
    dropped = ", ".join(f"{html.escape(a)} {n}" for a, n in invalid.items() if n)
    return (f"<p>Best damage per loop, paired on shared (network, seed), all networks pooled; two-sided exact "
            f"paired permutation tests, Holm-corrected over the hypotheses; Δ = mean paired difference with a "
            f"bootstrap 95 % interval. Policy: {html.escape(sev)}; invalid scenarios dropped before simulation."
            f"</p><ul>{lines or '<li>no hypothesis could be tested (no paired arms)</li>'}</ul>"
            f"<p class='note'>Invalid scenarios proposed and dropped (never simulated, never counted): "
            f"{dropped or 'none'}. Full tests: tests.parquet.</p>")


def damage_ci_html(summary: pd.DataFrame, table: Any) -> str:
    """Damage raw, per unit of intervention cost and its terms apart: mean [95 % CI] over all networks."""
    if summary.empty:
        return table(summary)
    rows = summary[summary["network"] == "all"]
    out = pd.DataFrame({"arm": rows["arm"], "loops": rows["loops"]})
    for m in DAMAGE_COLUMNS:
        if f"{m}_mean" in rows:
            out[m] = [_ci(r, m) for _, r in rows.iterrows()]
    return table(out)


__all__ = ["damage_ci_html", "verdicts_html"]
