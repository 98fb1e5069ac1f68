"""The evaluation's statistics on constructed data whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ani.orchestrator.evaluate.stats import (bootstrap_ci, compare_arms, holm, hypotheses, paired_permutation_p,
                                             summarise_ci, verdict, verdict_lines)


def _loops(effects: dict[str, float], noise: float = 0.05, seeds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Two networks x ``seeds`` seeds; arm value = the seed's base + the arm's effect + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for net in ("A", "B"):
        for s in range(1, seeds + 1):
            base = rng.uniform(0.2, 1.0)
            for arm, eff in effects.items():
                rows.append({"network": net, "seed": s, "arm": arm, "role": "x", "label": arm,
                             "best_damage": base + eff + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(1, 1, 10), rng.normal(1, 1, 1000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci(large)
    assert lo2 < 1.0 < hi2 and hi2 - lo2 < hi - lo
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    assert bootstrap_ci([1.0, math.nan, 3.0]) == bootstrap_ci([1.0, 3.0])


def test_exact_permutation_p_values_are_the_known_ones() -> None:
    assert paired_permutation_p([1, 1, 1, 1, 1]) == pytest.approx(2 / 32)  # the smallest p of 5 pairs
    assert paired_permutation_p([1.0] * 10) == pytest.approx(2 / 1024)
    assert paired_permutation_p([0, 0, 0]) == 1.0
    assert paired_permutation_p([1, -1, 1, -1]) == 1.0
    assert math.isnan(paired_permutation_p([]))
    big = np.r_[np.ones(30), -np.ones(0)]  # Monte Carlo above 16 pairs
    assert paired_permutation_p(big) < 0.001


def test_holm_adjusts_in_step_down_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    adj = holm([0.2, math.nan, 0.01])
    assert adj[0] == pytest.approx(0.2) and math.isnan(adj[1]) and adj[2] == pytest.approx(0.02)


def test_a_clear_difference_is_found_and_none_when_there_is_none() -> None:
    loops = _loops({"llm": 0.0, "frontier-greedy": 0.0, "causal-walk": -0.5})
    tests = compare_arms(loops).set_index(["scope", "a", "b"])
    clear = tests.loc[("all", "llm", "causal-walk")]
    assert clear["verdict"] == "shown" and clear["delta"] == pytest.approx(0.5, abs=0.05)
    assert clear["ci95_low"] > 0.4 and clear["n_pairs"] == 10 and clear["effect_dz"] > 3 and clear["wins_a"] == 1.0
    none = tests.loc[("all", "llm", "frontier-greedy")]
    assert none["verdict"] == "not shown" and none["ci95_low"] < 0 < none["ci95_high"]
    worse = tests.loc[("all", "causal-walk", "frontier-greedy")]
    assert worse["verdict"] == "refuted"  # the greedy control does better


def test_per_network_tests_cannot_reach_significance_with_five_seeds() -> None:
    tests = compare_arms(_loops({"llm": 0.0, "causal-walk": -0.5})).set_index(["scope", "a", "b"])
    one = tests.loc[("A", "llm", "causal-walk")]
    assert one["n_pairs"] == 5 and one["p"] == pytest.approx(2 / 32) and one["verdict"] == "not shown"


def test_the_correction_is_applied_over_the_hypotheses_of_a_metric() -> None:
    loops = _loops({"llm": 0.0, "frontier-greedy": -0.02, "a1": -0.02, "a2": -0.02, "a3": -0.02}, noise=0.05, seed=3)
    tests = compare_arms(loops)
    block = tests[(tests["scope"] == "all") & (tests["metric"] == "best_damage")]
    assert len(block) == len(hypotheses(["llm", "frontier-greedy", "a1", "a2", "a3"])) == 7
    assert block["p_holm"].tolist() == pytest.approx(holm(block["p"].tolist()))
    assert (block["p_holm"] >= block["p"]).all()
    # the verdict follows the corrected p, not the raw one
    for _, r in block.iterrows():
        assert r["verdict"] == verdict(r["delta"], r["p_holm"])


def test_hypotheses_are_llm_beats_every_arm_and_every_arm_beats_greedy() -> None:
    assert hypotheses(["llm", "frontier-greedy", "random"]) == [
        ("llm", "frontier-greedy"), ("llm", "random"), ("random", "frontier-greedy")]
    assert hypotheses(["frontier-greedy", "random"]) == [("random", "frontier-greedy")]
    assert hypotheses(["random", "causal-walk"]) == []


def test_verdict_lines_say_it_plainly() -> None:
    tests = compare_arms(_loops({"llm": 0.0, "frontier-greedy": 0.0}))
    [line] = verdict_lines(tests)
    assert line.startswith("llm beats frontier-greedy (best_damage, all networks): not shown, Δ = ")
    assert "95 % CI [" in line and "p (Holm) = " in line and "n = 10 paired loops" in line
    shown = verdict_lines(compare_arms(_loops({"llm": 0.5, "frontier-greedy": 0.0})))
    assert ": shown, Δ = +0.4" in shown[0] or ": shown, Δ = +0.5" in shown[0]
    refuted = verdict_lines(compare_arms(_loops({"llm": -0.5, "frontier-greedy": 0.0})))
    assert ": refuted, frontier-greedy does better, Δ = -0." in refuted[0]


def test_summary_has_an_interval_beside_every_mean() -> None:
    loops = _loops({"llm": 0.0, "random": -0.3})
    table = summarise_ci(loops, ["best_damage"])
    assert {"best_damage_mean", "best_damage_std", "best_damage_ci95_low", "best_damage_ci95_high",
            "best_damage_n"} <= set(table.columns)
    assert set(table["network"]) == {"A", "B", "all"}
    allr = table[table["network"] == "all"].set_index("arm")
    assert allr.loc["llm", "best_damage_n"] == 10 and allr.loc["llm", "loops"] == 10
    assert (table["best_damage_ci95_low"] <= table["best_damage_mean"]).all()
    assert (table["best_damage_mean"] <= table["best_damage_ci95_high"]).all()
