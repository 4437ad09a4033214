"""Grammar-constrained decoding of JSON tool calls: at each step, the mask of vocabulary tokens
the grammar allows, the best-scoring allowed token, and the automaton's next state.

The grammar is a compact JSON tool call, ``{"name":"<name>","arguments":{<key>:<value>,...}}``,
with schema limits (name <= 16 of [a-z_], at most 3 arguments, keys <= 12 of [a-z_], values a
string of <= 24 printable characters other than quote and backslash, or a number
``-?(0|[1-9][0-9]{0,7})(.[0-9]{1,4})?``). With the limits the language is regular: a DFA of
~220 byte-level states, built here by hand. Its accepting state behaves as its start state,
so a session emits one call after another and every session runs the same number of steps.

The vocabulary (16384 tokens of 1-16 printable bytes: all single characters, JSON pieces,
words, digit runs) is held as a byte trie in depth-first order, the layout grammar engines use
for tokens whose validity depends on the state (XGrammar, llguidance): one sweep of the node
array walks the DFA once per shared prefix, and a dead state skips the node's whole subtree.
Engines cache masks of state-independent tokens; this workload measures the uncached sweep.
The scores a model would give are a seeded table of float32 rows; the pick is the highest
allowed score, ties to the lower id, so kernel and reference agree exactly.

Speed: sessions one after another (per-step latency); rate: ``prange`` over sessions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np

from harness.workload import Workload

VOCAB, MAX_TOKEN = 16384, 16
STEPS = 64  # tokens decoded per session
SCORE_ROWS = 61  # rows of the score table; session s, step i reads row (17 s + i) % 61
NAME_MAX, KEY_MAX, STR_MAX, INT_MAX, FRAC_MAX, MAX_ARGS = 16, 12, 24, 8, 4, 3
DEAD = 0
LOWER = b"abcdefghijklmnopqrstuvwxyz_"
DIGITS = b"0123456789"
PRINTABLE = bytes(range(32, 127))
STRING_CHARS = bytes(c for c in PRINTABLE if c not in b'"\\')


# --- the grammar: a byte DFA built by hand --------------------------------------------------


class _Dfa:
    """States are named by tuples while building; ``table`` turns them into a uint8 array."""

    def __init__(self) -> None:
        self.ids: dict[object, int] = {"dead": DEAD}
        self.edges: list[tuple[int, int, int]] = []

    def id(self, name: object) -> int:
        return self.ids.setdefault(name, len(self.ids))

    def edge(self, src: object, chars: bytes, dst: object) -> None:
        self.edges.extend((self.id(src), c, self.id(dst)) for c in chars)

    def literal(self, src: object, text: bytes, dst: object) -> None:
        names = [src] + [(src, text, i) for i in range(1, len(text))] + [dst]
        for i, c in enumerate(text):
            self.edge(names[i], bytes([c]), names[i + 1])

    def table(self) -> np.ndarray:
        out = np.zeros((len(self.ids), 256), dtype=np.uint8)
        for src, c, dst in self.edges:
            out[src, c] = dst
        return out


def _value_states(g: _Dfa, i: int) -> None:
    """Key and value of argument ``i``: a string, or a JSON number; then ',' or '}'."""
    for n in range(KEY_MAX):
        g.edge(("key", i, n), LOWER, ("key", i, n + 1))
    for n in range(1, KEY_MAX + 1):
        g.edge(("key", i, n), b'"', ("colon", i))
    g.edge(("colon", i), b":", ("value", i))
    g.edge(("value", i), b'"', ("str", i, 0))
    g.edge(("value", i), b"-", ("sign", i))
    for src in (("value", i), ("sign", i)):
        g.edge(src, b"0", ("zero", i))
        g.edge(src, DIGITS[1:], ("int", i, 1))
    for n in range(STR_MAX + 1):
        if n < STR_MAX:
            g.edge(("str", i, n), STRING_CHARS, ("str", i, n + 1))
        g.edge(("str", i, n), b'"', ("after", i))
    ends: list[tuple[str, int] | tuple[str, int, int]] = [("after", i), ("zero", i)]
    for n in range(1, INT_MAX + 1):
        if n < INT_MAX:
            g.edge(("int", i, n), DIGITS, ("int", i, n + 1))
        g.edge(("int", i, n), b".", ("dot", i))
        ends.append(("int", i, n))
    g.edge(("zero", i), b".", ("dot", i))
    g.edge(("dot", i), DIGITS, ("frac", i, 1))
    for n in range(1, FRAC_MAX + 1):
        if n < FRAC_MAX:
            g.edge(("frac", i, n), DIGITS, ("frac", i, n + 1))
        ends.append(("frac", i, n))
    for end in ends:
        g.edge(end, b"}", "close")
        if i + 1 < MAX_ARGS:
            g.edge(end, b",", ("next", i))
    if i + 1 < MAX_ARGS:
        g.edge(("next", i), b'"', ("key", i + 1, 0))


def build_grammar(repeat: bool = True) -> tuple[np.ndarray, int, int]:
    """The tool-call DFA: its (states, 256) transition table, start and accepting state. With
    ``repeat`` the accepting state reads on as the start state does (calls back to back);
    without, it refuses every byte (one call, then the end)."""
    g = _Dfa()
    start = g.id("start")
    g.literal("start", b'{"name":"', ("name", 0))
    for n in range(NAME_MAX):
        g.edge(("name", n), LOWER, ("name", n + 1))
    for n in range(1, NAME_MAX + 1):
        g.edge(("name", n), b'"', "name_end")
    g.literal("name_end", b',"arguments":{', "args")
    g.edge("args", b"}", "close")
    g.edge("args", b'"', ("key", 0, 0))
    for i in range(MAX_ARGS):
        _value_states(g, i)
    g.edge("close", b"}", "accept")
    accept = g.id("accept")
    table = g.table()
    if repeat:
        table[accept] = table[start]
    if table.shape[0] > 255:
        raise AssertionError("the grammar needs more than uint8 states")
    return table, start, accept


DELTA, START, ACCEPT = build_grammar()
ONE_CALL = build_grammar(repeat=False)[0]


# --- the vocabulary and its trie --------------------------------------------------------------

JSON_PIECES = [b'{"', b'":', b'","', b'":"', b'"}', b"}}", b"},", b',"', b'{"name":"', b"name",
               b'","arguments":{', b"arguments", b'":{', b'"},', b'":-', b".0", b".5", b'}}{"',
               b'"}}', b"true", b"null", b" ", b"  "]  # fmt: skip


def make_vocab(rng: np.random.Generator) -> list[bytes]:
    """VOCAB distinct tokens: printable bytes, JSON pieces, digit runs, then seeded words
    (some with a leading space, a capital, or a quote or colon stuck to them, as BPE makes)."""
    vocab = dict.fromkeys([bytes([c]) for c in PRINTABLE] + JSON_PIECES)
    vocab.update(dict.fromkeys(str(i).encode() for i in range(10, 1000)))
    letters = np.frombuffer(LOWER, dtype=np.uint8)
    while len(vocab) < VOCAB:
        lengths = rng.integers(2, 8, size=4096)
        draws = rng.random((4096, 4))
        chars = rng.choice(letters, size=(4096, MAX_TOKEN))
        for length, (sp, cap, pre, post), row in zip(lengths, draws, chars, strict=True):
            word = row[:length].tobytes()
            word = word.capitalize() if cap < 0.15 else word
            word = b" " + word if sp < 0.3 else b'"' + word if pre < 0.1 else word
            word = word + b'"' if post < 0.08 else word + b'":' if post > 0.95 else word
            vocab[word[:MAX_TOKEN]] = None
    return list(vocab)[:VOCAB]


def build_trie(vocab: list[bytes]) -> tuple[np.ndarray, ...]:
    """The token trie in depth-first order (sorted distinct prefixes are exactly that order):
    per node its last byte, depth, the index just past its subtree, and the token it ends
    (-1 if none)."""
    ends: dict[bytes, int] = {}
    for tid, tok in enumerate(vocab):
        for d in range(1, len(tok)):
            ends.setdefault(tok[:d], -1)
        ends[tok] = tid
    nodes = sorted(ends)
    skip = np.full(len(nodes), len(nodes), dtype=np.int32)
    open_nodes: list[int] = []
    for j, prefix in enumerate(nodes):
        while open_nodes and len(nodes[open_nodes[-1]]) >= len(prefix):
            skip[open_nodes.pop()] = j
        open_nodes.append(j)
    byte = np.array([p[-1] for p in nodes], dtype=np.uint8)
    depth = np.array([len(p) for p in nodes], dtype=np.int32)
    token = np.array([ends[p] for p in nodes], dtype=np.int32)
    return byte, depth, skip, token


def token_bytes(vocab: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Tokens as a zero-padded (VOCAB, MAX_TOKEN) byte matrix and their lengths."""
    padded = np.zeros((len(vocab), MAX_TOKEN), dtype=np.uint8)
    for i, tok in enumerate(vocab):
        padded[i, : len(tok)] = np.frombuffer(tok, dtype=np.uint8)
    return padded, np.array([len(t) for t in vocab], dtype=np.int32)


# --- kernels ---------------------------------------------------------------------------------


Grammar = tuple[np.ndarray, ...]  # the DFA table, then the trie: byte, depth, skip, token
Outputs = tuple[np.ndarray, np.ndarray]  # tokens and allowed counts, (sessions, STEPS) each


@numba.njit(cache=True)
def mask_step(state: int, grammar: Grammar, scores: np.ndarray, mask: np.ndarray,
              path: np.ndarray) -> tuple[int, int, int]:  # fmt: skip
    """One decoding step from DFA ``state``: fill ``mask`` with the allowed tokens, and return
    the best-scoring allowed token (ties: lower id; -1 if none), how many are allowed, and the
    state after the best one. ``path[d]`` is the state after the current node's first d bytes."""
    delta, byte, depth, skip, token = grammar
    mask[:] = 0
    path[0] = state
    best, best_state, count = -1, DEAD, 0
    best_score = -np.inf
    i = 0
    while i < byte.size:
        d = depth[i]
        nxt = delta[path[d - 1], byte[i]]
        if nxt == DEAD:
            i = skip[i]  # no token below this node can be valid
            continue
        path[d] = nxt
        tid = token[i]
        if tid >= 0:
            mask[tid] = 1
            count += 1
            sc = scores[tid]
            if sc > best_score or (sc == best_score and tid < best):
                best, best_score, best_state = tid, sc, nxt
        i += 1
    return best, count, best_state


@numba.njit(cache=True)
def _session(s: int, grammar: Grammar, scores: np.ndarray, rows: np.ndarray, tokens: np.ndarray,
             counts: np.ndarray) -> None:  # fmt: skip
    """Decode STEPS tokens of session ``s`` from the start state."""
    mask = np.empty(scores.shape[1], dtype=np.uint8)
    path = np.empty(MAX_TOKEN + 1, dtype=np.int64)
    state = START
    for i in range(STEPS):
        row = scores[(rows[s, 0] + rows[s, 1] * i) % scores.shape[0]]
        tokens[s, i], counts[s, i], state = mask_step(state, grammar, row, mask, path)
        if tokens[s, i] < 0:  # unreachable with this vocabulary: every state has a byte token
            state = START


@numba.njit(cache=True)
def constrained_speed(grammar: Grammar, padded: np.ndarray, lengths: np.ndarray,
                      scores: np.ndarray, rows: np.ndarray) -> Outputs:  # fmt: skip
    """Sessions one after another."""
    n = rows.shape[0]
    tokens = np.empty((n, STEPS), dtype=np.int32)
    counts = np.empty((n, STEPS), dtype=np.int32)
    for s in range(n):
        _session(s, grammar, scores, rows, tokens, counts)
    return tokens, counts


@numba.njit(cache=True, parallel=True)
def constrained_rate(grammar: Grammar, padded: np.ndarray, lengths: np.ndarray,
                     scores: np.ndarray, rows: np.ndarray) -> Outputs:  # fmt: skip
    """Independent sessions over the threads."""
    n = rows.shape[0]
    tokens = np.empty((n, STEPS), dtype=np.int32)
    counts = np.empty((n, STEPS), dtype=np.int32)
    for s in numba.prange(n):
        _session(s, grammar, scores, rows, tokens, counts)
    return tokens, counts


def constrained_steps(grammar: Grammar, padded: np.ndarray, lengths: np.ndarray,
                      scores: np.ndarray, rows: np.ndarray) -> list[float]:  # fmt: skip
    """Session 0 stepped from Python: the latency of each step (mask, pick, advance)."""
    mask = np.empty(scores.shape[1], dtype=np.uint8)
    path = np.empty(MAX_TOKEN + 1, dtype=np.int64)
    state, latencies = START, []
    for i in range(STEPS):
        row = scores[(rows[0, 0] + rows[0, 1] * i) % scores.shape[0]]
        start = time.perf_counter()
        best, _, state = mask_step(state, grammar, row, mask, path)
        latencies.append(time.perf_counter() - start)
        state = START if best < 0 else state
    return latencies


# --- reference: every token walked through the DFA at once, in NumPy --------------------------


def token_walker(delta: np.ndarray, padded: np.ndarray,
                 lengths: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:  # fmt: skip
    """A function from states (sessions,) to (sessions, VOCAB): the state after each whole
    token (DEAD: not allowed), all tokens walked one byte position at a time. Tokens go
    longest first, so those still going at a position are a prefix: slices, not masks."""
    order = np.argsort(-lengths, kind="stable")
    columns = np.ascontiguousarray(padded[order].T)  # (position, token), longest first
    going = np.count_nonzero(lengths[None, :] > np.arange(padded.shape[1])[:, None], axis=1)

    def walk(states: np.ndarray) -> np.ndarray:
        now = np.repeat(states.astype(np.uint8)[:, None], padded.shape[0], axis=1)
        for pos, count in enumerate(going):
            now[:, :count] = delta[now[:, :count], columns[pos, :count]]
        after = np.empty_like(now)
        after[:, order] = now
        return after

    return walk


def constrained_reference(grammar: Grammar, padded: np.ndarray, lengths: np.ndarray,
                          scores: np.ndarray, rows: np.ndarray) -> Outputs:  # fmt: skip
    """All sessions in lockstep; masks from the padded byte matrix, not the trie."""
    walk = token_walker(grammar[0], padded, lengths)
    n = rows.shape[0]
    tokens = np.empty((n, STEPS), dtype=np.int32)
    counts = np.empty((n, STEPS), dtype=np.int32)
    states = np.full(n, START)
    for i in range(STEPS):
        after = walk(states)
        allowed = after != DEAD
        row = scores[(rows[:, 0] + rows[:, 1] * i) % scores.shape[0]]
        best = np.argmax(np.where(allowed, row, -np.inf), axis=1)  # first max: lower id
        counts[:, i] = allowed.sum(axis=1)
        tokens[:, i] = np.where(counts[:, i] > 0, best, -1)
        states = np.where(counts[:, i] > 0, after[np.arange(n), best], START)
    return tokens, counts


# --- inputs and declaration -------------------------------------------------------------------


def make_grammar(rng: np.random.Generator,
                 table: np.ndarray = DELTA) -> tuple[Grammar, np.ndarray, np.ndarray]:  # fmt: skip
    """A seeded vocabulary as (DFA table and trie), padded token bytes and token lengths."""
    vocab = make_vocab(rng)
    return (table, *build_trie(vocab)), *token_bytes(vocab)


def make_inputs(n: int, rng: np.random.Generator) -> tuple[object, ...]:
    """The grammar and vocabulary, a seeded score table, and per session the start row and
    stride through it."""
    grammar, padded, lengths = make_grammar(rng)
    scores = rng.standard_normal((SCORE_ROWS, VOCAB), dtype=np.float32)
    rows = np.stack(
        [rng.integers(0, SCORE_ROWS, size=n), rng.integers(1, SCORE_ROWS, size=n)], axis=1
    )
    return grammar, padded, lengths, scores, rows


WORKLOAD = Workload(
    name="constrained_decode",
    category="agent",
    description="JSON tool-call grammar: token masks over a 16k-token trie, pick, advance",
    unit="steps",
    bound="integer",  # per-step latency matters, but the DFA walk over the trie is integer
    sizes={"tiny": 2, "small": 8, "default": 32, "large": 256},  # sessions
    work=lambda n: float(n * STEPS),
    # Per step: the trie arrays (~10 bytes a node, ~45k nodes, from cache after the first
    # step), the score row and the mask: counted once per step as if from memory.
    bytes=lambda n: n * STEPS * (10.0 * 45_000 + 5.0 * VOCAB),
    # integer operations, not FLOPs: one score comparison per allowed token, at most
    flops=lambda n: n * STEPS * float(VOCAB),
    make_inputs=make_inputs,
    speed=constrained_speed,
    rate=constrained_rate,
    reference=constrained_reference,
    steps=constrained_steps,
)
