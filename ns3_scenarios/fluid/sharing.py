"""Sharing of link directions and router CPUs among flows (the fluid tier's queues).

``proportional``: a DropTail FIFO offered more than its capacity forwards its
capacity and drops the same share of every flow; along a path a flow's rate at
a hop is what the hops before let through (a fixed point over all flows).
``maxmin``: a max-min fair allocation with demands (progressive filling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Flows:
    src: np.ndarray
    dst: np.ndarray
    rate: np.ndarray          # payload bit/s
    pkt: np.ndarray           # payload bytes per packet


@dataclass
class SegmentResult:
    frac: np.ndarray          # delivered share of each flow (network flows, then attack flows)
    delay: np.ndarray         # mean one-way delay of what is delivered (s)
    dead: np.ndarray          # bool: delivered nothing for want of a route / a live path
    util: np.ndarray          # carried load / capacity per arc
    drops: np.ndarray         # bool per arc: offered more than capacity
    lossy: np.ndarray | None = None  # demand flows with frac != 1 or dead (the KPIs' cache)


def _proportional(E, coef, capE, passE, r, M, offered):
    """DropTail sharing: every element forwards min(1, capacity / offered) of each flow (fixed point).

    Only the flows crossing an element that drops (offered more than its
    capacity at the flows' full rates, or lossy) take part in the iteration:
    loads only fall as it goes, so no other element ever drops, every other
    flow keeps its rate at every hop, and those flows add nothing to the
    dropping elements' loads. The same numbers as iterating over every flow
    (each row's arithmetic is its own; a test holds them equal bit for bit).
    """
    x = np.broadcast_to(r[:, None], E.shape).copy()
    if not E.shape[1]:
        return x, (r > 0).astype(float)
    s = np.minimum(1.0, np.divide(capE, offered, out=np.ones(M + 1), where=offered > 0))
    drops = (s < 1) | (passE < 1)
    if not drops.any():
        return x, (r > 0).astype(float)
    rows = np.flatnonzero(drops[E].any(axis=1))
    if len(rows):
        Ea, ca, ra, xa = E[rows], coef[rows], r[rows], x[rows]
        Eh = Ea[:, :-1]   # a flow's rate at a hop is what the hops before it let through
        through = np.ones(Ea.shape)
        tol = 1e-9 * max(r.max(), 1.0)
        for _ in range(60):
            np.cumprod((s * passE)[Eh], axis=1, out=through[:, 1:])
            x_new = ra[:, None] * through
            load = np.bincount(Ea.ravel(), weights=(x_new * ca).ravel(), minlength=M + 1)
            s = np.minimum(1.0, np.divide(capE, load, out=np.ones(M + 1), where=load > 0))
            done = np.abs(x_new - xa).max() <= tol
            xa = x_new
            if done:
                break
        x[rows] = xa
    frac = np.divide(x[:, -1] * s[E[:, -1]] * passE[E[:, -1]], r, out=np.zeros_like(r), where=r > 0)
    return x, frac


def _maxmin(E, coef, capE, r, M):
    """Max-min fair allocation with demands ``r`` (progressive filling; one step per bottleneck level)."""
    alloc, active = np.zeros_like(r), r > 0
    remaining = capE.copy()
    for _ in range(M + len(r) + 1):
        if not active.any():
            break
        w = np.bincount(E[active].ravel(), weights=coef[active].ravel(), minlength=M + 1)
        share = np.divide(remaining, w, out=np.full(M + 1, np.inf), where=w > 0)
        theta = min(share.min(), (r - alloc)[active].min())
        alloc[active] += theta
        remaining -= theta * w
        full = remaining <= 1e-9 * np.maximum(capE, 1.0)
        active &= ~full[E].any(axis=1) & (alloc < r * (1 - 1e-12))
    return alloc
