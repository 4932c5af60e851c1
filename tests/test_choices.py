"""Choice spaces: every family whose genome is a fixed sequence of categorical decisions converts exactly both
ways, and every sequence of decisions in range is a valid genome."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evonas.capabilities import ChoiceSpace
from evonas.config import RunOptions
from evonas.registry import FAMILIES

CHOICE_FAMILIES = [kind for kind, family in FAMILIES.items() if isinstance(family.space(), ChoiceSpace)]


def space_of(kind: str) -> ChoiceSpace:
    config = RunOptions(genome=kind, preset="smoke").resolve()
    return FAMILIES[kind].space.from_dict(config.space)  # type: ignore[no-any-return]


def test_the_families_with_a_choice_space() -> None:
    assert set(CHOICE_FAMILIES) == {"amoeba", "bitstring", "motifs", "graph-macro", "nb201-cell"}


@pytest.mark.parametrize("kind", CHOICE_FAMILIES)
@settings(max_examples=40, deadline=None)
@given(draws=st.lists(st.floats(0, 1, exclude_max=True), min_size=200, max_size=200))
def test_every_sequence_in_range_is_a_valid_genome_and_round_trips(kind: str, draws: list[float]) -> None:
    space = space_of(kind)
    types = space.decision_types()
    choices: list[int] = []
    for k, (_, largest) in enumerate(types):
        allowed = space.choices_allowed(choices)
        assert 1 <= allowed <= largest
        choices.append(int(draws[k % len(draws)] * allowed))
    genome = space.from_choices(choices)
    genome.validate()
    assert space.to_choices(genome) == choices
    assert space.genome_from_dict(json.loads(json.dumps(genome.to_dict()))).to_dict() == genome.to_dict()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["amoeba", "bitstring", "graph-macro", "nb201-cell"])
def test_random_genomes_convert_to_choices_and_back(kind: str) -> None:
    """These spaces are wholly choice spaces: any genome of them is a sequence of decisions."""
    space = space_of(kind)
    rng = np.random.default_rng(4)
    for _ in range(50):
        genome = space.random(rng)  # type: ignore[attr-defined]
        assert space.from_choices(space.to_choices(genome)).to_dict() == genome.to_dict()


def test_the_last_graph_op_cannot_make_the_all_skip_network() -> None:
    space = space_of("graph-macro")
    skip = list(space.ops).index("skip")  # type: ignore[attr-defined]
    assert space.choices_allowed([0, skip, skip, skip]) == len(space.ops) - 1  # type: ignore[attr-defined]
    assert space.choices_allowed([0, skip, skip, 0]) == len(space.ops)  # type: ignore[attr-defined]
