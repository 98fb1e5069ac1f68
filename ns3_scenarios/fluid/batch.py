"""Many scenarios through the fluid twin at once (for :meth:`~.model.FluidTwin.evaluate_many`).

Scenarios are taken in blocks of :data:`BLOCK`. For a block, every scenario's
segments are laid out first (:func:`~.timeline.segments`); the segments not
yet cached whose physical change is links down (fibre and SRLG cuts) are
computed one at a time on the lean path (:mod:`.cuts`), the other segments
the fast path covers together (:func:`~.incremental.fast_segments`: the moved
flows' hops as one flat list, the loads of all segments as one bincount, their
delays as one sparse product), the rest one at a time; then each scenario's
KPIs are summed over its segments as :meth:`~.model.FluidTwin.evaluate` does.
Results equal one at a time (a test holds them to it; a moved flow's delay
adds its hops in another order, ~1e-16 relative).

Measured (docs/measurements-2026-12.md, "Screening rate"): batching pays
little, because a segment's cost is the data it touches (a few hundred moved
flows x ~14 hops, the flows that lose their path, the delays of all flows),
not the number of numpy calls. The KPIs stay per scenario: as matrices over
the block they measured slower (stacking the segments costs more than it saves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid.cuts import Cuts
from ani.ns3_scenarios.fluid.incremental import applicable, fast_segments
from ani.ns3_scenarios.fluid.sharing import SegmentResult
from ani.ns3_scenarios.fluid.timeline import Segment, segments
from ani.ns3_scenarios.render import timeline

#: scenarios per block (16-64 measured alike; 256 slower: the block's arrays leave the cache)
BLOCK = 32


@dataclass
class Plan:
    """A scenario laid out: its segments, their cache keys, the routers' CPU model and the traffic window (s)."""

    segs: list[Segment]
    keys: list[tuple[Any, ...]]
    cpu: np.ndarray
    span: float


def plans(twin: Any, scenarios: list[Scenario]) -> list[Plan | ScenarioError]:
    """Each scenario's :class:`Plan`, or the :class:`ScenarioError` (a refusal) resolving it raised."""
    out: list[Plan | ScenarioError] = []
    for s in scenarios:
        try:
            rows = [twin._row(s, e) for e in s.events]
            start, stop, _ = timeline(twin.params, s)
            cpu = twin._cpu(rows)
            segs = segments(rows, twin.net, twin.params, twin.flood, start, stop, twin._lsa)
        except ScenarioError as exc:
            out.append(exc)
            continue
        key = cpu.tobytes()
        out.append(Plan(segs, [(g.physical, g.routing, key) for g in segs], cpu, stop - start))
    return out


def results(twin: Any, block: list[Plan]) -> dict[tuple[Any, ...], SegmentResult]:
    """Every segment's result (cached ones from the twin; the new fast ones computed together)."""
    out: dict[tuple[Any, ...], SegmentResult] = {}
    new: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for p in block:
        for key, g in zip(p.keys, p.segs):
            if key in out or key in new:
                continue
            if key in twin._segments:
                out[key] = twin._segments[key]
            elif applicable(twin, g.physical, p.cpu, twin._attacks(g.physical)):
                new[key] = (g.physical, g.routing)
            else:
                out[key] = twin.segment(g.physical, g.routing, p.cpu, twin._attacks(g.physical))
    rest = {}
    twin.cuts.prepare([rs for phys, rs in new.values() if Cuts.covers(phys)])
    for key, (phys, rs) in new.items():   # links down only: one at a time, lean (:mod:`.cuts`)
        if Cuts.covers(phys):
            twin._segments[key] = out[key] = twin.cuts.segment(phys, rs)
        else:
            rest[key] = (phys, rs)
    if rest:
        for key, res in zip(rest, fast_segments(twin, list(rest.values()))):
            twin._segments[key] = out[key] = res
    return out
