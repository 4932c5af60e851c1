"""Net IR -> nn.Module: op shapes, cell assembly, macro layout, and a deterministic proxy trainer."""

from __future__ import annotations

import pytest
import torch

from evonas.genomes.amoeba import NASNET_OPS, AmoebaGenome, amoebanet_a
from evonas.genomes.ir import Macro
from evonas.kernels.torchnet import CellModule, NASNet, ProxyBudget, make_op, splits_from_arrays, train_proxy


@pytest.mark.parametrize("op", NASNET_OPS)
@pytest.mark.parametrize(("size", "reduced"), [(28, 14), (14, 7), (7, 4)])
def test_every_op_keeps_channels_and_stride_two_halves_the_size(op: str, size: int, reduced: int) -> None:
    """Stride 1 keeps H x W, stride 2 gives ceil(H/2): all ops agree, so their sums line up."""
    x = torch.randn(2, 8, size, size)
    assert make_op(op, 8, 1)(x).shape == (2, 8, size, size)
    assert make_op(op, 8, 2)(x).shape == (2, 8, reduced, reduced)


def test_reduction_cell_with_an_unread_input_still_concatenates_matched_shapes() -> None:
    """An unread cell input of a reduction cell is factorized-reduced before the concat."""
    block = ((0, 1), (0, 1))  # sep_conv_3x3(prev) twice; prev_prev never read
    genome = AmoebaGenome((block,) * 5, (block, ((2, 0), (2, 0)), ((3, 0), (3, 0)), ((4, 0), (4, 0)), ((5, 0), (5, 0))))
    ir = genome.lower()
    assert 1 in ir.reduction.outputs
    cell = CellModule(ir.reduction, 24, 24, 16, reduction=True, prev_reduced=False, bottleneck_1x7=True)
    out = cell(torch.randn(2, 24, 14, 14), torch.randn(2, 24, 14, 14))
    assert out.shape == (2, 16 * len(ir.reduction.outputs), 7, 7)


def test_macro_stacks_normal_cells_with_reductions_doubling_filters() -> None:
    """N normal cells per stack, a reduction between stacks, F doubled at each reduction."""
    net = NASNet(amoebanet_a().lower(), Macro(cells_per_stack=2, stacks=3, filters=8))
    kinds = [cell.edge_ops[0][0] for cell in net.cells]
    assert len(net.cells) == 2 + 1 + 2 + 1 + 2 and len(kinds) == 8
    assert [c.out_channels // len(c.outputs) for c in net.cells] == [8, 8, 16, 16, 16, 32, 32, 32]
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_proxy_training_is_deterministic_for_a_seed_and_learns() -> None:
    """Same seed, same metrics; a different seed, different weights; accuracy above chance."""
    import numpy as np

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 700).astype(np.uint8)
    images = (rng.integers(0, 60, (700, 28, 28)) + labels[:, None, None] * 19).astype(np.uint8)
    data = splits_from_arrays(
        {"train_x": images[:500], "train_y": labels[:500], "val_x": images[500:600], "val_y": labels[500:600],
         "test_x": images[600:], "test_y": labels[600:]}, 10,
    )
    torch.set_num_threads(1)
    ir, macro, budget = amoebanet_a().lower(), Macro(filters=4), ProxyBudget(train_images=512, batch_size=32)
    a = train_proxy(ir, macro, data, budget, seed=3)
    b = train_proxy(ir, macro, data, budget, seed=3)
    c = train_proxy(ir, macro, data, budget, seed=4)
    assert (a["val_accuracy"], a["train_loss"]) == (b["val_accuracy"], b["train_loss"])
    assert a["train_loss"] != c["train_loss"]
    assert a["val_accuracy"] > 0.3
