"""The REINFORCE strategy's controller in numpy: samples sequences of categorical decisions and takes policy
gradient steps (``evonas.strategies.reinforce``), forward and backward written out, so a batch costs a few
hundred microseconds instead of a deep-learning framework's fixed cost per call.

``lstm`` (NAS-RL): an LSTM cell (gates in the order input, forget, cell, output) whose input at step t is the
embedding of decision t-1 (a learned start vector at step 0); decision t's logits come from the head of its
type. ``factorized``: one free logit vector per decision. A decision may allow fewer values than its head has
(``allowed(prefix)``); the rest are masked out. Sampling reads given uniforms (the strategy's own random stream)
by inverse CDF, so the controller holds no random state of its own. Everything is float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Allowed = Callable[[list[int]], int]
BETAS, EPSILON = (0.9, 0.999), 1e-8  # Adam's usual constants


@dataclass
class _Step:
    """What the backward pass needs of one decision step of a batch."""

    log_p: np.ndarray  # masked log-probabilities (-inf where masked)
    picks: np.ndarray
    x: np.ndarray | None = None  # LSTM: input, previous h and c, gates after their nonlinearities, new c
    h_prev: np.ndarray | None = None
    c_prev: np.ndarray | None = None
    gates: np.ndarray | None = None
    c: np.ndarray | None = None
    h: np.ndarray | None = None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # type: ignore[no-any-return]


class Controller:
    """The policy's parameters (``params``, name -> array) and Adam's moments, over decisions of the given
    (type name, most values) list."""

    def __init__(self, types: list[tuple[str, int]], kind: str, hidden: int, learning_rate: float, init_range: float, seed: int) -> None:
        self.types = [(str(name), int(size)) for name, size in types]
        self.kind, self.hidden, self.learning_rate = kind, int(hidden), float(learning_rate)
        names = list(dict.fromkeys(name for name, _ in self.types))
        width = {name: max(size for n, size in self.types if n == name) for name in names}
        self.type_of = [names.index(name) for name, _ in self.types]
        self.width = [width[name] for name, _ in self.types]
        shapes: dict[str, tuple[int, ...]] = {}
        if kind == "lstm":
            h = self.hidden
            shapes["w_ih"], shapes["w_hh"], shapes["b"] = (4 * h, h), (4 * h, h), (4 * h,)
            shapes["start"] = (h,)
            for k, name in enumerate(names):
                shapes[f"embed{k}"] = (width[name], h)
                shapes[f"head_w{k}"], shapes[f"head_b{k}"] = (width[name], h), (width[name],)
        else:
            shapes["logits"] = (len(self.types), max(self.width))
        rng = np.random.Generator(np.random.Philox(key=int(seed) & ((1 << 64) - 1)))
        # All parameters are views into one flat vector, so that Adam is a handful of array operations per step.
        sizes = [int(np.prod(shape)) for shape in shapes.values()]
        self.flat = rng.uniform(-init_range, init_range, size=sum(sizes))  # uniform in [-r, r], as NAS-RL and ENAS initialise
        self.params: dict[str, np.ndarray] = {}
        offset = 0
        for (name, shape), size in zip(shapes.items(), sizes):
            self.params[name] = self.flat[offset : offset + size].reshape(shape)
            offset += size
        self.m, self.v = np.zeros_like(self.flat), np.zeros_like(self.flat)
        self.steps_taken = 0
        self._kept: tuple[list[list[int]], list[_Step]] | None = None  # the last sample's forward pass

    # -- the policy -----------------------------------------------------------------------------------------
    def _rollout(self, batch: int, allowed: Allowed, pick: Callable[[int, np.ndarray, np.ndarray], np.ndarray]
                 ) -> tuple[list[list[int]], list[_Step]]:
        """Run the policy over a batch, ``pick(step, probabilities, counts)`` choosing each decision."""
        p = self.params
        choices: list[list[int]] = [[] for _ in range(batch)]
        steps: list[_Step] = []
        h = c = previous = None
        for step in range(len(self.types)):
            record = _Step(np.empty(0), np.empty(0, dtype=np.int64))
            if self.kind == "lstm":
                x = np.broadcast_to(p["start"], (batch, self.hidden)) if previous is None else p[f"embed{self.type_of[step - 1]}"][previous]
                h_prev = np.zeros((batch, self.hidden)) if h is None else h
                c_prev = np.zeros((batch, self.hidden)) if c is None else c
                z = x @ p["w_ih"].T + h_prev @ p["w_hh"].T + p["b"]
                n = self.hidden
                gates = np.concatenate((_sigmoid(z[:, :2 * n]), np.tanh(z[:, 2 * n:3 * n]), _sigmoid(z[:, 3 * n:])), axis=1)
                c = gates[:, n:2 * n] * c_prev + gates[:, :n] * gates[:, 2 * n:3 * n]
                h = gates[:, 3 * n:] * np.tanh(c)
                record.x, record.h_prev, record.c_prev, record.gates, record.c, record.h = x, h_prev, c_prev, gates, c, h
                t = self.type_of[step]
                logits = h @ p[f"head_w{t}"].T + p[f"head_b{t}"]
            else:
                logits = np.broadcast_to(p["logits"][step, : self.width[step]], (batch, self.width[step]))
            counts = np.array([allowed(prefix) for prefix in choices], dtype=np.int64)
            masked = np.where(np.arange(logits.shape[1])[None, :] < counts[:, None], logits, -np.inf)
            shifted = masked - masked.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            picks = pick(step, np.exp(log_p), counts)
            record.log_p, record.picks = log_p, picks
            steps.append(record)
            for k, value in enumerate(picks.tolist()):
                choices[k].append(int(value))
            previous = picks
        return choices, steps

    def sample(self, uniforms: np.ndarray, allowed: Allowed) -> tuple[list[list[int]], np.ndarray]:
        """One sequence per row of ``uniforms`` (one uniform per decision, read by inverse CDF), and each sequence's
        log-probability. The forward pass is kept for the update of these sequences."""

        def inverse_cdf(step: int, probs: np.ndarray, counts: np.ndarray) -> np.ndarray:
            cdf = np.cumsum(probs, axis=1)
            return np.minimum((cdf < uniforms[:, step : step + 1] * cdf[:, -1:]).sum(axis=1), counts - 1)  # type: ignore[no-any-return]

        choices, steps = self._rollout(len(uniforms), allowed, inverse_cdf)
        self._kept = (choices, steps)
        rows = np.arange(len(uniforms))
        return choices, sum((s.log_p[rows, s.picks] for s in steps), np.zeros(len(uniforms)))

    def _forward(self, choices: list[list[int]], allowed: Allowed) -> list[_Step]:
        kept = self._kept
        self._kept = None
        if kept is not None and kept[0] == choices:
            return kept[1]
        taken = np.array(choices, dtype=np.int64).reshape(len(choices), len(self.types))
        return self._rollout(len(choices), allowed, lambda step, probs, counts: taken[:, step])[1]

    def log_probability(self, choices: list[int], allowed: Allowed) -> float:
        """log p of one sequence under the current policy."""
        steps = self._rollout(1, allowed, lambda step, probs, counts: np.array([choices[step]]))[1]
        return float(sum(s.log_p[0, s.picks[0]] for s in steps))

    # -- the update -----------------------------------------------------------------------------------------
    def gradient(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, allowed: Allowed) -> dict[str, np.ndarray]:
        """The gradient of -mean(advantage * log p) - entropy_weight * mean(entropy) (REINFORCE's estimate of minus the
        expected reward's gradient, plus the entropy bonus's) with respect to every parameter."""
        steps = self._forward(choices, allowed)
        batch = len(choices)
        advantages = np.asarray(advantages, dtype=np.float64)
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        rows = np.arange(batch)
        dlogits = []
        for s in steps:
            p = np.exp(s.log_p)
            finite_log_p = np.where(np.isfinite(s.log_p), s.log_p, 0.0)
            entropy = -(p * finite_log_p).sum(axis=1, keepdims=True)
            onehot = np.zeros_like(p)
            onehot[rows, s.picks] = 1.0
            # d(-A log p)/dz = -A (onehot - p); d(-w H)/dz = w p (log p + H); both over the batch mean
            dlogits.append((-advantages[:, None] * (onehot - p) + entropy_weight * p * (finite_log_p + entropy)) / batch)
        if self.kind != "lstm":
            for t, dz in enumerate(dlogits):
                grads["logits"][t, : dz.shape[1]] += dz.sum(axis=0)
            return grads
        prm, n = self.params, self.hidden
        dh_next = np.zeros((batch, n))
        dc_next = np.zeros((batch, n))
        for t in reversed(range(len(steps))):
            s, dz = steps[t], dlogits[t]
            head = self.type_of[t]
            grads[f"head_w{head}"] += dz.T @ s.h
            grads[f"head_b{head}"] += dz.sum(axis=0)
            dh = dz @ prm[f"head_w{head}"] + dh_next
            i, f, g, o = s.gates[:, :n], s.gates[:, n:2 * n], s.gates[:, 2 * n:3 * n], s.gates[:, 3 * n:]  # type: ignore[index]
            tanh_c = np.tanh(s.c)  # type: ignore[arg-type]
            dc = dc_next + dh * o * (1.0 - tanh_c**2)
            dgates = np.concatenate((dc * g * i * (1 - i), dc * s.c_prev * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)), axis=1)
            grads["w_ih"] += dgates.T @ s.x
            grads["w_hh"] += dgates.T @ s.h_prev
            grads["b"] += dgates.sum(axis=0)
            dx = dgates @ prm["w_ih"]
            if t == 0:
                grads["start"] += dx.sum(axis=0)
            else:
                np.add.at(grads[f"embed{self.type_of[t - 1]}"], steps[t - 1].picks, dx)
            dh_next = dgates @ prm["w_hh"]
            dc_next = dc * f
        return grads

    def update(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, clip: float, allowed: Allowed) -> None:
        """One Adam step on ``gradient``, its global norm clipped to ``clip``."""
        grads = self.gradient(choices, advantages, entropy_weight, allowed)
        grad = np.concatenate([grads[name].reshape(-1) for name in self.params])
        norm = float(np.sqrt(grad @ grad))
        if norm > clip:
            grad *= clip / (norm + 1e-6)
        self.steps_taken += 1
        b1, b2 = BETAS
        self.m *= b1
        self.m += (1 - b1) * grad
        self.v *= b2
        self.v += (1 - b2) * grad * grad
        step = self.learning_rate / (1 - b1**self.steps_taken)
        self.flat -= step * self.m / (np.sqrt(self.v / (1 - b2**self.steps_taken)) + EPSILON)

    # -- state ----------------------------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The parameters, Adam's moments (one flat vector each, in ``params`` order) and the step count."""
        return {"params": self.flat.copy(), "adam_m": self.m.copy(), "adam_v": self.v.copy(), "adam_steps": np.array([float(self.steps_taken)])}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``arrays``; a ValueError when they do not fit this controller's shape."""
        if arrays["params"].shape != self.flat.shape:
            raise ValueError(f"controller state has {arrays['params'].size} parameters, this controller {self.flat.size}")
        self.flat[:] = arrays["params"]  # in place: ``params`` are views of it
        self.m[:], self.v[:] = arrays["adam_m"], arrays["adam_v"]
        self.steps_taken = int(arrays["adam_steps"][0])
        self._kept = None
