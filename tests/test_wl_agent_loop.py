"""Behaviour of the agent_loop workload: retrieval, tools, and the trajectory it records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workloads import agent_loop as al


@pytest.fixture(scope="module")
def inputs() -> tuple[object, ...]:
    return al.make_inputs(2, np.random.default_rng(0))


def test_retrieval_ranks_a_document_first_for_its_own_embedding() -> None:
    """Querying with a stored document's embedding returns that document first."""
    docs = al.make_inputs(1, np.random.default_rng(3))[0]
    ids = np.empty(al.TOP_K, dtype=np.int32)
    for j in (0, 17, al.DOCS - 1):
        al.retrieve(docs, docs[j].astype(np.float64), ids)
        assert ids[0] == j and len(set(ids.tolist())) == al.TOP_K


def test_retrieval_breaks_ties_to_the_lower_id() -> None:
    """Identical documents rank in id order, as a stable sort would."""
    docs = np.zeros((10, 4), dtype=np.float32)
    docs[[2, 5, 8], 0] = 1.0
    ids = np.empty(3, dtype=np.int32)
    al.retrieve(docs, np.array([1.0, 0.0, 0.0, 0.0]), ids)
    assert ids.tolist() == [2, 5, 8]


def test_tools_compute_from_the_parsed_call() -> None:
    """calc sums numbers and string lengths; lookup is a table read; a broken call is -1."""
    table = np.arange(al.TABLE_SIZE, dtype=np.float64)
    names = ["add", "sub", "mul", "div", "get"]
    calc = next(n for n in names if al.zlib.crc32(n.encode()) % 2 == 0)
    lookup = next(n for n in names if al.zlib.crc32(n.encode()) % 2 == 1)
    call = {"name": calc, "arguments": {"a": 2, "b": -0.5, "c": "xyz"}}
    assert al.run_tool(json.dumps(call).encode(), table) == 4.5
    call = {"name": lookup, "arguments": {"k": "v"}}
    first = al.run_tool(json.dumps(call).encode(), table)
    assert first == al.run_tool(json.dumps(call).encode(), table) and 0 <= first < al.TABLE_SIZE
    assert al.run_tool(b'{"name":"add","argu', table) == -1.0


def test_observation_keeps_the_query_unit_length(inputs: tuple[object, ...]) -> None:
    """The query moves towards a document and stays a unit vector."""
    docs, query = inputs[0], inputs[-1][0].copy()
    al.observe(query, 12.5, docs)
    assert np.isclose(np.linalg.norm(query), 1.0)


def test_every_step_decodes_a_finished_json_tool_call(inputs: tuple[object, ...]) -> None:
    """Each recorded call is a complete call of the grammar that json parses."""
    calls, ids = al.loop_speed(*inputs)
    padded, lengths = inputs[2], inputs[3]
    for call in calls.reshape(-1, al.MAX_CALL):
        parsed = json.loads(al.call_text(call, padded, lengths))
        assert set(parsed) == {"name", "arguments"}
    assert ids.min() >= 0 and ids.max() < al.DOCS


def test_lockstep_and_one_by_one_give_the_same_trajectory(inputs: tuple[object, ...]) -> None:
    """Batching agents per step changes the schedule, not the trajectory."""
    for a, b in zip(al.loop_speed(*inputs), al.loop_rate(*inputs), strict=True):
        assert np.array_equal(a, b)


def test_observations_steer_retrieval(inputs: tuple[object, ...]) -> None:
    """An agent's retrievals change from step to step as the tool results move its query."""
    ids = al.loop_speed(*inputs)[1]
    assert len({tuple(step) for step in ids[0].tolist()}) > 1


def test_steps_time_each_agent_step(inputs: tuple[object, ...]) -> None:
    """The step-by-step run reports one positive latency per loop iteration."""
    latencies = al.loop_steps(*inputs)
    assert len(latencies) == al.AGENT_STEPS and min(latencies) > 0
