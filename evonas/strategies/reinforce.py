"""A learned controller as a strategy: REINFORCE (Williams 1992) over a space of categorical decisions, as in
NAS-RL (Zoph & Le, ICLR 2017).

The controller (numpy, ``kernels/controller.py``) samples each child's decisions in order (``evonas.capabilities.ChoiceSpace``): ``lstm`` feeds
an LSTM the embedding of the previous decision and reads one softmax head per decision type; ``factorized``
has independent logits per decision (the NAS-Bench-101 paper's REINFORCE baseline). The children asked
together (``--batch``, m per update) are told together; then one Adam step on

    loss = -mean_k (R_k - b) * log p(child_k) - entropy * mean_k H(child_k)

with b an exponential moving average of rewards (updated after the step), the gradient norm clipped. The reward
is the fitness; a failed child gets ``failed_reward`` (default: the worst reward seen so far). Everything the
controller is (weights, Adam's moments, the baseline) goes into the checkpoint as base64 float64 arrays, so a
resumed run continues exactly; each child's log-probability under the controller that sampled it is its lineage
row's mutation text.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from evonas.capabilities import ChoiceSpace
from evonas.core import Candidate, Member, Result, ResultBatch
from evonas.genomes.base import Mutation, Space

from .base import Strategy

CONTROLLERS = ("lstm", "factorized")


class Reinforce(Strategy):
    """A controller sampling whole genomes, improved by REINFORCE after each batch (see the module docstring)."""

    name = "reinforce"
    space_needs = (ChoiceSpace,)
    supports_async = False  # the children of one update are told together, in order

    def __init__(self, space: Space, seed: int, budget: int, controller: str = "lstm", hidden: int = 64, learning_rate: float = 0.001,
                 baseline_decay: float = 0.99, entropy: float = 0.0001, clip: float = 5.0, init_range: float = 0.1,
                 failed_reward: float | None = None) -> None:
        super().__init__(space, seed, budget)
        if not self.searches(space):
            raise ValueError(f"the reinforce strategy needs a choice space; {space.kind!r} has none")
        if controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}, got {controller!r}")
        for name, value in (("hidden", hidden), ("learning_rate", learning_rate), ("clip", clip), ("init_range", init_range)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not 0.0 <= baseline_decay < 1.0 or not math.isfinite(entropy) or entropy < 0:
            raise ValueError("baseline_decay must lie in [0, 1) and entropy be at least 0")
        if failed_reward is not None and not math.isfinite(failed_reward):
            raise ValueError(f"failed_reward must be a finite number, got {failed_reward!r}")
        self.controller_kind, self.hidden, self.learning_rate = controller, int(hidden), float(learning_rate)
        self.baseline_decay, self.entropy, self.clip, self.init_range = float(baseline_decay), float(entropy), float(clip), float(init_range)
        self.failed_reward = failed_reward
        self.baseline: float | None = None
        self.worst_reward: float | None = None
        self.updates = 0
        self._sampled: dict[int, list[int]] = {}  # asked, not yet told: each child's decisions
        self._net: Any = None  # made on first use

    def options(self) -> dict[str, Any]:
        """Every hyperparameter (recorded in config.json)."""
        return {"controller": self.controller_kind, "hidden": self.hidden, "learning_rate": self.learning_rate,
                "baseline_decay": self.baseline_decay, "entropy": self.entropy, "clip": self.clip, "init_range": self.init_range,
                "failed_reward": self.failed_reward}

    @property
    def net(self) -> Any:
        """The controller and its optimiser (built from the run seed on first use)."""
        if self._net is None:
            from evonas.kernels.controller import Controller  # numpy: no deep-learning framework per batch

            self._net = Controller(self.space.decision_types(), self.controller_kind, self.hidden, self.learning_rate, self.init_range,
                                   self.seed)  # type: ignore[attr-defined]
        return self._net

    # -- asking ---------------------------------------------------------------------------------------------
    def _propose_many(self, idents: list[int]) -> list[Candidate]:
        if not idents:
            return []
        uniforms = self.rng.random((len(idents), len(self.space.decision_types())))  # type: ignore[attr-defined]
        choices, log_probs = self.net.sample(uniforms, self.space.choices_allowed)  # type: ignore[attr-defined]
        out = []
        for ident, row, log_prob in zip(idents, choices, log_probs.tolist()):
            self._sampled[ident] = row
            genome = self.space.from_choices(row)  # type: ignore[attr-defined]
            out.append(Candidate(ident, None, None, ident, genome, Mutation("sampled", f"log-probability {log_prob:.6f}")))
        return out

    def _propose(self, ident: int) -> Candidate:
        return self._propose_many([ident])[0]

    def rewind(self, rng_state: dict[str, Any]) -> None:
        """Forget children asked since the last tell."""
        super().rewind(rng_state)
        self._sampled.clear()

    # -- telling --------------------------------------------------------------------------------------------
    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """One REINFORCE update from the told children, in order."""
        self._note_best(results, candidates)
        self.told += len(results)
        fitness = results.fitness if isinstance(results, ResultBatch) else np.array([r.fitness if r.ok else math.nan for r in results])
        ok = np.isfinite(fitness)
        if ok.any():
            worst = float(fitness[ok].min())
            self.worst_reward = worst if self.worst_reward is None else min(self.worst_reward, worst)
        fallback = self.failed_reward if self.failed_reward is not None else (self.worst_reward if self.worst_reward is not None else 0.0)
        rewards = np.where(ok, fitness, fallback)
        choices = [self._sampled.pop(c.id) for c in candidates]
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        self.net.update(choices, rewards - self.baseline, self.entropy, self.clip, self.space.choices_allowed)  # type: ignore[attr-defined]
        self.updates += 1
        for reward in rewards.tolist():  # the moving average, one reward at a time in told order
            self.baseline = self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * reward

    # -- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Base state, the controller's arrays (base64 float64), the baseline and the worst reward seen."""
        return {**super().state_dict(), "baseline": self.baseline, "worst_reward": self.worst_reward, "updates": self.updates,
                "controller": {k: _encode(v) for k, v in self.net.arrays().items()}}

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore the controller exactly."""
        super().load_state_dict(state, members)
        self.baseline = state["baseline"]
        self.worst_reward = state["worst_reward"]
        self.updates = int(state["updates"])
        self.net.load_arrays({k: _decode(v) for k, v in state["controller"].items()})
        self._sampled.clear()

    def probability(self, choices: list[int]) -> float:
        """The controller's probability of sampling this sequence of decisions (for tests and reports)."""
        return float(math.exp(self.net.log_probability(choices, self.space.choices_allowed)))  # type: ignore[attr-defined]


def _encode(array: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype="<f8")
    return {"shape": list(data.shape), "f8": base64.b64encode(data.tobytes()).decode()}


def _decode(item: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(item["f8"]), dtype="<f8").reshape(item["shape"]).copy()
