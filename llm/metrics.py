"""Quality of a set of scenarios: validity at three levels, diversity, chain length.

Validity, each level including the one before:

* **schema-valid** -- the item parses as a :class:`Scenario` (raw JSON text,
  a dict, or a Scenario already);
* **KG-grounded** -- also, every target names a component of the graph and
  every event type applies to its target (no ``unknown_target`` /
  ``wrong_kind`` issue);
* **causally valid** -- also, ``kg.validate`` finds nothing at all.

Diversity is over *actions*, the (event type, target) pairs: how many distinct
ones, the Shannon entropy of their distribution (bits), and the mean pairwise
Jaccard distance between the scenarios' action sets (0 = all the same, 1 =
nothing shared). A scenario's *chain length* is the number of its events
before the first broken rule (all its events when it is valid).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ani.kg.contract import CausalModel, Issue
from ani.kg.scenario import Scenario

GROUNDING_CODES = frozenset({"unknown_target", "wrong_kind"})
MAX_PAIRS_SAMPLE = 400


class ScenarioMetrics(BaseModel):
    """Metrics of one set of scenarios (rates are fractions of ``n``; NaN when ``n`` is 0)."""

    model_config = ConfigDict(extra="forbid")

    n: int
    schema_valid_rate: float
    grounded_rate: float
    causal_valid_rate: float
    distinct_actions: int
    distinct_event_types: int
    distinct_scenarios: int
    action_entropy_bits: float
    mean_jaccard_distance: float
    mean_chain_length: float
    max_chain_length: int
    mean_events: float

    def table(self) -> str:
        """Aligned ``name  value`` lines for a terminal."""
        rows = self.model_dump()
        return "\n".join(f"{k:<22} {v:.3f}" if isinstance(v, float) else f"{k:<22} {v}" for k, v in rows.items())


def parse_item(item: Scenario | Mapping[str, Any] | str) -> Scenario | None:
    """The item as a Scenario, or None when it is not schema-valid."""
    if isinstance(item, Scenario):
        return item
    try:
        raw = json.loads(item) if isinstance(item, str) else dict(item)
        if isinstance(raw, list):
            raw = {"events": raw}
        return Scenario.model_validate(raw)
    except (ValueError, TypeError, ValidationError):
        return None


def chain_length(scenario: Scenario, issues: Sequence[Issue]) -> int:
    """Events before the first broken rule (an issue without an index breaks at 0)."""
    if not issues:
        return len(scenario.events)
    return min(0 if i.event_index is None else i.event_index for i in issues)


def _actions(s: Scenario) -> frozenset[tuple[str, str]]:
    return frozenset((e.event_type.value, e.target) for e in s.events)


def entropy_bits(counts: Counter[Any]) -> float:
    """Shannon entropy (bits) of a distribution given as counts; 0 for one or no outcome."""
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values() if c) if total else 0.0


def mean_jaccard_distance(sets: Sequence[frozenset[Any]], seed: int = 0) -> float:
    """Mean Jaccard distance over pairs (a seeded sample of pairs for large sets); NaN under 2 sets."""
    pairs = list(itertools.combinations(range(len(sets)), 2))
    if not pairs:
        return float("nan")
    if len(pairs) > MAX_PAIRS_SAMPLE:
        pairs = random.Random(seed).sample(pairs, MAX_PAIRS_SAMPLE)
    dist = [1.0 - len(sets[a] & sets[b]) / len(sets[a] | sets[b]) if sets[a] | sets[b] else 0.0 for a, b in pairs]
    return sum(dist) / len(dist)


def _rate(k: int, n: int) -> float:
    return k / n if n else float("nan")


def scenario_metrics(items: Sequence[Scenario | Mapping[str, Any] | str], kg: CausalModel) -> ScenarioMetrics:
    """Validity, diversity and chain length of ``items`` on ``kg`` (see the module docstring)."""
    parsed = [parse_item(x) for x in items]
    ok = [s for s in parsed if s is not None]
    issues = [kg.validate(s) for s in ok]
    grounded = sum(1 for iss in issues if not any(i.code in GROUNDING_CODES for i in iss))
    valid = sum(1 for iss in issues if not iss)
    actions = Counter(a for s in ok for a in ((e.event_type.value, e.target) for e in s.events))
    chains = [chain_length(s, iss) for s, iss in zip(ok, issues)]
    n = len(items)
    return ScenarioMetrics(
        n=n, schema_valid_rate=_rate(len(ok), n), grounded_rate=_rate(grounded, n), causal_valid_rate=_rate(valid, n),
        distinct_actions=len(actions), distinct_event_types=len({a[0] for a in actions}),
        distinct_scenarios=len({s.digest() for s in ok}), action_entropy_bits=entropy_bits(actions),
        mean_jaccard_distance=mean_jaccard_distance([_actions(s) for s in ok]),
        mean_chain_length=sum(chains) / len(chains) if chains else float("nan"),
        max_chain_length=max(chains, default=0),
        mean_events=sum(len(s.events) for s in ok) / len(ok) if ok else float("nan"))
