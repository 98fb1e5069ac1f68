"""What each arm of the evaluation could reach: its step-0 options and the most damaging single event among them.

Every LLM-family arm and the frontier controls choose, at each step, from the per-step enum
:func:`~ani.llm.constraints.step_choices` builds from ``kg.frontier(events)``, ranked by traffic
volume, and the prompt lists its first ``listed_actions`` (the evaluation: 12). Where the top of the
enum is filled by one event type (Ion: SRLG cuts), an arm that sees 12 options can never pick another
type at step 0, whatever it reasons. This module says, per network and arm, what the arm *can* choose
and what the best of it is worth, scored by the fluid tier -- the scorer of the optimality gap
(:func:`~ani.orchestrator.loop.screening.fluid_scorer_for`, cascades off) -- against the network's fluid
worst N-1 over every event type (the gap's search space, :func:`~ani.orchestrator.evaluate.gap.single_events`).

What an arm can pick at step 0 (its *space*):

=====================  ========================================================================
``listed``             the first ``listed_actions`` of the enum (llm, llm-no-kg, llm-no-feedback,
                       llm-own-severity, frontier-random): what the prompt shows. The LLM's grammar
                       admits the whole enum, but the prompt names only these.
``rank enumeration``   frontier-greedy: scenario ``i`` takes option ``i mod L`` at step 0 (L = the
                       listed options), so within a budget of B runs the options ``0 .. min(B, L) - 1``.
``enum``               the whole step-0 enum (llm-shuffled: 12 of it, shuffled, at every step; causal-walk:
                       a weighted draw over all of it). The tail beyond ``top_k`` targets is a seeded
                       sample that varies per scenario; the table shows the first scenario's.
``validator``          every single event ``kg.validate`` accepts (llm-no-causal: free decoding;
                       random: any type on any component).
``own rule``           rule-based, worst-case, replay: the first events of the scenarios their own rules
                       produce within the budget (replay: the evaluation's synthetic incidents).
``not applicable``     any other generator (composer).
=====================  ========================================================================

Severity follows the arm's policy: fixed (``high`` by default) for every arm but the ``*-own-severity``
ablations, which are scored at ``critical`` (frontier-greedy's own choice, and the largest an LLM may
pick) for the event types whose severity sets a magnitude (:data:`ani.kg.event_types.INFO`; the others
do not depend on it). Their worst N-1 is computed at the same severity, so a ratio never compares two
policies. Chains: frontier-greedy and the own-rule arms' actual scenarios within the budget, and for the
``listed`` arms every two-event chain of a listed step-0 option followed by a listed step-1 option, are
scored too (``best_chain_damage``; may exceed the worst N-1: more events; ``step1_event_types``: the
event types of their second events). ``enum_best_damage`` is the best
option of the whole step-0 enum: what the LLM's grammar admits (it accepts every enum value, listed or
not), beside what its prompt shows. Positions are 0-based (``enum_first_traffic_spike = 14``: the 15th option).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from ani.kg.event_types import INFO
from ani.kg.scenario import Event, EventType, Scenario
from ani.llm.base import rng_for
from ani.llm.constraints import GenerationConstraints, StepChoices, action_label, step_choices
from ani.llm.controls import DEFAULT_LISTED
from ani.llm.policy import InterventionPolicy, with_policy
from ani.llm.registry import get_generator
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate.gap import SEARCHED_ROLES, loop_params, single_events
from ani.orchestrator.loop.closed_loop import LoopConfig
from ani.orchestrator.loop.screening import fluid_scorer_for

Action = tuple[EventType, str]
Key = tuple[tuple[str, str, str], ...]  # a scenario as ((event type, target, severity), ...)
LISTED_GENERATORS = ("frontier-random",)
PROMPTED_GENERATORS = ("llm", "frontier-greedy", "frontier-random")  # they read ``listed_actions``
OWN_RULE_GENERATORS = ("rule-based", "worst-case", "replay")


@dataclass(frozen=True)
class ArmLoop:
    """What reach needs of one arm: its name, role and the loop it runs (``evaluation.loop_config``)."""

    arm: str
    role: str
    config: LoopConfig


@dataclass
class Space:
    """What one arm can pick at step 0, and the chains scored for it."""

    kind: str
    note: str
    actions: list[Action] = field(default_factory=list)
    chains: list[Scenario] = field(default_factory=list)
    chain_note: str = ""


@dataclass
class ReachResult:
    """``reach.parquet`` rows (one per arm), ``reach_options.parquet`` rows (the step-0 enum) and the time."""

    table: pd.DataFrame
    options: pd.DataFrame
    cpu_seconds: float
    note: str = ""


# ----------------------------------------------------------------------- the step-0 enum
@lru_cache(maxsize=64)
def _values(template: str, params_json: str, seed: int) -> tuple[dict[str, Any], tuple[EventType, ...]]:
    """The loop's template values and event types (template discovery costs ~0.1 s: once per network)."""
    types = tuple(EventType(t) for t in get_template(template).manifest.events)
    return loop_params(template, json.loads(params_json), seed), types


def _loop_values(cfg: LoopConfig) -> tuple[dict[str, Any], tuple[EventType, ...]]:
    values, types = _values(cfg.template, json.dumps(cfg.params, sort_keys=True, default=str), cfg.seed)
    return dict(values), types


def loop_constraints(cfg: LoopConfig) -> GenerationConstraints:
    """The constraints of the loop's first generation call (``ClosedLoop.constraints(0)``)."""
    params, types = _loop_values(cfg)
    return GenerationConstraints(min_events=cfg.min_events, max_events=cfg.max_events,
                                 start_s=float(params["warmup_s"]) + 0.1, max_delay_s=cfg.max_delay_s,
                                 event_types=types, seed=cfg.seed * 100_003)


def enum_at(kg: Any, events: Sequence[Event], constraints: GenerationConstraints) -> StepChoices:
    """The enum of the step after ``events`` as the first scenario of the loop sees it."""
    return step_choices(kg.frontier(list(events)), constraints, rng_for(constraints, 0), step=len(events))


def listed_actions(cfg: LoopConfig) -> int:
    """How many options the arm's prompt lists (``listed_actions``; the LLM settings' default if unset)."""
    return int(cfg.generator_options.get("listed_actions", DEFAULT_LISTED))


def first_positions(actions: Sequence[Action], types: Iterable[EventType]) -> dict[str, float]:
    """``enum_first_<type>``: the 0-based position of each type's first option (NaN: absent)."""
    first: dict[str, float] = {}
    for i, (t, _) in enumerate(actions):
        first.setdefault(t.value, float(i))
    return {f"enum_first_{t.value}": first.get(t.value, math.nan) for t in types}


# ------------------------------------------------------------------------- arm spaces
def _policy(cfg: LoopConfig) -> InterventionPolicy:
    return InterventionPolicy.model_validate(cfg.generator_options.get("policy", {}))


def severity_for(policy: InterventionPolicy, event_type: EventType) -> str:
    """The severity an event is scored at: the policy's fixed one; ``critical`` under ``own`` where
    severity sets a magnitude (elsewhere it changes nothing, so the fixed one shares the score)."""
    if policy.severity == "own" and INFO[event_type].magnitude is not None:
        return "critical"
    return policy.fixed_severity


def _two_step_chains(kg: Any, first: Sequence[Action], c: GenerationConstraints, listed: int) -> list[Scenario]:
    """Every listed step-0 option followed by every listed option of its step-1 enum."""
    if c.max_events < 2:
        return []
    d = max(1, c.max_delay_ms // 2) / 1000.0
    out = []
    for t0, x0 in first:
        e0 = Event(event_type=t0, target=x0, timestamp=round(c.start_s + d, 3))
        for t1, x1 in list(enum_at(kg, [e0], c).actions.values())[:listed]:
            e1 = Event(event_type=t1, target=x1, timestamp=round(c.start_s + 2 * d, 3))
            out.append(Scenario(name=f"chain-{len(out)}", events=[e0, e1]))
    return out


def _generated(kg: Any, cfg: LoopConfig, c: GenerationConstraints, incidents: Sequence[Scenario]) -> list[Scenario]:
    """The valid scenarios a deterministic generator produces within the budget (replay: ``incidents``)."""
    if cfg.generator == "replay":
        made = list(incidents[:cfg.budget])
    else:
        opts = {k: v for k, v in cfg.generator_options.items() if k != "policy"}
        gen = with_policy(get_generator(cfg.generator, **opts), _policy(cfg))
        made = [cand.scenario for cand in gen.candidates(kg, cfg.budget, c, None)]  # type: ignore[attr-defined]
    return [s for s in made if s.events and not kg.validate(s)]


def arm_space(kg: Any, cfg: LoopConfig, enum: StepChoices, valid: Sequence[Action],
              incidents: Sequence[Scenario] = ()) -> Space:
    """What the arm of ``cfg`` can pick at step 0 (module docstring), and its chains to score."""
    gen, opts, c = cfg.generator, cfg.generator_options, loop_constraints(cfg)
    actions, n_listed = list(enum.actions.values()), listed_actions(cfg)
    listed = actions[:n_listed]
    if gen == "frontier-greedy":
        picks = sorted({i % len(listed) for i in range(cfg.budget)}) if listed else []
        chains = _generated(kg, cfg, c, incidents)
        return Space("rank enumeration", f"options {picks[0]}-{picks[-1]} of {len(listed)} listed "
                     f"(budget {cfg.budget})" if picks else "empty enum", [listed[i] for i in picks], chains,
                     f"its {len(chains)} chains within the budget")
    if gen in OWN_RULE_GENERATORS:
        made = _generated(kg, cfg, c, incidents)
        firsts = list(dict.fromkeys((s.events[0].event_type, s.events[0].target) for s in made))
        return Space("own rule", f"first events of its {len(made)} scenarios within the budget", firsts, made,
                     f"its {len(made)} scenarios within the budget")
    if gen == "random" or (gen == "llm" and opts.get("constrained", True) is False):
        return Space("validator", "every valid single event (free choice)", list(valid))
    if gen == "causal-walk" or (gen == "llm" and opts.get("shuffle_options")):
        how = "12 shuffled options listed per step" if gen == "llm" else "weighted draw over the enum"
        return Space("enum", f"the whole step-0 enum ({how})", actions)
    if gen == "llm" or gen in LISTED_GENERATORS:
        chains = _two_step_chains(kg, listed, c, n_listed)
        return Space("listed", f"the first {len(listed)} of {len(actions)} enum options", listed, chains,
                     f"{len(chains)} two-event chains, listed step-0 x listed step-1")
    return Space("not applicable", f"generator {gen!r} has no fixed option set")


# ----------------------------------------------------------------------------- scoring
class _Scores:
    """Fluid damage by scenario key, scored in batches and kept (a key is scored once per network)."""

    def __init__(self, kg: Any, cfg: LoopConfig) -> None:
        self.kg, self.damage = kg, {}  # type: ignore[var-annotated]
        self.scorer, self.refused = fluid_scorer_for(_loop_values(cfg)[0])
        self.at_s = loop_constraints(cfg).start_s

    @staticmethod
    def key(s: Scenario, policy: InterventionPolicy) -> Key:
        return tuple((e.event_type.value, e.target, severity_for(policy, e.event_type)) for e in s.events)

    def single(self, a: Action, policy: InterventionPolicy) -> Scenario:
        t, x = a
        return Scenario(name=f"reach-{t.value}-{x}", events=[Event(event_type=t, target=x, timestamp=self.at_s,
                                                                    severity=severity_for(policy, t))])

    def score(self, scenarios: Sequence[Scenario], policy: InterventionPolicy) -> list[float]:
        """Damage of each scenario under ``policy``'s severity (NaN: refused, or no fluid tier)."""
        sized = [s.model_copy(update={"events": [e.model_copy(update={"severity": severity_for(policy, e.event_type),
                                                                      "magnitude": None}) for e in s.events]})
                 for s in scenarios]
        keys = [self.key(s, policy) for s in sized]
        todo = {k: s for k, s in zip(keys, sized) if k not in self.damage}
        if todo and self.scorer is not None:
            got = self.scorer.score(self.kg, list(todo.values()))
            self.damage.update({k: math.nan if d is None else float(d) for k, d in zip(todo, got)})
        return [self.damage.get(k, math.nan) for k in keys]


def _best(actions: Sequence[Action], damages: Sequence[float]) -> tuple[float, str]:
    scored = [(d, a) for d, a in zip(damages, actions) if math.isfinite(d)]
    if not scored:
        return math.nan, ""
    d, (t, x) = max(scored, key=lambda p: p[0])
    return d, action_label(t, x)


# ------------------------------------------------------------------------------ tables
def _arm_row(label: str, arm: ArmLoop, space: Space, enum: StepChoices, valid: Sequence[Action],
             scores: _Scores, types: Sequence[EventType]) -> dict[str, Any]:
    policy, cfg = _policy(arm.config), arm.config
    best, best_label = _best(space.actions, scores.score([scores.single(a, policy) for a in space.actions], policy))
    worst, worst_label = _best(valid, scores.score([scores.single(a, policy) for a in valid], policy))
    whole = list(enum.actions.values())
    enum_best, _ = _best(whole, scores.score([scores.single(a, policy) for a in whole], policy))
    chains = scores.score(space.chains, policy)
    finite = [d for d in chains if math.isfinite(d)]
    counts = {t.value: 0 for t in types}
    for t, _ in space.actions:
        counts[t.value] = counts.get(t.value, 0) + 1
    return {"network": label, "arm": arm.arm, "role": arm.role, "generator": cfg.generator, "space": space.kind,
            "space_note": space.note, "enum_options": len(enum.actions),
            "listed_options": listed_actions(cfg) if cfg.generator in PROMPTED_GENERATORS else math.nan,
            "valid_single_events": len(valid), "reachable_options": len(space.actions),
            "event_types": ", ".join(t for t, n in counts.items() if n),
            **{f"reach_{t}": n for t, n in counts.items()},
            **first_positions(list(enum.actions.values()), types),
            "severity": "own (critical where it sets a magnitude)" if policy.severity == "own"
            else policy.fixed_severity,
            "best_damage": best, "best_action": best_label, "worst_n1": worst, "worst_n1_action": worst_label,
            "ratio": best / worst if math.isfinite(best) and math.isfinite(worst) and worst > 0 else math.nan,
            "enum_best_damage": enum_best,
            "step1_event_types": ", ".join(dict.fromkeys(s.events[1].event_type.value for s in space.chains
                                                         if len(s.events) > 1)),
            "best_chain_damage": max(finite) if finite else math.nan, "chain_note": space.chain_note,
            "fluid_refused": scores.refused}


def options_table(label: str, enum: StepChoices, listed: int, scores: _Scores,
                  policy: InterventionPolicy) -> pd.DataFrame:
    """``reach_options.parquet`` rows: every step-0 enum option, its position, type, whether it is listed,
    and its fluid damage under ``policy``."""
    actions = list(enum.actions.values())
    dmg = scores.score([scores.single(a, policy) for a in actions], policy)
    return pd.DataFrame([{"network": label, "position": i, "label": action_label(t, x), "event_type": t.value,
                          "target": x, "listed": i < listed, "fluid_damage": d}
                         for i, ((t, x), d) in enumerate(zip(actions, dmg))])


def network_reach(label: str, kg: Any, arms: Sequence[ArmLoop], incidents: Sequence[Scenario] = ()) -> ReachResult:
    """Per arm of ``arms`` on one network (its knowledge graph ``kg``): the step-0 space, positions and
    counts of each event type, the best single event reachable and the worst N-1, by the fluid tier.

    If the fluid tier refuses the network's set-up the damages are NaN and ``fluid_refused`` says why;
    the positions and counts are still given.
    """
    t0 = time.process_time()
    if not arms:
        return ReachResult(pd.DataFrame(), pd.DataFrame(), 0.0)
    ref = arms[0].config
    c = loop_constraints(ref)
    types = [t for t in (c.event_types or ()) if INFO[t].role in SEARCHED_ROLES]
    enum = enum_at(kg, [], c)
    valid = [(s.events[0].event_type, s.events[0].target)
             for s in single_events(kg, types, c.start_s, InterventionPolicy())]
    scores = _Scores(kg, ref)
    rows = [_arm_row(label, a, arm_space(kg, a.config, enum, valid, incidents), enum, valid, scores, types)
            for a in arms]
    fixed = next((_policy(a.config) for a in arms if _policy(a.config).severity == "fixed"), _policy(ref))
    opts = options_table(label, enum, min(listed_actions(a.config) for a in arms), scores, fixed)
    return ReachResult(pd.DataFrame(rows), opts, time.process_time() - t0, scores.refused)


def _network_line(rows: pd.DataFrame) -> str:
    """What the listed options hold and where each type first appears (or the enum's firsts, if none lists)."""
    r0 = rows.iloc[0]
    types = [c.removeprefix("enum_first_") for c in rows if c.startswith("enum_first_")]
    listed = rows[rows["space"] == "listed"]
    if not len(listed):
        firsts = ", ".join(f"{t} {int(r0[f'enum_first_{t}'])}" for t in types if math.isfinite(r0[f"enum_first_{t}"]))
        return f"step-0 enum of {int(r0['enum_options'])} options, first of each type (0-based): {firsts or 'none'}"
    held = listed.iloc[0]
    counts = ", ".join(f"{int(held[f'reach_{t}'])} {t}" for t in types if held[f"reach_{t}"])
    beyond = ", ".join(f"{t} at option {int(r0[f'enum_first_{t}'])}" for t in types
                       if math.isfinite(r0[f"enum_first_{t}"]) and not held[f"reach_{t}"])
    return (f"the {int(held['listed_options'])} listed step-0 options (of {int(r0['enum_options'])}) hold "
            f"{counts or 'nothing'}; first beyond them (0-based): {beyond or 'none'}")


def reach_tables(reached: Sequence[ReachResult]) -> dict[str, pd.DataFrame]:
    """``reach`` and ``reach_options`` over networks."""
    return {"reach": pd.concat([r.table for r in reached] or [pd.DataFrame()], ignore_index=True),
            "reach_options": pd.concat([r.options for r in reached] or [pd.DataFrame()], ignore_index=True)}


def reach_line(table: pd.DataFrame) -> list[str]:
    """One plain line per network for ``eval.json``: what the listed options hold, where each missing type
    first appears, and each arm's best reachable single event as a fraction of the worst N-1 (fluid)."""
    out = []
    for net, rows in table.groupby("network", sort=False):
        r0 = rows.iloc[0]
        if r0["fluid_refused"]:
            fracs = f"the fluid tier refused the network ({r0['fluid_refused']}): no damage"
        else:
            fracs = "; ".join(f"{r['arm']} {r['ratio']:.2f}" for _, r in rows.iterrows() if math.isfinite(r["ratio"]))
            fixed = rows[~rows["severity"].str.startswith("own")]
            ref = fixed.iloc[0] if len(fixed) else r0
            own = "; an own-severity arm against its own at critical" if len(fixed) < len(rows) else ""
            fracs = (f"best reachable single event / fluid worst N-1 ({ref['worst_n1']:.3f} at "
                     f"{ref['severity']}{own}): {fracs}")
        out.append(f"{net}: {_network_line(rows)}; {fracs}")
    return out


def reach_html(table: pd.DataFrame, render: Any) -> str:
    """The report's section: the lines, then per network and arm the space and what it reaches."""
    if table.empty:
        return "<p>No reach table (reach.parquet) in this folder.</p>"
    import html

    lines = "".join(f"<li>{html.escape(x)}</li>" for x in reach_line(table))
    firsts = [c for c in table if c.startswith("enum_first_")]
    cols = ["network", "arm", "space", "reachable_options", "event_types", "best_damage", "best_action",
            "worst_n1", "ratio", "enum_best_damage", "best_chain_damage"]
    per_net = table.drop_duplicates("network")[["network", "enum_options", *firsts]]
    per_net.columns = ["network", "enum options", *[c.removeprefix("enum_first_") for c in firsts]]
    return (f"<p>What each arm can choose at step 0 of the per-step enum (ranked by traffic volume; the prompt "
            f"lists the first <code>listed_actions</code>) and the most damaging single event it can reach, "
            f"scored by the fluid tier (cascades off) against the worst single event of any type (N-1). "
            f"<code>enum_best_damage</code>: the best of the whole step-0 enum, which the LLM's grammar admits "
            f"although its prompt lists only the first options. Chains (<code>best_chain_damage</code>) may "
            f"exceed the worst N-1. Positions are 0-based.</p><ul>{lines}</ul>"
            f"<h3>First option of each event type in the enum</h3>"
            f"{render(per_net)}<h3>Per arm</h3>{render(table[cols])}<p class='note'>Every option: "
            f"reach_options.parquet; every column: reach.parquet.</p>")


__all__ = ["ArmLoop", "ReachResult", "Space", "arm_space", "enum_at", "first_positions", "listed_actions",
           "loop_constraints", "network_reach", "options_table", "reach_html", "reach_line", "reach_tables",
           "severity_for"]
