"""Hierarchical motifs: mutation validity, round trip, phenotype fingerprint, module shapes, tournament search."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evonas.genomes.base import InvalidGenome
from evonas.genomes.ir import Macro
from evonas.genomes.motifs import MotifGenome, MotifSpace, active_edges, connected, edge_index
from evonas.kernels.motifnet import MotifModule
from evonas.kernels.torchnet import build_module, count_parameters
from evonas.strategies import Result, Tournament

SPACE = MotifSpace(init_mutations=30)
MACRO = Macro(cells_per_stack=1, stacks=3, filters=4, in_channels=1, num_classes=10)


def labels_changed(a: MotifGenome, b: MotifGenome) -> int:
    return sum(x != y for la, lb in zip(a.levels, b.levels) for ma, mb in zip(la, lb) for x, y in zip(ma, mb))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 80), allow=st.booleans())
def test_mutation_chains_stay_valid_change_one_label_and_round_trip(seed: int, steps: int, allow: bool) -> None:
    space = MotifSpace(init_mutations=0, disconnected="allow" if allow else "reject")
    rng = np.random.default_rng(seed)
    genome = space.trivial()
    for _ in range(steps):
        before = genome.to_dict()
        child, mutation = space.mutate(genome, rng)
        assert genome.to_dict() == before  # the parent is untouched
        assert labels_changed(genome, child) == 1 and mutation.kind == "motif_edge"
        if not allow:
            child.validate()
        genome = child
    if not allow:  # a genotype with a disconnected used motif is (rightly) refused by from_dict
        assert MotifGenome.from_dict(json.loads(json.dumps(genome.to_dict()))) == genome


@settings(max_examples=12)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_genotype_builds_a_module_with_the_right_output_and_shape_preserving_cells(seed: int) -> None:
    genome = SPACE.initial(np.random.default_rng(seed))
    ir = genome.lower()
    net = build_module(ir, MACRO)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    cell = MotifModule(ir, len(ir.levels) - 1, 0, 6, 6)
    x = torch.randn(2, 6, 7, 7)
    assert cell(x).shape == x.shape


def test_trivial_genotype_is_identity_chains_with_input_channels_at_every_sink() -> None:
    ir = MotifSpace().trivial().lower()
    for level in ir.levels:
        for graph in level:
            assert [(j, i) for j, i, _ in graph.edges] == [(k, k + 1) for k in range(graph.nodes - 1)]
    cell = MotifModule(ir, 1, 0, 5, 5)
    assert cell.sink_channels == 5 and all(m.sink_channels == 5 for m in cell.ops)


def test_sink_channels_follow_the_concatenation_rules() -> None:
    space = MotifSpace()
    genome = space.trivial()
    level2 = list(genome.levels[0][0])
    level2[edge_index(0, 3, 4)] = space.primitives.index("conv_1x1") + 1  # a second input to the sink: C channels
    genome = MotifGenome(genome.primitives, genome.nodes, (tuple([tuple(level2)] + list(genome.levels[0][1:])), genome.levels[1]))
    module = MotifModule(genome.lower(), 0, 0, 3, 8)
    assert module.sink_channels == 3 + 8  # identity chain keeps 3, conv_1x1 gives the stage's 8
    assert module(torch.randn(1, 3, 5, 5)).shape == (1, 3, 5, 5)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1))
def test_equal_fingerprints_build_modules_with_equal_parameter_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    genome = SPACE.initial(rng)
    used = {m for k, m in genome.used_motifs() if k == 0}
    dormant = [m for m in range(len(genome.levels[0])) if m not in used]
    twin = genome
    if dormant:  # rewrite a motif the cell never uses: the phenotype cannot change
        level = list(genome.levels[0])
        level[dormant[0]] = tuple(int(v) for v in rng.integers(0, 7, len(level[dormant[0]])))
        twin = MotifGenome(genome.primitives, genome.nodes, (tuple(level), genome.levels[1]))
    assert twin.fingerprint() == genome.fingerprint()
    assert count_parameters(build_module(twin.lower(), MACRO)) == count_parameters(build_module(genome.lower(), MACRO))
    other, _ = SPACE.mutate(genome, rng)
    if other.fingerprint() == genome.fingerprint():
        assert count_parameters(build_module(other.lower(), MACRO)) == count_parameters(build_module(genome.lower(), MACRO))


def test_edges_out_of_unreachable_nodes_are_ignored() -> None:
    labels = [0] * 6
    labels[edge_index(1, 2, 4)] = 6  # 1 is never reached: this edge is dead
    labels[edge_index(0, 3, 4)] = 6
    assert active_edges(tuple(labels), 4) == [(0, 3, 6)] and connected(tuple(labels), 4)


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda d: d["levels"][0][0].__setitem__(0, 9), "outside 0..6"),
        (lambda d: d["levels"][0][0].pop(), "needs 6 labels"),
        (lambda d: d.update(levels=[d["levels"][0]], nodes=[4]), "exactly one motif"),
        (lambda d: d["levels"][1].__setitem__(0, [0] * 10), "unreachable"),
        (lambda d: d.__setitem__("kind", "neat"), "not a motifs genome"),
        (lambda d: d["levels"][0][0].__setitem__(0, "x"), "integer labels"),
    ],
)
def test_invalid_genomes_are_refused_with_a_reason(mutate, reason: str) -> None:
    data = MotifSpace().trivial().to_dict()
    mutate(data)
    with pytest.raises(InvalidGenome, match=reason):
        MotifGenome.from_dict(data)


def test_disconnected_motifs_output_zeros_when_allowed() -> None:
    space = MotifSpace(disconnected="allow")
    genome = space.trivial()
    broken = MotifGenome(genome.primitives, genome.nodes, ((tuple([0] * 6),) + genome.levels[0][1:], genome.levels[1]))
    module = MotifModule(broken.lower(), 0, 0, 3, 3)
    assert torch.count_nonzero(module(torch.randn(1, 3, 4, 4))) == 0
    with pytest.raises(InvalidGenome, match="unreachable"):
        broken.validate()


def test_tournament_grows_the_population_and_picks_the_fittest_of_a_five_percent_subset() -> None:
    from evonas.genomes.bitstring import BitSpace

    strategy = Tournament(BitSpace(length=20), 3, 400, population=40)
    while not strategy.done:
        batch = strategy.ask(3)
        strategy.tell([Result(c.id, float(c.genome.ones())) for c in batch], batch)
        if strategy.told > 40:
            assert strategy.tournament_size() == max(2, int(0.05 * len(strategy.population) + 0.5))
    assert len(strategy.population) == 400  # nothing is removed
    assert strategy.best is not None and strategy.best.fitness >= 15
    state = json.loads(json.dumps(strategy.state_dict()))
    restored = Tournament(BitSpace(length=20), 3, 500, population=40)
    restored.load_state_dict(state, {m.id: m for m in strategy.members()})
    more = Tournament(BitSpace(length=20), 3, 500, population=40)
    more.load_state_dict(state, {m.id: m for m in strategy.members()})
    assert [c.genome for c in restored.ask(5)] == [c.genome for c in more.ask(5)]
