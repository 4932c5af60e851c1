"""Search strategies in ask/tell form."""

from __future__ import annotations

from evonas.core import Candidate, Member, Result, ResultBatch, rank_value

from .aging import AgingEvolution
from .base import Strategy
from .neat import NeatReproduction
from .nsga2 import Nsga2
from .random_search import RandomSearch
from .reinforce import Reinforce
from .tournament import Tournament

#: Strategy classes by the name used on the command line and in config.json.
STRATEGIES: dict[str, type[Strategy]] = {
    AgingEvolution.name: AgingEvolution, RandomSearch.name: RandomSearch, NeatReproduction.name: NeatReproduction,
    Tournament.name: Tournament, Nsga2.name: Nsga2, Reinforce.name: Reinforce,
}

__all__ = ["STRATEGIES", "AgingEvolution", "Candidate", "Member", "NeatReproduction", "Nsga2", "RandomSearch", "Reinforce", "Result", "ResultBatch", "Tournament", "Strategy", "rank_value"]
