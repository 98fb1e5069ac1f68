"""Statistics of an evaluation: bootstrap intervals, paired tests on shared seeds, Holm's correction, verdicts.

Plain functions over numbers and the ``loops`` table (one row per network x arm x seed):

* :func:`bootstrap_ci` -- percentile bootstrap 95 % interval of a mean;
* :func:`summarise_ci` -- per (network, arm) and over all networks: ``<metric>_mean``, ``_std``,
  ``_ci95_low``, ``_ci95_high`` and ``_n`` for every metric (``summary.parquet``);
* :func:`paired_permutation_p` -- two-sided paired permutation (sign-flip) test of a mean
  difference, exact up to 16 pairs (2**16 sign patterns), Monte Carlo beyond;
* :func:`holm` -- Holm-Bonferroni adjusted p-values (family-wise error at ``alpha``);
* :func:`compare_arms` -- the hypotheses "a beats b" on loops paired by (network, seed), each with
  its mean difference Δ, a bootstrap 95 % interval of Δ, Cohen's d_z (mean / sd of the paired
  differences), the share of pairs won, the raw and the Holm-adjusted p;
* :func:`verdict_line` -- one plain sentence per hypothesis.

The hypotheses (:func:`hypotheses`): ``llm`` beats every other arm, and every arm beats
``frontier-greedy`` (the control with no model, the top-ranked option at every step). Holm's
correction runs over every hypothesis of one metric and scope (all networks pooled, or one
network). A test needs pairs: with 5 seeds on one network the smallest two-sided p an exact
paired test can give is 2/32 = 0.0625, so verdicts use the pairs pooled over networks
(5 seeds x 2 networks = 10 pairs: smallest p = 0.002).

Why a permutation test rather than Wilcoxon: no distributional assumption, exact at these sizes,
no scipy, and it tests the same quantity the interval and the verdict report (the mean difference).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

ALPHA = 0.05
N_BOOT = 2000
EXACT_MAX_PAIRS = 16
N_PERM = 20_000
REFERENCES = ("llm", "frontier-greedy")
PRIMARY_METRIC = "best_damage"


# ------------------------------------------------------------------------ intervals
def bootstrap_ci(values: Iterable[float], level: float = 0.95, n_boot: int = N_BOOT,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaNs dropped); (nan, nan) when empty.

    One value gives a zero-width interval (nothing to resample: the interval says n = 1, not certainty).
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def summarise_ci(loops: pd.DataFrame, metrics: Sequence[str], keys: Sequence[str] = ("network", "arm", "role", "label"),
                 seed: int = 0) -> pd.DataFrame:
    """Per (network, arm) and over all networks (``network = "all"``): mean, std, 95 % CI and n per metric."""
    if loops.empty:
        return loops
    keys = [k for k in keys if k in loops]
    rows = []
    for frame in (loops, loops.assign(network="all")):
        for key, grp in frame.groupby(keys, sort=False):
            row: dict[str, Any] = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            for m in metrics:
                if m not in grp:
                    continue
                vals = pd.to_numeric(grp[m], errors="coerce").dropna()
                lo, hi = bootstrap_ci(vals, seed=seed)
                row.update({f"{m}_mean": vals.mean() if len(vals) else math.nan,
                            f"{m}_std": vals.std() if len(vals) > 1 else math.nan,
                            f"{m}_ci95_low": lo, f"{m}_ci95_high": hi, f"{m}_n": len(vals)})
            row["loops"] = len(grp)
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- tests
def paired_permutation_p(diffs: Iterable[float], n_perm: int = N_PERM, seed: int = 0) -> float:
    """Two-sided p of "the mean paired difference is 0" by flipping the signs of the differences.

    Exact (every sign pattern) up to :data:`EXACT_MAX_PAIRS` pairs, else ``n_perm`` random patterns
    (+1 smoothing). All-zero differences give p = 1; no pairs give NaN.
    """
    d = np.asarray([v for v in diffs if math.isfinite(v)], dtype=float)
    if d.size == 0:
        return math.nan
    observed = abs(d.mean())
    if observed == 0:
        return 1.0
    tol = 1e-12 * max(1.0, observed)
    if d.size <= EXACT_MAX_PAIRS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        means = np.abs(signs @ d) / d.size
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_perm, d.size))
    means = np.abs(signs @ d) / d.size
    return float((np.sum(means >= observed - tol) + 1) / (n_perm + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (NaNs stay NaN and do not count)."""
    idx = [i for i, p in enumerate(pvalues) if math.isfinite(p)]
    m = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def paired(loops: pd.DataFrame, a: str, b: str, metric: str) -> pd.DataFrame:
    """Loops of arms ``a`` and ``b`` joined on (network, seed): columns ``network, seed, a, b, diff``."""
    cols = ["network", "seed", metric]
    left = loops.loc[loops["arm"] == a, cols].rename(columns={metric: "a"})
    right = loops.loc[loops["arm"] == b, cols].rename(columns={metric: "b"})
    both = left.merge(right, on=["network", "seed"]).dropna(subset=["a", "b"])
    return both.assign(diff=both["a"] - both["b"])


def hypotheses(arms: Sequence[str], references: Sequence[str] = REFERENCES) -> list[tuple[str, str]]:
    """Ordered pairs (a, b) read "a beats b": ``llm`` beats every arm, every arm beats ``frontier-greedy``."""
    out: list[tuple[str, str]] = []
    for ref in references:
        if ref not in arms:
            continue
        for arm in arms:
            pair = (ref, arm) if ref == "llm" else (arm, ref)
            if arm != ref and pair not in out and pair[::-1] not in out:
                out.append(pair)
    return out


def compare_arms(loops: pd.DataFrame, metrics: Sequence[str] = (PRIMARY_METRIC,),
                 references: Sequence[str] = REFERENCES, alpha: float = ALPHA, seed: int = 0) -> pd.DataFrame:
    """Every hypothesis of :func:`hypotheses` on every metric, pooled over networks (``scope = "all"``) and per
    network; Holm's correction within each (metric, scope). One row per test."""
    cols = ["metric", "scope", "a", "b", "n_pairs", "mean_a", "mean_b", "delta", "ci95_low", "ci95_high",
            "effect_dz", "wins_a", "p", "p_holm", "verdict", "line"]
    if loops.empty:
        return pd.DataFrame(columns=cols)
    arms = list(dict.fromkeys(loops["arm"]))
    scopes = ["all", *dict.fromkeys(loops["network"])]
    rows = []
    for metric in metrics:
        for scope in scopes:
            data = loops if scope == "all" else loops[loops["network"] == scope]
            block = [_test(data, a, b, metric, scope, seed) for a, b in hypotheses(arms, references)]
            block = [r for r in block if r["n_pairs"]]
            for r, p in zip(block, holm([r["p"] for r in block])):
                r["p_holm"] = p
                r["verdict"] = verdict(r["delta"], p, alpha)
                r["line"] = verdict_line(r)
            rows += block
    return pd.DataFrame(rows, columns=cols)


def _test(data: pd.DataFrame, a: str, b: str, metric: str, scope: str, seed: int) -> dict[str, Any]:
    both = paired(data, a, b, metric) if metric in data else pd.DataFrame(columns=["a", "b", "diff"])
    d = both["diff"].to_numpy(dtype=float)
    sd = float(np.std(d, ddof=1)) if d.size > 1 else math.nan
    lo, hi = bootstrap_ci(d, seed=seed)
    mean = float(d.mean()) if d.size else math.nan
    return {"metric": metric, "scope": scope, "a": a, "b": b, "n_pairs": int(d.size),
            "mean_a": float(both["a"].mean()) if d.size else math.nan,
            "mean_b": float(both["b"].mean()) if d.size else math.nan, "delta": mean, "ci95_low": lo,
            "ci95_high": hi, "effect_dz": mean / sd if sd and math.isfinite(sd) and sd > 0 else math.nan,
            "wins_a": float(np.mean(d > 0)) if d.size else math.nan,
            "p": paired_permutation_p(d, seed=seed), "p_holm": math.nan, "verdict": "", "line": ""}


# ------------------------------------------------------------------------- verdicts
def verdict(delta: float, p_holm: float, alpha: float = ALPHA) -> str:
    """``shown`` (a better, p_holm < alpha), ``refuted`` (b better, p_holm < alpha) or ``not shown``."""
    if not (math.isfinite(p_holm) and math.isfinite(delta)) or p_holm >= alpha or delta == 0:
        return "not shown"
    return "shown" if delta > 0 else "refuted"


def _f(x: float, digits: int = 3) -> str:
    return "nan" if not math.isfinite(x) else f"{x:+.{digits}f}"


def verdict_line(row: dict[str, Any]) -> str:
    """"llm beats frontier-greedy (best_damage, all networks): not shown, Δ = +0.010, 95 % CI [...], ..."."""
    scope = "all networks" if row["scope"] == "all" else row["scope"]
    word = row["verdict"] or verdict(row["delta"], row["p_holm"])
    if word == "refuted":
        word = f"refuted, {row['b']} does better"
    p = row["p_holm"]
    return (f"{row['a']} beats {row['b']} ({row['metric']}, {scope}): {word}, Δ = {_f(row['delta'])}, "
            f"95 % CI [{_f(row['ci95_low'])}, {_f(row['ci95_high'])}], "
            f"p (Holm) = {'nan' if not math.isfinite(p) else f'{p:.3g}'}, n = {row['n_pairs']} paired loops, "
            f"d_z = {_f(row['effect_dz'], 2)}")


def verdict_lines(tests: pd.DataFrame, metric: str = PRIMARY_METRIC, scope: str = "all") -> list[str]:
    """The verdict lines of one metric and scope (pooled over networks by default)."""
    if tests.empty:
        return []
    sel = tests[(tests["metric"] == metric) & (tests["scope"] == scope)]
    return [str(x) for x in sel["line"]]


__all__ = ["ALPHA", "bootstrap_ci", "compare_arms", "holm", "hypotheses", "paired", "paired_permutation_p",
           "summarise_ci", "verdict", "verdict_line", "verdict_lines"]
