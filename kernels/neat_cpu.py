"""Bulk NEAT evaluation: a whole population of lowered networks per compiled call.

``pack`` concatenates ``ActivationIR`` programs into flat arrays; ``activate_rows`` runs every network on a
batch of input rows (stateless, one pass per row: XOR and function fitting); ``pole_episodes`` runs the
cart-pole physics next to the network for every (network, start state) pair in parallel ([NEATC] CartPole:
RK4 with h = 0.01 s, two steps per decision, force 20 (o - 0.5) N). See ``evonas.genomes.neat`` for the
propagation scheme; ``tests/neat_reference.py`` holds the pure-numpy twin these kernels must match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from evonas.genomes.ir import ActivationIR, NeatPopulationIR

STEEPNESS = 4.9
GRAVITY = -9.8
MASS_CART = 1.0
MASS_POLE_1, HALF_LENGTH_1 = 0.1, 0.5
MASS_POLE_2, HALF_LENGTH_2 = 0.01, 0.05
MUP = 0.000002
FORCE_SCALE = 20.0  # force = 20 (o - 0.5) N, in [-10, 10]
TAU = 0.01
TRACK_LIMIT = 2.4
THIRTY_SIX_DEGREES = 0.628329  # [NEATC]'s constant
TWELVE_DEGREES = 0.2094395  # the classic single-pole failure angle
FAILED_ACTIVATION_FITNESS = 0.0001  # [NEATC]: a net whose outputs get no signal


@dataclass(frozen=True)
class PackedNets:
    """A population of lowered networks as flat arrays (one compiled call evaluates all of them)."""

    order_offset: np.ndarray  # int64[G+1] into order/begin/end
    order: np.ndarray  # int32 dense node index per evaluated node
    begin: np.ndarray  # int64 first incoming link of each evaluated node
    end: np.ndarray
    source: np.ndarray  # int32 dense source index per link
    weight: np.ndarray  # float64
    n_nodes: np.ndarray  # int64[G]
    activated: np.ndarray  # bool[G]
    n_inputs: int
    n_outputs: int

    def __len__(self) -> int:
        return len(self.n_nodes)


def pack(programs: list[ActivationIR]) -> PackedNets:
    """Concatenate lowered networks; all must share the input/output layout. Indices are checked here, once."""
    if not programs:
        raise ValueError("pack needs at least one network")
    n_in, n_out = programs[0].n_inputs, programs[0].n_outputs
    order_offset = np.zeros(len(programs) + 1, dtype=np.int64)
    orders, begins, ends, sources, weights = [], [], [], [], []
    links = 0
    for g, ir in enumerate(programs):
        if (ir.n_inputs, ir.n_outputs) != (n_in, n_out):
            raise ValueError("every network in a pack needs the same number of inputs and outputs")
        order = np.asarray(ir.order, dtype=np.int32)
        start = np.asarray(ir.start, dtype=np.int64)
        source = np.asarray(ir.source, dtype=np.int32)
        if len(start) != len(order) + 1 or start[0] != 0 or start[-1] != len(source) or np.any(np.diff(start) < 0):
            raise ValueError(f"network {g}: malformed link ranges")
        if len(order) and (order.min() < n_in or order.max() >= ir.n_nodes):
            raise ValueError(f"network {g}: evaluates a node outside {n_in}..{ir.n_nodes - 1}")
        if len(source) and (source.min() < 0 or source.max() >= ir.n_nodes):
            raise ValueError(f"network {g}: a link reads a node outside 0..{ir.n_nodes - 1}")
        if ir.n_nodes < n_in + n_out:
            raise ValueError(f"network {g}: fewer nodes than inputs and outputs")
        orders.append(order)
        begins.append(start[:-1] + links)
        ends.append(start[1:] + links)
        sources.append(source)
        weights.append(np.asarray(ir.weight, dtype=np.float64))
        links += len(source)
        order_offset[g + 1] = order_offset[g] + len(order)
    return PackedNets(
        order_offset, np.concatenate(orders), np.concatenate(begins), np.concatenate(ends), np.concatenate(sources),
        np.concatenate(weights), np.array([ir.n_nodes for ir in programs], dtype=np.int64),
        np.array([ir.activated for ir in programs], dtype=np.bool_), n_in, n_out,
    )


@njit(cache=True, inline="always")
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-STEEPNESS * x))


@njit(cache=True, inline="always")
def _activate(values, order, begin, end, source, weight, lo, hi):  # type: ignore[no-untyped-def]
    for k in range(lo, hi):
        acc = 0.0
        for j in range(begin[k], end[k]):
            acc += weight[j] * values[source[j]]
        values[order[k]] = _sigmoid(acc)


@njit(cache=True, inline="always")
def _activate_synchronous(values, sums, order, begin, end, source, weight, lo, hi):  # type: ignore[no-untyped-def]
    for k in range(lo, hi):
        acc = 0.0
        for j in range(begin[k], end[k]):
            acc += weight[j] * values[source[j]]
        sums[k - lo] = acc
    for k in range(lo, hi):
        values[order[k]] = _sigmoid(sums[k - lo])


ROW_BLOCK = 32  # rows evaluated together: each link's multiply-add runs over a block (SIMD), same sums per row


@njit(cache=True, inline="always")
def _activate_block(order, begin, end, source, weight, n_in, n_out, inputs, out, g, lo, hi, r0, width, values, acc):  # type: ignore[no-untyped-def]
    """Rows ``r0:r0+width`` through genome ``g``; called with the literal ROW_BLOCK for full blocks, so that
    the row loops have a constant trip count and vectorise."""
    values[:, :width] = 0.0
    for i in range(n_in):
        for r in range(width):
            values[i, r] = inputs[r0 + r, i]
    for k in range(lo, hi):
        acc[:width] = 0.0
        for j in range(begin[k], end[k]):
            w = weight[j]
            src = values[source[j]]
            for r in range(width):
                acc[r] += w * src[r]
        node = values[order[k]]
        for r in range(width):
            node[r] = 1.0 / (1.0 + math.exp(-STEEPNESS * acc[r]))
    for o in range(n_out):
        for r in range(width):
            out[g, r0 + r, o] = values[n_in + o, r]


@njit(cache=True, inline="always")
def _activate_genome(order_offset, order, begin, end, source, weight, n_in, n_out, inputs, out, g, rows, values, acc):  # type: ignore[no-untyped-def]
    """Genome ``g`` on every input row, in blocks of rows, in the given workspace."""
    lo, hi = order_offset[g], order_offset[g + 1]
    full = rows - rows % ROW_BLOCK
    for r0 in range(0, full, ROW_BLOCK):
        _activate_block(order, begin, end, source, weight, n_in, n_out, inputs, out, g, lo, hi, r0, ROW_BLOCK, values, acc)
    if full < rows:  # a short last block (XOR's 4 rows) pays for its rows only
        _activate_block(order, begin, end, source, weight, n_in, n_out, inputs, out, g, lo, hi, full, rows - full, values, acc)


@njit(cache=True, parallel=True)
def _activate_rows(order_offset, order, begin, end, source, weight, n_nodes, n_in, n_out, inputs, out, chunks):  # type: ignore[no-untyped-def]
    genomes = len(n_nodes)
    rows = inputs.shape[0]
    most_nodes = 0
    for g in range(genomes):
        most_nodes = max(most_nodes, n_nodes[g])
    # genomes in ``chunks`` interleaved chunks (the caller passes the thread count): one workspace per chunk
    for chunk in prange(chunks):
        values_all = np.empty((most_nodes, ROW_BLOCK))
        acc = np.empty(ROW_BLOCK)
        for g in range(chunk, genomes, chunks):
            _activate_genome(order_offset, order, begin, end, source, weight, n_in, n_out, inputs, out, g, rows,
                             values_all[: n_nodes[g]], acc)


def checked_rows(nets: PackedNets, inputs: np.ndarray) -> np.ndarray:
    """Input rows as contiguous float64, refused unless each row has the networks' input count."""
    inputs = np.ascontiguousarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != nets.n_inputs:
        raise ValueError(f"inputs must be rows of {nets.n_inputs} values (bias included), got shape {inputs.shape}")
    return inputs


def activate_rows(nets: PackedNets, inputs: np.ndarray) -> np.ndarray:
    """Outputs ``[genome, row, output]`` of every network on every input row (state reset per row, one pass)."""
    inputs = checked_rows(nets, inputs)
    out = np.zeros((len(nets), inputs.shape[0], nets.n_outputs))
    chunks = max(1, min(len(nets), numba.get_num_threads()))
    _activate_rows(nets.order_offset, nets.order, nets.begin, nets.end, nets.source, nets.weight, nets.n_nodes, nets.n_inputs,
                   nets.n_outputs, inputs, out, chunks)
    return out


# -- cart-pole physics ([NEATC] CartPole::step and rk4) ------------------------------------------------
@njit(cache=True, inline="always")
def _derivatives(force, st, d, poles):  # type: ignore[no-untyped-def]
    d[0] = st[1]
    d[2] = st[3]
    d[4] = st[5]
    cos1 = math.cos(st[2])
    sin1 = math.sin(st[2])
    ml1 = HALF_LENGTH_1 * MASS_POLE_1
    temp1 = MUP * st[3] / ml1
    fi1 = ml1 * st[3] * st[3] * sin1 + 0.75 * MASS_POLE_1 * cos1 * (temp1 + GRAVITY * sin1)
    mi1 = MASS_POLE_1 * (1.0 - 0.75 * cos1 * cos1)
    if poles == 2:
        cos2 = math.cos(st[4])
        sin2 = math.sin(st[4])
        ml2 = HALF_LENGTH_2 * MASS_POLE_2
        temp2 = MUP * st[5] / ml2
        fi2 = ml2 * st[5] * st[5] * sin2 + 0.75 * MASS_POLE_2 * cos2 * (temp2 + GRAVITY * sin2)
        mi2 = MASS_POLE_2 * (1.0 - 0.75 * cos2 * cos2)
        d[1] = (force + fi1 + fi2) / (mi1 + mi2 + MASS_CART)
        d[5] = -0.75 * (d[1] * cos2 + GRAVITY * sin2 + temp2) / HALF_LENGTH_2
    else:
        d[1] = (force + fi1) / (mi1 + MASS_CART)
        d[5] = 0.0
    d[3] = -0.75 * (d[1] * cos1 + GRAVITY * sin1 + temp1) / HALF_LENGTH_1


@njit(cache=True)
def rk4_step(force, st, poles, d0, dt, dm, yt):  # type: ignore[no-untyped-def]
    """One classic Runge-Kutta step of h = TAU, in place on ``st`` (scratch arrays passed in)."""
    _derivatives(force, st, d0, poles)
    hh = TAU * 0.5
    for i in range(6):
        yt[i] = st[i] + hh * d0[i]
    _derivatives(force, yt, dt, poles)
    for i in range(6):
        yt[i] = st[i] + hh * dt[i]
    _derivatives(force, yt, dm, poles)
    for i in range(6):
        yt[i] = st[i] + TAU * dm[i]
        dm[i] += dt[i]
    _derivatives(force, yt, dt, poles)
    for i in range(6):
        st[i] = st[i] + TAU / 6.0 * (d0[i] + dt[i] + 2.0 * dm[i])


@njit(cache=True, inline="always")
def _failed(st, poles, angle):  # type: ignore[no-untyped-def]
    if st[0] < -TRACK_LIMIT or st[0] > TRACK_LIMIT or st[2] < -angle or st[2] > angle:
        return True
    return poles == 2 and (st[4] < -angle or st[4] > angle)


@njit(cache=True, inline="always")
def _set_inputs(values, st, poles, velocities, bias, bias_value):  # type: ignore[no-untyped-def]
    values[0] = st[0] / 4.8
    k = 1
    if velocities:
        values[k] = st[1] / 2.0
        k += 1
    values[k] = st[2] / 0.52
    k += 1
    if velocities:
        values[k] = st[3] / 2.0
        k += 1
    if poles == 2:
        values[k] = st[4] / 0.52
        k += 1
        if velocities:
            values[k] = st[5] / 2.0
            k += 1
    if bias:
        values[k] = bias_value


@njit(cache=True, inline="always")
def _pole_episode(order_offset, order, begin, end, source, weight, activated, n_in, start, poles, velocities, bias, bias_value,  # type: ignore[no-untyped-def]
                  max_steps, angle, gruau, synchronous, g, values, st, d0, dt, dm, yt, jiggle, sums):
    """Network ``g`` balancing from ``start``: (balanced decisions, fitness). ``values`` (the network's nodes),
    ``sums`` (its activated nodes), the state ``st``, the RK4 scratch and ``jiggle`` (Gruau: ``max_steps``
    long) are the caller's workspace, so the GPU twin can hand each thread its own slice."""
    if not activated[g]:
        return 0, FAILED_ACTIVATION_FITNESS
    values[:] = 0.0  # flushed network
    sums[:] = 0.0
    for i in range(6):
        st[i] = start[i]
    lo, hi = order_offset[g], order_offset[g + 1]
    steps = 0
    while steps < max_steps:
        _set_inputs(values, st, poles, velocities, bias, bias_value)
        if synchronous:
            _activate_synchronous(values, sums, order, begin, end, source, weight, lo, hi)
        else:
            _activate(values, order, begin, end, source, weight, lo, hi)
        force = (values[n_in] - 0.5) * FORCE_SCALE
        rk4_step(force, st, poles, d0, dt, dm, yt)
        rk4_step(force, st, poles, d0, dt, dm, yt)
        if gruau:
            jiggle[steps] = abs(st[0]) + abs(st[1]) + abs(st[2]) + abs(st[3])
        if _failed(st, poles, angle):
            break
        steps += 1
    if not gruau:
        return steps, float(steps)
    # [EC02] Eqs. 3-4 as [NEATC] computes them: f2 over the last 100 balanced decisions' raw states.
    f1 = steps / max_steps
    f2 = 0.0
    if steps >= 100:
        total = 0.0
        for i in range(steps - 100, steps):
            total += jiggle[i]
        f2 = 0.75 / total
    return steps, 0.1 * f1 + 0.9 * f2


@njit(cache=True, parallel=True)
def _pole_episodes(order_offset, order, begin, end, source, weight, n_nodes, activated, n_in, starts, poles, velocities, bias, bias_value,
                   max_steps, angle, gruau, synchronous, balanced, fitness):  # type: ignore[no-untyped-def]
    genomes = len(n_nodes)
    n_starts = starts.shape[0]
    for job in prange(genomes * n_starts):
        g = job // n_starts
        s = job % n_starts
        scratch = np.empty((5, 6))
        balanced[g, s], fitness[g, s] = _pole_episode(
            order_offset, order, begin, end, source, weight, activated, n_in, starts[s], poles, velocities, bias, bias_value,
            max_steps, angle, gruau, synchronous, g, np.empty(n_nodes[g]), scratch[0], scratch[1], scratch[2], scratch[3],
            scratch[4], np.empty(max_steps if gruau else 1), np.empty(order_offset[g + 1] - order_offset[g]),
        )


def checked_starts(nets: PackedNets, starts: np.ndarray, poles: int, velocities: bool, bias: bool) -> np.ndarray:
    """Start states as contiguous float64 rows of 6, refused unless the networks take this task's inputs."""
    starts = np.ascontiguousarray(starts, dtype=np.float64)
    expected = (1 + int(velocities)) * (1 + poles) + int(bias)
    if nets.n_inputs != expected:
        raise ValueError(f"this pole task feeds {expected} inputs (bias included); the networks take {nets.n_inputs}")
    if starts.ndim != 2 or starts.shape[1] != 6:
        raise ValueError("start states must be rows of 6 values")
    return starts


def pole_episodes(
    nets: PackedNets, starts: np.ndarray, poles: int, velocities: bool, bias: bool, bias_value: float,
    max_steps: int, angle: float = THIRTY_SIX_DEGREES, gruau: bool = False, synchronous: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced decisions and fitness ``[genome, start]`` for every network from every start state
    (x, x', theta1, theta1', theta2, theta2'); fitness is the balanced count, or Gruau's damping fitness.

    ``synchronous`` selects [NEATC]'s propagation: every node reads the previous step's values of its sources
    (inputs: this step's), so a signal advances one link per decision; otherwise the in-place topological scheme."""
    starts = checked_starts(nets, starts, poles, velocities, bias)
    balanced = np.zeros((len(nets), len(starts)), dtype=np.int64)
    fitness = np.zeros((len(nets), len(starts)))
    _pole_episodes(nets.order_offset, nets.order, nets.begin, nets.end, nets.source, nets.weight, nets.n_nodes, nets.activated,
                   nets.n_inputs, starts, poles, velocities, bias, bias_value, max_steps, angle, gruau, synchronous, balanced, fitness)
    return balanced, fitness


# -- whole-population lowering and speciation (one compiled call each per generation) -----------------
@njit(cache=True, inline="always")
def _dense(node, first_hidden, hidden, h0, h1):  # type: ignore[no-untyped-def]
    """Position of a node id among the genome's nodes (hidden ids increasing; a scan, genomes are small)."""
    if node < first_hidden:
        return node
    at = h0
    while at < h1 and hidden[at] < node:
        at += 1
    return first_hidden + at - h0


@njit(cache=True)
def _lower_population(n_in, n_out, conn_offset, source, target, weight, enabled, hidden_offset, hidden):  # type: ignore[no-untyped-def]
    first_hidden = n_in + n_out
    genomes = len(conn_offset) - 1
    total_nodes = genomes * first_hidden + len(hidden)
    order_offset = np.zeros(genomes + 1, dtype=np.int64)
    order = np.zeros(total_nodes, dtype=np.int32)
    begin = np.zeros(total_nodes, dtype=np.int64)
    end = np.zeros(total_nodes, dtype=np.int64)
    link_source = np.zeros(len(source), dtype=np.int32)
    link_weight = np.zeros(len(source))
    n_nodes = np.zeros(genomes, dtype=np.int64)
    activated = np.zeros(genomes, dtype=np.bool_)
    links = 0
    # scratch sized for the largest genome, allocated once (an allocation per genome cost a third of the call)
    most_genes = 0
    most_nodes = first_hidden
    for g in range(len(conn_offset) - 1):
        most_genes = max(most_genes, conn_offset[g + 1] - conn_offset[g])
        most_nodes = max(most_nodes, first_hidden + hidden_offset[g + 1] - hidden_offset[g])
    ls = np.empty(most_genes, dtype=np.int64)
    lt = np.empty(most_genes, dtype=np.int64)
    lw = np.empty(most_genes)
    live_scratch = np.empty(most_nodes, dtype=np.bool_)
    done_scratch = np.empty(most_nodes, dtype=np.bool_)
    reach_scratch = np.empty(most_nodes, dtype=np.bool_)
    remaining_scratch = np.empty(most_nodes, dtype=np.int64)
    for g in range(len(conn_offset) - 1):
        h0, h1 = hidden_offset[g], hidden_offset[g + 1]
        nodes = first_hidden + h1 - h0
        n_nodes[g] = nodes
        c0, c1 = conn_offset[g], conn_offset[g + 1]
        k = 0
        for c in range(c0, c1):
            if enabled[c]:
                ls[k] = _dense(source[c], first_hidden, hidden, h0, h1)
                lt[k] = _dense(target[c], first_hidden, hidden, h0, h1)
                lw[k] = weight[c]
                k += 1
        # live nodes: the outputs and every non-input node they depend on
        live = live_scratch[:nodes]
        live[:] = False
        live[n_in:first_hidden] = True
        changed = True
        while changed:
            changed = False
            for j in range(k):
                if live[lt[j]] and ls[j] >= n_in and not live[ls[j]]:
                    live[ls[j]] = True
                    changed = True
        remaining = remaining_scratch[:nodes]
        remaining[:] = 0
        for j in range(k):
            if live[lt[j]] and live[ls[j]] and ls[j] != lt[j]:
                remaining[lt[j]] += 1
        done = done_scratch[:nodes]
        done[:] = False
        count = 0
        for n in range(nodes):
            if live[n]:
                count += 1
        base = order_offset[g]
        for position in range(count):
            pick = -1
            for n in range(nodes):
                if live[n] and not done[n] and remaining[n] == 0:
                    pick = n
                    break
            if pick < 0:  # a cycle: the smallest remaining node goes first
                for n in range(nodes):
                    if live[n] and not done[n]:
                        pick = n
                        break
            done[pick] = True
            order[base + position] = pick
            for j in range(k):
                if ls[j] == pick and lt[j] != pick and live[lt[j]]:
                    remaining[lt[j]] -= 1
            # incoming links of ``pick`` in increasing source order
            begin[base + position] = links
            for j in range(k):
                if lt[j] == pick:
                    at = links
                    while at > begin[base + position] and link_source[at - 1] > ls[j]:
                        link_source[at] = link_source[at - 1]
                        link_weight[at] = link_weight[at - 1]
                        at -= 1
                    link_source[at] = ls[j]
                    link_weight[at] = lw[j]
                    links += 1
            end[base + position] = links
        order_offset[g + 1] = base + count
        # activated: every output reachable from the inputs through enabled links
        reach = reach_scratch[:nodes]
        reach[:] = False
        reach[:n_in] = True
        changed = True
        while changed:
            changed = False
            for j in range(k):
                if reach[ls[j]] and not reach[lt[j]]:
                    reach[lt[j]] = True
                    changed = True
        ok = True
        for o in range(n_in, first_hidden):
            ok = ok and reach[o]
        activated[g] = ok
    used = order_offset[-1]
    return order_offset, order[:used], begin[:used], end[:used], link_source[:links], link_weight[:links], n_nodes, activated


def lower_population(population: NeatPopulationIR) -> PackedNets:
    """Lower a whole population in one compiled call; the result equals ``pack([g.lower() for g in genomes])``."""
    p = population
    if len(p.conn_offset) < 2:
        raise ValueError("lower_population needs at least one genome")
    arrays = _lower_population(p.n_inputs, p.n_outputs, p.conn_offset, p.source, p.target, p.weight, p.enabled, p.hidden_offset, p.hidden)
    return PackedNets(*arrays, p.n_inputs, p.n_outputs)


@njit(cache=True, inline="always")
def _distance(ia, wa, a0, a1, ib, wb, b0, b1, c1, c2, c3, normalize_below):  # type: ignore[no-untyped-def]
    """Eq. 1 between genes ``a0:a1`` of (ia, wa) and ``b0:b1`` of (ib, wb); ranges, not slices, because a slice
    per call cost more than the comparison of two small genomes."""
    na, nb = a1 - a0, b1 - b0
    i, j = a0, b0
    matched = 0
    disjoint = 0
    wdiff = 0.0
    while i < a1 and j < b1:
        if ia[i] == ib[j]:
            wdiff += abs(wa[i] - wb[j])
            matched += 1
            i += 1
            j += 1
        elif ia[i] < ib[j]:
            disjoint += 1
            i += 1
        else:
            disjoint += 1
            j += 1
    excess = (a1 - i) + (b1 - j)  # whatever outlasts the other genome's last gene
    size = max(na, nb)
    n = 1.0 if size < normalize_below else float(size)
    mean_weight = wdiff / matched if matched else 0.0
    return c1 * excess / n + c2 * disjoint / n + c3 * mean_weight


@njit(cache=True)
def _first_fit(offset, innovation, weight, rep_offset, rep_innovation, rep_weight, threshold, c1, c2, c3, normalize_below):  # type: ignore[no-untyped-def]
    genomes = len(offset) - 1
    reps = len(rep_offset) - 1
    assign = np.empty(genomes, dtype=np.int64)
    founders = np.empty(genomes, dtype=np.int64)
    n_founders = 0
    for g in range(genomes):
        a0, a1 = offset[g], offset[g + 1]
        found = -1
        for r in range(reps):
            b0, b1 = rep_offset[r], rep_offset[r + 1]
            if _distance(innovation, weight, a0, a1, rep_innovation, rep_weight, b0, b1, c1, c2, c3, normalize_below) < threshold:
                found = r
                break
        if found < 0:
            for f in range(n_founders):
                b0, b1 = offset[founders[f]], offset[founders[f] + 1]
                if _distance(innovation, weight, a0, a1, innovation, weight, b0, b1, c1, c2, c3, normalize_below) < threshold:
                    found = reps + f
                    break
        if found < 0:
            founders[n_founders] = g
            found = reps + n_founders
            n_founders += 1
        assign[g] = found
    return assign, founders[:n_founders]


def first_fit_species(population: NeatPopulationIR, representatives: NeatPopulationIR | None, threshold: float,
                      c1: float, c2: float, c3: float, normalize_below: int) -> tuple[np.ndarray, np.ndarray]:
    """[EC02] first-fit speciation: each genome joins the first representative closer than ``threshold``
    (existing species first, then the ones founded earlier in this pass). Returns each genome's species slot
    (new species numbered after the representatives, in founding order) and the founders of the new ones."""
    if representatives is None:
        rep_offset, rep_innovation, rep_weight = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    else:
        rep_offset, rep_innovation, rep_weight = representatives.conn_offset, representatives.innovation, representatives.weight
    return _first_fit(population.conn_offset, population.innovation, population.weight, rep_offset, rep_innovation, rep_weight,
                      float(threshold), float(c1), float(c2), float(c3), int(normalize_below))
