"""The REINFORCE strategy's controller: samples sequences of categorical decisions and takes policy gradient
steps (``evonas.strategies.reinforce``), forward and backward written out; the per-child loops are compiled
(``kernels/controller_lstm.py``), so a child costs microseconds instead of a deep-learning framework's fixed cost
per call.

``lstm`` (NAS-RL): an LSTM cell (gates in the order input, forget, cell, output) whose input at step t is the
embedding of decision t-1 (a learned start vector at step 0); decision t's logits come from the head of its
type. ``factorized``: one free logit vector per decision. A decision may allow fewer values than its head has
(``allowed(prefix)``); the rest are masked out. Sampling reads given uniforms (the strategy's own random stream)
by inverse CDF, so the controller holds no random state of its own. It computes in float32 by default (as
deep-learning frameworks do; half the memory Adam streams); the gradient tests use float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .controller_lstm import adam_step, categorical_step, logit_gradients, lstm_backward, lstm_step

Allowed = Callable[[list[int]], int]
BETAS, EPSILON = (0.9, 0.999), 1e-8  # Adam's usual constants
_NOTHING_TAKEN = np.empty(0, dtype=np.int64)


@dataclass
class _Rollout:
    """What the backward pass needs of one batch's forward pass (steps first)."""

    choices: list[list[int]]
    log_p: np.ndarray  # (steps, batch, width) masked log-probabilities, -inf where masked
    picks: np.ndarray  # (steps, batch)
    rows: np.ndarray | None = None  # LSTM: each step's input row, gates after their nonlinearities, cell and hidden state
    gates: np.ndarray | None = None
    c: np.ndarray | None = None
    tanh_c: np.ndarray | None = None
    h: np.ndarray | None = None


class Controller:
    """The policy's parameters (``params``, name -> array, views of one flat vector) and Adam's moments, over
    decisions of the given (type name, most values) list."""

    def __init__(self, types: list[tuple[str, int]], kind: str, hidden: int, learning_rate: float, init_range: float, seed: int,
                 dtype: type = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self.types = [(str(name), int(size)) for name, size in types]
        self.kind, self.hidden, self.learning_rate = kind, int(hidden), float(learning_rate)
        names = list(dict.fromkeys(name for name, _ in self.types))
        self.type_of = np.array([names.index(name) for name, _ in self.types], dtype=np.int64)
        self.width = max(size for _, size in self.types)  # every head is padded to the widest; masking hides the rest
        shapes: dict[str, tuple[int, ...]] = {}
        if kind == "lstm":
            h = self.hidden
            shapes["w_ih"], shapes["w_hh"], shapes["b"] = (h, 4 * h), (h, 4 * h), (4 * h,)
            shapes["inputs"] = (1 + len(names) * self.width, h)  # the start vector, then each type's embeddings
            shapes["head_w"], shapes["head_b"] = (len(names), h, self.width), (len(names), self.width)
        else:
            shapes["logits"] = (len(self.types), self.width)
        rng = np.random.Generator(np.random.Philox(key=int(seed) & ((1 << 64) - 1)))
        # All parameters (and their gradients) are views into one flat vector, so Adam is one compiled loop.
        sizes = [int(np.prod(shape)) for shape in shapes.values()]
        # uniform in [-r, r], as NAS-RL and ENAS initialise
        self.flat = rng.uniform(-init_range, init_range, size=sum(sizes)).astype(self.dtype)
        self._grad_flat = np.zeros_like(self.flat)
        self.params, self._grads = _views(self.flat, shapes), _views(self._grad_flat, shapes)
        self.m, self.v = np.zeros_like(self.flat), np.zeros_like(self.flat)
        self.steps_taken = 0
        self._kept: _Rollout | None = None  # the last sample's forward pass

    # -- the policy -----------------------------------------------------------------------------------------
    def _input_row(self, step: int, picks: np.ndarray) -> np.ndarray:
        """Which row of ``inputs`` each child's step reads: the start vector, or the previous decision's embedding."""
        if step == 0:
            return np.zeros(len(picks), dtype=np.int64)
        return 1 + int(self.type_of[step - 1]) * self.width + picks  # type: ignore[no-any-return]

    def _rollout(self, batch: int, allowed: Allowed, uniforms: np.ndarray, taken: np.ndarray | None) -> _Rollout:
        """Run the policy over a batch: each decision taken from ``taken`` (steps x batch) when given, else sampled
        by inverse CDF at ``uniforms`` (batch x steps)."""
        steps, n = len(self.types), self.hidden
        choices: list[list[int]] = [[] for _ in range(batch)]
        kind = self.dtype
        out = _Rollout(choices, np.empty((steps, batch, self.width), dtype=kind), np.zeros((steps, batch), dtype=np.int64))
        p = self.params
        if self.kind == "lstm":
            out.rows = np.zeros((steps, batch), dtype=np.int64)
            out.gates = np.empty((steps, batch, 4 * n), dtype=kind)
            out.c, out.tanh_c, out.h = (np.empty((steps, batch, n), dtype=kind) for _ in range(3))
            # The kernel wants exp(-z) of the input, forget and output gates and exp(-2z) of the cell gate (see
            # lstm_step), so the input rows' products (with the bias) and the recurrent weights are scaled once per batch.
            minus_scale = np.full(4 * n, -1.0, dtype=kind)
            minus_scale[2 * n:3 * n] = -2.0
            gate_inputs = (p["inputs"] @ p["w_ih"] + p["b"]) * minus_scale  # a step's input then costs a lookup
            w_hh = p["w_hh"] * minus_scale
            zeros = np.zeros((batch, n), dtype=kind)
        columns = np.ascontiguousarray(uniforms.T) if taken is None else np.empty((steps, 0))
        for step in range(steps):
            counts = np.array([allowed(prefix) for prefix in choices], dtype=np.int64)
            picked = _NOTHING_TAKEN if taken is None else taken[step]
            if self.kind == "lstm":
                out.rows[step] = self._input_row(step, out.picks[step - 1] if step else out.picks[0])
                gates = out.gates[step]  # type: ignore[index]
                np.take(gate_inputs, out.rows[step], axis=0, out=gates)
                if step:  # the state before the first step is zero
                    gates += out.h[step - 1] @ w_hh  # type: ignore[index]
                np.exp(gates, out=gates)
                c_prev = out.c[step - 1] if step else zeros  # type: ignore[index]
                t = int(self.type_of[step])
                lstm_step(gates, c_prev, p["head_w"][t], p["head_b"][t], counts, columns[step], picked, out.c[step],  # type: ignore[index]
                          out.tanh_c[step], out.h[step], out.log_p[step], out.picks[step])  # type: ignore[index]
            else:
                categorical_step(p["logits"][step], counts, columns[step], picked, out.log_p[step], out.picks[step])
            for k, value in enumerate(out.picks[step].tolist()):
                choices[k].append(value)
        return out

    def sample(self, uniforms: np.ndarray, allowed: Allowed) -> tuple[list[list[int]], np.ndarray]:
        """One sequence per row of ``uniforms`` (one uniform per decision, read by inverse CDF), and each sequence's
        log-probability. The forward pass is kept for the update of these sequences."""
        rollout = self._rollout(len(uniforms), allowed, np.asarray(uniforms, dtype=np.float64), None)
        self._kept = rollout
        return rollout.choices, _log_probabilities(rollout)

    def _forward(self, choices: list[list[int]], allowed: Allowed) -> _Rollout:
        kept = self._kept
        self._kept = None
        if kept is not None and kept.choices == choices:
            return kept
        taken = np.array(choices, dtype=np.int64).reshape(len(choices), len(self.types)).T.copy()
        return self._rollout(len(choices), allowed, np.empty((len(choices), 0)), taken)

    def log_probability(self, choices: list[int], allowed: Allowed) -> float:
        """log p of one sequence under the current policy."""
        rollout = self._rollout(1, allowed, np.empty((1, 0)), np.array(choices, dtype=np.int64).reshape(-1, 1))
        return float(_log_probabilities(rollout)[0])

    # -- the update -----------------------------------------------------------------------------------------
    def gradient(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, allowed: Allowed) -> dict[str, np.ndarray]:
        """The gradient of -mean(advantage * log p) - entropy_weight * mean(entropy) (REINFORCE's estimate of minus the
        expected reward's gradient, plus the entropy bonus's) with respect to every parameter (views of one flat
        vector, valid until the next call)."""
        rollout = self._forward(choices, allowed)
        self._grad_flat[:] = 0.0
        grads, p = self._grads, self.params
        dlogits = logit_gradients(rollout.log_p, rollout.picks, np.asarray(advantages, dtype=self.dtype), float(entropy_weight))
        if self.kind != "lstm":
            grads["logits"] += dlogits.sum(axis=1)
            return grads
        n, steps, batch = self.hidden, len(self.types), len(choices)
        d_gate_inputs = np.zeros((p["inputs"].shape[0], 4 * n), dtype=self.dtype)
        dgates = np.empty((steps, batch, 4 * n), dtype=self.dtype)
        lstm_backward(dlogits, rollout.rows, self.type_of, rollout.gates, rollout.c, rollout.tanh_c, rollout.h, p["w_hh"], p["head_w"],
                      grads["head_w"], grads["head_b"], d_gate_inputs, dgates)
        # The recurrent weights see step t's gates through step t-1's hidden state; step 0's is zero.
        grads["w_hh"] += rollout.h[:-1].reshape(-1, n).T @ dgates[1:].reshape(-1, 4 * n)  # type: ignore[index]
        grads["b"] += d_gate_inputs.sum(axis=0)  # every step's gates got the bias once
        grads["w_ih"] += p["inputs"].T @ d_gate_inputs
        grads["inputs"] += d_gate_inputs @ p["w_ih"].T
        return grads

    def update(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, clip: float, allowed: Allowed) -> None:
        """One Adam step on ``gradient``, its global norm clipped to ``clip``."""
        self.gradient(choices, advantages, entropy_weight, allowed)
        self.steps_taken += 1
        adam_step(self.flat, self.m, self.v, self._grad_flat, self.learning_rate, self.steps_taken, BETAS[0], BETAS[1], EPSILON, float(clip))

    # -- state ----------------------------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The parameters, Adam's moments (one flat vector each, in ``params`` order) and the step count, as float64
        (which holds float32 values exactly)."""
        return {"params": self.flat.astype(np.float64), "adam_m": self.m.astype(np.float64), "adam_v": self.v.astype(np.float64),
                "adam_steps": np.array([float(self.steps_taken)])}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``arrays``; a ValueError when they do not fit this controller's shape."""
        if arrays["params"].shape != self.flat.shape:
            raise ValueError(f"controller state has {arrays['params'].size} parameters, this controller {self.flat.size}")
        self.flat[:] = arrays["params"]  # in place: ``params`` are views of it
        self.m[:], self.v[:] = arrays["adam_m"], arrays["adam_v"]
        self.steps_taken = int(arrays["adam_steps"][0])
        self._kept = None


def _views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Consecutive slices of ``flat`` in the given shapes."""
    out, offset = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = flat[offset : offset + size].reshape(shape)
        offset += size
    return out


def _log_probabilities(rollout: _Rollout) -> np.ndarray:
    """Each sequence's log-probability: the sum of its picks' log-probabilities."""
    picked = np.take_along_axis(rollout.log_p, rollout.picks[:, :, None], axis=2)[:, :, 0]
    return picked.sum(axis=0)  # type: ignore[no-any-return]
