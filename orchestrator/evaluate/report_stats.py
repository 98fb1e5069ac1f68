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


def paper_html(summary: pd.DataFrame, budget: pd.DataFrame, families: pd.DataFrame, table: Any) -> str:
    """The paper's quantities per arm, damage per budget and mitigation effectiveness per family, each
    ``mean [95 % CI]`` (:mod:`ani.orchestrator.evaluate.paper`)."""
    from ani.orchestrator.evaluate.paper import budget_text, ci_text, paper_table

    fam = families.assign(effectiveness=[ci_text(r["effectiveness_mean"], r["effectiveness_ci95_low"],
                                                 r["effectiveness_ci95_high"]) for _, r in families.iterrows()])
    fam = fam[["family", "strategy", "n", "effectiveness"]] if len(fam) else fam
    return (f"<p>All networks pooled; intervals are bootstrap 95 % over loops (seeds x networks). True "
            f"cascade depth counts failures that emerged in the twin, not injected events.</p>"
            f"{table(paper_table(summary))}<h3>Best valid damage within k scenario runs</h3>"
            f"{table(budget_text(budget))}<h3>Mitigation effectiveness per scenario family</h3>"
            f"<p class='note'>'best' = the best strategy per mitigated scenario; the others per candidate run; "
            f"all arms pooled; n = scenarios (or runs).</p>{table(fam)}")


def gap_html(info: dict[str, Any], gap_summary: pd.DataFrame, table: Any) -> str:
    """The optimality gap: the worst-case reference per network and each arm's fraction of it."""
    worst = info.get("worst_case") or {}
    if not worst:
        return "<p>No worst-case reference configured (<code>--worst-case fluid</code>).</p>"
    refs = pd.DataFrame([{"network": n, "N-1 screened": w["n1_screened"], "N-2 screened": w["n2_screened"],
                          "confirmed runs": len(w["confirmed"]),
                          "worst N-1 (packet)": max((c["packet_damage"] for c in w["confirmed"] if c["mode"] == "n1"),
                                                    default=math.nan),
                          "worst N-2 (packet)": max((c["packet_damage"] for c in w["confirmed"] if c["mode"] == "n2"),
                                                    default=math.nan)}
                         for n, w in worst.items() if w])
    lines = "".join(f"<li>{html.escape(v)}</li>" for v in info.get("gap", []))
    return (f"<p>Best valid damage as a fraction of the worst case found by exhaustive N-1 and N-2 under the "
            f"same policy (fluid-screened, the top confirmed at packet level on every seed); above 1: the arm "
            f"found something worse than every screened single and double failure.</p>{table(refs)}"
            f"<ul>{lines}</ul><p class='note'>Per budget and network: gap.parquet, gap_summary.parquet; the "
            f"confirmed scenarios: worst_case.parquet.</p>")


__all__ = ["damage_ci_html", "gap_html", "paper_html", "verdicts_html"]
