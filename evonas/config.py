"""A run's configuration: ``RunOptions`` (what a user asks for, from flags, a TOML file or code) resolved
against the family's presets into ``RunConfig`` (everything needed to rebuild the run, written to config.json)."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evonas import __version__
from evonas.capabilities import task_declarations
from evonas.errors import UserError
from evonas.genomes.base import canonical_hash
from evonas.objectives import ObjectiveSet
from evonas.option_values import coerce, keyword_defaults
from evonas.registry import FAMILIES, family, keyword_options, make_task, strategy_class, task_class
from evonas.strategies import STRATEGIES, Strategy
from evonas.tasks.base import Task


@dataclass
class RunConfig:
    """Everything needed to rebuild a run; ``cycles`` (the total evaluation budget) may grow on resume."""

    genome: str
    space: dict[str, Any]
    task: str
    task_options: dict[str, Any]
    strategy: str
    strategy_options: dict[str, Any]
    seed: int
    cycles: int
    batch: int
    checkpoint_every: int = 1
    checkpoint_seconds: float = 30.0
    max_seconds: float | None = None
    max_train_steps: int | None = None
    lineage: str = "full"
    until_solved: bool = False  # stop at the first evaluation whose metrics say solved >= 1
    protocol: dict[str, Any] | None = None
    evonas_version: str = __version__
    preset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``--objective`` texts (``METRIC:max|min``) of a multi-objective run; None: fitness alone, as ever.
    objectives: list[str] | None = None
    #: ``--constraint`` texts (``METRIC<=VALUE``); None: no constraint.
    constraints: list[str] | None = None
    #: Whether candidates rejected before evaluation use up the budget (``-o count_rejected=true``); None: no objectives.
    count_rejected: bool | None = None

    def identity_hash(self) -> str:
        """Hash of what must not change across a resume (everything but budgets, version and checkpoint cadence)."""
        data = asdict(self)
        for key in ("cycles", "max_seconds", "max_train_steps", "evonas_version", "checkpoint_every", "checkpoint_seconds", "extra", "protocol", "until_solved"):
            data.pop(key)
        for key in ("objectives", "constraints", "count_rejected"):  # single-objective configs hash as they did before these existed
            if data[key] is None:
                data.pop(key)
        return canonical_hash(data)

    def to_json(self) -> str:
        """Pretty JSON for config.json."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """Parse config.json, checking every field's type (a ValueError names the first wrong one)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        config = cls(**data)
        config.check_types()
        return config

    def check_types(self) -> None:
        """A ValueError naming the first field whose value has the wrong type or range (an edited config.json)."""
        values = vars(self)
        for name in ("genome", "task", "strategy"):
            if not isinstance(values[name], str):
                raise ValueError(f"{name} must be text, got {values[name]!r}")
        for name in ("space", "task_options", "strategy_options", "extra"):
            if not isinstance(values[name], dict):
                raise ValueError(f"{name} must be an object, got {values[name]!r}")
        for name in ("cycles", "batch", "checkpoint_every"):
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        for name in ("checkpoint_seconds", "max_seconds"):
            value = values[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.max_train_steps is not None and (isinstance(self.max_train_steps, bool) or not isinstance(self.max_train_steps, int)):
            raise ValueError(f"max_train_steps must be an integer, got {self.max_train_steps!r}")
        if self.lineage not in ("full", "compact") or not isinstance(self.until_solved, bool):
            raise ValueError(f"lineage must be full or compact and until_solved true or false, got {self.lineage!r}, {self.until_solved!r}")


def build_strategy(config: RunConfig) -> Strategy:
    """The configured strategy over the configured space."""
    if config.genome not in FAMILIES:
        raise UserError(f"unknown genome kind {config.genome!r}; choose one of {', '.join(FAMILIES)}")
    cls = strategy_class(config.strategy)
    try:
        space = FAMILIES[config.genome].space.from_dict(config.space)
        strategy = cls(space, config.seed, config.cycles, **config.strategy_options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid {config.strategy} settings: {exc}") from None
    objectives = ObjectiveSet.from_config(config.objectives, config.constraints, bool(config.count_rejected))
    if objectives is not None:
        strategy.use_objectives(objectives)
    return strategy


def strategy_defaults(name: str) -> dict[str, Any]:
    """The keyword options a strategy accepts (beyond space, seed and budget) with their defaults."""
    parameters = inspect.signature(strategy_class(name).__init__).parameters
    return {k: p.default for k, p in parameters.items() if k not in ("self", "space", "seed", "budget")}


def strategy_option_keys(name: str) -> set[str]:
    """The keyword options a strategy accepts."""
    return set(strategy_defaults(name))


def parse_option_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (``-o``); values are read as JSON (numbers, true/false, lists) and otherwise kept as strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--option {pair!r} is not KEY=VALUE; write e.g. --option p_identity=0.1")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def check_positive(name: str, value: int | None) -> None:
    """A UserError unless ``value`` (the flag ``name``) is None or at least 1."""
    if value is not None and value < 1:
        raise UserError(f"{name} must be a positive integer, got {value}")


@dataclass
class RunOptions:
    """What a user asks of a new run; None means the preset's value. ``resolve`` checks it all and gives the
    ``RunConfig``. The CLI's ``evolve`` flags, its TOML config and the benchmarks all build one of these."""

    genome: str = "amoeba"
    task: str | None = None
    strategy: str | None = None
    population: int | None = None
    sample: int | None = None
    cycles: int | None = None
    batch: int | None = None
    seed: int = 0
    preset: str = "cpu"
    data_dir: Path | None = None
    filters: int | None = None
    train_images: int | None = None
    max_seconds: float | None = None
    checkpoint_every: int | None = None
    device: str = "auto"
    #: ``-o KEY=VALUE`` settings, routed to the strategy, the space or the task by name.
    options: dict[str, Any] = field(default_factory=dict)
    lineage: str | None = None
    #: ``--objective`` texts (several: a multi-objective run) and ``--constraint`` texts.
    objectives: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)

    def resolve(self) -> RunConfig:
        """Preset + options into a validated ``RunConfig``; a UserError names any problem and its fix."""
        fam = family(self.genome)
        genome = fam.kind
        strategy = self.strategy or fam.default_strategy
        strategy_class(strategy)  # a UserError for an unknown name or a plug-in that does not import
        if self.preset not in fam.presets:
            raise UserError(f"unknown preset {self.preset!r}; choose one of {', '.join(fam.presets)}")
        if self.lineage not in (None, "full", "compact"):
            raise UserError(f"unknown --lineage {self.lineage!r}; choose full or compact")
        for name, value in (("--population", self.population), ("--sample", self.sample), ("--cycles", self.cycles),
                            ("--batch", self.batch), ("--filters", self.filters), ("--train-images", self.train_images),
                            ("--checkpoint-every", self.checkpoint_every)):
            check_positive(name, value)
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise UserError(f"--max-seconds must be a positive number of seconds, got {self.max_seconds}")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            what = "is a file" if Path(self.data_dir).exists() else "does not exist"
            raise UserError(f"--data-dir {self.data_dir} {what}; give the folder that holds the dataset files")
        settings = dict(fam.presets[self.preset])
        task_name = self.task or fam.default_task
        declared = task_declarations(task_class(task_name)[0])
        if declared.genome_kinds and genome not in declared.genome_kinds:
            raise UserError(f"task {task_name!r} scores {', '.join(declared.genome_kinds)} genomes, not {genome!r}; pick a matching --task")
        space = fam.space().to_dict()
        # A task (a plug-in one included) may carry per-genome settings: the space layout it needs, budgets, options.
        # A plug-in's may depend on its options, so they are read from an instance built with them.
        declared_presets = _plugin_presets(task_name, self.options) if ":" in task_name else declared.genome_presets
        spec = declared_presets.get(genome)
        from_task = spec is not None
        if fam.task_presets is not None and task_name in fam.task_presets:
            spec, from_task = fam.task_presets[task_name], False
        elif fam.task_presets is not None and spec is None:
            raise UserError(f"{genome} has presets for {', '.join(fam.task_presets)}, not {task_name!r}; pick one of them, "
                            f"or give the task a genome_presets entry for {genome!r} (see docs/tasks.md)")
        if spec is not None:
            unknown = sorted(set(spec) - PRESET_KEYS)
            if unknown:
                raise UserError(f"task {task_name!r} has a genome_presets key {unknown[0]!r} for {genome}, which no run reads; "
                                f"the keys are {', '.join(sorted(PRESET_KEYS))}")
            space.update(spec.get("space", {}))
            preset_options = settings.pop("task_options")
            own = {k: v for k, v in spec.items() if k not in ("space", "task_options")}
            # What a task declares it needs beats the family's preset, except the smoke preset's (which exists to be
            # small); a family's own table of task presets is tuned with its presets and fills in under them.
            settings = {**settings, **own} if from_task and self.preset != "smoke" else {**own, **settings}
            settings["task_options"] = {**spec.get("task_options", {}), **preset_options}
        keys = strategy_option_keys(strategy)
        options = dict(self.options)
        count_rejected = options.pop("count_rejected", False)  # a run setting of multi-objective search, not the strategy's
        if count_rejected not in (True, False):
            raise UserError(f"-o count_rejected must be true or false, got {count_rejected!r}")
        for flag, value in (("population", self.population), ("sample", self.sample)):
            if value is not None and flag not in keys:
                raise UserError(f"--{flag} does not apply to the {strategy} strategy; drop it or pick a strategy that has it")
        population = self.population or settings["population"]
        sample = self.sample or min(settings.get("sample", 10), population)
        if strategy == "aging" and sample > population:
            raise UserError(f"--sample {sample} is larger than --population {population}; use a sample of at most {population}")
        task_options = dict(settings["task_options"])
        if self.data_dir is not None:
            task_options["data_dir"] = str(self.data_dir)
        if self.filters is not None:
            task_options["filters"] = self.filters
        if self.train_images is not None:
            task_options["train_images"] = self.train_images
            task_options.pop("epochs", None)
        if declared.torch_device or declared.kernel_devices:
            task_options["device"] = self.device
        strategy_options: dict[str, Any] = {k: v for k, v in (("population", population), ("sample", sample)) if k in keys}
        strategy_options.update({k: v for k, v in settings.get("strategy_options", {}).items() if k in keys})
        factory = task_class(task_name)[0]
        strategy_given, task_given = strategy_defaults(strategy), keyword_defaults(factory)
        for key, value in options.items():
            if key in keys:
                strategy_options[key] = coerce(f"the {strategy} strategy", key, value, strategy_given.get(key))
            elif any(key in strategy_option_keys(other) for other in STRATEGIES):
                owners = ", ".join(o for o in STRATEGIES if key in strategy_option_keys(o))
                raise UserError(f"--option {key} applies to the {owners} strategy, not {strategy!r}")
            elif key in space:
                space[key] = coerce(f"the {genome} space", key, value, space[key])
            else:
                task_options[key] = coerce(f"task {task_name}", key, value, task_given.get(key))
        if isinstance(factory, type) and issubclass(factory, Task):  # the space may follow from the task's options
            for key, value in factory.space_settings(genome, task_options).items():
                if key not in options:
                    space[key] = value
        strategy_options = {**strategy_defaults(strategy), **strategy_options}  # config.json records every value used
        try:
            chosen_space = fam.space.from_dict(space)
        except (TypeError, ValueError) as exc:
            raise UserError(f"invalid {genome} space option: {exc}") from None
        if isinstance(strategy_options.get("population"), int):
            _check_population_fits(chosen_space, strategy_options["population"])
        if not strategy_class(strategy).searches(chosen_space):
            fits = [kind for kind, f in FAMILIES.items() if strategy_class(strategy).searches(f.space())]
            raise UserError(f"the {strategy} strategy cannot search {genome} genomes; it searches {', '.join(fits)}")
        objective_set = ObjectiveSet.from_config(self.objectives, self.constraints, count_rejected)
        if count_rejected and objective_set is None:
            raise UserError("-o count_rejected applies to runs with --objective or --constraint; drop it")
        if objective_set is not None:
            cls = strategy_class(strategy)
            if not cls.multi_objective:
                takers = ", ".join(name for name, c in STRATEGIES.items() if c.multi_objective)
                raise UserError(f"the {strategy} strategy searches for one fitness; --objective and --constraint need one of {takers}")
            factory = task_class(task_name)[0]
            names = factory.metric_names({**task_options}) if isinstance(factory, type) and issubclass(factory, Task) else None
            objective_set.check_metrics(names, task_name)
        return RunConfig(
            genome=genome, space=space, task=task_name, task_options=task_options, strategy=strategy,
            strategy_options=strategy_options, seed=self.seed, cycles=self.cycles or settings["cycles"],
            batch=self.batch or settings["batch"], checkpoint_every=self.checkpoint_every or settings["checkpoint_every"],
            max_seconds=self.max_seconds, preset=self.preset, max_train_steps=settings.get("max_train_steps"),
            lineage=self.lineage or fam.lineage, until_solved=bool(settings.get("until_solved", False)),
            protocol={"select": settings["select"], "final": settings["final"], "threshold": 0.9999} if "select" in settings else None,
            objectives=None if objective_set is None else [o.to_text() for o in objective_set.objectives],
            constraints=None if objective_set is None or not objective_set.constraints else [c.to_text() for c in objective_set.constraints],
            count_rejected=None if objective_set is None else objective_set.count_rejected,
        )


def _check_population_fits(space: Any, population: int) -> None:
    """Refuse a population whose members could not fit in this machine's memory: each member's genome is held,
    and written into every checkpoint as JSON, so its JSON size is the least a member costs."""
    import os

    import numpy as np

    per_member = len(json.dumps(space.initial(np.random.default_rng(0)).to_dict()))
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if per_member * population > total // 2:
        raise UserError(f"--population {population} would need at least {per_member * population / 2**30:,.1f} GiB for its members' "
                        f"genomes alone, more than half of this machine's {total / 2**30:,.0f} GiB; use a smaller population")


#: What a task's ``genome_presets`` entry may set (anything else is refused, never ignored).
PRESET_KEYS = frozenset({"space", "task_options", "population", "sample", "cycles", "batch", "checkpoint_every", "until_solved",
                         "strategy_options", "max_train_steps", "select", "final"})


def _plugin_presets(task_name: str, options: dict[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """A plug-in task's ``genome_presets`` as an instance built with the user's options has them (they may depend
    on an option, such as the number of inputs). A factory that takes any keyword is built without options; one
    that cannot be built so falls back to what its class declares."""
    factory = task_class(task_name)[0]
    accepted = keyword_options(factory)
    chosen = {k: v for k, v in options.items() if accepted is not None and k in accepted}
    try:
        return make_task(task_name, chosen, fresh=True).genome_presets
    except UserError:
        if chosen:
            raise
        return task_declarations(factory).genome_presets


__all__ = ["RunConfig", "build_strategy", "RunOptions", "parse_option_pairs", "strategy_defaults", "strategy_option_keys"]
