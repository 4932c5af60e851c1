"""Contracts every registered family and strategy keeps, parametrised over the registries: a new family or
strategy is covered the moment it is registered.

Families: the space round-trips, any chain of mutations stays valid and round-trips exactly through JSON with
the same fingerprint, a malformed genome is refused with a reason, the record's defaults exist.
Strategies: the state round-trips through JSON and the run goes on identically; one worker or two give the
same lineage; SIGKILL at a random moment, then resume, gives the uninterrupted lineage."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest
from cli_helpers import EVONAS, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from evonas.capabilities import TracksInnovations, task_declarations
from evonas.config import RunOptions, build_strategy
from evonas.core import Member
from evonas.executors import InProcessExecutor
from evonas.genomes.base import InvalidGenome
from evonas.registry import FAMILIES, TASKS, make_task
from evonas.strategies import STRATEGIES

COMPARED = ["id", "parent_id", "second_parent_id", "birth", "mutation", "genome", "fingerprint", "fitness", "status", "error"]


def smoke_space(kind: str) -> Any:
    """The family's space as its smoke preset on its default task lays it out."""
    config = RunOptions(genome=kind, preset="smoke").resolve()
    return FAMILIES[kind].space.from_dict(config.space)


def round_trip(genome: Any, space: Any) -> Any:
    """The genome after JSON text and back."""
    return space.genome_from_dict(json.loads(json.dumps(genome.to_dict())))


# -- families --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_the_family_record_names_what_exists(kind: str) -> None:
    """Default task and strategy are registered and fit the family; the presets and export formats are there."""
    family = FAMILIES[kind]
    assert family.kind == kind == family.genome.kind == family.space.kind
    assert family.default_task in TASKS and family.default_strategy in STRATEGIES
    kinds = task_declarations(TASKS[family.default_task][0]).genome_kinds
    assert not kinds or kind in kinds
    assert {"smoke", "cpu", "paper"} <= set(family.presets)
    assert family.lineage in ("full", "compact")
    assert all(fmt.suffix.startswith(".") for fmt in family.exports)
    space = smoke_space(kind)
    assert family.space.from_dict(json.loads(json.dumps(space.to_dict()))).to_dict() == space.to_dict()


@pytest.mark.parametrize("kind", list(FAMILIES))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 25), start_random=st.booleans())
def test_any_chain_of_mutations_stays_valid_and_round_trips_exactly(kind: str, seed: int, steps: int, start_random: bool) -> None:
    space = smoke_space(kind)
    rng = np.random.default_rng(seed)
    tracker = space.new_tracker() if isinstance(space, TracksInnovations) else None
    genome = space.random(rng) if start_random else space.initial(rng)
    for _ in range(steps + 1):
        genome.validate()
        back = round_trip(genome, space)
        assert back.to_dict() == genome.to_dict()
        assert back.fingerprint() == genome.fingerprint() and isinstance(genome.fingerprint(), str)
        genome, mutation = space.mutate(genome, rng, tracker) if tracker is not None else space.mutate(genome, rng)
        assert mutation.kind
        if tracker is not None:
            tracker.new_generation()  # a child's child is of a later generation: new innovation numbers


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_a_malformed_genome_is_refused_with_a_reason(kind: str) -> None:
    space = smoke_space(kind)
    data = space.initial(np.random.default_rng(1)).to_dict()
    for bad in ({**data, "kind": "something-else"}, {"kind": kind}, {}):
        with pytest.raises(InvalidGenome, match=r"\w"):
            space.genome_from_dict(bad)


# -- strategies ------------------------------------------------------------------------------------------------


def strategy_family(name: str) -> str:
    """The family a strategy's contract runs on: bit strings (the cheapest), unless the strategy needs another
    family's space, then the first family that makes it its default."""
    try:
        STRATEGIES[name](smoke_space("bitstring"), 0, 10)
        return "bitstring"
    except (TypeError, ValueError):
        return next(kind for kind, family in FAMILIES.items() if family.default_strategy == name)


def small_config(name: str, cycles: int) -> Any:
    kind = strategy_family(name)
    options = RunOptions(genome=kind, strategy=name, preset="smoke", cycles=cycles, seed=3)
    config = options.resolve()
    config.until_solved = False
    return config


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_the_strategy_state_round_trips_through_json_and_the_search_goes_on_the_same(name: str) -> None:
    config = small_config(name, 400)
    task = make_task(config.task, config.task_options, fresh=True)
    executor = InProcessExecutor(config.task, config.task_options, config.seed, task=task)
    original = build_strategy(config)
    for _ in range(6):
        candidates = original.ask(config.batch)
        original.tell(executor.evaluate(candidates), candidates)
    state = json.loads(json.dumps(original.state_dict()))
    members = {m.id: Member(m.id, m.fitness, round_trip(m.genome, original.space)) for m in original.members()}
    restored = build_strategy(config)
    restored.load_state_dict(state, members)
    assert json.dumps(restored.state_dict(), sort_keys=True) == json.dumps(original.state_dict(), sort_keys=True)
    for _ in range(4):
        a, b = original.ask(config.batch), restored.ask(config.batch)
        assert [(c.id, c.parent_id, c.second_parent_id, c.genome.to_dict(), str(c.mutation)) for c in a] == \
               [(c.id, c.parent_id, c.second_parent_id, c.genome.to_dict(), str(c.mutation)) for c in b]
        results = executor.evaluate(a)
        original.tell(results, a)
        restored.tell(results, b)
    assert original.best is not None and restored.best is not None and original.best.id == restored.best.id
    assert math.isclose(original.best.fitness, restored.best.fitness)


def lineage(run_dir: Path) -> list[dict]:
    return ds.dataset(run_dir / "lineage", format="arrow").to_table(columns=COMPARED).sort_by("id").to_pylist()


def cli_args(name: str, cycles: int) -> list[str]:
    kind = strategy_family(name)
    return ["--genome", kind, "--strategy", name, "--preset", "smoke", "--cycles", str(cycles), "--no-until-solved", "-q"]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_one_worker_or_two_give_the_same_lineage(tmp_path: Path, name: str) -> None:
    args = [*cli_args(name, 600), "--batch", "6", "--seed", "7"]
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, workers in ((one, "1"), (two, "2")):
        result = run_cli("evolve", *args, "--workers", workers, "--out", str(folder))
        assert result.returncode == 0, result.stderr
    assert lineage(one) == lineage(two)
    assert len(lineage(one)) == 600


# SIGKILL cases: every family with its default strategy, and every strategy (on its contract family). A case
# is (arguments, seconds to wait after the first lineage part appears before the kill: a random moment in it).
KILL_CASES: dict[str, tuple[list[str], float]] = {
    "bitstring-aging": (["--genome", "bitstring", "--preset", "cpu", "--cycles", "120000", "--checkpoint-every", "1500", "--workers", "1"], 2.0),
    "amoeba-aging": (["--genome", "amoeba", "--preset", "smoke", "--train-images", "64", "--cycles", "10", "--workers", "2"], 3.0),
    # with --workers 2 the compiled loop's helper thread finishes 500,000 children in under 3 s here
    "automl-zero-aging": (["--genome", "automl-zero", "--preset", "cpu", "--experiments", "1", "--checkpoint-every", "20000",
                           "--cycles", "1000000", "--workers", "2"], 1.5),
    # 37-wide batches put checkpoints inside generations; the innovation registry and species are in the checkpoint
    "neat-neat": (["--genome", "neat", "--task", "xor", "--no-until-solved", "--checkpoint-every", "1500", "--cycles", "300000",
                   "--batch", "37", "--workers", "1"], 2.0),
    "motifs-tournament": (["--genome", "motifs", "--preset", "smoke", "--train-images", "64", "--cycles", "10", "--workers", "1"], 3.0),
    # the compiled tabular loop runs 10^5-10^6 children a second: checkpoints every 10,000 keep a kill mid-run
    "graph-macro-aging": (["--genome", "graph-macro", "--cycles", "1000000", "--checkpoint-every", "10000", "--workers", "1"], 0.5),
    "nb201-cell-aging": (["--genome", "nb201-cell", "--cycles", "1000000", "--checkpoint-every", "10000", "--batch", "3",
                          "--workers", "1"], 0.5),
    "bitstring-random": (["--genome", "bitstring", "--strategy", "random", "--preset", "cpu", "--cycles", "60000",
                          "--checkpoint-every", "1500", "--workers", "1"], 1.5),
    # 64-wide generations in batches of 24: checkpoints fall inside generations
    "bitstring-nsga2": (["--genome", "bitstring", "--strategy", "nsga2", "--population", "64", "--batch", "24", "--preset", "cpu",
                         "--cycles", "40000", "--checkpoint-every", "1000", "--workers", "1"], 1.0),
    # the controller (an LSTM over 100 decisions) costs about 0.5 ms per child; its weights and Adam state are checkpointed
    "bitstring-reinforce": (["--genome", "bitstring", "--strategy", "reinforce", "--preset", "cpu", "--cycles", "8000", "--batch", "20",
                             "--checkpoint-every", "1000", "--workers", "1"], 1.0),
    # the tournament's population grows with every child, so its runs slow down as they go
    "bitstring-tournament": (["--genome", "bitstring", "--strategy", "tournament", "--preset", "cpu", "--cycles", "20000",
                              "--checkpoint-every", "500", "--workers", "1"], 1.0),
}


def runs_what(args: list[str]) -> tuple[str, str]:
    """The family and strategy a kill case's arguments run (the family's default strategy unless one is given)."""
    kind = args[args.index("--genome") + 1]
    strategy = args[args.index("--strategy") + 1] if "--strategy" in args else FAMILIES[kind].default_strategy
    return kind, strategy


def test_the_kill_cases_cover_every_family_and_every_strategy() -> None:
    """Read from what each case runs, not from its name: every family with its default strategy, every strategy."""
    covered = {runs_what(args) for args, _ in KILL_CASES.values()}
    assert {(kind, family.default_strategy) for kind, family in FAMILIES.items()} <= covered
    assert {strategy for _, strategy in covered} == set(STRATEGIES)
    assert all(case == "-".join(runs_what(args)) for case, (args, _) in KILL_CASES.items())


def kill_at_a_random_moment(args: list[str], out: Path, window: float, seed: int) -> None:
    """Start ``evonas evolve ARGS``, wait for its first lineage part and a random share of ``window`` seconds,
    then SIGKILL it and its workers; fails if the run was already over."""
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.Popen([*EVONAS, "evolve", *args, "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not any((out / "lineage").glob("part-*.arrow")):
        time.sleep(0.02)
    time.sleep(random.Random(seed).uniform(0.0, window))
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed; lengthen it"


@pytest.mark.parametrize("case", list(KILL_CASES))
def test_sigkill_at_a_random_moment_then_resume_gives_the_uninterrupted_lineage(tmp_path: Path, case: str) -> None:
    args, window = KILL_CASES[case]
    args = [*args, "--seed", "5", "-q"]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    result = run_cli("evolve", *args, "--out", str(reference))
    assert result.returncode == 0, result.stderr
    kill_at_a_random_moment(args, killed, window, seed=len(case))
    result = run_cli("resume", str(killed), "-q", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert lineage(killed) == lineage(reference)
