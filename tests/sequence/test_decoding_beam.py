"""Beam search with EOS, length normalization and early stopping, against exhaustive search over
every continuation (a vocabulary of 4, 4 steps) and against a step-by-step beam search on the
uncached model that never stops early."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import decoding

EOS, PAD = 1, 0


@functools.lru_cache(maxsize=None)
def make(position, vocab):
    model = TransformerLM(vocab_size=vocab, num_layers=1, width=16, num_heads=2, max_len=32,
                          position=position)
    prompt = jax.random.randint(jax.random.key(0), (2, 3), 0, vocab)
    params = jax.jit(model.init)(jax.random.key(1), prompt)["params"]
    return model, jax.tree.map(lambda p: 2.0 * p, params), prompt


def lp(length, alpha):
    return ((5 + length) / 6) ** alpha


def exhaustive(model, params, prompt, lengths, num_steps, alpha):
    """Per prompt, every hypothesis (up to its first EOS, else all ``num_steps`` tokens) -> its
    score, from one full pass over every continuation of every (right-padded) prompt."""
    continuations = np.array(list(itertools.product(range(model.vocab_size), repeat=num_steps)))
    count, steps = len(continuations), np.arange(num_steps)
    seqs = np.zeros((len(prompt), count, prompt.shape[1] + num_steps), np.int32)
    for b, n in enumerate(lengths):
        seqs[b, :, :n], seqs[b, :, n:n + num_steps] = prompt[b, :n], continuations
    log_probs = jax.jit(model.apply)({"params": params}, seqs.reshape(-1, seqs.shape[-1]))
    log_probs = np.asarray(jax.nn.log_softmax(log_probs, -1)).reshape(*seqs.shape, -1)
    tables = []
    for b, n in enumerate(lengths):
        token_lp = log_probs[b][np.arange(count)[:, None], n - 1 + steps, continuations]
        table = {}
        for c, prefix in zip(continuations, np.cumsum(token_lp, 1)):
            length = int(np.argmax(c == EOS)) + 1 if EOS in c else num_steps
            table[tuple(c[:length])] = prefix[length - 1] / lp(length, alpha)
        tables.append(table)
    return tables


@pytest.mark.parametrize("position,alpha", [("rotary", 0.0), ("learned", 0.8)])
def test_beam_search_is_exhaustive_search_when_no_live_prefix_is_dropped(position, alpha):
    """With K = 3^3 beams every non-EOS prefix of length <= 3 stays live, so the K best
    hypotheses are the K best of all 121; two prompts of lengths 3 and 1 in one batch."""
    model, params, prompt = make(position, 4)
    lengths, num_steps, k = np.array([3, 1]), 4, 27
    tokens, scores, out_lengths = decoding.beam_search(
        model, params, prompt, num_steps, k, alpha=alpha, eos_id=EOS, pad_id=PAD,
        prompt_lengths=jnp.asarray(lengths))
    tokens, scores, out_lengths = map(np.asarray, (tokens, scores, out_lengths))
    tables = exhaustive(model, params, np.asarray(prompt), lengths, num_steps, alpha)
    for b, table in enumerate(tables):
        assert len(table) == 1 + 3 + 9 + 27 + 81
        best = sorted(table.values(), reverse=True)[:k]
        np.testing.assert_allclose(scores[b], best, rtol=1e-5, atol=1e-5)
        for row, score, n in zip(tokens[b], scores[b], out_lengths[b]):
            np.testing.assert_allclose(table[tuple(row[:n])], score, rtol=1e-5, atol=1e-5)
            assert np.all(row[n:] == PAD) and (n == num_steps or row[n - 1] == EOS)
    assert len(set(out_lengths.ravel())) > 2  # hypotheses of several lengths were ranked


def reference_beam_search(model, params, prompt, num_steps, k, alpha):
    """Beam search step by step on the uncached model, every step to the end; and the first
    step after which no live beam could beat the k-th finished hypothesis (None: never)."""
    apply = jax.jit(model.apply)
    live, finished, stopped = [((), 0.0)], [], None
    for t in range(num_steps):
        seqs = np.zeros((k, len(prompt) + num_steps), np.int32)  # (one compiled shape)
        for i, (seq, _) in enumerate(live):
            seqs[i, :len(prompt) + t] = np.concatenate([prompt, seq])
        log_probs = jax.nn.log_softmax(apply({"params": params}, seqs), -1)
        log_probs = np.asarray(log_probs)[:len(live), len(prompt) - 1 + t]
        candidates = []
        for (seq, score), row in zip(live, log_probs):
            for token, value in enumerate(row):
                if token == EOS:
                    finished.append((seq + (token,), (score + value) / lp(t + 1, alpha)))
                else:
                    candidates.append((seq + (token,), score + value))
        live = sorted(candidates, key=lambda c: -c[1])[:k]
        finished = sorted(finished, key=lambda c: -c[1])[:k]
        if (stopped is None and len(finished) == k
                and live[0][1] / lp(num_steps, alpha) <= finished[-1][1]):
            stopped = t
    hypotheses = finished + [(seq, score / lp(num_steps, alpha)) for seq, score in live]
    return sorted(hypotheses, key=lambda c: -c[1])[:k], stopped


def test_early_stopping_keeps_the_result_of_the_search_to_the_end():
    """With alpha = 1 the bound ``s / lp(N)`` stops the row after step 4 of 0..7 (the search
    then skips the model); the hypotheses are those of the search to the end."""
    model, params, prompt = make("learned", 4)
    # Flatter logits and a likelier EOS: the finished set fills early.
    params = jax.tree.map(lambda p: 0.5 * p, params)
    params = {**params, "head": {**params["head"], "bias": params["head"]["bias"].at[EOS].add(1)}}
    num_steps, k, alpha = 8, 3, 1.0
    tokens, scores, lengths = decoding.beam_search(model, params, prompt[:1], num_steps, k,
                                                   alpha=alpha, eos_id=EOS, pad_id=PAD)
    expected, stopped = reference_beam_search(model, params, np.asarray(prompt[0]), num_steps,
                                              k, alpha)
    assert stopped == 4
    assert sorted(len(seq) for seq, _ in expected) == [1, 2, 3]
    for row, score, n, (seq, value) in zip(tokens[0], scores[0], lengths[0], expected):
        assert tuple(np.asarray(row[:n]).tolist()) == seq
        np.testing.assert_allclose(score, value, rtol=1e-5, atol=1e-5)


def test_beam_search_checks_its_arguments():
    model, params, prompt = make("rotary", 4)
    with pytest.raises(ValueError, match="beam_search: alpha must be a number >= 0"):
        decoding.beam_search(model, params, prompt, 3, 2, alpha=-0.5, eos_id=EOS)
    with pytest.raises(ValueError, match=r"prompt_lengths must be in \[1, 3\]"):
        decoding.beam_search(model, params, prompt, 3, 2, prompt_lengths=jnp.array([0, 3]))
    with pytest.raises(ValueError, match="eos_id must be an output id < 4"):
        decoding.beam_search(model, params, prompt, 3, 2, eos_id=4)
