"""Sequence objectives: neutral settings reduce to cross-entropy, gradients against finite
differences, unlikelihood candidates by hand, REINFORCE exact expectation by enumeration."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import objectives as seq
from likelihood_jax.sequence.decoding import seq_rep_n

B, T, V = 2, 6, 5
LOGITS = jax.random.normal(jax.random.key(0), (B, T, V)) * 2.0
TARGETS = jnp.array([[0, 1, 0, 2, 1, 3], [4, 4, 2, 4, 0, 1]])
MASK = jnp.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], jnp.float32)


def numpy_ce(logits, targets):
    logits = np.asarray(logits, np.float64)
    log_z = np.log(np.exp(logits).sum(-1))
    return log_z - np.take_along_axis(logits, np.asarray(targets)[..., None], -1)[..., 0]


def central_difference(f, x, eps=1e-3):
    """Gradient of scalar f at x (float64) by central differences."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return grad


def test_cross_entropy_and_masked_mean_against_numpy():
    ce = seq.token_cross_entropy(LOGITS, TARGETS, MASK)
    expected = numpy_ce(LOGITS, TARGETS) * np.asarray(MASK)
    np.testing.assert_allclose(ce, expected, rtol=1e-5)
    np.testing.assert_allclose(seq.masked_mean(ce, MASK),
                               expected.sum(-1) / np.asarray(MASK).sum(-1), rtol=1e-5)
    with pytest.raises(ValueError, match="do not fit"):
        seq.token_cross_entropy(LOGITS, TARGETS[:, :3])


def test_neutral_settings_are_exactly_cross_entropy():
    ce = seq.token_cross_entropy(LOGITS, TARGETS, MASK)
    np.testing.assert_array_equal(seq.mixce(LOGITS, TARGETS, MASK, eta=1.0), ce)
    np.testing.assert_allclose(seq.token_unlikelihood(LOGITS, TARGETS, MASK, alpha=0.0), ce)
    grad = lambda f: jax.grad(lambda z: jnp.sum(f(z)))(LOGITS)  # noqa: E731
    np.testing.assert_allclose(grad(lambda z: seq.mixce(z, TARGETS, MASK, eta=1.0)),
                               grad(lambda z: seq.token_cross_entropy(z, TARGETS, MASK)))


@pytest.mark.parametrize("eta", [0.0, 0.3])
def test_mixce_gradient_is_the_probability_weighted_nll_gradient(eta):
    """grad MixCE = sum_t (eta + (1 - eta) q_t) grad(-log q_t), weights frozen at the point;
    checked against central differences of the frozen-weight function."""
    with jax.enable_x64(True):
        logits = LOGITS.astype(jnp.float64)
        q = np.exp(-numpy_ce(logits, TARGETS))
        weights = (eta + (1 - eta) * q) * np.asarray(MASK)
        frozen = lambda z: float(np.sum(weights * numpy_ce(z, TARGETS)))  # noqa: E731
        grad = jax.grad(lambda z: jnp.sum(seq.mixce(z, TARGETS, MASK, eta=eta)))(logits)
        np.testing.assert_allclose(grad, central_difference(frozen, logits), atol=1e-7)
        # The value is the weighted NLL.
        np.testing.assert_allclose(jnp.sum(seq.mixce(logits, TARGETS, MASK, eta=eta)),
                                   frozen(logits), rtol=1e-12)


def test_unlikelihood_candidates_by_hand():
    targets = jnp.array([3, 1, 3, 2, 1])
    cand = seq.previous_token_candidates(targets, 4)
    expected = np.zeros((5, 4), bool)
    expected[1, 3] = True              # t=1: context {3}, target 1
    expected[2, 1] = True              # t=2: context {3, 1} minus target 3
    expected[3, [1, 3]] = True         # t=3: context {3, 1}, target 2
    expected[4, 3] = True              # t=4: {3, 1, 2} minus target 1 -> {3, 2}
    expected[4, 2] = True
    np.testing.assert_array_equal(cand, expected)
    windowed = seq.previous_token_candidates(targets, 4, window=1)
    np.testing.assert_array_equal(np.argwhere(windowed), [[1, 3], [2, 1], [3, 3], [4, 2]])


def test_token_unlikelihood_value_and_finite_difference_gradient():
    with jax.enable_x64(True):
        logits = LOGITS.astype(jnp.float64)
        alpha = 0.7
        cand = np.asarray(seq.previous_token_candidates(TARGETS, V, MASK))
        mask = np.asarray(MASK)

        def value(z):
            p = np.exp(z - np.log(np.exp(z).sum(-1, keepdims=True)))
            ul = -np.sum(np.where(cand, np.log1p(-p), 0.0), -1)
            return float(np.sum((numpy_ce(z, TARGETS) + alpha * ul) * mask))

        loss = lambda z: jnp.sum(seq.token_unlikelihood(z, TARGETS, MASK, alpha=alpha))  # noqa: E731
        np.testing.assert_allclose(loss(logits), value(np.asarray(logits)), rtol=1e-10)
        np.testing.assert_allclose(jax.grad(loss)(logits), central_difference(value, logits),
                                   atol=1e-6)


def test_unlikelihood_step_lowers_candidate_probabilities():
    cand = seq.previous_token_candidates(TARGETS, V)
    ul_only = lambda z: jnp.sum(  # noqa: E731
        seq.token_unlikelihood(z, TARGETS, alpha=1.0) - seq.token_cross_entropy(z, TARGETS))
    stepped = LOGITS - 0.1 * jax.grad(ul_only)(LOGITS)
    before, after = np.asarray(jax.nn.softmax(LOGITS)), np.asarray(jax.nn.softmax(stepped))
    cand = np.asarray(cand)
    # The total candidate mass of every position with candidates falls...
    has = cand.any(-1)
    assert np.all((after * cand).sum(-1)[has] < (before * cand).sum(-1)[has])
    # ...and a lone candidate's probability always falls: to first order
    # d log p_c = -lr p_c |e_c - p|^2 / (1 - p_c) < 0.
    lone = cand.sum(-1) == 1
    assert lone.any()
    assert np.all(after[lone][cand[lone]] < before[lone][cand[lone]])


def test_sequence_unlikelihood_value_and_gradient():
    with jax.enable_x64(True):
        logits = LOGITS[0].astype(jnp.float64)
        tokens = TARGETS[0]
        cand = jnp.array([0, 0, 1, 0, 1, 1], jnp.float64)

        def value(z):
            q = np.exp(-numpy_ce(z, tokens))
            return float(-np.sum(np.asarray(cand) * np.log1p(-q)))

        loss = lambda z: jnp.sum(seq.sequence_unlikelihood(z, tokens, cand))  # noqa: E731
        np.testing.assert_allclose(loss(logits), value(np.asarray(logits)), rtol=1e-10)
        np.testing.assert_allclose(jax.grad(loss)(logits), central_difference(value, logits),
                                   atol=1e-6)


def test_reinforce_with_leave_one_out_baseline_is_exactly_unbiased():
    """Tabular bigram policy on V=2, L=3; reward 1 - seq-rep-1. The expectation over all
    pairs (N=2 samples) of the surrogate's gradient equals -grad E_Q[R] exactly."""
    with jax.enable_x64(True):
        vocab, length = 2, 3
        theta = jax.random.normal(jax.random.key(1), (vocab + 1, vocab), jnp.float64)
        seqs = jnp.array(list(itertools.product(range(vocab), repeat=length)))

        def log_q(theta, x):
            ctx = jnp.concatenate([jnp.array([vocab]), x[:-1]])
            return jnp.sum(jax.nn.log_softmax(theta[ctx], -1)[jnp.arange(length), x])

        rewards = jax.vmap(lambda x: 1.0 - seq_rep_n(x, 1))(seqs)
        objective = lambda th: jnp.sum(jnp.exp(jax.vmap(log_q, (None, 0))(th, seqs)) * rewards)  # noqa: E731
        exact = -jax.grad(objective)(theta)

        probs = jnp.exp(jax.vmap(log_q, (None, 0))(theta, seqs))

        def pair_gradient(i, j):
            pair = jnp.stack([seqs[i], seqs[j]])
            surrogate = lambda th: jnp.mean(seq.policy_gradient(  # noqa: E731
                jax.vmap(log_q, (None, 0))(th, pair), rewards[jnp.stack([i, j])]))
            return probs[i] * probs[j] * jax.grad(surrogate)(theta)

        pairs = jnp.array(list(itertools.product(range(len(seqs)), repeat=2)))
        expected = jnp.sum(jax.jit(jax.vmap(pair_gradient))(pairs[:, 0], pairs[:, 1]), 0)
        np.testing.assert_allclose(expected, exact, atol=1e-12)
        assert float(jnp.max(jnp.abs(exact))) > 1e-3
    with pytest.raises(ValueError, match="at least 2"):
        seq.policy_gradient(jnp.zeros(1), jnp.zeros(1))
