"""Search strategies in ask/tell form."""

from __future__ import annotations

from .aging import AgingEvolution
from .base import Candidate, Member, Result, Strategy, rank_value
from .random_search import RandomSearch

#: Strategy classes by the name used on the command line and in config.json.
STRATEGIES: dict[str, type[Strategy]] = {AgingEvolution.name: AgingEvolution, RandomSearch.name: RandomSearch}

__all__ = ["STRATEGIES", "AgingEvolution", "Candidate", "Member", "RandomSearch", "Result", "Strategy", "rank_value"]
