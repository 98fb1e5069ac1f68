"""The fast path of a segment: only the flows a change touches are recomputed.

Against the baseline (computed once per twin), a segment whose changes are
topological (links or routers down, costs changed; no degradation, CPU model
or attack) differs only in the flows whose destination's routes were
recomputed (:meth:`~.network.FluidNetwork.routes`) and the flows that cross a
failed part. Their old contributions leave the link loads, their new ones
enter; sharing (the fixed point of :func:`.model._proportional`) runs only on
the flows crossing an overloaded link direction, with everything else as
background load; the queueing estimate of every other flow moves by the change
of the waits on its path (one sparse product). The result equals the full
computation's (tests check it).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from ani.ns3_scenarios.fluid.network import NO_ARC, Bounded, FluidNetwork, RoutingState
from ani.ns3_scenarios.fluid.sharing import SegmentResult, _Flows, _proportional
from ani.ns3_scenarios.fluid.timeline import Physical
from scipy.sparse import csr_matrix


class FluidTwin(Protocol):
    """What the fast path needs of :class:`~ani.ns3_scenarios.fluid.model.FluidTwin`."""

    net: FluidNetwork
    flows: _Flows
    params: dict[str, Any]
    sharing: str
    base_fast: Base | None

    def _routes_of(self, rs: RoutingState, extra: _Flows | None) -> tuple[np.ndarray, np.ndarray]: ...


class Base:
    """The baseline of a twin, arranged for incremental updates."""

    def __init__(self, twin: FluidTwin, base: SegmentResult) -> None:
        net, f = twin.net, twin.flows
        self.P, self.reached = twin._routes_of(RoutingState(), None)
        F, A = len(f.src), net.A
        self.w = f.rate * net.wire_factor(f.pkt)                   # wire bit/s of each flow
        rows, cols = np.nonzero(self.P >= 0)
        arcs = self.P[rows, cols]
        self.arc_flows = csr_matrix((np.ones(len(rows)), (arcs, rows)), shape=(A, F))  # arc -> flows
        self.flows_arcs = self.arc_flows.T.tocsr()
        self.node_flows = csr_matrix((np.ones(len(rows)), (net.tail[arcs], rows)), shape=(net.N, F))
        self.load = np.bincount(arcs, weights=self.w[rows], minlength=A)
        self.delay, self.frac = base.delay.copy(), base.frac.copy()
        self.ok = bool((self.load <= net.capacity_bps * (1 + 1e-9)).all() and (base.frac[self.reached] > 0).all())
        self.wait = self._wait(twin, self.load)
        self.moved: dict[RoutingState, tuple[np.ndarray, np.ndarray, np.ndarray]] = Bounded(20000)
        self.padded: dict[Any, tuple[np.ndarray, ...]] = Bounded(20000)
        self.inv_cap = np.r_[1.0 / net.capacity_bps, 0.0]
        self.unreached = np.flatnonzero(~self.reached)
        self.on_arc = _groups(arcs, rows, A)
        self.on_node = _groups(net.tail[arcs], rows, net.N)
        order = np.argsort(f.dst, kind="stable")
        self.by_dst = np.split(order, np.searchsorted(f.dst[order], np.arange(1, net.N)))
        order = np.argsort(f.src, kind="stable")
        self.by_src = np.split(order, np.searchsorted(f.src[order], np.arange(1, net.N)))

    @staticmethod
    def _wait(twin: FluidTwin, load: np.ndarray) -> np.ndarray:
        p, cap = twin.params, twin.net.capacity_bps
        service = 8 * (float(p["packet_bytes"]) + 30) / cap
        full = float(p["queue_packets"]) * service
        rho = load / cap
        return np.where(rho >= 1 - 1e-9, full, np.minimum(full, rho / (2 * np.maximum(1 - rho, 1e-9)) * service))


def _groups(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return np.split(values[order], np.searchsorted(keys[order], np.arange(1, n)))


def _union(groups: list[np.ndarray], idx) -> np.ndarray:
    parts = [groups[i] for i in idx]
    if not parts:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]


def applicable(twin: FluidTwin, phys: Physical, cpu: np.ndarray, attacks: object) -> bool:
    return (twin.sharing == "proportional" and not twin.net.ecmp and not phys.degraded and attacks is None
            and not cpu.any() and twin.base_fast is not None and twin.base_fast.ok)


def _worse_only(net: FluidNetwork, rs: RoutingState) -> bool:
    return all(c > net.cost[2 * k] for k, c in rs.costs)


def _keep_changed(b: Base, moved: np.ndarray, newP: np.ndarray, newR: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows whose path differs from the baseline's, in flow order and as wide as the baseline's paths or
    the longest of them: the same arrays whatever was cached before (so sums add in the same order)."""
    return _canonical(b, *_changed_rows(b, moved, newP, newR))


def _changed_rows(b: Base, moved: np.ndarray, newP: np.ndarray, newR: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    newP = _width(newP, b.P.shape[1])
    diff = (_width(b.P[moved], newP.shape[1]) != newP).any(axis=1) | (newR != b.reached[moved])
    return moved[diff], newP[diff], newR[diff]


def _canonical(b: Base, moved: np.ndarray, P: np.ndarray, R: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(moved, kind="stable")
    width = max(b.P.shape[1], int((P >= 0).sum(axis=1).max(initial=0)))
    return moved[order], _width(P[order][:, :width], width), R[order]


def moved_paths(twin: FluidTwin, rs: RoutingState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flows whose path differs from the baseline's in routing state ``rs``, their paths and reach (cached).

    With only worse changes (links or routers down, costs up) a flow whose path
    avoids every changed part keeps it, tie-break included; and from a cached
    state with one link fewer down, only the flows whose path there crosses that
    link move again.
    """
    b, net, f = twin.base_fast, twin.net, twin.flows
    if rs in b.moved:
        return b.moved[rs]
    parent = next((p for p in (RoutingState(rs.links_down - {k}, rs.nodes_down, rs.costs)
                               for k in sorted(rs.links_down)) if p in b.moved), None) \
        if _worse_only(net, rs) else None
    if parent is not None:
        pm, pP, pR = b.moved[parent]
        (k,) = rs.links_down - parent.links_down
        arcs = np.array([2 * k, 2 * k + 1])
        base_on = _union(b.on_arc, arcs)
        in_pm = np.zeros(len(f.src), bool)
        in_pm[pm] = True
        redo = np.union1d(base_on[~in_pm[base_on]], pm[((pP == arcs[0]) | (pP == arcs[1])).any(axis=1)])
        rP, rR = _redo_paths(twin, rs, k, redo)
        in_redo = np.zeros(len(f.src), bool)
        in_redo[redo] = True
        keep = ~in_redo[pm]       # moved in the parent, not again here: still not the baseline's path
        redo, rP, rR = _changed_rows(b, redo, rP, rR)
        H = max(pP.shape[1], rP.shape[1])
        out = _canonical(b, np.r_[pm[keep], redo], np.vstack([_width(pP[keep], H), _width(rP, H)]),
                         np.r_[pR[keep], rR])
        b.moved[rs] = out
        return out
    elif _worse_only(net, rs):
        arcs = [a for k in (*rs.links_down, *(k for k, _ in rs.costs)) for a in (2 * k, 2 * k + 1)]
        moved = np.union1d(_union(b.on_arc, arcs), _union(b.on_node, rs.nodes_down))
        moved = np.union1d(moved, np.concatenate([b.by_dst[n] for n in rs.nodes_down])) if rs.nodes_down else moved
        routes = net.compact_routes(rs, np.unique(f.dst[moved]))
        newP, newR = net.paths(routes, f.src[moved], f.dst[moved])
    else:
        routes = net.routes(rs)
        moved = np.concatenate([b.by_dst[d] for d in routes.changed]) if len(routes.changed) else np.zeros(0, np.int64)
        newP, newR = net.paths(routes, f.src[moved], f.dst[moved])
    out = _keep_changed(b, moved, newP, newR)
    b.moved[rs] = out
    return out


def _redo_paths(twin: FluidTwin, rs: RoutingState, k: int, redo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paths in ``rs`` of the flows ``redo`` (whose path crosses link ``k`` in ``rs`` without ``k``).

    With a second link ``j`` down in ``rs``, a flow whose path in ``rs`` without
    ``j`` avoids ``j`` keeps that path (the same argument as for ``k``): only the
    flows whose paths cross the other link in both states are routed afresh.
    The rows are as wide as the longest path, as a walk of all of them gives.
    """
    b, net, f = twin.base_fast, twin.net, twin.flows
    others = sorted(rs.links_down - {k})
    if not others or not len(redo):
        routes = net.compact_routes(rs, np.unique(f.dst[redo]))
        return net.paths(routes, f.src[redo], f.dst[redo])
    j = others[0]
    m2, P2, R2 = moved_paths(twin, RoutingState(rs.links_down - {j}, rs.nodes_down, rs.costs))
    pos = np.full(len(f.src), -1, np.int64)
    pos[m2] = np.arange(len(m2))
    q = pos[redo]
    H = max(P2.shape[1], b.P.shape[1])
    cand = _width(b.P[redo], H)
    cR = b.reached[redo].copy()
    if len(m2):
        hit = q >= 0
        cand[hit] = _width(P2, H)[q[hit]]
        cR[hit] = R2[q[hit]]
    fresh = ((cand == 2 * j) | (cand == 2 * j + 1)).any(axis=1)
    if fresh.any():
        sub = redo[fresh]
        fP, fR = net.paths(net.compact_routes(rs, np.unique(f.dst[sub])), f.src[sub], f.dst[sub])
        H = max(H, fP.shape[1])
        cand = _width(cand, H)
        cand[fresh] = _width(fP, H)
        cR[fresh] = fR
    return cand[:, :int((cand >= 0).sum(axis=1).max(initial=0))], cR


def fast_segment(twin: FluidTwin, phys: Physical, rs: RoutingState) -> SegmentResult:
    """The segment's result computed from the baseline's (see the module docstring)."""
    b, net, f = twin.base_fast, twin.net, twin.flows
    moved, newP, newR = moved_paths(twin, rs)
    # dead: on a failed part (old path for unmoved flows, new path for moved ones), no route, ends down
    down_arcs = np.zeros(net.A + 1, bool)
    for k in phys.links_down:
        down_arcs[2 * k:2 * k + 2] = True
    nodes = list(phys.nodes_down)
    if nodes:
        down_arcs[:net.A] |= np.isin(net.tail, nodes) | np.isin(net.head, nodes)
    dead = np.zeros(len(f.src), bool)
    for a in np.flatnonzero(down_arcs[:net.A]):
        dead[b.on_arc[a]] = True
    for n in phys.cleared:
        dead[b.on_node[n]] = True
    for n in nodes:
        dead[b.by_src[n]] = True
        dead[b.by_dst[n]] = True
    dead[b.unreached] = True
    Pm, ser = _padded(twin, rs, moved, newP)
    dead_m = ~newR | down_arcs[Pm].any(axis=1)
    if phys.cleared:
        cleared = np.zeros(net.N + 1, bool)
        cleared[list(phys.cleared)] = True
        tails = np.where(newP >= 0, net.tail[np.maximum(newP, 0)], net.N)
        dead_m |= cleared[tails].any(axis=1) | cleared[f.src[moved]]
    if nodes:
        node_down = np.zeros(net.N, bool)
        node_down[nodes] = True
        dead_m |= node_down[f.src[moved]] | node_down[f.dst[moved]]
    dead[moved] = dead_m
    # loads: the baseline's minus the old contributions of moved and dead flows, plus the moved ones' new
    gone_mask = dead.copy()
    gone_mask[moved] = True
    load = b.load - b.arc_flows @ np.where(gone_mask, b.w, 0.0)
    live = moved[~dead_m]
    Pl = Pm[~dead_m]
    load = load + np.bincount(Pl.ravel(), weights=np.repeat(b.w[live], Pl.shape[1]), minlength=net.A + 1)[:net.A]
    frac = np.where(dead, 0.0, 1.0)
    cap = net.capacity_bps
    hot = np.flatnonzero(load > cap * (1 + 1e-9))
    if len(hot):
        frac, load = _share_hot(twin, b, hot, load, frac, moved, newP, dead, _proportional)
    wait = Base._wait(twin, load)
    dw = wait - b.wait
    delay = b.delay + b.flows_arcs @ dw
    if len(live):
        per_arc = np.r_[net.delay_s + wait, 0.0]
        delay[live] = per_arc[Pl].sum(axis=1) + ser[~dead_m]
    util = np.minimum(load, cap) / cap
    return SegmentResult(frac=frac, delay=delay, dead=dead, util=util, drops=load > cap * (1 + 1e-9))


def _padded(twin: FluidTwin, rs: RoutingState, moved: np.ndarray, newP: np.ndarray) -> tuple[np.ndarray, ...]:
    """The moved flows' paths with ``A`` for no arc, and their serialisation time (s); cached per routing state."""
    b, net = twin.base_fast, twin.net
    if rs not in b.padded:
        Pm = np.where(newP >= 0, newP, net.A)
        ser = 8 * (twin.flows.pkt[moved] + 30) * b.inv_cap[Pm].sum(axis=1)
        b.padded[rs] = (Pm, ser)
        return Pm, ser
    return b.padded[rs]


def _width(P: np.ndarray, H: int) -> np.ndarray:
    """``P`` padded with ``NO_ARC`` to at least ``H`` columns."""
    if P.shape[1] >= H:
        return P
    out = np.full((P.shape[0], H), NO_ARC, P.dtype)
    out[:, :P.shape[1]] = P
    return out


def _paths_of(b: Base, moved: np.ndarray, newP: np.ndarray, idx: np.ndarray, A: int) -> np.ndarray:
    """Arc rows (padded with ``A``) of flows ``idx``: their new path if moved, else the baseline's."""
    H = max(newP.shape[1], b.P.shape[1])
    P = _width(b.P[idx], H)
    pos = {int(m): i for i, m in enumerate(moved)}
    sel = np.array([pos.get(int(i), -1) for i in idx]) if len(moved) else np.full(len(idx), -1)
    if (sel >= 0).any():
        P[sel >= 0] = _width(newP, H)[sel[sel >= 0]]
    return np.where(P >= 0, P, A)


def _share_hot(twin, b, hot, load, frac, moved, newP, dead, _proportional):
    """Proportional sharing among the flows that cross an overloaded arc; the rest is background."""
    net, f = twin.net, twin.flows
    A = net.A
    on_hot_old = _union(b.on_arc, hot)
    on_hot_old = on_hot_old[~np.isin(on_hot_old, moved)]
    Pn = np.where(newP >= 0, newP, A)
    on_hot_new = moved[np.isin(Pn, hot).any(axis=1)]
    S = np.union1d(on_hot_old, on_hot_new)
    S = S[~dead[S]]
    E = _paths_of(b, moved, newP, S, A)
    wf = net.wire_factor(f.pkt[S])
    coef = np.where(E < A, wf[:, None], 0.0)
    own = np.bincount(E.ravel(), weights=(f.rate[S, None] * coef).ravel(), minlength=A + 1)
    background = np.r_[load, 0.0] - own
    capE = np.maximum(np.r_[net.capacity_bps, np.inf] - background, 1e-9)
    x, fr = _proportional(E, coef, capE, np.ones(A + 1), f.rate[S], A, own)
    frac = frac.copy()
    frac[S] = fr
    arriving = np.bincount(E.ravel(), weights=(x * coef).ravel(), minlength=A + 1)
    return frac, (background + arriving)[:A]


def fast_segments(twin: FluidTwin, items: list[tuple[Physical, RoutingState]]) -> list[SegmentResult]:
    """:func:`fast_segment` of many segments at once: the same results, their loads and delays as one pass.

    Routing stays per state (:func:`moved_paths`, cached); the dead flows,
    loads, queueing waits and delays of all segments are matrices (one row per
    segment): the moved flows' paths as one flat list of hops, the old
    contributions of the flows that leave their baseline path gathered from the
    baseline's flow x arc matrix, the delays one sparse product. Loads add the
    same numbers in the same order as one segment at a time; a moved flow's
    delay sums its hops in another order (equal to ~1e-16 relative).
    """
    b, net = twin.base_fast, twin.net
    moved = [moved_paths(twin, rs) for _, rs in items]
    hops = [_hops(twin, rs, m[0], m[1]) for (_, rs), m in zip(items, moved)]
    down, dead = _static_dead(twin, [p for p, _ in items])
    m = _Moved(twin, moved, hops, down, [p for p, _ in items])
    dead[m.seg, m.flow] = m.dead
    load = _loads(twin, m, dead)
    frac = np.where(dead, 0.0, 1.0)
    cap = net.capacity_bps
    for s in np.flatnonzero((load > cap * (1 + 1e-9)).any(axis=1)):
        hot = np.flatnonzero(load[s] > cap * (1 + 1e-9))
        frac[s], load[s] = _share_hot(twin, b, hot, load[s], frac[s], moved[s][0], moved[s][1], dead[s],
                                      _proportional)
    wait = Base._wait(twin, load)
    delay = _delays(twin, m, wait)
    util, drops = np.minimum(load, cap) / cap, load > cap * (1 + 1e-9)
    return [SegmentResult(frac=frac[i], delay=delay[i], dead=dead[i], util=util[i], drops=drops[i])
            for i in range(len(items))]


def _loads(twin: FluidTwin, m: _Moved, dead: np.ndarray) -> np.ndarray:
    """(segments x arcs) loads: the baseline's, less the old contributions of the flows that die or move (bin
    by bin in flow order, as the baseline's sparse product adds them), plus the live moved flows' new ones."""
    b, (S, A) = twin.base_fast, (len(dead), twin.net.A)
    gone = dead.copy()
    gone[m.seg, m.flow] = True
    seg, flow = np.nonzero(gone)
    fa = b.flows_arcs
    counts = np.diff(fa.indptr)[flow]
    at = np.repeat(fa.indptr[flow] - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    old = np.bincount(np.repeat(seg * A, counts) + fa.indices[at], weights=np.repeat(b.w[flow], counts),
                      minlength=S * A).reshape(S, A)
    on = ~m.dead[m.row]
    new = np.bincount(m.seg[m.row[on]] * A + m.arc[on], weights=b.w[m.flow[m.row[on]]], minlength=S * A)
    return (b.load - old) + new.reshape(S, A)


def _delays(twin: FluidTwin, m: _Moved, wait: np.ndarray) -> np.ndarray:
    """(segments x flows) delays: the baseline's moved by the change of the waits on each path (one sparse
    product), and the live moved flows' new paths summed hop by hop with their serialisation time."""
    b, A = twin.base_fast, twin.net.A
    delay = b.delay + (b.flows_arcs @ (wait - b.wait).T).T
    live = ~m.dead
    on = live[m.row]
    per_arc = (twin.net.delay_s + wait).ravel()
    sums = np.bincount(m.row[on], weights=per_arc[m.seg[m.row[on]] * A + m.arc[on]], minlength=len(m.seg))
    delay[m.seg[live], m.flow[live]] = sums[live] + m.ser[live]
    return delay


def _hops(twin: FluidTwin, rs: RoutingState, moved: np.ndarray, newP: np.ndarray) -> tuple[np.ndarray, ...]:
    """The moved flows' paths in ``rs`` as a flat list (row, arc) in path order, and their serialisation time."""
    b, net = twin.base_fast, twin.net
    key = ("hops", rs)
    if key not in b.padded:
        Pm, ser = _padded(twin, rs, moved, newP)
        row, col = np.nonzero(Pm < net.A)
        b.padded[key] = out = (row, Pm[row, col], ser)
        return out
    return b.padded[key]


def _static_dead(twin: FluidTwin, phys: list[Physical]) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the arcs down (``A + 1`` columns, the last one never) and the flows dead on their baseline
    path (a failed arc or emptied router on it, an end down, no route)."""
    b, net, f = twin.base_fast, twin.net, twin.flows
    down = np.zeros((len(phys), net.A + 1), bool)
    dead = np.zeros((len(phys), len(f.src)), bool)
    for s, p in enumerate(phys):
        for k in p.links_down:
            down[s, 2 * k:2 * k + 2] = True
        nodes = list(p.nodes_down)
        if nodes:
            down[s, :net.A] |= np.isin(net.tail, nodes) | np.isin(net.head, nodes)
        parts = [b.on_arc[a] for a in np.flatnonzero(down[s, :net.A])]
        parts += [b.on_node[n] for n in p.cleared] + [b.by_src[n] for n in nodes] + [b.by_dst[n] for n in nodes]
        if parts:
            dead[s, np.concatenate(parts)] = True
    dead[:, b.unreached] = True
    return down, dead


class _Moved:
    """The moved flows of many segments: one row each (segment, flow, serialisation time, whether dead) and
    their paths as one flat list of hops (``row``, ``arc``)."""

    def __init__(self, twin: FluidTwin, moved: list, hops: list, down: np.ndarray, phys: list[Physical]
                 ) -> None:
        net, f = twin.net, twin.flows
        counts = [len(m[0]) for m in moved]
        first = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        self.seg = np.repeat(np.arange(len(moved)), counts)
        self.flow = np.concatenate([m[0] for m in moved]) if moved else np.zeros(0, np.int64)
        self.row = np.concatenate([h[0] + o for h, o in zip(hops, first)]) if hops else np.zeros(0, np.int64)
        self.arc = np.concatenate([h[1] for h in hops]) if hops else np.zeros(0, np.int64)
        self.ser = np.concatenate([h[2] for h in hops]) if hops else np.zeros(0)
        reached = np.concatenate([m[2] for m in moved]) if moved else np.zeros(0, bool)
        R, eseg = len(self.seg), self.seg[self.row]
        self.dead = ~reached | self._any(down[:, :net.A].ravel()[eseg * net.A + self.arc], R)
        cleared = np.zeros((len(phys), net.N), bool)
        node_down = np.zeros((len(phys), net.N), bool)
        for s, p in enumerate(phys):
            cleared[s, list(p.cleared)] = True
            node_down[s, list(p.nodes_down)] = True
        if cleared.any():
            self.dead |= self._any(cleared.ravel()[eseg * net.N + net.tail[self.arc]], R)
            self.dead |= cleared[self.seg, f.src[self.flow]]
        if node_down.any():
            self.dead |= node_down[self.seg, f.src[self.flow]] | node_down[self.seg, f.dst[self.flow]]

    def _any(self, hit: np.ndarray, n: int) -> np.ndarray:
        """Per row: whether any of its hops is ``hit``."""
        return np.bincount(self.row, weights=hit, minlength=n) > 0


def with_moved(P: np.ndarray, reached: np.ndarray, moved: np.ndarray, newP: np.ndarray, newR: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's paths ``P`` and reach with the rows ``moved`` replaced (padded with ``NO_ARC``)."""
    H = max(P.shape[1], newP.shape[1])
    out = np.full((len(P), H), NO_ARC, P.dtype)
    out[:, :P.shape[1]] = P
    out[moved] = NO_ARC
    out[moved, :newP.shape[1]] = newP
    ok = reached.copy()
    ok[moved] = newR
    return out, ok
