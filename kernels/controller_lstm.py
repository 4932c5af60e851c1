"""Compiled pieces of the REINFORCE controller (``kernels/controller.py``): one LSTM decision step over a batch,
the whole backward pass, and a clipped Adam step on one flat parameter vector.

At the controller's sizes (a batch of a few to a few dozen children, hidden size 64) a step is a few dozen small
array operations; numpy's fixed cost per call, not arithmetic, was what a child cost. Here each is one call.

Layouts: the LSTM's weights are stored input-major (``w_hh[k, g]`` multiplies hidden unit k into gate g; gates
in the order input, forget, cell, output), so the inner loops run over contiguous gates. The input of every step
is one row of a table of input rows (the start vector, then each decision type's embeddings); their product with
``w_ih`` is computed once per batch (``gate_inputs``) and each step reads its row, so the input weights cost
nothing per child.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Reassociation lets the reductions over gates vectorise; no-NaN/no-inf flags are left out because masked
# log-probabilities are -inf by design. Every kernel uses numpy's error model: Python's ZeroDivisionError check
# on each division keeps a loop from vectorising (Adam's loop ran four times slower).
_FAST = {"reassoc", "contract", "nsz"}


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _tanh(x: float) -> float:
    return 2 / (1 + np.exp(-2 * x)) - 1  # one exp costs half a tanh here; integer constants keep float32 in float32


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def lstm_step(gates: np.ndarray, c_prev: np.ndarray, head_w: np.ndarray, head_b: np.ndarray, counts: np.ndarray, uniforms: np.ndarray,
              taken: np.ndarray, c: np.ndarray, tanh_c: np.ndarray, h: np.ndarray, log_p: np.ndarray, picks: np.ndarray) -> None:
    """One decision for every child k from its gates and previous cell state: the new state, the head's
    log-probabilities masked to the first ``counts[k]`` values, and the pick: ``taken[k]`` when ``taken`` is not
    empty, else the inverse CDF at ``uniforms[k]``. ``gates[k]`` arrives as exp(-z) of the pre-activations z
    (input, forget, output) and exp(-2z) (cell), numpy's vectorised exp being the costly part, and leaves as the
    gates after their nonlinearities (sigmoid, and tanh(z) = 2 sigmoid(2z) - 1 for the cell gate). Writes
    ``gates``, ``c``, ``tanh_c``, ``h``, ``log_p`` and ``picks``."""
    batch, hidden = c_prev.shape
    width = head_b.shape[0]
    logits = np.empty(width, dtype=log_p.dtype)
    for k in range(batch):
        row = gates[k]
        for g in range(4 * hidden):
            row[g] = 1 / (1 + row[g])
        for u in range(hidden):
            row[2 * hidden + u] = 2 * row[2 * hidden + u] - 1
        for u in range(hidden):
            i, f, g, o = row[u], row[hidden + u], row[2 * hidden + u], row[3 * hidden + u]
            c[k, u] = f * c_prev[k, u] + i * g
            tanh_c[k, u] = _tanh(c[k, u])
            h[k, u] = o * tanh_c[k, u]
        for j in range(width):
            logits[j] = head_b[j]
        for u in range(hidden):
            hu = h[k, u]
            for j in range(width):
                logits[j] += hu * head_w[u, j]
        _masked_log_softmax(logits, counts[k], log_p[k])
        picks[k] = taken[k] if taken.shape[0] > 0 else _inverse_cdf(log_p[k], counts[k], uniforms[k])


@njit(cache=True, error_model="numpy")
def categorical_step(logits: np.ndarray, counts: np.ndarray, uniforms: np.ndarray, taken: np.ndarray, log_p: np.ndarray,
                     picks: np.ndarray) -> None:
    """One decision for every child from shared ``logits`` (the factorized controller), masked and picked as in
    ``lstm_step``."""
    for k in range(counts.shape[0]):
        _masked_log_softmax(logits, counts[k], log_p[k])
        picks[k] = taken[k] if taken.shape[0] > 0 else _inverse_cdf(log_p[k], counts[k], uniforms[k])


@njit(cache=True, error_model="numpy")
def _masked_log_softmax(logits: np.ndarray, count: int, out: np.ndarray) -> None:
    top = logits[0]
    for j in range(1, count):
        top = max(top, logits[j])
    total = 0.0
    for j in range(count):
        total += np.exp(logits[j] - top)
    log_total = np.log(total)
    for j in range(out.shape[0]):
        out[j] = logits[j] - top - log_total if j < count else -np.inf


@njit(cache=True, error_model="numpy")
def _inverse_cdf(log_p: np.ndarray, count: int, uniform: float) -> int:
    """The first value whose cumulative probability reaches ``uniform`` (of the total, against rounding)."""
    total = 0.0
    for j in range(count):
        total += np.exp(log_p[j])
    target = uniform * total
    running = 0.0
    for j in range(count):
        running += np.exp(log_p[j])
        if running >= target and running > 0.0:
            return j
    return count - 1


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def logit_gradients(log_p: np.ndarray, picks: np.ndarray, advantages: np.ndarray, entropy_weight: float) -> np.ndarray:
    """d loss / d logits for every step and child: loss = -mean_k A_k log p_k - w mean_k H_k, where
    d(-A log p)/dz = -A (onehot - p) and d(-w H)/dz = w p (log p + H)."""
    steps, batch, width = log_p.shape
    out = np.zeros((steps, batch, width), dtype=log_p.dtype)
    for t in range(steps):
        for k in range(batch):
            entropy = 0.0
            for j in range(width):
                if log_p[t, k, j] > -np.inf:
                    entropy -= np.exp(log_p[t, k, j]) * log_p[t, k, j]
            for j in range(width):
                if log_p[t, k, j] > -np.inf:
                    p = np.exp(log_p[t, k, j])
                    onehot = 1.0 if j == picks[t, k] else 0.0
                    out[t, k, j] = (-advantages[k] * (onehot - p) + entropy_weight * p * (log_p[t, k, j] + entropy)) / batch
    return out


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def lstm_backward(dlogits: np.ndarray, rows: np.ndarray, types: np.ndarray, gates: np.ndarray, c: np.ndarray, tanh_c: np.ndarray,
                  h: np.ndarray, w_hh: np.ndarray, head_w: np.ndarray, d_head_w: np.ndarray, d_head_b: np.ndarray,
                  d_gate_inputs: np.ndarray, dgates: np.ndarray) -> None:
    """Backpropagation through the steps of one batch (``gates``, ``c``, ``tanh_c``, ``h`` as ``lstm_step`` wrote
    them, step t's input row ``rows[t, k]`` and head ``types[t]``): adds into the heads' gradients and into
    ``d_gate_inputs`` (the gradient of each input row's gate product), and writes ``dgates`` (the gradient of
    every step's gate pre-activations), from which the caller takes the recurrent weights' and the bias's
    gradients in one product each."""
    steps, batch, hidden = h.shape
    width = dlogits.shape[2]
    dh = np.empty(hidden, dtype=h.dtype)
    dh_next = np.zeros((batch, hidden), dtype=h.dtype)
    dc_next = np.zeros((batch, hidden), dtype=h.dtype)
    for t in range(steps - 1, -1, -1):
        head = types[t]
        for k in range(batch):
            for u in range(hidden):
                total = dh_next[k, u]
                for j in range(width):
                    total += dlogits[t, k, j] * head_w[head, u, j]
                    d_head_w[head, u, j] += h[t, k, u] * dlogits[t, k, j]
                dh[u] = total
            for j in range(width):
                d_head_b[head, j] += dlogits[t, k, j]
            d = dgates[t, k]
            for u in range(hidden):
                i, f = gates[t, k, u], gates[t, k, hidden + u]
                g, o = gates[t, k, 2 * hidden + u], gates[t, k, 3 * hidden + u]
                tc = tanh_c[t, k, u]
                dc = dc_next[k, u] + dh[u] * o * (1.0 - tc * tc)
                c_before = c[t - 1, k, u] if t > 0 else 0.0
                d[u] = dc * g * i * (1.0 - i)
                d[hidden + u] = dc * c_before * f * (1.0 - f)
                d[2 * hidden + u] = dc * i * (1.0 - g * g)
                d[3 * hidden + u] = dh[u] * tc * o * (1.0 - o)
                dc_next[k, u] = dc * f
            row = d_gate_inputs[rows[t, k]]
            for g in range(4 * hidden):
                row[g] += d[g]
            for u in range(hidden):
                w = w_hh[u]
                total = w[0] * d[0]
                for g in range(1, 4 * hidden):
                    total += w[g] * d[g]
                dh_next[k, u] = total


@njit(cache=True, fastmath=True, error_model="numpy")  # every input is finite: the strategy turns failed rewards into numbers
def adam_step(flat: np.ndarray, m: np.ndarray, v: np.ndarray, grad: np.ndarray, learning_rate: float, step: int, beta1: float,
              beta2: float, epsilon: float, clip: float) -> None:
    """One Adam step (``step`` counted from 1) on ``grad``, its global norm first clipped to ``clip``; in place."""
    squared = 0.0
    for j in range(grad.shape[0]):
        squared += np.float64(grad[j]) * grad[j]
    norm = np.sqrt(squared)
    # The per-element arithmetic runs in the parameters' own precision (float32 by default: half the memory to stream).
    kind = flat.dtype.type
    scale = kind(clip / (norm + 1e-6) if norm > clip else 1.0)
    rate = kind(learning_rate / (1.0 - beta1**step))
    root_correction = kind(1.0 / np.sqrt(1.0 - beta2**step))
    b1, b2, eps = kind(beta1), kind(beta2), kind(epsilon)
    one = kind(1.0)
    for j in range(flat.shape[0]):
        gj = grad[j] * scale
        m[j] = b1 * m[j] + (one - b1) * gj
        v[j] = b2 * v[j] + (one - b2) * gj * gj
        flat[j] -= rate * m[j] / (np.sqrt(v[j]) * root_correction + eps)
