"""The optimality gap: each arm's best damage as a fraction of the worst case, at every budget.

The question Raha answers for WANs -- how close does a search get to the worst case? -- asked of
every arm of the evaluation. The worst case is searched under the evaluation's
:class:`~ani.llm.policy.InterventionPolicy` (the same event types, the same fixed severity):

* **N-1**: every single event of every event type the template allows (restores excepted) on
  every component it applies to, at the loop's first event time, that ``kg.validate`` accepts
  (:func:`single_events`);
* **N-2**: every pair of fibre-link failures at once (the classic N-2), plus every pair of the
  ``pair_top`` most damaging N-1 events of any type (:func:`double_events`) -- all pairs of all
  event types grow as the square of (event types x components) and are not affordable here;
* both are **screened** by the fluid tier (:func:`~ani.orchestrator.evaluate.screen.screen_scenarios`)
  with cascades off (it cannot model them, so its ranking ignores emergent failures); the
  ``confirm_top`` most damaging of each, and the most damaging N-1 of every event type, are **run at
  packet level** with their baseline and the loop's parameters (cascades on), on every seed of the
  evaluation, through the evaluation's runner (the same runs folder: a scenario an arm also found
  is simulated once).

The packet-level damage of the confirmed scenarios is the reference: per (network, seed) the worst
N-1, the worst N-2 and the worst of both (``worst_case``). An arm's scenarios may chain up to
``max_events`` events, so a fraction above 1 is possible and means the arm found something worse
than the screened N-1/N-2 -- or that the fluid screen missed the true worst (it ranks, it does not
bound; :mod:`bench.fidelity_fluid` measured how well it ranks).

A reference is any :class:`WorstCaseReference`; :data:`REFERENCES` names them
(``EvalConfig.worst_case`` picks one; ``"fluid"`` is this module's). :func:`gap_table` turns the
evaluation's scenarios into ``gap.parquet``: per (network, arm, seed, budget) the best valid damage
found within that many scenario runs and its fraction of each reference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import combinations
from typing import Any, Literal, Protocol

import networkx as nx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ani.kg.event_types import INFO
from ani.kg.scenario import Event, EventType, Scenario
from ani.llm.policy import InterventionPolicy
from ani.ns3_scenarios.render import render_pair
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.cached_runner import CachedRunner
from ani.orchestrator.evaluate.screen import ScreenRow, screen_scenarios
from ani.orchestrator.evaluate.stats import summarise_ci
from ani.orchestrator.loop.closed_loop import LOOP_DEFAULTS
from ani.orchestrator.loop.feedback import render_graph
from ani.orchestrator.measure.damage import damage

Mode = Literal["n1", "n2"]
#: event roles searched (restores are not interventions on a healthy network)
SEARCHED_ROLES = ("failure", "stress")


class Confirmed(BaseModel):
    """One screened scenario run at packet level on one seed."""

    model_config = ConfigDict(extra="forbid")

    network: str
    mode: Mode
    rank: int = Field(description="1 = the fluid tier's most damaging of its mode")
    seed: int
    scenario: str
    events: str = Field(description="the events as JSON")
    fluid_damage: float
    packet_damage: float = Field(description="NaN if the run failed")
    status: str


class WorstCase(BaseModel):
    """A network's worst-case reference: what was screened and what was confirmed."""

    model_config = ConfigDict(extra="forbid")

    network: str
    n1_screened: int
    n2_screened: int
    n1_refused: int = 0
    n2_refused: int = 0
    screen_seconds: float
    confirmed: list[Confirmed]

    def worst(self, mode: Mode | None = None) -> dict[int, float]:
        """Per seed, the largest packet-level damage of the confirmed scenarios (of ``mode``, or both)."""
        out: dict[int, float] = {}
        for c in self.confirmed:
            if (mode is None or c.mode == mode) and math.isfinite(c.packet_damage):
                out[c.seed] = max(out.get(c.seed, -math.inf), c.packet_damage)
        return out


@dataclass(frozen=True)
class GapInputs:
    """What a reference sees of one network of the evaluation."""

    label: str
    g: nx.Graph
    kg: Any
    template: str
    params: dict[str, Any]
    policy: InterventionPolicy
    seeds: tuple[int, ...]


class WorstCaseReference(Protocol):
    """``(inputs, runner) -> WorstCase`` (None: not affordable on this network)."""

    def __call__(self, inputs: GapInputs, runner: CachedRunner) -> WorstCase | None: ...


# --------------------------------------------------------------------- the search space
def single_events(kg: Any, event_types: Sequence[EventType], at_s: float,
                  policy: InterventionPolicy) -> list[Scenario]:
    """Every valid one-event scenario: each searched event type on each component it applies to."""
    out = []
    for c in kg.components():
        kind = kg.kind(c)
        for t in event_types:
            info = INFO[t]
            if info.role not in SEARCHED_ROLES or kind not in info.targets:
                continue
            s = policy.apply(Scenario(name=f"n1-{t.value}-{c}", events=[
                Event(event_type=t, target=c, timestamp=at_s, severity="high")]))
            if not kg.validate(s):
                out.append(s)
    return out


def double_events(singles: Sequence[Scenario], ranked: Sequence[ScreenRow], pair_top: int) -> list[Scenario]:
    """Every pair of fibre-link failures, and every pair of the ``pair_top`` most damaging single events."""
    cuts = [s for s in singles if s.events[0].event_type == EventType.fiber_link_failure]
    top = [r.scenario for r in ranked if r.refused is None][:pair_top]
    pairs: dict[tuple[str, str], tuple[Scenario, Scenario]] = {}
    for a, b in [*combinations(cuts, 2), *combinations(top, 2)]:
        key = tuple(sorted((a.name, b.name)))
        pairs.setdefault(key, (a, b))  # type: ignore[arg-type]
    return [Scenario(name=f"n2-{a.name[3:]}+{b.name[3:]}", events=[*a.events, *b.events])
            for a, b in pairs.values()]


# ------------------------------------------------------------------------- the reference
def loop_params(template: str, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The template parameters a loop of the evaluation runs with on ``seed``."""
    return get_template(template).params({**LOOP_DEFAULTS, "seed": seed, **params})


def screened(inputs: GapInputs, pair_top: int = 30) -> tuple[list[ScreenRow], list[ScreenRow]]:
    """N-1 and N-2 ranked by the fluid tier (seed-independent: the fluid tier has no randomness).

    The fluid tier refuses ``cascades`` (emergent failures depend on queue dynamics it does not
    model), so it ranks with cascades off; the packet-level confirmation runs the loop's parameters,
    cascades included."""
    values = {**loop_params(inputs.template, inputs.params, inputs.seeds[0]), "cascades": False}
    types = [EventType(t) for t in get_template(inputs.template).manifest.events]
    at_s = float(values["warmup_s"]) + 0.1  # the loop's first event time (ClosedLoop.constraints)
    g = render_graph(inputs.g, inputs.kg)
    singles = single_events(inputs.kg, types, at_s, inputs.policy)
    n1 = screen_scenarios(g, singles, values).rows
    n2 = screen_scenarios(g, double_events(singles, n1, pair_top), values).rows
    return n1, n2


def confirm(inputs: GapInputs, runner: CachedRunner, rows: Sequence[tuple[Mode, int, ScreenRow]]) -> list[Confirmed]:
    """Run each (mode, rank, screened row) at packet level with its baseline on every seed."""
    g, tmpl = render_graph(inputs.g, inputs.kg), get_template(inputs.template)
    out = []
    for seed in inputs.seeds:
        values = loop_params(inputs.template, inputs.params, seed)
        pairs = [render_pair(tmpl, r.scenario.model_copy(update={"name": f"s-{r.scenario.digest()}"}), g, values)
                 for _, _, r in rows]
        records = runner([x for p in pairs for x in p])
        compared = runner.compare([(records[2 * k], records[2 * k + 1]) for k in range(len(pairs))])
        for (mode, rank, r), rec in zip(rows, compared):
            ok = rec.status == "ok" and rec.comparison is not None
            out.append(Confirmed(network=inputs.label, mode=mode, rank=rank, seed=seed, scenario=r.scenario.name,
                                 events=json.dumps([e.model_dump(mode="json", exclude_none=True)
                                                    for e in r.scenario.events]),
                                 fluid_damage=float(r.damage or 0.0),
                                 packet_damage=damage(rec.comparison) if ok else math.nan, status=rec.status))
    return out


def _picks(mode: Mode, rows: Sequence[ScreenRow], top: int, per_type: bool) -> list[tuple[Mode, int, ScreenRow]]:
    """The ``top`` most damaging screened rows, and (``per_type``) the most damaging of each event type."""
    ok = [(i + 1, r) for i, r in enumerate(r for r in rows if r.refused is None)]
    chosen = dict(ok[:top])
    if per_type:
        seen: set[str] = set()
        for rank, r in ok:
            kind = r.scenario.events[0].event_type.value
            if kind not in seen:
                seen.add(kind)
                chosen.setdefault(rank, r)
    return [(mode, rank, chosen[rank]) for rank in sorted(chosen)]


def fluid_worst_case(inputs: GapInputs, runner: CachedRunner, confirm_top: int = 3,
                     pair_top: int = 30, confirm_seeds: int | None = None) -> WorstCase:
    """Exhaustive N-1 and N-2 (module docstring) screened by the fluid tier; at packet level on every
    seed: the ``confirm_top`` most damaging of each, and the most damaging N-1 of each event type
    (the fluid tier ranks without cascades, which change spikes and overloads most).

    ``confirm_seeds`` confirms on the first n seeds only (``"fluid-seed1"``: the first); a loop on
    another seed is then compared with the largest damage confirmed on any seed (:func:`gap_table`).
    """
    import time

    t0 = time.perf_counter()
    n1, n2 = screened(inputs, pair_top)
    seconds = time.perf_counter() - t0
    picks = [*_picks("n1", n1, confirm_top, per_type=True), *_picks("n2", n2, confirm_top, per_type=False)]
    return WorstCase(network=inputs.label, n1_screened=len(n1), n2_screened=len(n2),
                     n1_refused=sum(r.refused is not None for r in n1),
                     n2_refused=sum(r.refused is not None for r in n2),
                     screen_seconds=seconds, confirmed=confirm(_first_seeds(inputs, confirm_seeds), runner, picks))


def _first_seeds(inputs: GapInputs, n: int | None) -> GapInputs:
    return inputs if n is None else replace(inputs, seeds=inputs.seeds[:n])


#: name -> worst-case reference (``EvalConfig.worst_case``)
REFERENCES: dict[str, WorstCaseReference] = {"fluid": fluid_worst_case,
                                             "fluid-seed1": partial(fluid_worst_case, confirm_seeds=1)}


# ------------------------------------------------------------------------------ tables
GAP_COLUMNS = ["network", "arm", "role", "seed", "budget", "best_damage", "worst_n1", "worst_n2", "worst_case",
               "fraction_of_n1", "fraction_of_n2", "fraction_of_worst_case"]


def best_by_budget(scenarios: pd.DataFrame, budget: int, loops: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (network, arm, seed) and budget k = 1..``budget``: the best *valid* damage within the first k
    scenario runs -- 0 when none was valid and simulated (the arm found nothing), also for a loop of
    ``loops`` that has no scenario at all."""
    keys = ["network", "arm", "role", "seed"]
    have = scenarios[keys].drop_duplicates() if len(scenarios) else pd.DataFrame(columns=keys)
    if loops is not None and len(loops):
        have = pd.concat([have, loops[keys]]).drop_duplicates()
    ok = scenarios[scenarios["valid"].astype(bool)].dropna(subset=["damage"]) if len(scenarios) else scenarios
    rows = []
    for net, arm, role, seed in have.itertuples(index=False):
        mine = ok[(ok["network"] == net) & (ok["arm"] == arm) & (ok["seed"] == seed)] if len(ok) else ok
        for k in range(1, budget + 1):
            dmg = mine.loc[mine["budget_index"] <= k, "damage"] if len(mine) else pd.Series(dtype=float)
            rows.append({"network": net, "arm": arm, "role": role, "seed": int(seed), "budget": k,
                         "best_damage": float(dmg.max()) if len(dmg) else 0.0})
    return pd.DataFrame(rows, columns=[*keys, "budget", "best_damage"])


def _frac(best: float, ref: float | None) -> float:
    return best / ref if ref is not None and math.isfinite(ref) and ref > 0 else math.nan


def gap_table(scenarios: pd.DataFrame, worst: Mapping[str, WorstCase | None], budget: int,
              loops: pd.DataFrame | None = None) -> pd.DataFrame:
    """``gap.parquet``: per (network, arm, seed, budget), the best damage and its fraction of the
    seed's worst N-1, worst N-2 and worst of both (networks without a reference are left out)."""
    nets = [n for n, w in worst.items() if w is not None]
    best = best_by_budget(scenarios, budget, loops)
    best = best[best["network"].isin(nets)].copy()
    if best.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    refs = {n: {m: w.worst(m) for m in ("n1", "n2", None)} for n, w in worst.items() if w is not None}

    def ref(net: str, mode: Mode | None, seed: int) -> float:
        per_seed = refs[net][mode]  # a seed not confirmed: the largest confirmed on any seed
        return per_seed.get(seed, max(per_seed.values(), default=math.nan))

    best["worst_n1"] = [ref(n, "n1", s) for n, s in zip(best["network"], best["seed"])]
    best["worst_n2"] = [ref(n, "n2", s) for n, s in zip(best["network"], best["seed"])]
    best["worst_case"] = [ref(n, None, s) for n, s in zip(best["network"], best["seed"])]
    for col, src in (("fraction_of_n1", "worst_n1"), ("fraction_of_n2", "worst_n2"),
                     ("fraction_of_worst_case", "worst_case")):
        best[col] = [_frac(b, r) for b, r in zip(best["best_damage"], best[src])]
    return best[GAP_COLUMNS]


GAP_METRICS = ("best_damage", "fraction_of_n1", "fraction_of_n2", "fraction_of_worst_case")


def gap_summary(gap: pd.DataFrame) -> pd.DataFrame:
    """``gap_summary.parquet``: per (network or ``all``, arm, budget) mean and bootstrap 95 % interval of
    the best damage and of each fraction, over seeds (and networks)."""
    if gap.empty:
        return pd.DataFrame()
    return summarise_ci(gap, GAP_METRICS, keys=("network", "arm", "role", "budget"))


def gap_lines(summary: pd.DataFrame) -> list[str]:
    """One line per arm: its fraction of the worst case at the full budget, all networks pooled."""
    if summary.empty:
        return []
    rows = summary[(summary["network"] == "all") & (summary["budget"] == summary["budget"].max())]
    rows = rows.sort_values("fraction_of_worst_case_mean", ascending=False)
    return [f"{r['arm']} reaches {r['fraction_of_worst_case_mean']:.2f} "
            f"[{r['fraction_of_worst_case_ci95_low']:.2f}, {r['fraction_of_worst_case_ci95_high']:.2f}] of the "
            f"worst case (N-1 and N-2, packet-confirmed) in {int(r['budget'])} scenario runs "
            f"(of the worst N-1: {r['fraction_of_n1_mean']:.2f}; n = {int(r['fraction_of_worst_case_n'])} loops)"
            for _, r in rows.iterrows()]


def confirmed_table(worst: Mapping[str, WorstCase | None]) -> pd.DataFrame:
    """``worst_case.parquet``: every confirmed scenario (network, mode, rank, seed, fluid and packet damage)."""
    rows = [c.model_dump() for w in worst.values() if w is not None for c in w.confirmed]
    return pd.DataFrame(rows, columns=list(Confirmed.model_fields))


__all__ = ["Confirmed", "GapInputs", "REFERENCES", "WorstCase", "WorstCaseReference", "best_by_budget",
           "confirm", "confirmed_table", "double_events", "fluid_worst_case", "gap_lines", "gap_summary",
           "gap_table", "single_events"]
