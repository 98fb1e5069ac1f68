"""The probe cover on route matrices (graphs above LARGE_GRAPH_ROUTERS routers) against the path-list code.

The matrix path exists for 5,000-PoP graphs; here it is forced on small real
networks so that both can run: the same used links, probes that follow the
twin's routes and together cross every used link, as many probes, and the
same longest route.
"""

from __future__ import annotations

import pytest

from ani.kg.topology import load_graphml, load_topology
from ani.ns3_scenarios import sizing, twin_paths


def _networks(shared_data):  # type: ignore[no-untyped-def]
    zoo = shared_data / "topologyzoo"
    return [load_topology("abilene"), *(load_graphml(zoo / f"{n}.graphml") for n in ("Geant2010", "TataNld"))]


def test_route_matrix_cover_matches_the_path_lists(shared_data, monkeypatch: pytest.MonkeyPatch) -> None:
    for g in _networks(shared_data):
        small_paths, small_covered, small_used, small_longest = sizing.probe_paths(g)
        small_links = sizing.used_links(g)
        monkeypatch.setattr(sizing, "LARGE_GRAPH_ROUTERS", 1)
        paths, covered, used, longest = sizing.probe_paths(g)
        assert sizing.used_links(g) == small_links and used == small_used == covered == small_covered
        assert longest == small_longest
        assert abs(len(paths) - len(small_paths)) <= max(1, len(small_paths) // 10), (len(paths), len(small_paths))
        order, crossed = twin_paths.link_order(g), set()
        for p in paths:
            assert twin_paths.twin_path(twin_paths.twin_next_hops(g, p[-1], order), p[0], p[-1]) == p
            crossed |= {order[frozenset(hop)] for hop in zip(p, p[1:])}
        assert crossed == small_links
        monkeypatch.setattr(sizing, "LARGE_GRAPH_ROUTERS", 1000)


def test_top_gravity_pairs_are_the_head_of_the_full_order(shared_data) -> None:
    """_gravity_pairs with a limit: the first pairs and weights of the unlimited order, same total."""
    g = _networks(shared_data)[2]
    pairs, w, total = sizing._gravity_pairs(g)
    top, wt, total_top = sizing._gravity_pairs(g, 500)
    assert total == total_top == len(pairs) and top == pairs[:500] and (wt == w[:500]).all()
    assert abs(w.sum() - 1.0) < 1e-9 and list(w) == sorted(w, reverse=True)
