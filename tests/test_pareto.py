"""Pareto arithmetic against brute force: constrained non-dominated sorting, crowding distance, the front of a
whole lineage, and exact hypervolume in two and three dimensions."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evonas.pareto import crowding_distance, hypervolume, nondominated, pareto_ranks


def brute_ranks(points: np.ndarray, violation: np.ndarray) -> list[int]:
    """Peel fronts by checking every pair, constrained domination, NaN rows last."""
    n = len(points)
    failed = [bool(np.isnan(points[i]).any()) for i in range(n)]

    def beats(i: int, j: int) -> bool:
        if violation[i] == 0 and violation[j] == 0:
            return all(points[i] <= points[j]) and any(points[i] < points[j])
        return violation[i] < violation[j]

    ranks = [-1] * n
    left = {i for i in range(n) if not failed[i]}
    front = 0
    while left:
        current = {j for j in left if not any(beats(i, j) for i in left if i != j)}
        for j in current:
            ranks[j] = front
        left -= current
        front += 1
    return [front if failed[i] else ranks[i] for i in range(n)]


values = st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, math.nan])  # few values: ties and duplicates are common


@st.composite
def point_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    m = draw(st.integers(1, 3))
    n = draw(st.integers(0, 12))
    rows = [[draw(values) for _ in range(m)] for _ in range(n)]
    violation = [draw(st.sampled_from([0.0, 0.0, 0.0, 0.5, 1.0])) for _ in range(n)]
    return np.array(rows, dtype=np.float64).reshape(n, m), np.array(violation)


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_ranks_equal_brute_force_peeling(data: tuple[np.ndarray, np.ndarray]) -> None:
    points, violation = data
    assert pareto_ranks(points, violation).tolist() == brute_ranks(points, violation)


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_the_sweep_front_equals_brute_force(data: tuple[np.ndarray, np.ndarray]) -> None:
    points, _ = data
    expected = [not np.isnan(p).any() and not any(all(q <= p) and any(q < p) for q in points if not np.isnan(q).any())
                for p in points]
    assert nondominated(points).tolist() == expected


def brute_crowding(points: np.ndarray) -> list[float]:
    """Deb's definition, sorting each objective with a stable sort as the implementation does."""
    n, m = points.shape
    if n <= 2:
        return [math.inf] * n
    out = [0.0] * n
    for k in range(m):
        order = sorted(range(n), key=lambda i: points[i, k])
        span = points[order[-1], k] - points[order[0], k]
        out[order[0]] = out[order[-1]] = math.inf
        for pos in range(1, n - 1):
            if span > 0:
                out[order[pos]] += (points[order[pos + 1], k] - points[order[pos - 1], k]) / span
    return out


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3).flatmap(lambda m: st.lists(st.lists(st.sampled_from([0.0, 1.0, 1.5, 4.0]), min_size=m, max_size=m), max_size=10)))
def test_crowding_equals_brute_force(rows: list[list[float]]) -> None:
    points = np.array(rows, dtype=np.float64).reshape(len(rows), -1) if rows else np.zeros((0, 1))
    assert crowding_distance(points).tolist() == brute_crowding(points)


def test_crowding_gives_failed_rows_zero() -> None:
    points = np.array([[0.0, 1.0], [math.nan, 0.0], [1.0, 0.0], [0.5, 0.5]])
    out = crowding_distance(points)
    assert out[1] == 0 and math.isinf(out[0]) and math.isinf(out[2]) and out[3] == 2.0


def grid_volume(points: np.ndarray, reference: np.ndarray, cells: int) -> float:
    """Count grid cell centres dominated by a point (exact when every coordinate lies on the grid)."""
    m = len(reference)
    step = reference / cells
    centres = [(np.arange(cells) + 0.5) * step[k] for k in range(m)]
    count = 0
    for cell in itertools.product(*centres):
        c = np.array(cell)
        if any(np.all(p <= c) for p in points):
            count += 1
    return count * float(np.prod(step))


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 3).flatmap(lambda m: st.lists(st.lists(st.integers(0, 6), min_size=m, max_size=m), max_size=7)))
def test_hypervolume_equals_a_grid_count(rows: list[list[int]]) -> None:
    m = len(rows[0]) if rows else 2
    points = np.array(rows, dtype=np.float64).reshape(len(rows), m)
    reference = np.full(m, 6.0)
    assert hypervolume(points, reference) == grid_volume(points, reference, 6)


def test_hypervolume_ignores_failed_rows_and_points_beyond_the_reference() -> None:
    reference = np.array([4.0, 4.0])
    assert hypervolume(np.array([[1.0, 1.0], [math.nan, 0.0], [5.0, 0.0]]), reference) == 9.0
    assert hypervolume(np.zeros((0, 2)), reference) == 0.0
