"""Decoders against each other (beam 1 == top-k 1 == nucleus p->0 == temperature 0 == greedy ==
uncached greedy), prompts of different lengths (chunked padded prefill) against each row alone,
EOS stopping against a step-by-step reference, filters against their definitions (exactly k of
tied logits), and the text metrics against hand counts. Beam search with EOS:
test_decoding_beam.py."""

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
    """A tiny LM (``transformer``: rotary positions, ``learned``, ``gru``) and 3 prompts of 4."""
    if kind == "gru":
        model = GRULM(vocab_size=VOCAB, width=24)
    else:
        position = "rotary" if kind == "transformer" else kind
        model = TransformerLM(vocab_size=VOCAB, num_layers=1, width=32, num_heads=4, max_len=64,
                              position=position)
    prompt = jax.random.randint(jax.random.key(0), (3, 4), 0, VOCAB)
    params = jax.jit(model.init)(jax.random.key(1), prompt)["params"]
    # Sharper random weights so that greedy choices are well separated.
    params = jax.tree.map(lambda p: 2.0 * p, params)
    return model, params, prompt


LENGTHS = jnp.array([4, 1, 3])  # of the three prompts: right padding after them


@pytest.mark.parametrize("kind", [
    "transformer", "gru",
    # (learned positions in the default tier: test_decoding_beam.py's exhaustive search)
    pytest.param("learned", marks=pytest.mark.nightly)])
def test_prompts_of_different_lengths_decode_as_if_alone(kind):
    """One padded prefill in chunks of 2 (the second at cache index 2; rows ending inside a
    chunk or taking none of its tokens), then the cached steps, against the uncached model."""
    model, params, prompt = make(kind)
    greedy = decoding.greedy(model, params, prompt, 12, prompt_lengths=LENGTHS, prefill_chunk=2)
    assert greedy.shape == (3, 12)
    uncached = decoding.greedy_uncached(model, params, prompt, 12, prompt_lengths=LENGTHS)
    np.testing.assert_array_equal(greedy, uncached)
    alone = decoding.greedy_uncached(model, params, prompt[1:2, :1], 12)
    np.testing.assert_array_equal(greedy[1:2], alone)
    # Different padding changes nothing (and the lengths may be a list).
    junk = jnp.where(jnp.arange(4) < LENGTHS[:, None], prompt, (prompt + 5) % VOCAB)
    np.testing.assert_array_equal(decoding.greedy(model, params, junk, 12, prefill_chunk=2,
                                                  prompt_lengths=LENGTHS.tolist()), greedy)
    if kind == "transformer":  # the chunked prefill itself: the logits after the last token
        prefill = jax.jit(decoding.prefill, static_argnames=("model", "max_len", "chunk_size"))
        logits, cache = prefill(model, params, prompt, 16, prompt_lengths=LENGTHS, chunk_size=2)
        full = jax.jit(model.apply)({"params": params}, prompt)
        np.testing.assert_allclose(logits, full[jnp.arange(3), LENGTHS - 1], atol=1e-5)
        np.testing.assert_array_equal(cache["index"], LENGTHS)


def stop_at_eos(tokens, eos_id, pad_id):
    """Step by step: copy each row's tokens up to its first EOS, then pad; and the lengths."""
    out, lengths = np.full_like(tokens, pad_id), np.full(len(tokens), tokens.shape[1])
    for b, row in enumerate(tokens):
        for t, token in enumerate(row):
            out[b, t] = token
            if token == eos_id:
                lengths[b] = t + 1
                break
    return out, lengths


def test_eos_stops_each_row_and_pads_after_it():
    # Greedy: an EOS that every row emits before its last step (the last steps skip the model).
    model, params, prompt = make("transformer")
    plain = np.asarray(decoding.greedy(model, params, prompt, 12))  # (== greedy_uncached)
    eos_id = min(set.intersection(*(set(row[:-1].tolist()) for row in plain)))
    tokens, lengths = decoding.greedy(model, params, prompt, 12, eos_id=eos_id, pad_id=7)
    expected, expected_lengths = stop_at_eos(plain, eos_id, 7)
    assert max(expected_lengths) < 12
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_array_equal(lengths, expected_lengths)
    # Sampling with the same key draws the same tokens until each row's EOS; one row has none.
    model, params, prompt = make("gru")
    key = jax.random.key(4)
    drawn = np.asarray(decoding.sample(model, params, key, prompt, 12))
    eos_id = min(set(drawn[0, :-1].tolist()) - set(drawn[1].tolist()))
    tokens, lengths = decoding.sample(model, params, key, prompt, 12, eos_id=eos_id)
    expected, expected_lengths = stop_at_eos(drawn, eos_id, 0)
    assert expected_lengths[0] < 12 == expected_lengths[1]
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_array_equal(lengths, expected_lengths)


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
    # Temperature 0 is greedy (a traced value: the same compiled function as 1e-4).
    np.testing.assert_array_equal(
        decoding.sample(model, params, key, prompt, 12, top_p=1.0, temperature=0.0), greedy)
    with pytest.raises(ValueError, match="sample: temperature must be >= 0"):
        decoding.sample(model, params, key, prompt, 12, temperature=-0.5)
    # Without prompt_lengths, greedy is the uncached decoding of the full prompts.
    np.testing.assert_array_equal(
        greedy, decoding.greedy_uncached(model, params, prompt, 12, prompt_lengths=jnp.full(3, 4)))
    ancestral = decoding.sample(model, params, key, prompt, 12, top_p=1.0)
    assert not np.array_equal(ancestral, greedy)  # (holds for this seed)



def test_beam_search_is_greedy_with_one_beam_and_exact_with_v_beams():
    model, params, prompt = make("transformer")
    # Beam 1 is greedy decoding (prompts of different lengths); its score is the
    # continuation's log-probability under the full pass.
    greedy = decoding.greedy(model, params, prompt, 12, prompt_lengths=LENGTHS, prefill_chunk=2)
    tokens, greedy_score = decoding.beam_search(model, params, prompt, 12, beam_size=1,
                                                prompt_lengths=LENGTHS)
    np.testing.assert_array_equal(tokens[:, 0], greedy)
    rows, steps = jnp.arange(3)[:, None], jnp.arange(12)
    full = jnp.zeros((3, 16), prompt.dtype).at[:, :4].set(prompt)
    full = full.at[rows, LENGTHS[:, None] + steps].set(greedy)
    log_probs = jax.nn.log_softmax(jax.jit(model.apply)({"params": params}, full), -1)
    expected = jnp.sum(log_probs[rows, LENGTHS[:, None] - 1 + steps, greedy], 1)
    np.testing.assert_allclose(greedy_score[:, 0], expected, rtol=1e-4, atol=1e-4)
    # Exhaustive search over 2-token continuations: beam search with K >= V is exact (the K
    # best, best first). (With EOS and prompts of different lengths: test_decoding_beam.py.)
    all_pairs = jnp.stack(jnp.meshgrid(jnp.arange(VOCAB), jnp.arange(VOCAB), indexing="ij"),
                          -1).reshape(-1, 2)
    seqs = jnp.concatenate([jnp.repeat(prompt[:1], VOCAB ** 2, 0), all_pairs], 1)
    log_probs = jax.nn.log_softmax(jax.jit(model.apply)({"params": params}, seqs[:, :-1]), -1)
    totals = jnp.sum(jnp.take_along_axis(log_probs[:, 3:], all_pairs[..., None], -1), (1, 2))
    tokens, scores = decoding.beam_search(model, params, prompt[:1], 2, beam_size=VOCAB)
    assert tokens.shape == (1, VOCAB, 2)
    best = jnp.argsort(-totals)[:VOCAB]
    np.testing.assert_allclose(scores[0], totals[best], rtol=1e-5)
    np.testing.assert_array_equal(tokens[0], all_pairs[best])


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


def test_top_k_keeps_exactly_k_of_tied_logits_the_lowest_indices():
    tied = jnp.array([[0.0, 2.0, 1.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0, 3.0]])
    kept = lambda k: np.isfinite(decoding.top_k_logits(tied, k)).astype(int).tolist()  # noqa: E731
    assert kept(1) == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert kept(2) == [[0, 1, 0, 1, 0], [1, 1, 0, 0, 0]]
    assert kept(4) == [[0, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert kept(5) == kept(9) == [[1] * 5, [1] * 5]
    np.testing.assert_array_equal(decoding.top_k_logits(tied, 9), tied)


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
