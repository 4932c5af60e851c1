"""AmoebaNet genome: validity under mutation, exact round trip, fingerprints, and buildable modules."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from evonas.genomes.amoeba import NASNET_OPS, AmoebaGenome, AmoebaSpace, amoebanet_a, unused_states
from evonas.genomes.base import InvalidGenome
from evonas.genomes.ir import Macro
from evonas.kernels.torchnet import build_module

SPACE = AmoebaSpace()
TINY = Macro(cells_per_stack=1, stacks=2, filters=4)


def mutation_chain(seed: int, steps: int, start_random: bool) -> list[AmoebaGenome]:
    rng = np.random.default_rng(seed)
    genome = SPACE.random(rng) if start_random else SPACE.initial(rng)
    chain = [genome]
    for _ in range(steps):
        genome, _ = SPACE.mutate(genome, rng)
        chain.append(genome)
    return chain


@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 50), start_random=st.booleans())
def test_mutation_chains_stay_valid_and_round_trip(seed: int, steps: int, start_random: bool) -> None:
    """Any chain of up to 50 mutations validates and round-trips through JSON with the same fingerprint."""
    for genome in mutation_chain(seed, steps, start_random):
        genome.validate()
        back = AmoebaGenome.from_dict(json.loads(json.dumps(genome.to_dict())))
        assert back == genome
        assert back.fingerprint() == genome.fingerprint()


@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 50))
def test_mutated_genomes_build_modules_with_right_logit_shape(seed: int, steps: int) -> None:
    """The last genome of a mutation chain builds a network whose forward pass gives (batch, classes) logits."""
    genome = mutation_chain(seed, steps, True)[-1]
    torch.manual_seed(0)
    logits = build_module(genome.lower(), TINY)(torch.randn(2, 1, 28, 28))
    assert logits.shape == (2, 10)
    assert torch.isfinite(logits).all()


def test_mutation_leaves_parent_unchanged_and_changes_child() -> None:
    """Non-identity mutations change the genotype (op mutation excludes the current op by default)."""
    rng = np.random.default_rng(1)
    parent = SPACE.random(rng)
    frozen = parent.to_dict()
    for _ in range(500):
        child, mutation = SPACE.mutate(parent, rng)
        assert parent.to_dict() == frozen
        assert (child == parent) == (mutation.kind == "identity")


def test_mutation_kind_frequencies_match_the_paper() -> None:
    """identity 0.05, hidden-state 0.475, op 0.475 ([RE] Methods)."""
    rng = np.random.default_rng(7)
    genome = SPACE.random(rng)
    counts = Counter(SPACE.mutate(genome, rng)[1].kind for _ in range(40_000))
    assert abs(counts["identity"] / 40_000 - 0.05) < 0.006
    assert abs(counts["hidden_state"] / 40_000 - 0.475) < 0.015
    assert abs(counts["op"] / 40_000 - 0.475) < 0.015


def test_first_block_hidden_state_mutation_has_exactly_one_choice() -> None:
    """Block 0 may read only prev/prev_prev, so a hidden-state mutation there swaps one for the other."""
    rng = np.random.default_rng(3)
    genome = SPACE.random(rng)
    seen = 0
    for _ in range(3000):
        child, mutation = SPACE.mutate(genome, rng)
        if mutation.kind == "hidden_state" and " block 0 " in mutation.detail:
            cell = "normal" if mutation.detail.startswith("normal") else "reduction"
            e = int(mutation.detail.split("element ")[1][0])
            assert child.cell(cell)[0][e][0] == 1 - genome.cell(cell)[0][e][0]
            seen += 1
    assert seen > 50


def test_amoebanet_a_concat_sets_follow_the_unused_states_rule() -> None:
    """Pins amoeba.md §2.5: the rule gives s3,s4,s6 / s3,s5,s6, not the TF release's flagged lists."""
    genome = amoebanet_a()
    assert unused_states(genome.normal) == (3, 4, 6)
    assert unused_states(genome.reduction) == (3, 5, 6)
    tf_flagged = {"normal": (1, 3, 4, 6), "reduction": (2, 3, 4, 5, 6)}
    assert unused_states(genome.normal) != tf_flagged["normal"]
    assert unused_states(genome.reduction) != tf_flagged["reduction"]
    ir = genome.lower()
    assert ir.normal.outputs == (3, 4, 6) and ir.reduction.outputs == (3, 5, 6)


def test_fingerprint_ignores_the_order_of_a_blocks_two_elements() -> None:
    """op_a(x) + op_b(y) is the same computation as op_b(y) + op_a(x)."""
    genome = amoebanet_a()
    swapped = AmoebaGenome(tuple((b, a) for a, b in genome.normal), genome.reduction)
    assert swapped != genome and swapped.fingerprint() == genome.fingerprint()
    assert SPACE.random(np.random.default_rng(0)).fingerprint() != genome.fingerprint()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d.update(kind="neat"), "expected kind 'amoeba'"),
        (lambda d: d["normal"][0][0].__setitem__(0, "s4"), "reads state 4"),
        (lambda d: d["normal"][1][1].__setitem__(1, "conv_9x9"), "unknown op 'conv_9x9'"),
        (lambda d: d["reduction"][2].pop(), r"two \[input, op\] pairs"),
        (lambda d: d["normal"][0][0].__setitem__(0, "h7"), "unknown hidden state"),
    ],
)
def test_invalid_genomes_are_rejected_with_a_reason(mangle, message: str) -> None:  # type: ignore[no-untyped-def]
    """from_dict names the first broken rule."""
    data = amoebanet_a().to_dict()
    mangle(data)
    with pytest.raises(InvalidGenome, match=message):
        AmoebaGenome.from_dict(data)


def test_json_form_names_inputs_and_ops() -> None:
    """The JSON form uses prev / prev_prev and op names, never bare 0/1 or 'none'."""
    text = json.dumps(amoebanet_a().to_dict())
    assert '"prev_prev"' in text and '"none"' not in text
    assert set(NASNET_OPS) >= {op for cell in ("normal", "reduction") for b in amoebanet_a().to_dict()[cell] for _, op in b}


def test_space_config_round_trips() -> None:
    """The space's config (stored in config.json) rebuilds the same space."""
    space = AmoebaSpace(p_identity=0.1, op_mutation_allow_same=True)
    assert AmoebaSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
