"""Compiled NEAT variation: crossover, mutation and a whole generation's offspring in one call.

Genomes travel as a population in flat arrays (``NeatPopulationIR``: connection genes sorted by innovation,
hidden ids increasing). Each child draws from its own SplitMix64 stream (seeded from run seed and child id),
so a child depends only on its parents, its seed and the innovation registry, never on the batch it was
made in. ``NeatSpace.mutate`` and ``NeatSpace.crossover`` run this same code on one genome, so every
variation rule ([EC02] 3.2 and 4.1, the [NEATC] details in ``NeatSpace``) exists once.

Working genome: a child is built in a scratch genome ``(innovation, source, target, weight, enabled,
hidden, sizes)`` with ``sizes = [genes, hidden]``, then appended to the output population.
Innovation registry: rows ``(kind, a, b, v0, v1, v2)``: kind 0 is a new link ``a -> b`` numbered ``v0``;
kind 1 is the split of link ``a`` into node ``v0`` with links ``v1`` (in) and ``v2`` (out). ``counters``
holds ``[next innovation, next node id, registry rows]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evonas.genomes.ir import ADD_CONNECTION, ADD_NODE, CROSSOVER, ELITE, REENABLE, TOGGLE_ENABLE, WEIGHTS

from .splitmix import index, uniform

# Indices into the parameter vector that ``NeatSpace.parameters`` builds (a test pins the two together).
(P_N_IN, P_N_OUT, P_BIAS_NODE, P_FEED_FORWARD, P_WEIGHTS, P_PERTURB, P_PERTURB_POWER, P_REPLACE_RANGE, P_NEW_WEIGHT_RANGE,
 P_WEIGHT_CAP, P_ADD_NODE, P_ADD_CONNECTION, P_TOGGLE, P_REENABLE, P_DISABLE_INHERITED, P_EXCLUSIVE, P_SPLIT_BIAS,
 P_SPLIT_OLDER, P_MUTATION_ONLY, P_INTERSPECIES, P_MUTATE_AFTER_CROSSOVER) = range(21)


# -- the working genome -----------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _load(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, row, b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes):  # type: ignore[no-untyped-def]
    """Copy population row ``row`` into the working genome."""
    # element loops: numba's slice assignment costs ~20 ns a slice, more than copying a small genome
    c0, c1 = offset[row], offset[row + 1]
    for j in range(c1 - c0):
        b_inn[j] = innovation[c0 + j]
        b_src[j] = source[c0 + j]
        b_tgt[j] = target[c0 + j]
        b_w[j] = weight[c0 + j]
        b_en[j] = enabled[c0 + j]
    h0, h1 = hidden_offset[row], hidden_offset[row + 1]
    for j in range(h1 - h0):
        b_hid[j] = hidden[h0 + j]
    sizes[0] = c1 - c0
    sizes[1] = h1 - h0


@njit(cache=True, inline="always")
def _insert_gene(b_inn, b_src, b_tgt, b_w, b_en, sizes, inn, s, t, w, e):  # type: ignore[no-untyped-def]
    """Add a gene, keeping the genes sorted by innovation number."""
    at = sizes[0]
    while at > 0 and b_inn[at - 1] > inn:
        b_inn[at] = b_inn[at - 1]
        b_src[at] = b_src[at - 1]
        b_tgt[at] = b_tgt[at - 1]
        b_w[at] = b_w[at - 1]
        b_en[at] = b_en[at - 1]
        at -= 1
    b_inn[at] = inn
    b_src[at] = s
    b_tgt[at] = t
    b_w[at] = w
    b_en[at] = e
    sizes[0] += 1


@njit(cache=True, inline="always")
def _insert_hidden(b_hid, sizes, node):  # type: ignore[no-untyped-def]
    at = sizes[1]
    while at > 0 and b_hid[at - 1] > node:
        b_hid[at] = b_hid[at - 1]
        at -= 1
    b_hid[at] = node
    sizes[1] += 1


@njit(cache=True)
def _dense_index(node, first_hidden, b_hid, n_hidden):  # type: ignore[no-untyped-def]
    """Position of a node id in the genome's id list (inputs, bias, outputs, then hidden increasing)."""
    if node < first_hidden:
        return node
    return first_hidden + np.searchsorted(b_hid[:n_hidden], node)


# -- the innovation registry -----------------------------------------------------------------------
@njit(cache=True, inline="always")
def _registered(registry, counters, kind, a, b):  # type: ignore[no-untyped-def]
    for r in range(counters[2]):
        if registry[r, 0] == kind and registry[r, 1] == a and registry[r, 2] == b:
            return r
    return -1


@njit(cache=True, inline="always")
def _register(registry, counters, kind, a, b, v0, v1, v2):  # type: ignore[no-untyped-def]
    r = counters[2]
    registry[r, 0] = kind
    registry[r, 1] = a
    registry[r, 2] = b
    registry[r, 3] = v0
    registry[r, 4] = v1
    registry[r, 5] = v2
    counters[2] = r + 1
    return r


@njit(cache=True, inline="always")
def _holds_innovation(b_inn, n, value):  # type: ignore[no-untyped-def]
    for k in range(n):
        if b_inn[k] == value:
            return True
    return False


# -- mutations ---------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _mutate_weights(b_w, sizes, prm, state):  # type: ignore[no-untyped-def]
    """Each weight perturbed (p ``prob_perturb``) by uniform +-power, or replaced by uniform +-range; clipped."""
    cap = prm[P_WEIGHT_CAP]
    for k in range(sizes[0]):
        perturb = uniform(state) < prm[P_PERTURB]
        step = 2.0 * uniform(state) - 1.0
        w = b_w[k] + step * prm[P_PERTURB_POWER] if perturb else step * prm[P_REPLACE_RANGE]
        b_w[k] = min(cap, max(-cap, w))


@njit(cache=True)
def _add_node(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):  # type: ignore[no-untyped-def]
    """Split an enabled link A->B into A->N (weight 1) and N->B (the old weight) and disable A->B; False when none may split."""
    n = sizes[0]
    bias_node = int(prm[P_BIAS_NODE])
    split_bias = prm[P_SPLIT_BIAS] != 0.0 or bias_node < 0
    candidates = np.empty(n, dtype=np.int64)
    count = 0
    for k in range(n):
        if b_en[k] and (split_bias or b_src[k] != bias_node):
            candidates[count] = k
            count += 1
    if count == 0:
        return False
    if prm[P_SPLIT_OLDER] != 0.0 and n < 15:
        # [NEATC] mutate_add_node: older links are split first, which spreads new nodes over the network
        position = 0
        while position < count - 1 and uniform(state) < 0.3:
            position += 1
    else:
        position = index(state, count)
    k = candidates[position]
    r = _registered(registry, counters, 1, b_inn[k], -1)
    if r < 0:
        r = _register(registry, counters, 1, b_inn[k], -1, counters[1], counters[0], counters[0] + 1)
        counters[0] += 2
        counters[1] += 1
    node, first, second = registry[r, 3], registry[r, 4], registry[r, 5]
    taken = False
    for h in range(sizes[1]):
        taken = taken or b_hid[h] == node
    if taken or _holds_innovation(b_inn, n, first) or _holds_innovation(b_inn, n, second):
        # this genome already holds the registered split (an earlier split of the same link): fresh numbers
        node, first, second = counters[1], counters[0], counters[0] + 1
        counters[0] += 2
        counters[1] += 1
    b_en[k] = False
    s, t, w = b_src[k], b_tgt[k], b_w[k]
    _insert_gene(b_inn, b_src, b_tgt, b_w, b_en, sizes, first, s, node, 1.0, True)
    _insert_gene(b_inn, b_src, b_tgt, b_w, b_en, sizes, second, node, t, w, True)
    _insert_hidden(b_hid, sizes, node)
    return True


@njit(cache=True)
def _add_connection(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):  # type: ignore[no-untyped-def]
    """Link two unlinked nodes (pairs listed target by target in id order); feed-forward genomes only get links
    that keep them acyclic. False when no pair is open."""
    n, n_hidden = sizes[0], sizes[1]
    n_in = int(prm[P_N_IN])
    first_hidden = n_in + int(prm[P_N_OUT])
    nodes = first_hidden + n_hidden
    feed_forward = prm[P_FEED_FORWARD] != 0.0
    linked = np.zeros((nodes, nodes), dtype=np.bool_)
    dense_source = np.empty(n, dtype=np.int64)
    dense_target = np.empty(n, dtype=np.int64)
    out_count = np.zeros(nodes + 1, dtype=np.int64)
    for k in range(n):
        s = _dense_index(b_src[k], first_hidden, b_hid, n_hidden)
        t = _dense_index(b_tgt[k], first_hidden, b_hid, n_hidden)
        dense_source[k], dense_target[k] = s, t
        linked[s, t] = True
        out_count[s + 1] += 1
    # successors in CSR form, every gene counted (disabled genes still block a cycle: they may be re-enabled)
    for v in range(nodes):
        out_count[v + 1] += out_count[v]
    successors = np.empty(n, dtype=np.int64)
    fill = out_count[:-1].copy()
    for k in range(n):
        successors[fill[dense_source[k]]] = dense_target[k]
        fill[dense_source[k]] += 1
    pair_source = np.empty(nodes * nodes, dtype=np.int64)
    pair_target = np.empty(nodes * nodes, dtype=np.int64)
    count = 0
    reach = np.zeros(nodes, dtype=np.bool_)
    stack = np.empty(nodes, dtype=np.int64)
    for t in range(n_in, nodes):
        if feed_forward:  # nodes reachable from t may not become t's sources
            reach[:] = False
            reach[t] = True
            stack[0] = t
            top = 1
            while top > 0:
                top -= 1
                v = stack[top]
                for j in range(out_count[v], out_count[v + 1]):
                    u = successors[j]
                    if not reach[u]:
                        reach[u] = True
                        stack[top] = u
                        top += 1
        for s in range(nodes):
            if linked[s, t] or (feed_forward and reach[s]):
                continue
            pair_source[count] = s
            pair_target[count] = t
            count += 1
    if count == 0:
        return False
    pick = index(state, count)
    s, t = pair_source[pick], pair_target[pick]
    s_id = s if s < first_hidden else b_hid[s - first_hidden]
    t_id = t if t < first_hidden else b_hid[t - first_hidden]
    r = _registered(registry, counters, 0, s_id, t_id)
    if r < 0:
        r = _register(registry, counters, 0, s_id, t_id, counters[0], -1, -1)
        counters[0] += 1
    innovation = registry[r, 3]
    if _holds_innovation(b_inn, n, innovation):  # numbers reused across generations by a long-lived registry
        innovation = counters[0]
        counters[0] += 1
    w = (2.0 * uniform(state) - 1.0) * prm[P_NEW_WEIGHT_RANGE]
    _insert_gene(b_inn, b_src, b_tgt, b_w, b_en, sizes, innovation, s_id, t_id, w, True)
    return True


@njit(cache=True, inline="always")
def mutate_genome(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):  # type: ignore[no-untyped-def]
    """[EC02] mutation of the working genome in place: weights (p 0.8), add node, add connection (each may
    apply; [NEATC]'s exclusive rule when set), then the optional toggles. Returns the code bits of what changed."""
    done = 0
    if prm[P_EXCLUSIVE] != 0.0:
        # [NEATC] Species::reproduce: add node, else add link, else the weight mutation
        if uniform(state) < prm[P_ADD_NODE]:
            if _add_node(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):
                done |= ADD_NODE
        elif uniform(state) < prm[P_ADD_CONNECTION]:
            if _add_connection(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):
                done |= ADD_CONNECTION
        elif uniform(state) < prm[P_WEIGHTS]:
            _mutate_weights(b_w, sizes, prm, state)
            done |= WEIGHTS
    else:
        if uniform(state) < prm[P_WEIGHTS]:
            _mutate_weights(b_w, sizes, prm, state)
            done |= WEIGHTS
        if uniform(state) < prm[P_ADD_NODE]:
            if _add_node(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):
                done |= ADD_NODE
        if uniform(state) < prm[P_ADD_CONNECTION]:
            if _add_connection(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state):
                done |= ADD_CONNECTION
    if prm[P_TOGGLE] > 0.0 and uniform(state) < prm[P_TOGGLE] and sizes[0] > 0:
        k = index(state, sizes[0])
        b_en[k] = not b_en[k]
        done |= TOGGLE_ENABLE
    if prm[P_REENABLE] > 0.0 and uniform(state) < prm[P_REENABLE]:
        disabled = 0
        for k in range(sizes[0]):
            disabled += 0 if b_en[k] else 1
        if disabled:
            pick = index(state, disabled)
            for k in range(sizes[0]):
                if not b_en[k]:
                    if pick == 0:
                        b_en[k] = True
                        break
                    pick -= 1
            done |= REENABLE
    return done


# -- crossover ---------------------------------------------------------------------------------------
@njit(cache=True)
def _reaches(start, goal, b_src, b_tgt, n, seen, stack):  # type: ignore[no-untyped-def]
    """Whether ``goal`` is reachable from ``start`` over the first ``n`` genes (node ids, any flag); ``seen``
    and ``stack`` are scratch of at least ``n + 1`` entries."""
    if start == goal:
        return True
    seen[0] = start
    n_seen = 1
    stack[0] = start
    top = 1
    while top > 0:
        top -= 1
        v = stack[top]
        for k in range(n):
            if b_src[k] != v:
                continue
            u = b_tgt[k]
            if u == goal:
                return True
            known = False
            for j in range(n_seen):
                known = known or seen[j] == u
            if not known:
                seen[n_seen] = u
                n_seen += 1
                stack[top] = u
                top += 1
    return False


@njit(cache=True, inline="always")
def crossover_genomes(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, fitter, other, equal,
                      b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, state, scratch_a, scratch_b):  # type: ignore[no-untyped-def]
    """[EC02] 3.2 crossover of population rows into the working genome: matching genes from either parent at
    random, disjoint and excess genes from the fitter parent (from both when ``equal``); a gene disabled in
    either parent is disabled with probability ``disable_inherited``. Two draws per gene considered.
    ``scratch_a`` and ``scratch_b`` hold at least as many entries as both parents' genes, plus one."""
    a, a_end = offset[fitter], offset[fitter + 1]
    b, b_end = offset[other], offset[other + 1]
    feed_forward = prm[P_FEED_FORWARD] != 0.0
    cycles_possible = equal and feed_forward
    n = 0
    while a < a_end or (equal and b < b_end):
        ia = innovation[a] if a < a_end else -1
        ib = innovation[b] if b < b_end else -1
        if not equal and not (a < a_end and b < b_end and ia == ib) and not (a < a_end and (b >= b_end or ia < ib)):
            b += 1  # the other parent's disjoint gene: only inherited when fitness is equal
            continue
        pick = uniform(state)
        disable = uniform(state)
        if a < a_end and b < b_end and ia == ib:
            k = a if pick < 0.5 else b
            either_disabled = not (enabled[a] and enabled[b])
            gene = ia
            a += 1
            b += 1
        elif a < a_end and (b >= b_end or ia < ib):
            k = a
            either_disabled = not enabled[a]
            gene = ia
            a += 1
        else:
            k = b
            either_disabled = not enabled[b]
            gene = ib
            b += 1
        s, t = source[k], target[k]
        duplicate = False
        for j in range(n):
            duplicate = duplicate or (b_src[j] == s and b_tgt[j] == t)
        if duplicate:  # the same link under two numbers (made in different generations)
            continue
        if cycles_possible and _reaches(t, s, b_src, b_tgt, n, scratch_a, scratch_b):
            continue  # genes from two parents can close a cycle; a feed-forward child skips them
        b_inn[n] = gene
        b_src[n] = s
        b_tgt[n] = t
        b_w[n] = weight[k]
        b_en[n] = not (either_disabled and disable < prm[P_DISABLE_INHERITED])
        n += 1
    sizes[0] = n
    # hidden nodes of either parent that the child's genes use, increasing
    h = 0
    p, p_end = hidden_offset[fitter], hidden_offset[fitter + 1]
    q, q_end = hidden_offset[other], hidden_offset[other + 1]
    while p < p_end or q < q_end:
        if q >= q_end or (p < p_end and hidden[p] < hidden[q]):
            node = hidden[p]
            p += 1
        elif p >= p_end or hidden[q] < hidden[p]:
            node = hidden[q]
            q += 1
        else:
            node = hidden[p]
            p += 1
            q += 1
        used = False
        for j in range(n):
            used = used or b_src[j] == node or b_tgt[j] == node
        if used:
            b_hid[h] = node
            h += 1
    sizes[1] = h


# -- a population's worth ----------------------------------------------------------------------------
@njit(cache=True)
def _workspace(offset, hidden_offset):  # type: ignore[no-untyped-def]
    """A working genome with room for any child of this population (both parents' genes and three new ones),
    its sizes, and crossover's two scratch arrays."""
    genes = 0
    hidden = 0
    for g in range(len(offset) - 1):
        genes = max(genes, offset[g + 1] - offset[g])
        hidden = max(hidden, hidden_offset[g + 1] - hidden_offset[g])
    capacity = 2 * genes + 3
    return (np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64),
            np.empty(capacity), np.empty(capacity, dtype=np.bool_), np.empty(2 * hidden + 1, dtype=np.int64),
            np.zeros(2, dtype=np.int64), np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64))


@njit(cache=True, inline="always")
def _append(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, child, o_off, o_inn, o_src, o_tgt, o_w, o_en, o_hoff, o_hid):  # type: ignore[no-untyped-def]
    c0 = o_off[child]
    n = sizes[0]
    for j in range(n):
        o_inn[c0 + j] = b_inn[j]
        o_src[c0 + j] = b_src[j]
        o_tgt[c0 + j] = b_tgt[j]
        o_w[c0 + j] = b_w[j]
        o_en[c0 + j] = b_en[j]
    o_off[child + 1] = c0 + n
    h0 = o_hoff[child]
    for j in range(sizes[1]):
        o_hid[h0 + j] = b_hid[j]
    o_hoff[child + 1] = h0 + sizes[1]


@njit(cache=True)
def breed(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, score, order, group_start, quotas,
          survival, elitism_min_size, seeds, prm, registry, counters):  # type: ignore[no-untyped-def]
    """One generation's children, in order ([EC02] 4.1). ``order`` holds the population's rows grouped by
    species, best first; group ``i`` is ``order[group_start[i]:group_start[i+1]]`` and gets ``quotas[i]``
    children: an elite copy of its champion when it has ``elitism_min_size`` members or more, then offspring
    of its best ``survival`` share (at least one). Returns the children's population arrays, each child's
    parent rows (fitter first; -1 when there is one parent) and code bits."""
    b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, scratch_a, scratch_b = _workspace(offset, hidden_offset)
    capacity, hidden_capacity = len(b_inn), len(b_hid)
    state = np.zeros(1, dtype=np.uint64)
    # the breeding species' survivors, and which species and whether elite each child is
    breeders = 0
    for i in range(len(quotas)):
        breeders += 1 if quotas[i] > 0 else 0
    survivor_offset = np.zeros(breeders + 1, dtype=np.int64)
    survivors = np.empty(len(order), dtype=np.int64)
    children = 0
    for i in range(len(quotas)):
        children += quotas[i]
    child_species = np.empty(children, dtype=np.int64)
    elite = np.zeros(children, dtype=np.bool_)
    b = 0
    c = 0
    for i in range(len(quotas)):
        if quotas[i] == 0:
            continue
        size = group_start[i + 1] - group_start[i]
        keep = max(1, int(math.ceil(survival * size)))
        survivor_offset[b + 1] = survivor_offset[b] + keep
        survivors[survivor_offset[b] : survivor_offset[b + 1]] = order[group_start[i] : group_start[i] + keep]
        elite[c] = size >= elitism_min_size
        child_species[c : c + quotas[i]] = b
        c += quotas[i]
        b += 1
    o_off = np.zeros(children + 1, dtype=np.int64)
    o_hoff = np.zeros(children + 1, dtype=np.int64)
    o_inn = np.empty(children * capacity, dtype=np.int64)
    o_src = np.empty(children * capacity, dtype=np.int64)
    o_tgt = np.empty(children * capacity, dtype=np.int64)
    o_w = np.empty(children * capacity)
    o_en = np.empty(children * capacity, dtype=np.bool_)
    o_hid = np.empty(children * hidden_capacity, dtype=np.int64)
    first_parent = np.empty(children, dtype=np.int64)
    second_parent = np.empty(children, dtype=np.int64)
    codes = np.empty(children, dtype=np.int64)
    for c in range(children):
        species = child_species[c]
        s0, s1 = survivor_offset[species], survivor_offset[species + 1]
        if elite[c]:
            mom = survivors[s0]
            _load(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, mom, b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes)
            first_parent[c], second_parent[c], codes[c] = mom, -1, ELITE
            _append(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, c, o_off, o_inn, o_src, o_tgt, o_w, o_en, o_hoff, o_hid)
            continue
        state[0] = seeds[c]
        count = s1 - s0
        others = breeders - 1
        mom = survivors[s0 + index(state, count)]
        mutation_only = uniform(state) < prm[P_MUTATION_ONLY]
        if not mutation_only and count == 1:
            mutation_only = not (others > 0 and uniform(state) < prm[P_INTERSPECIES])
        if mutation_only:
            _load(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, mom, b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes)
            codes[c] = mutate_genome(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state)
            first_parent[c], second_parent[c] = mom, -1
        else:
            p0, p1 = s0, s1
            if others > 0 and uniform(state) < prm[P_INTERSPECIES]:
                pick = index(state, others)
                pool = pick if pick < species else pick + 1  # the other breeding species, in order
                p0, p1 = survivor_offset[pool], survivor_offset[pool + 1]
            dad = survivors[p0 + index(state, p1 - p0)]
            fitter, weaker = (mom, dad) if score[mom] >= score[dad] else (dad, mom)
            crossover_genomes(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, fitter, weaker,
                              score[mom] == score[dad], b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, state, scratch_a, scratch_b)
            code = CROSSOVER
            if uniform(state) < prm[P_MUTATE_AFTER_CROSSOVER]:
                code |= mutate_genome(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state)
            first_parent[c], second_parent[c], codes[c] = fitter, weaker, code
        _append(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, c, o_off, o_inn, o_src, o_tgt, o_w, o_en, o_hoff, o_hid)
    return (o_off, o_inn[: o_off[-1]], o_src[: o_off[-1]], o_tgt[: o_off[-1]], o_w[: o_off[-1]], o_en[: o_off[-1]], o_hoff,
            o_hid[: o_hoff[-1]], first_parent, second_parent, codes)


@njit(cache=True)
def vary_one(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, first, second, equal, mutate, seed,
             prm, registry, counters):  # type: ignore[no-untyped-def]
    """One child: crossover of rows ``first`` (fitter) and ``second``, or a mutation of row ``first`` when
    ``second`` < 0 (``mutate`` set). Returns its gene arrays, hidden ids and code bits."""
    b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, scratch_a, scratch_b = _workspace(offset, hidden_offset)
    state = np.full(1, seed, dtype=np.uint64)
    code = 0
    if second >= 0:
        crossover_genomes(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, first, second, equal,
                          b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, state, scratch_a, scratch_b)
        code = CROSSOVER
    else:
        _load(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, first, b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes)
    if mutate:
        code |= mutate_genome(b_inn, b_src, b_tgt, b_w, b_en, b_hid, sizes, prm, registry, counters, state)
    n, h = sizes[0], sizes[1]
    return b_inn[:n].copy(), b_src[:n].copy(), b_tgt[:n].copy(), b_w[:n].copy(), b_en[:n].copy(), b_hid[:h].copy(), code


@njit(cache=True)
def uniform_weights(seeds, count, scale):  # type: ignore[no-untyped-def]
    """``count`` weights uniform in +-``scale`` per seed (row ``g`` from seed ``g``'s stream)."""
    out = np.empty((len(seeds), count))
    state = np.zeros(1, dtype=np.uint64)
    for g in range(len(seeds)):
        state[0] = seeds[g]
        for k in range(count):
            out[g, k] = (2.0 * uniform(state) - 1.0) * scale
    return out


@njit(cache=True)
def gather_rows(offset, innovation, source, target, weight, enabled, hidden_offset, hidden, rows):  # type: ignore[no-untyped-def]
    """The given rows of a population (any order, repeats allowed) as a new population's arrays."""
    new_offset = np.zeros(len(rows) + 1, dtype=np.int64)
    new_hidden_offset = np.zeros(len(rows) + 1, dtype=np.int64)
    for i in range(len(rows)):
        new_offset[i + 1] = new_offset[i] + offset[rows[i] + 1] - offset[rows[i]]
        new_hidden_offset[i + 1] = new_hidden_offset[i] + hidden_offset[rows[i] + 1] - hidden_offset[rows[i]]
    genes = new_offset[-1]
    o_inn = np.empty(genes, dtype=np.int64)
    o_src = np.empty(genes, dtype=np.int64)
    o_tgt = np.empty(genes, dtype=np.int64)
    o_w = np.empty(genes)
    o_en = np.empty(genes, dtype=np.bool_)
    o_hid = np.empty(new_hidden_offset[-1], dtype=np.int64)
    for i in range(len(rows)):
        c0, c1, at = offset[rows[i]], offset[rows[i] + 1], new_offset[i]
        n = c1 - c0
        o_inn[at : at + n] = innovation[c0:c1]
        o_src[at : at + n] = source[c0:c1]
        o_tgt[at : at + n] = target[c0:c1]
        o_w[at : at + n] = weight[c0:c1]
        o_en[at : at + n] = enabled[c0:c1]
        h0, h1 = hidden_offset[rows[i]], hidden_offset[rows[i] + 1]
        o_hid[new_hidden_offset[i] : new_hidden_offset[i] + h1 - h0] = hidden[h0:h1]
    return new_offset, o_inn, o_src, o_tgt, o_w, o_en, new_hidden_offset, o_hid


@njit(cache=True)
def rank_groups(slots, scores, n_slots):  # type: ignore[no-untyped-def]
    """Members grouped by species slot, best score first, ties to the earlier member; per non-empty slot (in
    slot order) its start in that order, its top score and its mean score. Returns (order, slots kept,
    starts, tops, means)."""
    count = np.zeros(n_slots + 1, dtype=np.int64)
    for g in range(len(slots)):
        count[slots[g] + 1] += 1
    for k in range(n_slots):
        count[k + 1] += count[k]
    fill = count[:-1].copy()
    order = np.empty(len(slots), dtype=np.int64)
    for g in range(len(slots)):  # members in id order within their slot
        k = slots[g]
        # insertion keeps the block sorted by score, descending; equal scores keep id order
        at = fill[k]
        while at > count[k] and scores[order[at - 1]] < scores[g]:
            order[at] = order[at - 1]
            at -= 1
        order[at] = g
        fill[k] += 1
    live = 0
    for k in range(n_slots):
        live += 1 if count[k + 1] > count[k] else 0
    kept = np.empty(live, dtype=np.int64)
    starts = np.zeros(live + 1, dtype=np.int64)
    tops = np.empty(live)
    means = np.empty(live)
    i = 0
    for k in range(n_slots):
        if count[k + 1] == count[k]:
            continue
        kept[i] = k
        starts[i + 1] = count[k + 1]
        tops[i] = scores[order[count[k]]]
        total = 0.0
        for j in range(count[k], count[k + 1]):
            total += scores[order[j]]
        means[i] = total / (count[k + 1] - count[k])
        i += 1
    return order, kept, starts, tops, means
