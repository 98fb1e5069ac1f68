"""Campaigns: a file that names many runs, and the plan that expands it.

A campaign file (YAML or TOML, validated by :class:`Campaign`) is the product
topologies × scenario sources × template parameter grid × seeds × mitigation
sets. Example (``campaign.yaml``)::

    name: abilene-cuts            # also the default store: results/campaigns/<name>
    template: ospf_failure        # a bundled template name or a folder
    topologies: [abilene, zoo/Geant2012.graphml]
    scenarios:                    # one source or a list of them
      - files: ["scenarios/*.json"]   # globs, relative to the campaign file
      - {generator: causal-walk, n: 50, seed: 0}   # a generator registered in ani.llm
    params:                       # a value, or a list of values (a grid axis)
      observe_s: 0.5
      load_factor: [0.4, 0.6]
    seeds: [1, 2, 3]              # or {start: 1, count: 10}
    baseline: true                # each scenario also gets its no-failure baseline
    mitigations:                  # each scenario also runs with each set (counterfactuals)
      - name: steer
        apply: [{kind: set_cost, target: Denver-Kansas_City, value: 100, at_s: 0.5}]
    timeout_s: 600                # per run (finite, at most a week)
    retries: 2                    # re-submissions after infrastructure failures only
    max_runs: 10000               # the default limit on runs, seeds, grid points, generated scenarios
                                  # and glob matches; raise it on purpose for a bigger campaign

:func:`plan_campaign` renders every point into a :class:`PlannedRun` whose
``run_id`` hashes everything the program sees (template program, parameters,
seed, graph, traffic, events, ns-3 version). Runs that share an id are planned
once (scenarios that share a baseline share its run). Running a campaign runs
``planned − done`` (:mod:`ani.orchestrator.campaign.driver`).
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ani.kg.errors import ProjectError, ScenarioError
from ani.kg.safety import clip, parse_text, read_text, safe_name
from ani.kg.io import load_network
from ani.kg.scenario import Scenario, load_scenario
from ani.ns3_scenarios.mitigations import Mitigation
from ani.ns3_scenarios.render import RunSpec, baseline_of, render, render_comparable
from ani.ns3_scenarios.templates import ParamValue, Template, get_template
from ani.orchestrator.execute.records import write_json_atomic

CAMPAIGN_VERSION = 1
Scalar = int | float | bool | str
MAX_RUNS = 10_000  # default limit on a campaign's runs (and seeds, grid points, generated scenarios, glob matches)
MAX_TIMEOUT_S = 7 * 86400.0  # a week per run (campaign files and every --timeout): beyond that a typo


class CampaignError(ProjectError, ValueError):
    """A campaign file, plan or store cannot be used; the message names the file or folder."""


class FilesSource(BaseModel):
    """Scenario JSON files, as glob patterns relative to the campaign file."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(min_length=1)


class GeneratorSource(BaseModel):
    """``n`` scenarios from a generator registered in ``ani.llm`` (``ani generate`` lists them).

    ``options`` go to the generator's factory (e.g. an LLM provider and model);
    ``constraints`` are :class:`~ani.llm.constraints.GenerationConstraints`
    fields — the event types are always the template's and the seed is ``seed``.
    """

    model_config = ConfigDict(extra="forbid")

    generator: str = Field(min_length=1, max_length=100)
    n: int = Field(ge=1)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)
    constraints: dict[str, Any] = Field(default_factory=dict)


class MitigationSet(BaseModel):
    """Mitigations applied together (:mod:`ani.ns3_scenarios.mitigations`); each scenario runs with each set."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")
    apply: list[Mitigation] = Field(min_length=1)


class SeedRange(BaseModel):
    """``count`` consecutive seeds from ``start``."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(default=1, ge=1)
    count: int = Field(ge=1)


class Campaign(BaseModel):
    """A campaign file: see the module docstring for the format."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = CAMPAIGN_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")  # a folder name: never "." or ".."
    description: str = ""
    template: str = "ospf_failure"
    topologies: list[str] = Field(min_length=1)
    scenarios: list[FilesSource | GeneratorSource] = Field(min_length=1)
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    seeds: list[int] | SeedRange = Field(default_factory=lambda: [1])
    baseline: bool = True
    mitigations: list[MitigationSet] = Field(default_factory=list)
    timeout_s: float = Field(default=3600.0, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)
    retries: int = Field(default=2, ge=0, le=10)
    max_runs: int = Field(default=MAX_RUNS, ge=1, description=(
        "refuse to plan more runs than this (also bounds seeds, grid points, generated scenarios and glob "
        "matches); raise it on purpose for a bigger campaign"))

    @field_validator("seeds")
    @classmethod
    def _some_seeds(cls, value: list[int] | SeedRange) -> list[int] | SeedRange:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one seed (an empty list would plan no runs)")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> "Campaign":
        """Sizes checked before anything is expanded: a million seeds is an error, not a hang."""
        seeds = self.seeds.count if isinstance(self.seeds, SeedRange) else len(self.seeds)
        grid = math.prod(len(v) if isinstance(v, list) else 1 for v in self.params.values())
        generated = sum(s.n for s in self.scenarios if isinstance(s, GeneratorSource))
        for what, count in (("seeds", seeds), ("parameter grid points", grid),
                            ("grid points x seeds x topologies", grid * seeds * len(self.topologies)),
                            ("generated scenarios", generated)):
            if count > self.max_runs:
                raise ValueError(f"{count} {what} is more than max_runs = {self.max_runs} "
                                 "(set max_runs higher in the campaign file to go beyond it on purpose)")
        return self

    @field_validator("scenarios", mode="before")
    @classmethod
    def _one_source_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("params")
    @classmethod
    def _seed_is_its_own_axis(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "seed" in value:
            raise ValueError("give seeds with `seeds:`, not as the parameter `seed`")
        if any(isinstance(v, list) and not v for v in value.values()):
            raise ValueError("a parameter's list of values must not be empty")
        return value

    @field_validator("mitigations")
    @classmethod
    def _distinct_set_names(cls, value: list[MitigationSet]) -> list[MitigationSet]:
        names = [m.name for m in value]
        if "none" in names or len(set(names)) != len(names):
            raise ValueError(f"mitigation set names must be distinct and not 'none' (the unmitigated run): {names}")
        return value

    def seed_list(self) -> list[int]:
        """The seeds, in order."""
        if isinstance(self.seeds, SeedRange):
            return list(range(self.seeds.start, self.seeds.start + self.seeds.count))
        return list(self.seeds)

    def grid(self) -> list[dict[str, Scalar]]:
        """Every combination of the parameter values (one dict per point)."""
        names = sorted(self.params)
        axes = [v if isinstance(v, list) else [v] for v in (self.params[n] for n in names)]
        return [dict(zip(names, point)) for point in itertools.product(*axes)]


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file (``.yaml``/``.yml`` or ``.toml``).

    Raises
    ------
    CampaignError
        Naming the file and every invalid field.
    """
    path = Path(path)
    data = _read_mapping(path)
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{clip('.'.join(map(str, e['loc'])), 80) or 'campaign'}: {clip(e['msg'])}"
                             for e in exc.errors()[:5])
        raise CampaignError(f"{path}: invalid campaign: {problems}") from exc


def _read_mapping(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise CampaignError(f"{path}: a campaign file ends in .yaml, .yml or .toml")
    text = read_text(path, CampaignError, "campaign file")
    if suffix == ".toml":
        return parse_text(text, tomllib.loads, tomllib.TOMLDecodeError, CampaignError, path, "TOML")
    import yaml

    data = parse_text(text, yaml.safe_load, yaml.YAMLError, CampaignError, path, "YAML", _yaml_problem)
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a campaign file is a mapping of fields, got {type(data).__name__}")
    return data


def _yaml_problem(exc: Exception) -> str:
    """A YAML error on one line: the problem and where (PyYAML's own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + clip(problem, 200)


def plan_campaign_file(path: str | Path, snapshot_dir: Path | None = None) -> CampaignPlan:
    """Load and plan the campaign in ``path``; every error names the file (see :func:`plan_campaign`)."""
    path = Path(path)
    campaign = load_campaign(path)
    try:
        return plan_campaign(campaign, path.parent, snapshot_dir)
    except ProjectError as exc:
        if str(path) in str(exc):
            raise
        raise CampaignError(f"{path}: {clip(str(exc), 500)}") from exc
    except RecursionError:
        raise CampaignError(f"{path}: an input of the campaign is nested too deep") from None


# --------------------------------------------------------------------------- planning


class RunMeta(BaseModel):
    """Where a run sits in its campaign: the columns that say which point of the grid it is."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    role: Literal["scenario", "baseline"]
    topology: str
    scenario_source: str
    overrides: dict[str, ParamValue]
    seed: int
    mitigation: str | None = None  # the mitigation set's name; None: unmitigated
    baseline_run_id: str | None = None


class PlannedRun(RunMeta):
    """A :class:`RunMeta` with the :class:`RunSpec` that executes it."""

    spec: RunSpec

    def meta(self) -> RunMeta:
        """The run's place in the campaign, without the spec."""
        return RunMeta.model_validate(self.model_dump(exclude={"spec"}))


class CampaignPlan(BaseModel):
    """Every run of a campaign, each once, scenarios before their baselines."""

    model_config = ConfigDict(extra="forbid")

    campaign: Campaign
    runs: list[PlannedRun]
    rejected: list[str] = Field(default_factory=list)  # generated scenarios the template cannot run, and why

    def ids(self) -> list[str]:
        """Run ids in plan order."""
        return [r.run_id for r in self.runs]


def resolve_template(campaign: Campaign, base_dir: Path) -> Template:
    """The campaign's template: a folder relative to the campaign file, else a template name."""
    local = base_dir / campaign.template
    return get_template(local if (local / "manifest.toml").is_file() else campaign.template)


def topology_spec(name: str, base_dir: Path) -> str:
    """``abilene``, or the path of a topology file named relative to the campaign file."""
    local = base_dir / name
    return str(local) if local.is_file() else name


def resolve_topology(name: str, base_dir: Path) -> tuple[str, nx.Graph]:
    """(label, graph): ``abilene``, or a GraphML or project YAML/JSON file relative to the campaign file."""
    return name, load_network(topology_spec(name, base_dir))


def scenario_files(source: FilesSource, base_dir: Path, limit: int = MAX_RUNS) -> list[tuple[str, Scenario]]:
    """(label, scenario) for each file the patterns match, sorted; a pattern that matches nothing is an error,
    and so is one that matches more than ``limit`` files (the campaign's ``max_runs``)."""
    out: list[tuple[str, Scenario]] = []
    for pattern in source.files:
        full = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        matches = sorted(itertools.islice(glob.iglob(full, recursive=True), limit + 1))
        if len(matches) > limit:
            raise CampaignError(f"scenario pattern {clip(pattern, 100)!r} matches more than max_runs = {limit} "
                                "files (set max_runs higher in the campaign file to go beyond it on purpose)")
        if not matches:
            raise CampaignError(f"scenario pattern {pattern!r} matches no file (under {base_dir})")
        out += [(_label(Path(m), base_dir), load_scenario(m)) for m in matches]
    return out


def _label(path: Path, base_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(base_dir.resolve()))
    except ValueError:
        return str(path)


def generated_scenarios(source: GeneratorSource, topology: str, template: Template,
                        snapshot_dir: Path | None = None) -> list[tuple[str, Scenario]]:
    """``source.n`` scenarios from a registered ``ani.llm`` generator on ``topology``.

    Only the event types ``template`` executes are allowed. With
    ``snapshot_dir`` (a campaign store's ``scenarios/``) the first plan writes
    the scenarios there and later plans read them back, so a campaign with a
    non-deterministic generator (an LLM) keeps the same runs when it resumes.
    """
    key = hashlib.sha256(f"{topology}\0{source.model_dump_json()}".encode()).hexdigest()[:12]
    snapshot = snapshot_dir / f"{safe_name(source.generator, 40)}-{key}.json" if snapshot_dir else None
    if snapshot is not None and snapshot.is_file():
        scenarios = _read_snapshot(snapshot)
    else:
        scenarios = _generate(source, topology, template)
        if snapshot is not None:
            write_json_atomic(snapshot, json.dumps([s.model_dump(mode="json") for s in scenarios], indent=1))
    return [(f"{source.generator}:{source.seed}#{i}", s) for i, s in enumerate(scenarios)]


def _read_snapshot(path: Path) -> list[Scenario]:
    try:
        return [Scenario.model_validate(s) for s in json.loads(read_text(path, CampaignError, "scenario snapshot"))]
    except (ValueError, TypeError, RecursionError) as exc:
        if isinstance(exc, CampaignError):
            raise
        raise CampaignError(f"{path}: unreadable scenario snapshot ({clip(str(exc), 200)}); delete it to "
                            "generate the scenarios again") from None


def _generate(source: GeneratorSource, topology: str, template: Template) -> list[Scenario]:
    try:
        from ani.kg.io import open_kg
        from ani.llm.registry import available, generate
        from ani.llm.constraints import GenerationConstraints
        from ani.kg.scenario import EventType
    except ImportError as exc:
        raise CampaignError(f"scenario generator {source.generator!r}: the generators are not installed "
                            f"({exc.name})") from exc
    if source.generator not in available():
        raise CampaignError(f"unknown scenario generator {source.generator!r}; available: {available()}")
    executed = tuple(EventType(t) for t in template.manifest.events)
    try:
        constraints = GenerationConstraints(**{**source.constraints, "seed": source.seed, "event_types": executed})
    except ValidationError as exc:
        raise CampaignError(f"generator {source.generator!r}: invalid constraints ({exc.errors()[0]['msg']})") from exc
    return generate(source.generator, open_kg(topology), source.n, constraints, **source.options)


def campaign_scenarios(campaign: Campaign, base_dir: Path, topology: str, template: Template,
                       snapshot_dir: Path | None = None) -> list[tuple[str, Scenario, bool]]:
    """(label, scenario, from a file) for all scenarios of the campaign on one topology, in source order."""
    out: list[tuple[str, Scenario, bool]] = []
    for source in campaign.scenarios:
        if isinstance(source, GeneratorSource):
            spec = topology_spec(topology, base_dir)
            out += [(label, s, False) for label, s in generated_scenarios(source, spec, template, snapshot_dir)]
        else:
            out += [(label, s, True) for label, s in scenario_files(source, base_dir, campaign.max_runs)]
    return out


def plan_campaign(campaign: Campaign, base_dir: str | Path = ".", snapshot_dir: Path | None = None) -> CampaignPlan:
    """Expand ``campaign`` into its runs; paths in it are relative to ``base_dir``.

    ``snapshot_dir`` keeps generated scenarios (see :func:`generated_scenarios`).

    Raises
    ------
    CampaignError, TemplateError, TopologyError, ScenarioError
        Naming the file, parameter or event that cannot be planned.
    """
    base = Path(base_dir)
    template = resolve_template(campaign, base)
    points = [(point, template.params({**point, "seed": seed}))
              for point in campaign.grid() for seed in campaign.seed_list()]
    runs: dict[str, PlannedRun] = {}
    sources: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for name in campaign.topologies:
        label, g = resolve_topology(name, base)
        scenarios = campaign_scenarios(campaign, base, name, template, snapshot_dir)
        for overrides, values in points:
            for run in _plan_point(template, g, label, scenarios, values, overrides, campaign, rejected):
                # one copy of the program text for all runs: plans of thousands of runs stay small
                run.spec.program_source = sources.setdefault(run.spec.program_source, run.spec.program_source)
                runs.setdefault(run.run_id, run)
            if len(runs) > campaign.max_runs:
                raise CampaignError(f"campaign {campaign.name}: more than max_runs = {campaign.max_runs} runs "
                                    "(set max_runs higher in the campaign file to go beyond it on purpose)")
    return CampaignPlan(campaign=campaign, runs=list(runs.values()),
                        rejected=[f"{k}: {v}" for k, v in rejected.items()])


def _plan_point(template: Template, g: nx.Graph, topology: str, scenarios: list[tuple[str, Scenario, bool]],
                params: dict[str, ParamValue], overrides: dict[str, Scalar], campaign: Campaign,
                rejected: dict[str, str]) -> list[PlannedRun]:
    """The runs of one (topology, parameter point, seed): each scenario, its mitigated variants and its baseline.

    A scenario file the template cannot run is an error; a generated scenario
    it cannot run is left out and its reason kept in ``rejected``. Traffic is the
    twin's sizing rule (:mod:`ani.ns3_scenarios.sizing`, cached per network and parameters).
    """
    common = {"topology": topology, "overrides": {k: params[k] for k in overrides}, "seed": int(params["seed"])}
    out: list[PlannedRun] = []
    for label, scenario, from_file in scenarios:
        try:
            spec = render(template, scenario, g, params)
        except ScenarioError as exc:
            if from_file:
                raise ScenarioError(f"{label}: {exc}") from exc
            rejected[f"{topology} {label}"] = str(exc)
            continue
        base = None
        if campaign.baseline:
            base = render_comparable(template, baseline_of(scenario), scenario, g, params)
        pair = {"scenario_source": label, "baseline_run_id": base.run_id if base else None, **common}
        out.append(PlannedRun(run_id=spec.run_id, role="scenario", spec=spec, **pair))
        for mset in campaign.mitigations:
            mitigated = render(template, scenario, g, params, mitigations=mset.apply)
            out.append(PlannedRun(run_id=mitigated.run_id, role="scenario", spec=mitigated, mitigation=mset.name,
                                  **pair))
        if base is not None:
            out.append(PlannedRun(run_id=base.run_id, role="baseline", scenario_source=label, spec=base,
                                  **common))
    return out
