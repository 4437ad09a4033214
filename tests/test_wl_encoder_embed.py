"""encoder_embed: unit embeddings, padding and batch independence, accurate fused math, thread
counts restored, and the same network as the PyTorch comparison."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy.special import erf

from workloads import encoder_embed as wl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    return wl.make_inputs(3, np.random.default_rng(21))


@pytest.fixture(scope="module")
def embeddings(inputs) -> np.ndarray:
    return wl.encoder_speed(*inputs)


def test_embeddings_are_unit_vectors(embeddings) -> None:
    """Mean pooling is followed by L2 normalisation."""
    assert embeddings.shape == (3, wl.HIDDEN) and embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)


def test_padding_tokens_do_not_change_the_embeddings(inputs, embeddings) -> None:
    """Masked positions are neither attended to nor pooled, whatever their ids."""
    ids, mask, weights = inputs
    assert not mask.all(), "the generated batch should contain padding"
    noisy = np.where(mask == 0, np.arange(ids.size).reshape(ids.shape) % wl.VOCAB, ids)
    assert np.allclose(wl.encoder_speed(noisy, mask, weights), embeddings, rtol=0, atol=1e-6)


def test_a_sequence_embeds_the_same_alone_or_in_a_batch(inputs, embeddings) -> None:
    """Sequences do not interact: the last one alone gives its row of the batch."""
    ids, mask, weights = inputs
    alone = wl.encoder_speed(ids[-1:], mask[-1:], weights)
    assert np.allclose(alone[0], embeddings[-1], rtol=wl.WORKLOAD.rtol, atol=wl.WORKLOAD.atol)


def test_fused_exp_and_gelu_are_float32_accurate() -> None:
    """The vectorisable exp is within 4 ulp-ish of exp; the erf GELU within 1e-6 of exact."""
    x = np.linspace(-80.0, 0.0, 4001, dtype=np.float32)
    exact = np.exp(x.astype(np.float64))
    got = np.array([wl._expf(v) for v in x], dtype=np.float64)
    assert np.max(np.abs(got - exact) / exact) < 5e-7
    v = np.linspace(-8.0, 8.0, 4001, dtype=np.float32).astype(np.float64)
    gelu = 0.5 * v * (1.0 + erf(v / np.sqrt(2.0)))
    got = np.array([wl._gelu(np.float32(u)) for u in v], dtype=np.float64)
    assert np.max(np.abs(got - gelu)) < 2e-6


def test_kernels_leave_numba_and_blas_thread_counts_as_they_were(inputs) -> None:
    """The speed form pins one thread for its call only; the rate form restores BLAS too."""
    ids, mask, weights = inputs
    before = (numba.get_num_threads(), wl.blas_threads())
    wl.encoder_speed(ids[:1], mask[:1], weights)
    wl.encoder_rate(ids[:1], mask[:1], weights)
    assert (numba.get_num_threads(), wl.blas_threads()) == before


def test_the_pytorch_comparison_computes_the_same_network(inputs, embeddings) -> None:
    """benchmarks/torch_encoder_embed.py and the Numba kernel agree within the tolerance."""
    pytest.importorskip("torch")
    path = ROOT / "benchmarks" / "torch_encoder_embed.py"
    spec = importlib.util.spec_from_file_location("torch_encoder_embed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ids, mask, weights = inputs
    got = module.torch_encoder(weights, ids, mask).numpy()
    assert np.allclose(got, embeddings, rtol=wl.WORKLOAD.rtol, atol=wl.WORKLOAD.atol)
