"""Many scenarios through the fluid twin at once (:meth:`~.model.FluidTwin.evaluate_many`).

Scenarios are taken in blocks. For a block, every scenario's segments are
laid out first (:func:`~.timeline.segments`); the segments not yet cached are
computed together (:func:`~.incremental.fast_segments` for those the fast path
covers: one sparse product for the loads and one for the delays of all of
them), and each scenario's per-flow sums over its segments (delivered bits,
delay x delivered, outage time, utilisation) are one sparse product of a
(scenarios x segments) matrix of durations with the segments' results. The
KPIs are then each scenario's as :meth:`~.model.FluidTwin.evaluate` gives them:
the same sums in the same order (a test holds the two paths equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid.incremental import applicable, fast_segments
from ani.ns3_scenarios.fluid.sharing import SegmentResult
from ani.ns3_scenarios.fluid.timeline import Segment, segments
from ani.ns3_scenarios.render import timeline
from scipy.sparse import csr_matrix

if TYPE_CHECKING:
    from ani.ns3_scenarios.fluid.model import FluidKpis, FluidTwin

#: scenarios per block (their segments' results are matrices of this many rows x flows)
BLOCK = 256


@dataclass
class _Plan:
    segs: list[Segment]
    keys: list[tuple[Any, ...]]
    cpu: np.ndarray
    span: float


def evaluate_many(twin: FluidTwin, scenarios: list[Scenario], block: int = BLOCK
                  ) -> list[FluidKpis | ScenarioError]:
    """Each scenario's KPIs, or the :class:`ScenarioError` (a refusal) it raised, in order."""
    out: list[FluidKpis | ScenarioError] = []
    for i in range(0, len(scenarios), block):
        out += _block(twin, scenarios[i:i + block])
    return out


def _plan(twin: FluidTwin, s: Scenario) -> _Plan:
    rows = [twin._row(s, e) for e in s.events]
    start, stop, _ = timeline(twin.params, s)
    cpu = twin._cpu(rows)
    segs = segments(rows, twin.net, twin.params, twin.flood, start, stop, twin._lsa)
    key = cpu.tobytes()
    return _Plan(segs, [(g.physical, g.routing, key) for g in segs], cpu, stop - start)


def _block(twin: FluidTwin, scenarios: list[Scenario]) -> list[FluidKpis | ScenarioError]:
    plans: list[_Plan | ScenarioError] = []
    for s in scenarios:
        try:
            plans.append(_plan(twin, s))
        except ScenarioError as exc:
            plans.append(exc)
    ok = [p for p in plans if isinstance(p, _Plan)]
    results = _results(twin, ok)
    kpis = iter(_kpis(twin, ok, results) if ok else [])
    return [p if isinstance(p, ScenarioError) else next(kpis) for p in plans]


def _results(twin: FluidTwin, plans: list[_Plan]) -> dict[tuple[Any, ...], SegmentResult]:
    """Every segment's result (cached ones from the twin; the new fast ones computed together)."""
    out: dict[tuple[Any, ...], SegmentResult] = {}
    new: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for p in plans:
        for key, g in zip(p.keys, p.segs):
            if key in out or key in new:
                continue
            if key in twin._segments:
                out[key] = twin._segments[key]
            elif applicable(twin, g.physical, p.cpu, twin._attacks(g.physical)):
                new[key] = (g.physical, g.routing)
            else:
                out[key] = twin.segment(g.physical, g.routing, p.cpu, twin._attacks(g.physical))
    if new:
        for key, res in zip(new, fast_segments(twin, list(new.values()))):
            twin._segments[key] = out[key] = res
    return out


def _kpis(twin: FluidTwin, plans: list[_Plan], results: dict[tuple[Any, ...], SegmentResult]
          ) -> list[FluidKpis]:
    """The KPIs of each scenario: its per-flow sums over segments as sparse products, then as one at a time."""
    from ani.ns3_scenarios.fluid.model import _Accumulator

    n = twin.n_demands
    col = {key: i for i, key in enumerate(results)}
    res = list(results.values())
    indptr = np.cumsum([0] + [len(p.segs) for p in plans])
    idx = np.array([col[k] for p in plans for k in p.keys], np.int64)
    dur = np.array([g.t1 - g.t0 for p in plans for g in p.segs])
    D = csr_matrix((dur, idx, indptr), shape=(len(plans), len(res)))
    on = csr_matrix((np.ones(len(idx)), idx, indptr), shape=D.shape)
    frac = np.stack([r.frac[:n] for r in res])
    delivered = D @ frac
    delay_sum = D @ (frac * np.stack([r.delay[:n] for r in res]))
    dead = np.stack([r.dead[:n] for r in res])
    dead_s = D @ dead.astype(float)
    util_s = D @ np.stack([r.util for r in res])
    drops = (on @ np.stack([r.drops for r in res]).astype(float)) > 0
    last = idx[np.maximum(indptr[1:] - 1, 0)] if len(idx) else np.zeros(len(plans), np.int64)
    out = []
    for i, p in enumerate(plans):
        acc = _Accumulator(n, twin.net.A)
        acc.delivered, acc.delay_sum, acc.dead_s = delivered[i], delay_sum[i], dead_s[i]
        acc.util_s, acc.drops = util_s[i], drops[i]
        acc.last_dead = dead[last[i]] if p.segs else np.zeros(n, bool)
        out.append(acc.kpis(twin, twin.base, p.span))
    return out
