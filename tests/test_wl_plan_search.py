"""plan_search: A* finds Dijkstra's optimum, its heap orders keys, and known grids' counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from workloads import plan_search as wl


def dijkstra_cost(grid: np.ndarray, start: int, goal: int) -> int:
    """Shortest path cost on the same graph (entering a cell costs its value; 0 is a wall)."""
    side = grid.shape[0]
    rows, cols, weights = [], [], []
    for y in range(side):
        for x in range(side):
            for dy, dx in wl.STEPS:
                vy, vx = y + dy, x + dx
                if 0 <= vy < side and 0 <= vx < side and grid[vy, vx] and grid[y, x]:
                    rows.append(y * side + x)
                    cols.append(vy * side + vx)
                    weights.append(float(grid[vy, vx]))
    graph = coo_matrix((weights, (rows, cols)), shape=(side * side,) * 2).tocsr()
    cost = dijkstra(graph, indices=start)[goal]
    return -1 if np.isinf(cost) else int(cost)


def test_astar_cost_equals_dijkstra_on_seeded_grids() -> None:
    """The Manhattan heuristic is admissible: every path cost is Dijkstra's optimum."""
    costs, starts, goals = wl.make_inputs(12, np.random.default_rng(11))
    out = wl.plan_speed(costs, starts, goals)
    for i in range(costs.shape[0]):
        assert out[i, 0] == dijkstra_cost(costs[i], int(starts[i]), int(goals[i]))
        if out[i, 0] >= 0:  # each move costs at least 1 and covers at most 1 of the distance
            (sy, sx), (gy, gx) = divmod(int(starts[i]), wl.SIDE), divmod(int(goals[i]), wl.SIDE)
            assert out[i, 0] >= out[i, 2] >= abs(sy - gy) + abs(sx - gx)


def test_open_uniform_grid_expands_only_the_straight_path() -> None:
    """With unit costs and ties broken by smaller h, A* walks straight to the goal: the
    cost and moves are the Manhattan distance and it expands exactly moves + 1 nodes."""
    costs = np.ones((1, wl.SIDE, wl.SIDE), np.uint8)
    start, goal = 5 * wl.SIDE + 3, 40 * wl.SIDE + 50
    out = wl.plan_speed(costs, np.array([start]), np.array([goal]))
    distance = 35 + 47
    assert out[0].tolist() == [distance, distance + 1, distance]


def test_walled_off_goal_is_unreachable_after_its_component() -> None:
    """A goal behind a wall gives cost -1 and no path, after closing the start's region."""
    costs = np.ones((1, wl.SIDE, wl.SIDE), np.uint8)
    costs[0, :, 20] = 0  # a full-height wall: columns 0-19 cannot reach 21-63
    out = wl.plan_rate(costs, np.array([0]), np.array([wl.SIDE - 1]))
    assert out[0].tolist() == [-1, 20 * wl.SIDE, 0]


def test_heap_pops_keys_in_sorted_order() -> None:
    """The bottom-up binary heap returns every pushed key smallest first."""
    keys = np.random.default_rng(0).integers(0, 1 << 40, 500)
    heap, size = np.empty(keys.size + 2, np.int64), 0
    for key in keys:
        size = wl._push(heap, size, np.int64(key))
    popped = []
    while size:
        top, size = wl._pop(heap, size)
        popped.append(int(top))
    assert popped == sorted(keys.tolist())


def test_rate_and_reference_agree_exactly_on_expansions() -> None:
    """Tie-breaking by (f, h, node) makes node counts and path lengths identical to heapq's."""
    inputs = wl.make_inputs(16, np.random.default_rng(3))
    assert np.array_equal(wl.plan_rate(*inputs), wl.plan_reference(*inputs))


def test_work_is_the_expansions_of_seed_zero() -> None:
    """work(n) is the total of nodes expanded at seed 0, so throughput is nodes a second."""
    n = wl.WORKLOAD.sizes["tiny"]
    out = wl.plan_speed(*wl.make_inputs(n, np.random.default_rng(0)))
    assert wl.WORKLOAD.work(n) == pytest.approx(float(out[:, 1].sum()))


def test_steps_time_each_graph() -> None:
    """The latency series has one positive sample per planned graph."""
    latencies = wl.plan_steps(*wl.make_inputs(5, np.random.default_rng(1)))
    assert len(latencies) == 5 and min(latencies) > 0
