"""Random search: the baseline every search result is compared with, at the same budget."""

from __future__ import annotations

from evonas.core import Candidate

from .base import Strategy


class RandomSearch(Strategy):
    """Every candidate is an independent random genome; the result is the best in history."""

    name = "random"
    multi_objective = True  # it ignores every objective alike; the front is read from its lineage

    def _propose(self, ident: int) -> Candidate:
        return self._random_candidate(ident, initial=False)
