"""Search strategies in ask/tell form."""

from __future__ import annotations

from .aging import AgingEvolution
from .base import Candidate, Member, Result, ResultBatch, Strategy, rank_value
from .neat import NeatReproduction
from .random_search import RandomSearch
from .tournament import Tournament

#: Strategy classes by the name used on the command line and in config.json.
STRATEGIES: dict[str, type[Strategy]] = {
    AgingEvolution.name: AgingEvolution, RandomSearch.name: RandomSearch, NeatReproduction.name: NeatReproduction,
    Tournament.name: Tournament,
}

#: The strategy ``evolve`` uses when ``--strategy`` is not given, per genome kind (aging otherwise).
DEFAULT_STRATEGIES: dict[str, str] = {"neat": NeatReproduction.name, "motifs": Tournament.name}

__all__ = ["DEFAULT_STRATEGIES", "STRATEGIES", "AgingEvolution", "Candidate", "Member", "NeatReproduction", "RandomSearch", "Result", "ResultBatch", "Tournament", "Strategy", "rank_value"]
