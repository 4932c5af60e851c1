"""Slow, plain re-implementations of the NEAT kernels, written from the spec, that the compiled kernels must match.

The forward pass works on node ids and connection genes directly (no lowering, no packing); the physics is
written from ../shared/specs/neat.md §7.2 with a generic RK4 over a derivative function.
"""

from __future__ import annotations

import math

import numpy as np

from evonas.genomes.neat import NeatGenome


def evaluation_order(genome: NeatGenome) -> list[int]:
    """Node ids in update order: topological over enabled links, smallest id first when a cycle blocks."""
    links = [(s, t) for s, t, _ in genome.enabled_links()]
    outputs = set(range(genome.n_inputs, genome.first_hidden))
    needed = set(outputs)
    changed = True
    while changed:
        changed = False
        for s, t in links:
            if t in needed and s >= genome.n_inputs and s not in needed:
                needed.add(s)
                changed = True
    order: list[int] = []
    while len(order) < len(needed):
        left = [n for n in needed if n not in order]
        ready = [n for n in left if all(s in order or s == n or s not in needed for s, t in links if t == n)]
        order.append(min(ready) if ready else min(left))
    return order


def step_network(genome: NeatGenome, values: dict[int, float], inputs: list[float], synchronous: bool = False) -> None:
    """One propagation step in place: write inputs, then update each live node once in order (topological), or
    all live nodes at once from the previous values (synchronous)."""
    for i, v in enumerate(inputs):
        values[i] = v
    old = dict(values)
    for node in evaluation_order(genome):
        source = old if synchronous else values
        total = sum(w * source.get(s, 0.0) for s, t, w in sorted(genome.enabled_links()) if t == node)
        values[node] = 1.0 / (1.0 + math.exp(-4.9 * total))


def forward(genome: NeatGenome, rows: np.ndarray) -> np.ndarray:
    """Outputs per row with the state reset before each row."""
    out = np.zeros((len(rows), genome.outputs))
    for r, row in enumerate(rows):
        values: dict[int, float] = {}
        step_network(genome, values, list(row))
        out[r] = [values.get(genome.n_inputs + o, 0.0) for o in range(genome.outputs)]
    return out


def derivatives(state: np.ndarray, force: float, poles: int) -> np.ndarray:
    """d/dt of (x, x', th1, th1', th2, th2') from the spec's equations (g = -9.8, half lengths)."""
    g, mup, cart = -9.8, 0.000002, 1.0
    masses, lengths = (0.1, 0.01), (0.5, 0.05)
    eff_force, eff_mass = [], []
    for i in range(poles):
        th, thd = state[2 + 2 * i], state[3 + 2 * i]
        m, length = masses[i], lengths[i]
        eff_mass.append(m * (1 - 0.75 * math.cos(th) ** 2))
        eff_force.append(m * length * thd**2 * math.sin(th) + 0.75 * m * math.cos(th) * (mup * thd / (m * length) + g * math.sin(th)))
    xdd = (force + sum(eff_force)) / (cart + sum(eff_mass))
    out = np.zeros(6)
    out[0], out[2], out[4] = state[1], state[3], state[5]
    out[1] = xdd
    for i in range(poles):
        th, thd = state[2 + 2 * i], state[3 + 2 * i]
        m, length = masses[i], lengths[i]
        out[3 + 2 * i] = -0.75 * (xdd * math.cos(th) + g * math.sin(th) + mup * thd / (m * length)) / length
    return out


def rk4(state: np.ndarray, force: float, poles: int, h: float = 0.01) -> np.ndarray:
    """Classic fourth-order Runge-Kutta step."""
    k1 = derivatives(state, force, poles)
    k2 = derivatives(state + h / 2 * k1, force, poles)
    k3 = derivatives(state + h / 2 * k2, force, poles)
    k4 = derivatives(state + h * k3, force, poles)
    return state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def pole_inputs(state: np.ndarray, poles: int, velocities: bool) -> list[float]:
    """Scaled network inputs in the spec's order, bias 0.5 last."""
    parts = [state[0] / 4.8] + ([state[1] / 2.0] if velocities else [])
    for i in range(poles):
        parts.append(state[2 + 2 * i] / 0.52)
        if velocities:
            parts.append(state[3 + 2 * i] / 2.0)
    return [*parts, 0.5]


def failed(state: np.ndarray, poles: int, angle: float) -> bool:
    """Outside the track or a pole past the failure angle."""
    if abs(state[0]) > 2.4 or abs(state[2]) > angle:
        return True
    return poles == 2 and abs(state[4]) > angle


def episode(genome: NeatGenome, start: np.ndarray, poles: int, velocities: bool, max_steps: int, angle: float, gruau: bool,
            synchronous: bool = False) -> tuple[int, float]:
    """Balanced decisions and fitness (steps, or Gruau's damping fitness) of one episode."""
    values: dict[int, float] = {}
    state = np.array(start, dtype=float)
    jiggle = []
    steps = 0
    while steps < max_steps:
        step_network(genome, values, pole_inputs(state, poles, velocities), synchronous)
        force = (values.get(genome.n_inputs, 0.0) - 0.5) * 20.0
        state = rk4(rk4(state, force, poles), force, poles)
        jiggle.append(abs(state[0]) + abs(state[1]) + abs(state[2]) + abs(state[3]))
        if failed(state, poles, angle):
            break
        steps += 1
    if not gruau:
        return steps, float(steps)
    f2 = 0.75 / sum(jiggle[steps - 100 : steps]) if steps >= 100 else 0.0
    return steps, 0.1 * steps / max_steps + 0.9 * f2
