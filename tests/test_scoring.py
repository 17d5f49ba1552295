"""Min-K% Prob [P105] and Min-K%++ [P251] against independent numpy references and sampling."""

from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from likelihood_jax import scoring

# Jitted once per shape (eager calls would compile every primitive for every new shape).
min_k = jax.jit(scoring.min_k_percent, static_argnames="k")
min_k_pp = jax.jit(scoring.min_k_plus_plus, static_argnames="k")
standardized = jax.jit(scoring.standardized_log_probs)
T, V = 8, 7  # the shape of most test sequences


def reference_min_k(values: np.ndarray, k: float) -> float:
    """The papers' code: sort, keep ``int(len * k)`` (at least one), average."""
    return float(np.mean(np.sort(values)[:max(1, int(len(values) * k))]))


def reference_min_k_plus_plus(token_log_probs, log_probs, k: float) -> float:
    """Min-K%++ as its authors' code writes it (float64): ``sigma^2 = E[lp^2] - mu^2``."""
    log_probs = np.asarray(log_probs, np.float64)
    p = np.exp(log_probs)
    mu = (p * log_probs).sum(-1)
    sigma = np.sqrt((p * log_probs ** 2).sum(-1) - mu ** 2)
    return reference_min_k((np.asarray(token_log_probs, np.float64) - mu) / sigma, k)


def random_sequence(seed: int, length: int = T, vocab: int = V, scale: float = 2.0):
    """Next-token log-probabilities ``(T, V)``, sampled targets and their log-probabilities."""
    rng = np.random.default_rng(seed)
    logits = scale * rng.normal(size=(length, vocab))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = rng.integers(0, vocab, length)
    return (jnp.asarray(log_probs, jnp.float32),
            jnp.asarray(log_probs[np.arange(length), targets], jnp.float32))


@hypothesis.settings(max_examples=15, deadline=None)
@hypothesis.given(data=st.data(), length=st.sampled_from([1, 5, T]),
                  k=st.sampled_from([0.05, 0.1, 0.2, 0.3, 0.5, 0.6, 1.0]))
def test_min_k_percent_matches_sorting_and_ignores_padding(data, length, k):
    values = np.asarray(data.draw(st.lists(st.floats(-20.0, 0.0, width=32), min_size=length,
                                           max_size=length)), np.float32)
    expected = reference_min_k(values, k)
    np.testing.assert_allclose(min_k(values, k=k), expected, rtol=1e-6, atol=1e-6)
    # The same tokens padded to T + 2 with very low log-probabilities: masked out.
    padded = np.concatenate([values, np.full(T + 2 - length, -1e4, np.float32)])
    mask = np.arange(T + 2) < length
    np.testing.assert_allclose(min_k(padded, k=k, mask=mask), expected, rtol=1e-6, atol=1e-6)


def test_min_k_percent_counts_and_edge_cases():
    x = jnp.array([-1.0, -3.0, -0.5, -2.0, -4.0, -0.1, -0.2, -0.3, -0.4, -5.0])
    assert min_k(x, k=0.2) == pytest.approx(-4.5)    # two of ten
    assert min_k(x, k=0.05) == pytest.approx(-5.0)   # at least one
    assert min_k(x, k=1.0) == pytest.approx(float(jnp.mean(x)))
    assert jnp.isnan(min_k(x, k=0.2, mask=jnp.zeros(10, bool)))
    # 0.29 * 100 = 28.999... in double precision: 28 tokens, as Python's int() gives,
    # also through the masked path's table (float32 would round k * n up to 29).
    ramp = -jnp.arange(100.0)
    for mask in (None, jnp.ones(100, bool)):
        assert min_k(ramp, k=0.29, mask=mask) == pytest.approx(-np.mean(np.arange(72, 100)))
    assert min_k(jnp.array([-1.0, -jnp.inf]), k=0.5) == -jnp.inf


def test_moments_equal_monte_carlo_from_the_softmax():
    """mu, sigma over the vocabulary equal the sample mean and std of log p(z), z ~ p."""
    log_probs, _ = random_sequence(0, 3, 11)
    mu, sigma = scoring.log_prob_moments(log_probs)
    num, rng, lp = 100_000, np.random.default_rng(1), np.asarray(log_probs, np.float64)
    sampled = np.stack([rng.choice(row, size=num, p=np.exp(row) / np.exp(row).sum())
                        for row in lp])  # (3, num) draws of log p(z), z ~ p
    mc_mu, mc_sigma = sampled.mean(-1), sampled.std(-1)
    # 5 standard errors: of the mean sigma / sqrt(n), of the std about sigma / sqrt(2 n).
    np.testing.assert_array_less(np.abs(mu - mc_mu), 5 * mc_sigma / np.sqrt(num))
    np.testing.assert_array_less(np.abs(sigma - mc_sigma), 5 * mc_sigma / np.sqrt(num) + 1e-3)
    # ... and the closed forms -H(p) and E[lp^2] - mu^2 in double precision.
    p = np.exp(lp)
    np.testing.assert_allclose(mu, (p * lp).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(sigma, np.sqrt((p * lp ** 2).sum(-1) - (p * lp).sum(-1) ** 2),
                               rtol=1e-4)


@pytest.mark.parametrize("k", [0.2, 0.5, 1.0])
def test_min_k_plus_plus_matches_the_authors_formula(k):
    log_probs, token_log_probs = random_sequence(2)
    np.testing.assert_allclose(min_k_pp(token_log_probs, log_probs, k=k),
                               reference_min_k_plus_plus(token_log_probs, log_probs, k),
                               rtol=1e-4, atol=1e-5)


def test_degenerate_distributions_score_zero_and_padding_is_left_out():
    # Rows: uniform, a point mass (on token 1), and p = (0.9, 0.1): token 1 lies 3 standard
    # deviations below the mean log-probability, token 0 a third of one above it.
    rows = np.full((4, V), -np.inf, np.float32)
    rows[0] = -np.log(V)
    rows[1, 1] = 0.0
    rows[2:, :2] = np.log([0.9, 0.1])
    tokens = np.array([rows[0, 3], 0.0, rows[2, 1], rows[3, 0]], np.float32)
    rows, tokens = np.concatenate([rows] * 2), np.concatenate([tokens] * 2)  # (T, V)
    np.testing.assert_allclose(standardized(tokens, rows)[:4], [0.0, 0.0, -3.0, 1 / 3],
                               rtol=1e-5, atol=0)
    assert scoring.log_prob_moments(rows)[1][1] == 0.0
    # Padded rows (uniform, tokens far below) change nothing once masked.
    log_probs, token_log_probs = random_sequence(3, 6)
    pad_rows = jnp.concatenate([log_probs, jnp.full((2, V), -jnp.log(V))], 0)
    pad_tokens = jnp.concatenate([token_log_probs, jnp.full(2, -50.0)])
    np.testing.assert_allclose(min_k_pp(pad_tokens, pad_rows, k=0.5, mask=jnp.arange(T) < 6),
                               reference_min_k_plus_plus(token_log_probs, log_probs, 0.5),
                               rtol=1e-4)


def test_jit_and_vmap_over_sequences_agree_with_one_at_a_time():
    log_probs, token_log_probs = map(jnp.stack, zip(*[random_sequence(s) for s in range(4)]))
    mask = jnp.arange(T)[None] < jnp.array([[T], [5], [1], [3]])

    @jax.jit
    def scores(tokens, rows, mask):
        return (jax.vmap(lambda t, m: scoring.min_k_percent(t, k=0.3, mask=m))(tokens, mask),
                jax.vmap(lambda t, r, m: scoring.min_k_plus_plus(t, r, k=0.3, mask=m))(
                    tokens, rows, mask))

    batch_min_k, batch_min_k_pp = scores(token_log_probs, log_probs, mask)
    for i in range(4):
        n = int(mask[i].sum())
        np.testing.assert_allclose(batch_min_k[i], reference_min_k(token_log_probs[i, :n], 0.3),
                                   rtol=1e-6)
        np.testing.assert_allclose(
            batch_min_k_pp[i],
            reference_min_k_plus_plus(token_log_probs[i, :n], log_probs[i, :n], 0.3),
            rtol=1e-4, atol=1e-5)


def test_validate_args_catches_unnormalized_rows_under_jit():
    log_probs, token_log_probs = random_sequence(4)
    checked = jax.jit(checkify.checkify(
        lambda t, r: scoring.min_k_plus_plus(t, r, validate_args=True)))
    err, _ = checked(token_log_probs, log_probs)
    err.throw()  # normalized: passes
    err, _ = checked(token_log_probs, log_probs + 1.0)  # logits, not log-probabilities
    with pytest.raises(checkify.JaxRuntimeError, match="log_probs must sum to 1"):
        err.throw()
