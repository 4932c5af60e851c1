"""Pareto arithmetic for multi-objective search: constrained non-dominated sorting, crowding distance and
exact hypervolume in two and three dimensions.

Points are rows of an ``n x m`` array to be *minimised* (a maximised objective is negated before it gets
here); a row with a NaN (a failed evaluation) is dominated by every row without one and ranks in a last
front of its own. Constraint violations (``>= 0``, 0 when feasible) order rows first, as Deb's constrained
domination does: a feasible row beats an infeasible one, and of two infeasible rows the smaller violation wins.
"""

from __future__ import annotations

import math

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` is no worse than ``b`` in every objective and better in one (minimisation)."""
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_ranks(points: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """Front number of each row (0 is the non-dominated front) under constrained domination; rows with a NaN
    objective share the last front."""
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    ranks = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ranks
    if points.ndim == 1:
        points = points[:, None]
    violation = np.zeros(n) if violation is None else np.asarray(violation, dtype=np.float64)
    failed = np.isnan(points).any(axis=1)
    ok = np.flatnonzero(~failed)
    p, v = points[ok], violation[ok]
    # beats[i, j]: row i dominates row j under constrained domination
    no_worse = (p[:, None, :] <= p[None, :, :]).all(axis=2)
    better = (p[:, None, :] < p[None, :, :]).any(axis=2)
    both_feasible = (v[:, None] == 0) & (v[None, :] == 0)
    beats = np.where(both_feasible, no_worse & better, v[:, None] < v[None, :])
    count = beats.sum(axis=0)  # how many rows beat each row
    remaining = np.ones(len(ok), dtype=bool)
    front = 0
    local = np.zeros(len(ok), dtype=np.int64)
    while remaining.any():
        current = remaining & (count == 0)
        local[current] = front
        remaining &= ~current
        count = count - beats[current].sum(axis=0)
        front += 1
    ranks[ok] = local
    ranks[failed] = front
    return ranks


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """Crowding distance of each row within one front (Deb et al. 2002): the boundary rows of every objective get
    infinity, the others the sum over objectives of the normalised gap between their neighbours. Rows with a NaN
    get 0."""
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    out = np.zeros(n)
    if n == 0:
        return out
    if points.ndim == 1:
        points = points[:, None]
    finite = ~np.isnan(points).any(axis=1)
    idx = np.flatnonzero(finite)
    if len(idx) <= 2:
        out[idx] = np.inf
        return out
    sub = points[idx]
    distance = np.zeros(len(idx))
    for m in range(sub.shape[1]):
        order = np.argsort(sub[:, m], kind="stable")
        values = sub[order, m]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    out[idx] = distance
    return out


def nondominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows no other row dominates (rows with a NaN never). A sweep in lexicographic order,
    so it serves a whole lineage: a row can only be dominated by rows before it, and only front rows need checking."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    mask = np.zeros(len(points), dtype=bool)
    finite = np.flatnonzero(~np.isnan(points).any(axis=1))
    if len(finite) == 0:
        return mask
    order = finite[np.lexsort(points[finite].T[::-1])]
    front = np.empty((0, points.shape[1]))
    for i in order.tolist():
        p = points[i]
        if len(front) and bool((np.all(front <= p, axis=1) & np.any(front < p, axis=1)).any()):
            continue
        mask[i] = True
        front = np.vstack((front, p))
    return mask


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (minimisation; rows not strictly better
    than the reference in every objective add nothing). Exact for one, two and three objectives."""
    points = np.asarray(points, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    if len(points) == 0:
        return 0.0
    keep = ~np.isnan(points).any(axis=1) & (points < reference).all(axis=1)
    points = points[keep]
    if len(points) == 0:
        return 0.0
    m = points.shape[1]
    if m == 1:
        return float(reference[0] - points[:, 0].min())
    if m == 2:
        return _hypervolume_2d(points, reference)
    if m == 3:
        return _hypervolume_3d(points, reference)
    raise ValueError(f"hypervolume is exact for at most 3 objectives, got {m}")


def _hypervolume_2d(points: np.ndarray, reference: np.ndarray) -> float:
    order = np.lexsort((points[:, 1], points[:, 0]))  # by x, then y
    volume, best_y = 0.0, reference[1]
    for x, y in points[order]:
        if y < best_y:
            volume += (reference[0] - x) * (best_y - y)
            best_y = y
    return float(volume)


def _hypervolume_3d(points: np.ndarray, reference: np.ndarray) -> float:
    """Slices along the third objective: between consecutive z values the dominated area is the 2-D
    hypervolume of the points at or below that z."""
    order = np.argsort(points[:, 2], kind="stable")
    points = points[order]
    volume = 0.0
    for k in range(len(points)):
        z_next = points[k + 1, 2] if k + 1 < len(points) else reference[2]
        depth = z_next - points[k, 2]
        if depth > 0:
            volume += depth * _hypervolume_2d(points[: k + 1, :2], reference[:2])
    return float(volume)


def crowded_keys(points: np.ndarray, violation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NSGA-II's crowded comparison keys of each row: its front (lower is better) and its crowding distance within
    that front (higher is better)."""
    ranks = pareto_ranks(points, violation)
    crowding = np.zeros(len(ranks))
    for front in np.unique(ranks).tolist():
        members = np.flatnonzero(ranks == front)
        crowding[members] = crowding_distance(np.asarray(points, dtype=np.float64).reshape(len(ranks), -1)[members])
    return ranks, crowding


def crowded_winners(ranks: np.ndarray, crowding: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Winners of tournaments whose rows index into the keys: the lowest front, then the largest crowding
    distance, then the first drawn."""
    winners = np.empty(len(draws), dtype=np.int64)
    for k, row in enumerate(draws.tolist()):
        best = row[0]
        for d in row[1:]:
            if ranks[d] < ranks[best] or (ranks[d] == ranks[best] and crowding[d] > crowding[best]):
                best = d
        winners[k] = best
    return winners


def encode_row(values: np.ndarray) -> list[float | str | None]:
    """JSON-safe floats: NaN as None, infinities as "inf" / "-inf" (checkpoint state)."""
    return [None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v) for v in np.asarray(values).tolist()]


def decode_row(values: list[float | str | None]) -> np.ndarray:
    """Inverse of ``encode_row``."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
