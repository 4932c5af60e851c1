"""The REINFORCE controller: its gradient is the policy gradient, it learns a known best sequence, it refuses
families without a choice space, and its runs resume exactly (the contract tests hold it to the rest)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from evonas.config import RunOptions, build_strategy
from evonas.executors import InProcessExecutor
from evonas.kernels.controller import Controller


def learn_onemax(seed: int, cycles: int, controller: str, learning_rate: float) -> float:
    config = RunOptions(genome="bitstring", strategy="reinforce", cycles=cycles, batch=20, seed=seed,
                        options={"length": 16, "noise": 0.0, "controller": controller, "learning_rate": learning_rate}).resolve()
    strategy = build_strategy(config)
    executor = InProcessExecutor(config.task, config.task_options, config.seed)
    while not strategy.done:
        asked = strategy.ask(config.batch)
        strategy.tell(executor.evaluate(asked), asked)
    return strategy.probability([1] * 16)  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(10))
def test_the_controller_learns_the_best_sequence_of_noise_free_onemax(seed: int) -> None:
    assert learn_onemax(seed, 2000, "lstm", 0.01) > 0.9


def test_the_factorized_controller_learns_it_too() -> None:
    assert learn_onemax(0, 2000, "factorized", 0.1) > 0.9


def assert_gradient_is_minus(grads: dict[str, np.ndarray], objective: object, net: Controller) -> None:
    """Every parameter's gradient equals minus the central finite difference of ``objective()``."""
    eps = 1e-6
    for name, value in net.params.items():
        flat, grad = value.reshape(-1), grads[name].reshape(-1)
        for i in range(len(flat)):
            old = float(flat[i])
            flat[i] = old + eps
            up = objective()  # type: ignore[operator]
            flat[i] = old - eps
            down = objective()  # type: ignore[operator]
            flat[i] = old
            assert float(grad[i]) == pytest.approx(-(up - down) / (2 * eps), abs=1e-7), (name, i)


@pytest.mark.parametrize("kind", ["factorized", "lstm"])
def test_the_loss_gradient_is_the_expected_rewards_gradient(kind: str) -> None:
    """On 2 decisions of 3 and 2 values (the second allowing 1 after a 0), every sequence is enumerated: feeding each
    with advantage N * p * R makes the loss -sum p R log p, whose gradient must equal -grad E[R] by finite differences."""
    types = [("a", 3), ("b", 2)]

    def allowed(prefix: list[int]) -> int:
        return 3 if not prefix else (1 if prefix[0] == 0 else 2)

    reward = {(0, 0): 1.0, (1, 0): 0.2, (1, 1): 2.0, (2, 0): -0.5, (2, 1): 0.7}
    net = Controller(types, kind, 4, 0.01, 0.5, seed=3, dtype=np.float64)
    sequences = [list(s) for s in itertools.product(range(3), range(2)) if s[1] < allowed([s[0]])]

    def expected_reward() -> float:
        return sum(math.exp(net.log_probability(s, allowed)) * reward[tuple(s)] for s in sequences)

    probs = np.array([math.exp(net.log_probability(s, allowed)) for s in sequences])
    assert probs.sum() == pytest.approx(1.0)
    advantages = len(sequences) * probs * np.array([reward[tuple(s)] for s in sequences])
    assert_gradient_is_minus(net.gradient(sequences, advantages, 0.0, allowed), expected_reward, net)


@pytest.mark.parametrize("kind", ["factorized", "lstm"])
def test_the_entropy_gradient_matches_finite_differences(kind: str) -> None:
    """The entropy bonus's gradient, checked the same way on a batch of sampled sequences with zero advantage."""
    types = [("a", 3), ("b", 2), ("a", 3)]

    def allowed(prefix: list[int]) -> int:
        return 2 if len(prefix) == 2 and prefix[0] == 1 else dict(types)[types[len(prefix)][0]]

    net = Controller(types, kind, 3, 0.01, 0.5, seed=9, dtype=np.float64)
    choices = [[0, 1, 2], [1, 0, 1], [2, 1, 0]]

    def mean_entropy() -> float:
        total = 0.0
        for row in choices:
            rollout = net._rollout(1, allowed, np.empty((1, 0)), np.array(row, dtype=np.int64).reshape(-1, 1))
            for log_p in rollout.log_p[:, 0]:
                p = np.exp(log_p)
                total -= float((p[p > 0] * log_p[p > 0]).sum())
        return total / len(choices)

    assert_gradient_is_minus(net.gradient(choices, np.zeros(3), 1.0, allowed), mean_entropy, net)  # loss = -mean entropy


def test_the_checkpointed_controller_is_the_same_controller() -> None:
    config = RunOptions(genome="graph-macro", strategy="reinforce", cycles=200, batch=10, seed=5).resolve()
    original = build_strategy(config)
    executor = InProcessExecutor(config.task, config.task_options, config.seed)
    for _ in range(5):
        asked = original.ask(10)
        original.tell(executor.evaluate(asked), asked)
    import json

    from evonas.core import Member

    restored = build_strategy(config)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())), {m.id: Member(m.id, m.fitness, m.genome) for m in original.members()})
    for _ in range(3):
        a, b = original.ask(10), restored.ask(10)
        assert [(c.genome.to_dict(), str(c.mutation)) for c in a] == [(c.genome.to_dict(), str(c.mutation)) for c in b]
        results = executor.evaluate(a)
        original.tell(results, a)
        restored.tell(results, b)
    for name, value in original.net.arrays().items():  # type: ignore[attr-defined]
        assert np.array_equal(value, restored.net.arrays()[name]), name  # type: ignore[attr-defined]
    assert original.net.steps_taken == 8  # type: ignore[attr-defined]


def test_lineage_rows_carry_the_log_probability(tmp_path: Path) -> None:
    import json

    from evonas.run_folder import load_config
    from evonas.store import read_lineage

    assert run_cli("evolve", "--genome", "nb201-cell", "--strategy", "reinforce", "--batch", "8", "--cycles", "40", "--lineage", "full",
                   "--out", str(tmp_path / "run"), "-q").returncode == 0
    rows = read_lineage(tmp_path / "run" / "lineage")[0].sort_by("id").to_pylist()
    assert len(rows) == 40 and all(r["mutation"].startswith("sampled: log-probability -") and r["parent_id"] is None for r in rows)
    # the first batch was sampled by the untrained controller, which the run seed rebuilds exactly
    fresh = build_strategy(load_config(tmp_path / "run"))
    for row in rows[:8]:
        genome = fresh.space.genome_from_dict(json.loads(row["genome"]))
        logged = float(row["mutation"].rsplit(" ", 1)[1])
        assert logged == pytest.approx(math.log(fresh.probability(fresh.space.to_choices(genome))), abs=1e-6)  # type: ignore[attr-defined]


@pytest.mark.parametrize("genome", ["neat", "automl-zero"])
def test_families_without_a_choice_space_are_refused_in_one_line(tmp_path: Path, genome: str) -> None:
    result = run_cli("evolve", "--genome", genome, "--strategy", "reinforce", "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"evonas: error: the reinforce strategy cannot search {genome} genomes; it searches amoeba, bitstring, motifs, graph-macro, nb201-cell"]


def test_several_objectives_are_refused() -> None:
    from evonas.errors import UserError

    with pytest.raises(UserError, match="the reinforce strategy searches for one fitness"):
        RunOptions(genome="graph-macro", strategy="reinforce", objectives=["fitness", "latency:min"]).resolve()
