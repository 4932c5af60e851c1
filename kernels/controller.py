"""The REINFORCE strategy's controller in torch: samples sequences of categorical decisions and takes policy
gradient steps (``evonas.strategies.reinforce``).

``lstm`` (NAS-RL): an LSTM cell whose input at step t is the embedding of decision t-1 (a learned start vector at
step 0); decision t's logits come from the head of its type. ``factorized``: one free logit vector per decision.
A decision may allow fewer values than its type's head has (``allowed(prefix)``); the rest are masked out.
Sampling reads given uniforms (the strategy's own random stream) by inverse CDF, so the controller holds no
random state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

Allowed = Callable[[list[int]], int]


class Controller:
    """The policy network and its Adam optimiser over decisions of the given (type name, most values) list."""

    def __init__(self, types: list[tuple[str, int]], kind: str, hidden: int, learning_rate: float, init_range: float, seed: int) -> None:
        self.types = [(str(name), int(size)) for name, size in types]
        self.kind = kind
        names = list(dict.fromkeys(name for name, _ in self.types))
        width = {name: max(size for n, size in self.types if n == name) for name in names}
        self.type_of = [names.index(name) for name, _ in self.types]
        self.width = [width[name] for name, _ in self.types]
        modules: dict[str, nn.Module] = {}
        if kind == "lstm":
            modules["cell"] = nn.LSTMCell(hidden, hidden)
            modules["start"] = nn.Embedding(1, hidden)
            for k, name in enumerate(names):
                modules[f"embed{k}"] = nn.Embedding(width[name], hidden)
                modules[f"head{k}"] = nn.Linear(hidden, width[name])
        else:
            modules["logits"] = nn.Embedding(len(self.types), max(self.width))
        self.model = nn.ModuleDict(modules)
        generator = torch.Generator().manual_seed(int(seed) & ((1 << 63) - 1))
        with torch.no_grad():
            for parameter in self.model.parameters():  # uniform in [-r, r], as NAS-RL and ENAS initialise
                parameter.copy_(torch.rand(parameter.shape, generator=generator) * 2 * init_range - init_range)
        self.hidden = hidden
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate, foreach=True)
        self._kept: tuple[list[list[int]], torch.Tensor, torch.Tensor] | None = None  # the last sample's forward pass

    # -- the policy -----------------------------------------------------------------------------------------
    def _logits(self, step: int, state: Any, previous: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, Any]:
        """Raw logits of decision ``step`` for a batch (and the LSTM state after it)."""
        if self.kind != "lstm":
            row = self.model["logits"].weight[step, : self.width[step]]
            return row.expand(batch, -1), None
        if previous is None:
            x = self.model["start"].weight.expand(batch, -1)
        else:
            x = self.model[f"embed{self.type_of[step - 1]}"](previous)
        h, c = self.model["cell"](x, state)
        return self.model[f"head{self.type_of[step]}"](h), (h, c)

    @staticmethod
    def _mask(logits: torch.Tensor, allowed: list[int]) -> torch.Tensor:
        columns = torch.arange(logits.shape[1])
        keep = columns[None, :] < torch.tensor(allowed)[:, None]
        return logits.masked_fill(~keep, float("-inf"))

    def _rollout(self, batch: int, allowed: Allowed, pick: Callable[[int, torch.Tensor, list[int]], np.ndarray]
                 ) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
        """Run the policy over a batch of sequences, ``pick(step, log_p, counts)`` choosing each decision: the sequences,
        their log-probabilities and entropies (with gradients)."""
        choices: list[list[int]] = [[] for _ in range(batch)]
        dtype = next(self.model.parameters()).dtype
        log_prob = torch.zeros(batch, dtype=dtype)
        entropy = torch.zeros(batch, dtype=dtype)
        state, previous = None, None
        rows = torch.arange(batch)
        for step in range(len(self.types)):
            logits, state = self._logits(step, state, previous, batch)
            counts = [allowed(prefix) for prefix in choices]
            masked = self._mask(logits, counts)
            log_p = torch.log_softmax(masked, dim=1)
            picks = pick(step, log_p, counts)
            for k, value in enumerate(picks.tolist()):
                choices[k].append(int(value))
            previous = torch.as_tensor(picks, dtype=torch.long)
            log_prob = log_prob + log_p[rows, previous]
            # masked values have p = 0 and log p = -inf: zeroed before the product, or the gradient is NaN
            entropy = entropy - (log_p.exp() * log_p.masked_fill(torch.isinf(masked), 0.0)).sum(dim=1)
        return choices, log_prob, entropy

    def sample(self, uniforms: np.ndarray, allowed: Allowed) -> tuple[list[list[int]], np.ndarray]:
        """One sequence per row of ``uniforms`` (one uniform per decision, read by inverse CDF), and each sequence's
        log-probability. The forward pass is kept for the update of these sequences (one pass, not two)."""

        def inverse_cdf(step: int, log_p: torch.Tensor, counts: list[int]) -> np.ndarray:
            cdf = np.cumsum(log_p.detach().exp().double().numpy(), axis=1)
            below = (cdf < uniforms[:, step : step + 1] * cdf[:, -1:]).sum(axis=1)
            return np.minimum(below, np.array(counts) - 1)  # type: ignore[no-any-return]

        choices, log_prob, entropy = self._rollout(len(uniforms), allowed, inverse_cdf)
        self._kept = (choices, log_prob, entropy)
        return choices, log_prob.detach().double().numpy()

    def _log_probs_and_entropy(self, choices: list[list[int]], allowed: Allowed) -> tuple[torch.Tensor, torch.Tensor]:
        """log p and entropy of given sequences under the current policy (with gradients)."""
        taken = np.array(choices, dtype=np.int64).reshape(len(choices), len(self.types))
        _, log_prob, entropy = self._rollout(len(choices), allowed, lambda step, log_p, counts: taken[:, step])
        return log_prob, entropy

    def policy_loss(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, allowed: Allowed) -> torch.Tensor:
        """-mean(advantage * log p) - entropy_weight * mean(entropy): its gradient is REINFORCE's estimate of minus the
        expected reward's (plus the entropy bonus's). Uses the forward pass of the last ``sample`` when these are its
        sequences, else runs one."""
        kept = self._kept
        if kept is not None and kept[0] == choices:
            log_prob, entropy = kept[1], kept[2]
        else:
            log_prob, entropy = self._log_probs_and_entropy(choices, allowed)
        self._kept = None
        advantage = torch.as_tensor(np.asarray(advantages), dtype=log_prob.dtype)
        return -(advantage * log_prob).mean() - entropy_weight * entropy.mean()

    def update(self, choices: list[list[int]], advantages: np.ndarray, entropy_weight: float, clip: float, allowed: Allowed) -> None:
        """One Adam step on ``policy_loss``, the gradient norm clipped."""
        loss = self.policy_loss(choices, advantages, entropy_weight, allowed)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip, foreach=True)
        self.optimizer.step()

    def log_probability(self, choices: list[int], allowed: Allowed) -> float:
        """log p of one sequence under the current policy."""
        with torch.no_grad():
            return float(self._log_probs_and_entropy([list(choices)], allowed)[0][0])

    # -- state ----------------------------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Every parameter and Adam moment (and step count) as float32 arrays."""
        out = {f"param/{name}": p.detach().numpy().copy() for name, p in self.model.named_parameters()}
        for name, p in self.model.named_parameters():
            moments = self.optimizer.state.get(p)
            if moments:
                out[f"adam_m/{name}"] = moments["exp_avg"].numpy().copy()
                out[f"adam_v/{name}"] = moments["exp_avg_sq"].numpy().copy()
                out[f"adam_step/{name}"] = np.array([float(moments["step"])], dtype=np.float32)
        return out

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``arrays``."""
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(torch.as_tensor(arrays[f"param/{name}"]))
        self.optimizer.state.clear()
        for name, p in self.model.named_parameters():
            if f"adam_m/{name}" in arrays:
                self.optimizer.state[p] = {
                    "step": torch.tensor(float(arrays[f"adam_step/{name}"][0])),
                    "exp_avg": torch.as_tensor(arrays[f"adam_m/{name}"]).clone(),
                    "exp_avg_sq": torch.as_tensor(arrays[f"adam_v/{name}"]).clone(),
                }
