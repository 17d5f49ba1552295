"""Decoders against each other (beam 1 == top-k 1 == nucleus p->0 == greedy == uncached greedy),
filters against their definitions, and the text metrics against hand counts."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.gru import GRULM
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import decoding

VOCAB = 11


@functools.lru_cache(maxsize=None)
def make(kind):
    if kind == "transformer":
        model = TransformerLM(vocab_size=VOCAB, num_layers=1, width=32, num_heads=4, max_len=64)
    else:
        model = GRULM(vocab_size=VOCAB, width=24)
    prompt = jax.random.randint(jax.random.key(0), (3, 4), 0, VOCAB)
    params = jax.jit(model.init)(jax.random.key(1), prompt)["params"]
    # Sharper random weights so that greedy choices are well separated.
    params = jax.tree.map(lambda p: 2.0 * p, params)
    return model, params, prompt


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_cached_greedy_equals_uncached_greedy_and_beam_1(kind):
    model, params, prompt = make(kind)
    greedy = decoding.greedy(model, params, prompt, 12)
    assert greedy.shape == (3, 12)
    if kind == "transformer":  # (the GRU's cached steps are checked in its model tests)
        np.testing.assert_array_equal(greedy,
                                      decoding.greedy_uncached(model, params, prompt, 12))
    tokens, scores = decoding.beam_search(model, params, prompt, 12, beam_size=1)
    np.testing.assert_array_equal(tokens[:, 0], greedy)
    # The beam-1 score is the greedy sequence's log-probability under the full pass.
    full = jnp.concatenate([prompt, greedy], 1)
    log_probs = jax.nn.log_softmax(jax.jit(model.apply)({"params": params}, full[:, :-1]), -1)
    expected = jnp.sum(jnp.take_along_axis(log_probs[:, 3:], greedy[..., None], -1), (1, 2))
    np.testing.assert_allclose(scores[:, 0], expected, rtol=1e-4, atol=1e-4)


def test_top_k_1_and_nucleus_to_zero_sample_the_greedy_sequence():
    model, params, prompt = make("transformer")
    greedy = decoding.greedy(model, params, prompt, 12)
    key = jax.random.key(5)
    np.testing.assert_array_equal(
        decoding.sample(model, params, key, prompt, 12, top_k=1), greedy)
    np.testing.assert_array_equal(
        decoding.sample(model, params, key, prompt, 12, top_p=1e-6), greedy)
    np.testing.assert_array_equal(
        decoding.sample(model, params, key, prompt, 12, top_p=1.0, temperature=1e-4), greedy)
    ancestral = decoding.sample(model, params, key, prompt, 12, top_p=1.0)
    assert not np.array_equal(ancestral, greedy)  # (holds for this seed)


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy():
    model, params, prompt = make("transformer")
    _, greedy_score = decoding.beam_search(model, params, prompt, 12, beam_size=1)
    tokens, scores = decoding.beam_search(model, params, prompt, 12, beam_size=4)
    assert tokens.shape == (3, 4, 12)
    assert np.all(np.asarray(scores[:, 0]) >= np.asarray(greedy_score[:, 0]) - 1e-5)
    assert np.all(np.diff(np.asarray(scores), axis=1) <= 1e-6)  # best first
    # Exhaustive search over 2-token continuations: beam search with K >= V is exact.
    all_pairs = jnp.stack(jnp.meshgrid(jnp.arange(VOCAB), jnp.arange(VOCAB), indexing="ij"),
                          -1).reshape(-1, 2)
    seqs = jnp.concatenate([jnp.repeat(prompt[:1], VOCAB ** 2, 0), all_pairs], 1)
    log_probs = jax.nn.log_softmax(jax.jit(model.apply)({"params": params}, seqs[:, :-1]), -1)
    totals = jnp.sum(jnp.take_along_axis(log_probs[:, 3:], all_pairs[..., None], -1), (1, 2))
    tokens, scores = decoding.beam_search(model, params, prompt[:1], 2, beam_size=VOCAB)
    np.testing.assert_allclose(scores[0, 0], jnp.max(totals), rtol=1e-5)
    np.testing.assert_array_equal(tokens[0, 0], all_pairs[jnp.argmax(totals)])


def test_ancestral_sampling_follows_the_model_distribution():
    """First sampled token: empirical frequencies match softmax(logits / temperature)."""
    model, params, prompt = make("gru")
    logits = jax.jit(model.apply)({"params": params}, prompt[:1])[0, -1]
    n = 4000
    many = jnp.repeat(prompt[:1], n, 0)
    for temperature, top_k in [(1.0, None), (0.7, 3)]:
        first = decoding.sample(model, params, jax.random.key(3), many, 1,
                                temperature=temperature, top_k=top_k)[:, 0]
        expected = logits / temperature
        if top_k:
            expected = decoding.top_k_logits(expected, top_k)
        freq = np.bincount(np.asarray(first), minlength=VOCAB) / n
        np.testing.assert_allclose(freq, jax.nn.softmax(expected), atol=0.03)


def test_filters():
    logits = jnp.log(jnp.array([0.1, 0.4, 0.2, 0.3]))
    assert np.isfinite(decoding.top_k_logits(logits, 2)).tolist() == [False, True, False, True]
    # Sorted: 0.4, 0.3, 0.2, 0.1. p=0.5: 0.4 (before 0) and 0.3 (before 0.4 < 0.5) kept.
    assert np.isfinite(decoding.top_p_logits(logits, 0.5)).tolist() == [False, True, False, True]
    assert np.isfinite(decoding.top_p_logits(logits, 0.0)).tolist() == [False, True, False, False]
    assert np.all(np.isfinite(decoding.top_p_logits(logits, 1.0)))
    with pytest.raises(ValueError, match="top_k"):
        decoding.top_k_logits(logits, 0)


def test_text_metrics_against_hand_counts():
    x = jnp.array([1, 2, 3, 1, 2, 3, 1, 2])
    # 2-grams: 12 23 31 12 23 31 12 -> 3 unique of 7.
    np.testing.assert_allclose(decoding.seq_rep_n(x, 2), 1 - 3 / 7)
    np.testing.assert_allclose(decoding.distinct_n(x, 1), 3 / 8)
    np.testing.assert_allclose(decoding.seq_rep_n(jnp.arange(8), 4), 0.0)
    # 3-grams 123 231 312 123 231 312: the repeats start at 3, 4, 5 -> tokens 3..7.
    np.testing.assert_array_equal(decoding.ngram_repeat_mask(x, 3),
                                  [0, 0, 0, 1, 1, 1, 1, 1])
    targets = jnp.array([5, 6, 5, 7, 8])
    predictions = jnp.array([5, 5, 6, 7, 6])
    out = decoding.repeat_at_1(predictions, targets, window=2)
    # context (input) at t: [-1, 5, 6, 5, 7]; window 2 covers context[t-1], context[t].
    np.testing.assert_array_equal(out["rep"], [False, True, True, False, False])
    np.testing.assert_array_equal(out["wrep"], [False, True, True, False, False])
    np.testing.assert_array_equal(out["human_rep"], [False, False, True, False, False])
