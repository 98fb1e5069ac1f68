"""The proportional sharing's fixed point over the flows that cross a dropping element only
(``sharing._proportional``) against the same iteration over every flow, bit for bit.

On real networks (Topology Zoo; skipped with a message when the data is absent),
every call the twin makes while screening scenarios of every event type --
degradations (lossy links), router overloads (CPU elements), traffic spikes,
cuts and router failures, with the traffic near capacity so that links
overload -- is made again with the previous computation, and both results must
be equal, floats included.
"""

from __future__ import annotations

import numpy as np
import pytest
from zoo_data import every_type, near_capacity, zoo_network
from ani.kg.errors import ScenarioError
from ani.ns3_scenarios.fluid import FluidTwin, cuts, incremental, model
from ani.ns3_scenarios.fluid.sharing import _proportional
from ani.ns3_scenarios.templates import get_template


def every_flow(E, coef, capE, passE, r, M, offered):
    """The previous fixed point: every flow iterated (as it was before the restriction)."""
    x = np.broadcast_to(r[:, None], E.shape).copy()
    if not E.shape[1]:
        return x, (r > 0).astype(float)
    s = np.minimum(1.0, np.divide(capE, offered, out=np.ones(M + 1), where=offered > 0))
    if (s >= 1).all() and (passE >= 1).all():
        return x, (r > 0).astype(float)
    for _ in range(60):
        pf = s[E] * passE[E]
        cp = np.cumprod(pf, axis=1)
        x_new = r[:, None] * np.c_[np.ones(len(r)), cp[:, :-1]]
        load = np.bincount(E.ravel(), weights=(x_new * coef).ravel(), minlength=M + 1)
        s = np.minimum(1.0, np.divide(capE, load, out=np.ones(M + 1), where=load > 0))
        done = np.abs(x_new - x).max() <= 1e-9 * max(r.max(), 1.0)
        x = x_new
        if done:
            break
    frac = np.divide(x[:, -1] * s[E[:, -1]] * passE[E[:, -1]], r, out=np.zeros_like(r), where=r > 0)
    return x, frac


@pytest.mark.parametrize("name", ["Abilene", "Geant2010", "TataNld"])
def test_the_fixed_point_over_the_dropping_flows_equals_the_one_over_every_flow(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"compared": 0, "restricted": 0}

    def both(E, coef, capE, passE, r, M, offered):
        x, frac = _proportional(E, coef, capE, passE, r, M, offered)
        x0, frac0 = every_flow(E, coef, capE, passE, r, M, offered)
        assert np.array_equal(x, x0) and np.array_equal(frac, frac0)
        calls["compared"] += 1
        s = np.minimum(1.0, np.divide(capE, offered, out=np.ones(M + 1), where=offered > 0))
        dropping = ((s < 1) | (passE < 1))[E].any(axis=1)
        calls["restricted"] += bool(dropping.any() and not dropping.all())
        return x, frac

    monkeypatch.setattr(model, "_proportional", both)
    monkeypatch.setattr(incremental, "_proportional", both)
    monkeypatch.setattr(cuts, "_proportional", both)
    g = zoo_network(name)
    for params in (get_template("ospf_failure").params({}), near_capacity(g)):
        FluidTwin(g, params).evaluate_many(every_type(name, 30, 4))
    assert calls["compared"] >= 20 and calls["restricted"] >= 10, calls


@pytest.mark.parametrize("name", ["Geant2010", "TataNld"])
def test_path_element_layouts_kept_between_segments_change_nothing(name: str, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """The full path keeps each routing state's (flows x path elements) layout for the next segments with the
    same routes, attack flows and CPU model: the KPIs of every event type are those computed without it."""
    g = zoo_network(name)
    params = near_capacity(g)
    found = every_type(name, 40, 9)
    kept = FluidTwin(g, params)
    with_layouts = [str(k) if isinstance(k, ScenarioError) else k.model_dump() for k in kept.evaluate_many(found)]
    assert len(kept._layouts) > 0
    monkeypatch.setattr(model, "RECENT_LAYOUTS", 0)
    fresh = FluidTwin(g, params)
    without = [str(k) if isinstance(k, ScenarioError) else k.model_dump() for k in fresh.evaluate_many(found)]
    assert without == with_layouts and len(fresh._layouts) == 0
    assert sum(not isinstance(k, str) for k in without) >= 30
    spikes = [s for s in found if any(e.event_type.value == "traffic_spike" for e in s.events)]
    assert spikes, "no traffic spike: the attack flows' part of the key was not exercised"
