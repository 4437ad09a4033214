"""A tool-using agent loop: retrieve, decode a tool call under the JSON grammar, run the tool,
observe, repeat.

Each step ranks a seeded store of 8192 unit-length document embeddings (128 float32 values)
by cosine against the agent's query and keeps the top 4; decodes one JSON tool call with the
grammar and vocabulary of ``constrained_decode`` (scores from a seeded table, rows chosen by
the step and the retrieved ids); parses the call, runs a deterministic tool (``calc`` sums the
arguments, ``lookup`` reads a seeded table at a hash of them); and moves the query towards the
document the result points at. The orchestration (parsing, tools, observation) is Python on
purpose: an agent framework's interpreter cost per step is part of what differs between chips.

Speed: one agent after another, one Numba call per retrieval and per tool call. Rate: the
agents step in lockstep and each step batches them: one parallel retrieval (``prange`` over
agents) and one parallel decode (``prange`` over agents, each decoding its whole call), then
the tools in Python. That keeps one Python thread feeding all cores, as a server that batches
its agents would, instead of one interpreter per agent.

Scores are float64 sums of float32 embeddings, so the kernel and NumPy rankings can differ
only on a near-tie of ~1e-16: the trajectory (retrieved ids, call tokens) must match exactly.
"""

from __future__ import annotations

import functools
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from harness.workload import Workload
from workloads import constrained_decode as cd

DOCS, EMBED_DIM, TOP_K = 8192, 128, 4
AGENT_STEPS = 8  # loop iterations per agent
MAX_CALL = 96  # tokens a tool call may take; an unfinished call is an error observation
SCORE_ROWS = 61  # rows of the decoder's seeded score table
TABLE_SIZE = 1024  # entries of the ``lookup`` tool's table

Trajectory = tuple[np.ndarray, np.ndarray]  # call tokens (-1 padded), retrieved ids


# --- kernels -----------------------------------------------------------------------------------


@numba.njit(cache=True)
def retrieve(docs: np.ndarray, query: np.ndarray, out: np.ndarray) -> None:
    """The ids of the ``out.size`` documents with the largest dot product with ``query`` (the
    cosine ranking, as documents are unit length), best first, ties to the lower id."""
    k = out.size
    best = np.full(k, -np.inf)
    out[:] = -1
    for j in range(docs.shape[0]):
        row = docs[j]
        s = 0.0
        for i in range(row.size):
            s += row[i] * query[i]
        if s > best[k - 1]:
            pos = k - 1
            while pos > 0 and s > best[pos - 1]:
                best[pos], out[pos] = best[pos - 1], out[pos - 1]
                pos -= 1
            best[pos], out[pos] = s, j


@numba.njit(cache=True, parallel=True)
def retrieve_all(docs: np.ndarray, queries: np.ndarray, out: np.ndarray) -> None:
    for a in numba.prange(queries.shape[0]):
        retrieve(docs, queries[a], out[a])


@numba.njit(cache=True)
def decode_call(grammar: cd.Grammar, scores: np.ndarray, base: int, stride: int,
                out: np.ndarray) -> None:  # fmt: skip
    """One tool call from the start state until the grammar (the one-call DFA: nothing may
    follow the closing brace) accepts it, token j scored by row ``(base + stride * j) %
    rows``; ``out`` is -1 past the call's end."""
    mask = np.empty(scores.shape[1], dtype=np.uint8)
    path = np.empty(cd.MAX_TOKEN + 1, dtype=np.int64)
    out[:] = -1
    state = cd.START
    for j in range(out.size):
        row = scores[(base + stride * j) % scores.shape[0]]
        out[j], _, state = cd.mask_step(state, grammar, row, mask, path)
        if state == cd.ACCEPT or out[j] < 0:
            return


@numba.njit(cache=True, parallel=True)
def decode_all(grammar: cd.Grammar, scores: np.ndarray, plan: np.ndarray, out: np.ndarray) -> None:
    for a in numba.prange(plan.shape[0]):
        decode_call(grammar, scores, plan[a, 0], plan[a, 1], out[a])


# --- the Python side: plan, tools, observation (shared by every form) ----------------------------


def call_plan(agent: int, step: int, ids: np.ndarray) -> tuple[int, int]:
    """Which score rows the decoder reads: a function of the agent, step and retrieval."""
    key = int(ids.sum()) * 31 + step * 7 + agent * 13
    return key % SCORE_ROWS, 1 + int(ids[0]) % (SCORE_ROWS - 1)


def call_text(tokens: np.ndarray, padded: np.ndarray, lengths: np.ndarray) -> bytes:
    return b"".join(padded[t, : lengths[t]].tobytes() for t in tokens if t >= 0)


def run_tool(text: bytes, table: np.ndarray) -> float:
    """Parse the call and run its tool; -1.0 for a call the grammar did not finish."""
    try:
        call = json.loads(text)
    except json.JSONDecodeError:
        return -1.0
    args = call["arguments"]
    if zlib.crc32(call["name"].encode()) % 2 == 0:  # calc
        return float(sum(v if isinstance(v, int | float) else len(v) for v in args.values()))
    key = json.dumps(args, sort_keys=True).encode()  # lookup
    return float(table[zlib.crc32(key) % table.size])


def observe(query: np.ndarray, result: float, docs: np.ndarray) -> None:
    """Move the query halfway to the document the tool result points at, in place."""
    doc = docs[int(abs(result) * 997.0) % docs.shape[0]].astype(np.float64)
    query *= 0.5
    query += 0.5 * doc
    query /= np.linalg.norm(query)


def _agent_step(a: int, step: int, inputs: tuple[Any, ...], queries: np.ndarray,
                ids: np.ndarray, calls: np.ndarray) -> None:  # fmt: skip
    """The Python half of a step, once ``ids[a, step]`` and ``calls[a, step]`` are known."""
    docs, _, padded, lengths, _, table = inputs
    result = run_tool(call_text(calls[a, step], padded, lengths), table)
    observe(queries[a], result, docs)


def _empty(n: int) -> Trajectory:
    return (np.full((n, AGENT_STEPS, MAX_CALL), -1, dtype=np.int32),
            np.empty((n, AGENT_STEPS, TOP_K), dtype=np.int32))  # fmt: skip


# --- the three forms -------------------------------------------------------------------------


def _speed_step(a: int, step: int, inputs: tuple[Any, ...], queries: np.ndarray,
                traj: Trajectory) -> None:  # fmt: skip
    docs, grammar, _, _, scores, _ = inputs
    calls, ids = traj
    retrieve(docs, queries[a], ids[a, step])
    base, stride = call_plan(a, step, ids[a, step])
    decode_call(grammar, scores, base, stride, calls[a, step])
    _agent_step(a, step, inputs, queries, ids, calls)


def loop_speed(*inputs: Any) -> Trajectory:
    """One agent after another, each step a retrieval, a decode and a tool in turn."""
    queries = inputs[-1].copy()
    traj = _empty(queries.shape[0])
    for a in range(queries.shape[0]):
        for step in range(AGENT_STEPS):
            _speed_step(a, step, inputs[:-1], queries, traj)
    return traj


def loop_steps(*inputs: Any) -> list[float]:
    """Agent 0 run step by step: the latency of each loop iteration."""
    queries = inputs[-1].copy()
    traj = _empty(queries.shape[0])
    latencies = []
    for step in range(AGENT_STEPS):
        start = time.perf_counter()
        _speed_step(0, step, inputs[:-1], queries, traj)
        latencies.append(time.perf_counter() - start)
    return latencies


def loop_rate(*inputs: Any) -> Trajectory:
    """Agents in lockstep: per step one parallel retrieval and one parallel decode for all of
    them, then each agent's tool in Python."""
    docs, grammar, _, _, scores, _, start = inputs
    queries = start.copy()
    n = queries.shape[0]
    calls, ids = traj = _empty(n)
    plan = np.empty((n, 2), dtype=np.int64)
    for step in range(AGENT_STEPS):
        retrieve_all(docs, queries, ids[:, step])
        for a in range(n):
            plan[a] = call_plan(a, step, ids[a, step])
        decode_all(grammar, scores, plan, calls[:, step])
        for a in range(n):
            _agent_step(a, step, inputs[:-1], queries, ids, calls)
    return traj


def _decode_reference(masks: Callable[[int], np.ndarray], scores: np.ndarray, base: int,
                      stride: int, out: np.ndarray) -> None:  # fmt: skip
    """``decode_call`` from per-state masks: ``masks(state)`` is each token's next state."""
    state = cd.START
    for j in range(MAX_CALL):
        after = masks(state)
        allowed = after != cd.DEAD
        if not allowed.any():
            return
        row = scores[(base + stride * j) % scores.shape[0]]
        out[j] = int(np.argmax(np.where(allowed, row, -np.inf)))
        state = after[out[j]]
        if state == cd.ACCEPT:
            return


def loop_reference(*inputs: Any) -> Trajectory:
    """The same loop with NumPy retrieval (a BLAS product, a stable sort) and NumPy masks:
    every token walked through the DFA from the padded byte matrix, once per state met (a
    state's mask never changes, so it is cached, as outlines does)."""
    docs, grammar, padded, lengths, scores, _, start = inputs
    docs64 = docs.astype(np.float64)

    walk = cd.token_walker(grammar[0], padded, lengths)

    @functools.cache
    def masks(state: int) -> np.ndarray:
        after: np.ndarray = walk(np.array([state]))[0]
        return after

    queries = start.copy()
    calls, ids = traj = _empty(queries.shape[0])
    for a in range(queries.shape[0]):
        for step in range(AGENT_STEPS):
            ids[a, step] = np.argsort(-(docs64 @ queries[a]), kind="stable")[:TOP_K]
            base, stride = call_plan(a, step, ids[a, step])
            _decode_reference(masks, scores, base, stride, calls[a, step])
            _agent_step(a, step, inputs[:-1], queries, ids, calls)
    return traj


# --- inputs and declaration ----------------------------------------------------------------------


def make_inputs(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    """Unit-length float32 documents, the grammar and vocabulary, the decoder's score table,
    the lookup tool's table, and ``n`` agents' starting queries (float64, unit length)."""
    docs = rng.standard_normal((DOCS, EMBED_DIM), dtype=np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    grammar, padded, lengths = cd.make_grammar(rng, cd.ONE_CALL)
    scores = rng.standard_normal((SCORE_ROWS, cd.VOCAB), dtype=np.float32)
    table = rng.standard_normal(TABLE_SIZE) * 100.0
    queries = rng.standard_normal((n, EMBED_DIM))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return docs, grammar, padded, lengths, scores, table, queries


def _work(n: int) -> float:
    return float(n * AGENT_STEPS)


WORKLOAD = Workload(
    name="agent_loop",
    category="agent",
    description="agent loop: top-k retrieval, grammar-constrained tool call, Python tool",
    unit="agent steps",
    bound="latency",
    sizes={"tiny": 2, "small": 4, "default": 6, "large": 64},  # agents
    work=_work,
    # Per step: the document store once, and a decode of ~40 tokens over the trie (as in
    # constrained_decode: ~450 KB of trie, a score row, a mask per token).
    bytes=lambda n: _work(n) * (4.0 * DOCS * EMBED_DIM + 40 * (450e3 + 5.0 * cd.VOCAB)),
    flops=lambda n: _work(n) * (2.0 * DOCS * EMBED_DIM + 40 * cd.VOCAB),
    make_inputs=make_inputs,
    speed=loop_speed,
    rate=loop_rate,
    reference=loop_reference,
    steps=loop_steps,
)
