"""The optimality gap's hook: each arm's best damage as a fraction of the worst case (not built here).

The worst case under the evaluation's :class:`~ani.llm.policy.InterventionPolicy` -- the exhaustive
N-1 and N-2 failures, screened by the fluid tier and the top ones confirmed at packet level --
is the fluid tier's job (``ns3_scenarios/fluid*``, ``ani screen``, built on another branch). This
module only fixes the interface the evaluation calls:

* a :class:`WorstCaseReference` is any callable ``(graph, params, policy, budget) -> float | None``
  returning the packet-level damage of the worst scenario it found (None: not affordable here);
* :data:`REFERENCES` names them; the evaluation's ``EvalConfig.worst_case`` picks one (None = no gap);
* :func:`gap_table` turns the ``loops`` table and the references into ``gap.parquet``: per
  (network, arm, seed) ``best_damage / worst_case_damage``.

To plug the fluid tier in: add ``REFERENCES["fluid-n2"] = <its function>`` (or register it from its
module) and run ``ani evaluate`` with ``EvalConfig(worst_case="fluid-n2")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx
import pandas as pd

WorstCaseReference = Callable[[nx.Graph, dict[str, Any], Any, int], "float | None"]
#: name -> worst-case reference; empty until the fluid tier registers one
REFERENCES: dict[str, WorstCaseReference] = {}


def gap_table(loops: pd.DataFrame, worst: Mapping[str, float | None]) -> pd.DataFrame:
    """``best_damage / worst_case_damage`` per loop, for the networks with a reference damage."""
    cols = ["network", "arm", "seed", "best_damage", "worst_case_damage", "fraction_of_worst_case"]
    if loops.empty or not worst:
        return pd.DataFrame(columns=cols)
    df = loops[loops["network"].isin([n for n, v in worst.items() if v])][["network", "arm", "seed", "best_damage"]]
    ref = df["network"].map(worst).astype(float)
    frac = [b / r if r and math.isfinite(r) and r > 0 else math.nan for b, r in zip(df["best_damage"], ref)]
    return df.assign(worst_case_damage=ref, fraction_of_worst_case=frac)[cols]


__all__ = ["REFERENCES", "WorstCaseReference", "gap_table"]
