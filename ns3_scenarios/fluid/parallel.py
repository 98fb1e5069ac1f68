"""Screening on several processes: the twin set up once, then forked, scenarios shared out in chunks.

You must provide a set-up :class:`~.model.FluidTwin`, scenarios and a number of
worker processes; you get :meth:`~.model.FluidTwin.evaluate_many`'s results in
the scenarios' order (optionally mapped by ``post`` in the workers, e.g. to the
loop's damage).

* The workers are forked from this process after the twin's set-up (traffic
  sizing, baseline routes), so they inherit it and its caches copy-on-write:
  nothing is pickled to them but chunk numbers and an index of shared memory (read once), and only results
  come back.
* First, the routing states of single links down that the scenarios' cuts
  need in more than one chunk (fibre, double-link and SRLG cuts; each is
  shared by every scenario that cuts that link) are shared out among the same
  workers, which write them to memory shared with this process and each other
  (:class:`_Board`, made before the fork): each worker takes the others' as
  views before its first chunk, and this process keeps them all in its caches.
  A cold double cut needs both of its links' states, so without this every
  worker would compute nearly all of them (single cuts, chunked by their link,
  need none ahead). Passing them through shared memory instead of pickling
  them to this process and forking again screened 1,000 double cuts on TataNld
  4-13 % faster (docs/measurements-2026-12.md).
* Scenarios are ordered by their first event before they are cut into chunks,
  so the scenarios that share a first failure (and its segments) are screened
  by the same worker.
* A worker that dies (a native crash, the OOM killer) costs only time: it
  breaks the pool, and the chunks not done (its own and those not started) are
  screened again in this process, with a warning.
* Each worker's caches die with it: a second call starts from this process's.

Results equal :meth:`~.model.FluidTwin.evaluate_many`'s on the same scenarios:
integer KPIs exactly, float KPIs to the last bits (a segment's floats may be
summed in another order when its neighbours in a block differ; a test holds
them to 1e-12 relative). Where ``fork`` does not exist (Windows), or one
worker is asked for, the scenarios are screened here. The workers run only
numpy and scipy: threads of this process (an in-process LLM's) are not
copied, and are never needed in them.
"""

from __future__ import annotations

import gc
import logging
import mmap
import multiprocessing as mp
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

import numpy as np
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid.incremental import applicable
from ani.ns3_scenarios.fluid.linkstates import Flat, LinkStates
from ani.ns3_scenarios.fluid.network import Recent
from ani.ns3_scenarios.fluid.timeline import Physical

log = logging.getLogger(__name__)

#: fewest scenarios per worker (fewer scenarios are screened in this process)
MIN_PER_WORKER = 64
#: fewest scenarios per chunk (one :data:`~.batch.BLOCK`)
MIN_CHUNK = 32
#: chunks per worker: enough to even out the load when some chunks, or one CPU of a shared machine, are
#: slower (1,000 double cuts on TataNld, two workers, 8 alternated runs twice: 16 chunks of ~32 scenarios
#: each 1,294 and 1,237/s, 4 of ~125 each 1,208 and 1,154/s, with a tighter spread)
CHUNKS_PER_WORKER = 16
#: event types that take links down (their rows' targets are link indices)
CUTS = frozenset({"fiber_link_failure", "double_link_failure", "srlg_cut"})
#: fewest single-link states worth a round of workers of their own
MIN_WARM = 16
#: entries of its own a worker keeps in each of its caches (the ones used last)
WORKER_KEEP = 64

#: bytes of memory shared with the workers at most (a region per share, used as far as its states need)
BOARD_BYTES = 2**30

_JOB: tuple[Any, Sequence[Scenario], Callable[[Any], Any] | None, _Board | None] | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def planned_workers(workers: int, n: int) -> int:
    """The processes :func:`evaluate_parallel` uses for ``n`` scenarios when asked for ``workers``."""
    return max(1, min(workers, n // MIN_PER_WORKER)) if can_fork() else 1


def evaluate_parallel(twin: Any, scenarios: Sequence[Scenario], workers: int,
                      post: Callable[[Any], Any] | None = None) -> list[Any]:
    """``twin.evaluate_many(scenarios)`` on ``workers`` processes, each result mapped by ``post`` (refusals,
    :class:`~ani.kg.errors.ScenarioError`, are returned as they are)."""
    workers = planned_workers(workers, len(scenarios))
    if workers == 1:
        return [_post(post, k) for k in twin.evaluate_many(list(scenarios))]
    chunks = _chunks(scenarios, workers)
    links = _shared(_cut_links(twin, scenarios), chunks)
    board = _Board(twin.cuts.states, [links[i::workers] for i in range(workers)]) if len(links) >= MIN_WARM else None
    out: list[Any] = [None] * len(scenarios)
    done = [False] * len(chunks)
    with _forked((twin, scenarios, post, board), workers) as pool:
        index = pickle.dumps(_warm(twin, board, pool) if board is not None else [])   # once, not per chunk
        futures = [pool.submit(_screen_chunk, c, index) for c in chunks]
        for i, f in enumerate(futures):
            done[i] = _collect(f, chunks[i], out)
    lost = [c for c, ok in zip(chunks, done) if not ok]
    if lost:
        idx = [i for c in lost for i in c]
        log.warning("a screening worker died; %d of %d scenarios screened again in this process",
                    len(idx), len(scenarios))
        for i, k in zip(idx, twin.evaluate_many([scenarios[i] for i in idx])):
            out[i] = _post(post, k)
    return out


@contextmanager
def _forked(job: tuple[Any, Sequence[Scenario], Callable[[Any], Any] | None, _Board | None], workers: int
            ) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes forked with ``job`` in :data:`_JOB` (a pool broken by a dead worker
    ends the block quietly: its futures say which results are missing)."""
    global _JOB
    _JOB = job
    gc.freeze()   # else the workers' collector writes to every object they inherit (copying their pages)
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
    try:
        yield pool
    except BrokenProcessPool:
        pass
    finally:   # not waited for: every result is in, and the workers end on their own (~10 ms of 700 saved)
        pool.shutdown(wait=False)
        _JOB = None
        gc.unfreeze()


def _warm(twin: Any, board: _Board, pool: ProcessPoolExecutor) -> list[Any]:
    """The single-link routing states of the board's shares, computed by the workers (one share each) into
    the board, and cached here as views of it; returns their index, for the workers to take them from the
    board in turn (a dead worker's share is left to the screening)."""
    index: list[Any] = []
    for f in [pool.submit(_single_states, i) for i in range(len(board.shares))]:
        try:
            index += f.result()
        except BrokenProcessPool:
            continue
    board.install(twin.cuts.states.cache, index)
    return index


def _cut_links(twin: Any, scenarios: Sequence[Scenario]) -> list[set[int]]:
    """The links each scenario cuts whose single-link state is not cached (none if cuts do not take the lean
    path)."""
    if not applicable(twin, Physical(), np.zeros(1), None):
        return [set() for _ in scenarios]
    index, cache = twin.net.link_index, twin.cuts.states.cache
    out = []
    for s in scenarios:
        found: set[int] = set()
        for e in s.events:
            if e.event_type.value == "fiber_link_failure" and e.target in index:   # most cuts: by link id
                found.add(index[e.target])
            elif e.event_type.value in CUTS:
                try:
                    found.update(twin._row(s, e).targets)
                except ScenarioError:
                    continue   # refused when screened
        out.append({k for k in found if frozenset({k}) not in cache})
    return out


def _shared(cut: list[set[int]], chunks: list[list[int]]) -> list[int]:
    """The links cut in scenarios of more than one chunk."""
    seen: dict[int, int] = {}
    shared: set[int] = set()
    for c, chunk in enumerate(chunks):
        for i in chunk:
            for k in cut[i]:
                if seen.setdefault(k, c) != c:
                    shared.add(k)
    return sorted(shared)


def _single_states(share: int) -> list[Any]:
    """In a worker: the single-link states of the board's ``share``, written to it (their index)."""
    assert _JOB is not None and _JOB[3] is not None, "screening worker started without a job (not forked?)"
    states, board = _JOB[0].cuts.states, _JOB[3]
    links = board.shares[share]
    states.prepare([frozenset({k}) for k in links])
    return board.write(share, [(k, states.state(frozenset({k}))) for k in links])


def _chunks(scenarios: Sequence[Scenario], workers: int) -> list[list[int]]:
    """Scenario indices ordered by first event (type, target), cut into chunks of about equal size."""
    order = sorted(range(len(scenarios)), key=lambda i: _first(scenarios[i]))
    n = max(MIN_CHUNK, -(-len(order) // (workers * CHUNKS_PER_WORKER)))
    return [order[i:i + n] for i in range(0, len(order), n)]


def _first(s: Scenario) -> tuple[str, str]:
    if not s.events:
        return ("", "")
    e = min(s.events, key=lambda e: e.timestamp)
    return (e.event_type.value, e.target)


def _collect(f: Future, chunk: list[int], out: list[Any]) -> bool:
    """Put a chunk's results in place; False if its worker died."""
    try:
        res = f.result()
    except BrokenProcessPool:
        return False
    for i, r in zip(chunk, res):
        out[i] = r
    return True


class _Overlay(Recent):
    """A worker's cache: the inherited one, read through, plus the ``keep`` entries of its own used last (the
    oldest dropped one at a time). A worker's caches die with it, so what it adds serves only its next
    scenarios; kept small, the memory it frees is used again instead of new pages (each one a page fault),
    and a block's routing states, computed together before its segments, stay until they are used."""

    def __init__(self, inherited: Any, keep: int) -> None:
        super().__init__(keep)
        self.inherited = inherited

    def __contains__(self, key: object) -> bool:
        return Recent.__contains__(self, key) or key in self.inherited

    def __getitem__(self, key: Any) -> Any:
        if Recent.__contains__(self, key):
            return Recent.__getitem__(self, key)
        return self.inherited[key]


def _overlaid(twin: Any) -> None:
    """In a worker: the twin's growing caches (segments, routing states of cuts) as :class:`_Overlay`."""
    if isinstance(twin._segments, _Overlay):
        return
    twin._segments = _Overlay(twin._segments, WORKER_KEEP)
    twin.cuts.hops = _Overlay(twin.cuts.hops, WORKER_KEEP)
    twin.cuts.states.cache = _Overlay(twin.cuts.states.cache, WORKER_KEEP)


def _screen_chunk(chunk: list[int], index: bytes) -> list[Any]:
    """In a worker: the chunk's scenarios through the inherited twin (the other workers' single-link states
    taken from the board first)."""
    assert _JOB is not None, "screening worker started without a job (not forked?)"
    twin, scenarios, post, board = _JOB
    if board is not None and not board.installed:
        board.install(twin.cuts.states.cache, pickle.loads(index))
    _overlaid(twin)
    return [_post(post, k) for k in twin.evaluate_many([scenarios[i] for i in chunk])]


class _Board:
    """Memory this process shares with its workers (an anonymous shared mapping, made before they fork), a
    region per share of single-link states: the worker that computes a share writes its states there, and
    the other workers and this process take them as views (nothing pickled, no second fork). A state that does
    not fit its region (its paths longer than planned for) travels pickled instead."""

    def __init__(self, states: LinkStates, shares: list[list[int]]) -> None:
        self.shares = shares
        need = [sum(_bound(len(states.on_link(k)), states.base_width) for k in share) for share in shares]
        scale = min(1.0, BOARD_BYTES / max(sum(need), 1))
        self.start = [0]
        for n in need:
            self.start.append(self.start[-1] + int(n * scale) // 8 * 8)
        self.mem = mmap.mmap(-1, max(self.start[-1], 1))
        self.installed = False   # in a worker: the index taken (each process has its own copy of the flag)

    def write(self, share: int, flats: list[tuple[int, Flat]]) -> list[Any]:
        """Write ``(link, state)`` of ``share`` to its region; their index entries (``(link, state)`` for
        the ones that do not fit)."""
        at, end = self.start[share], self.start[share + 1]
        out: list[Any] = []
        for k, flat in flats:
            arrays = (flat.flows, flat.reached, flat.lens, flat.arc, flat.ser)
            if at + sum(_aligned(a.nbytes) for a in arrays if a is not None) > end:
                out.append((k, flat))
                continue
            parts: list[tuple[str, int, int] | None] = []
            for a in arrays:
                if a is None:
                    parts.append(None)
                    continue
                np.frombuffer(self.mem, a.dtype, a.size, at)[:] = a.ravel()
                parts.append((a.dtype.str, a.size, at))
                at += _aligned(a.nbytes)
            out.append((k, flat.width, parts))
        return out

    def install(self, cache: Any, index: list[Any]) -> None:
        """The states of ``index`` not in ``cache`` put there (views of the board; once per process)."""
        if self.installed:
            return
        for entry in index:
            key = frozenset({entry[0]})
            if key not in cache:
                cache[key] = entry[1] if len(entry) == 2 else self._flat(*entry[1:])
        self.installed = True

    def _flat(self, width: int, parts: list[tuple[str, int, int] | None]) -> Flat:
        flows, reached, lens, arc, ser = (None if p is None else np.frombuffer(self.mem, np.dtype(p[0]), p[1], p[2])
                                          for p in parts)
        return Flat(flows, reached, lens, arc, ser, width)


def _bound(flows: int, width: int) -> int:
    """Bytes planned for a single-link state of ``flows`` moved flows, baseline paths at most ``width`` hops:
    four arrays of one entry per flow, and paths up to twice as long plus 16 hops."""
    return _aligned(8 * flows) * 3 + _aligned(flows) + _aligned(8 * flows * (2 * width + 16))


def _aligned(n: int) -> int:
    return -(-n // 8) * 8


def _post(post: Callable[[Any], Any] | None, k: Any) -> Any:
    return k if post is None or isinstance(k, ScenarioError) else post(k)
