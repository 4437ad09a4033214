"""Behaviour of the constrained_decode workload: the grammar, the trie sweep, the pick."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from workloads import constrained_decode as cd


def run_dfa(text: bytes, state: int = cd.START) -> int:
    """The DFA state after ``text`` (DEAD once any byte is refused)."""
    for byte in text:
        state = int(cd.DELTA[state, byte])
    return state


@pytest.fixture(scope="module")
def inputs() -> tuple[object, ...]:
    return cd.make_inputs(3, np.random.default_rng(0))


@pytest.mark.parametrize(
    "call",
    [
        b'{"name":"get_weather","arguments":{}}',
        b'{"name":"add","arguments":{"a":1,"b":-2.5,"c":0}}',
        b'{"name":"say","arguments":{"text":"hi there, 42!"}}',
    ],
)
def test_grammar_accepts_schema_conforming_calls(call: bytes) -> None:
    """Compact calls within the schema's limits end in the accepting state."""
    json.loads(call)
    assert run_dfa(call) == cd.ACCEPT


@pytest.mark.parametrize(
    "call",
    [
        b'{"name":"add","arguments":{"a":01}}',  # leading zero
        b'{"name":"x","arguments":{"a":1,"b":2,"c":3,"d":4}}',  # four arguments
        b'{"name":"' + b"n" * 17 + b'","arguments":{}}',  # name too long
        b'{"name":"Add","arguments":{}}',  # capital in the name
        b'{"name":"add","arguments":{"a":"x\\"y"}}',  # escapes are outside the schema
        b'{"name":"add", "arguments":{}}',  # whitespace
    ],
)
def test_grammar_refuses_calls_outside_the_schema(call: bytes) -> None:
    """Calls that break a limit or the compact form never reach the accepting state."""
    assert run_dfa(call) != cd.ACCEPT


def test_accepting_state_starts_the_next_call_unless_one_call_is_wanted() -> None:
    """Sessions run on from call to call; the one-call table refuses anything after one."""
    one = b'{"name":"a","arguments":{}}'
    assert run_dfa(one + one) == cd.ACCEPT
    assert not cd.ONE_CALL[cd.ACCEPT].any() and np.array_equal(cd.ONE_CALL[:-1], cd.DELTA[:-1])


def test_trie_sweep_equals_bytewise_walk_in_every_state(inputs: tuple[object, ...]) -> None:
    """From every DFA state the trie sweep allows exactly the tokens a byte-by-byte walk does."""
    grammar, padded, lengths, scores, _ = inputs
    walk = cd.token_walker(grammar[0], padded, lengths)
    states = np.arange(1, cd.DELTA.shape[0])
    expected = walk(states) != cd.DEAD
    mask = np.empty(cd.VOCAB, dtype=np.uint8)
    path = np.empty(cd.MAX_TOKEN + 1, dtype=np.int64)
    for state, allowed in zip(states, expected, strict=True):
        best, count, _ = cd.mask_step(int(state), grammar, scores[0], mask, path)
        assert np.array_equal(mask.astype(bool), allowed), state
        assert count == allowed.sum() > 0  # no state is a dead end
        assert best == np.flatnonzero(allowed)[np.argmax(scores[0][allowed])]


def test_pick_breaks_score_ties_to_the_lower_token_id(inputs: tuple[object, ...]) -> None:
    """Equal best scores pick the lowest id, as NumPy's argmax does."""
    grammar = inputs[0]
    scores = np.zeros(cd.VOCAB, dtype=np.float32)
    mask = np.empty(cd.VOCAB, dtype=np.uint8)
    path = np.empty(cd.MAX_TOKEN + 1, dtype=np.int64)
    best, count, _ = cd.mask_step(cd.START, grammar, scores, mask, path)
    assert best == np.flatnonzero(mask)[0] and count > 0


def test_sessions_emit_json_tool_calls_within_the_schema(inputs: tuple[object, ...]) -> None:
    """Every finished call in the decoded text parses as JSON and keeps the schema."""
    grammar, padded, lengths, scores, rows = inputs
    tokens, counts = cd.constrained_speed(grammar, padded, lengths, scores, rows)
    assert (tokens >= 0).all() and (counts > 0).all()
    finished = 0
    for session in tokens:
        text = b"".join(padded[t, : lengths[t]].tobytes() for t in session)
        for call in re.findall(rb'\{"name".*?\}\}(?=\{|$)', text):
            parsed = json.loads(call)
            assert re.fullmatch(r"[a-z_]{1,16}", parsed["name"])
            assert len(parsed["arguments"]) <= cd.MAX_ARGS
            finished += 1
    assert finished >= 3


def test_steps_time_each_decoding_step(inputs: tuple[object, ...]) -> None:
    """The step-by-step run reports one positive latency per step."""
    latencies = cd.constrained_steps(*inputs)
    assert len(latencies) == cd.STEPS and min(latencies) > 0
