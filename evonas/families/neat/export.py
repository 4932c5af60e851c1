"""A NEAT network as a standalone Python module: ``activate`` for one feed-forward pass, ``Network.step`` for
the synchronous recurrent scheme, the same arithmetic in the same order as the evonas kernels."""

from __future__ import annotations

from typing import Any


def neat_python(genome: Any, title: str) -> str:
    """Standalone Python for a NEAT network: the same arithmetic, in the same order, as the evonas kernels."""
    from evonas.kernels.neat_cpu import STEEPNESS

    ir = genome.lower()
    n_in, n_out = ir.n_inputs, ir.n_outputs
    names = [str(n) for n in ir.node_ids]
    lines = [
        f'"""{title}: a NEAT network exported by evonas (standalone: needs only the Python standard library).',
        "",
        f"Inputs: {n_in} values ({genome.inputs} sensor(s){' then the bias value' if genome.bias else ''}); outputs: {n_out}.",
        "activate(inputs): one pass from a zero state in evaluation order (feed-forward networks, XOR).",
        "Network().step(inputs): the synchronous scheme of the pole tasks (every node reads last step's values).",
        '"""',
        "",
        "import math",
        "",
        f"STEEPNESS = {STEEPNESS!r}",
        f"N_INPUTS = {n_in}",
        f"N_OUTPUTS = {n_out}",
        f"N_NODES = {ir.n_nodes}",
        f"NODE_IDS = {tuple(int(n) for n in ir.node_ids)!r}  # genome node id of each value slot",
        "",
        "",
        "def sigmoid(x):",
        "    try:",
        "        return 1.0 / (1.0 + math.exp(-STEEPNESS * x))",
        "    except OverflowError:  # exp of a huge argument: the float result is 0",
        "        return 0.0",
        "",
        "",
    ]
    sums = []
    for k, node in enumerate(ir.order.tolist()):
        terms = [f"{float(ir.weight[j])!r} * v[{int(ir.source[j])}]" for j in range(int(ir.start[k]), int(ir.start[k + 1]))]
        sums.append((int(node), " + ".join(["0.0", *terms])))  # left to right from 0.0, as the kernel accumulates
    lines += ["def _sums(v):", f"    return [{', '.join(expr for _, expr in sums)}]" if sums else "    return []", ""]
    lines += ["", "def activate(inputs):", f'    """Outputs for {n_in} inputs after one pass in evaluation order (state starts at zero)."""',
              "    if len(inputs) != N_INPUTS:", "        raise ValueError(f'expected {N_INPUTS} inputs, got {len(inputs)}')",
              "    v = [0.0] * N_NODES", "    v[:N_INPUTS] = [float(x) for x in inputs]"]
    for node, expr in sums:
        lines.append(f"    v[{node}] = sigmoid({expr})  # node {names[node]}")
    lines += ["    return v[N_INPUTS:N_INPUTS + N_OUTPUTS]", "", ""]
    lines += [
        "class Network:",
        '    """The network with state, advanced by the synchronous scheme: all sums from last step\'s values, then all updates."""',
        "",
        "    def __init__(self):",
        "        self.values = [0.0] * N_NODES",
        "",
        "    def reset(self):",
        "        self.values = [0.0] * N_NODES",
        "",
        "    def step(self, inputs):",
        "        if len(inputs) != N_INPUTS:",
        "            raise ValueError(f'expected {N_INPUTS} inputs, got {len(inputs)}')",
        "        v = self.values",
        "        v[:N_INPUTS] = [float(x) for x in inputs]",
        "        for node, total in zip(ORDER, _sums(v)):",
        "            v[node] = sigmoid(total)",
        "        return v[N_INPUTS:N_INPUTS + N_OUTPUTS]",
        "",
        "",
        f"ORDER = {tuple(node for node, _ in sums)!r}",
        "",
    ]
    return "\n".join(lines)
