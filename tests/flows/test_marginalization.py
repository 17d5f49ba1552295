"""Marginalization models [P033]: residuals vanish for the exact marginals of a joint and not
otherwise, marginals against brute-force sums, the REINFORCE surrogate against the exact KL
gradient, sampling against the joint, and the two-head network."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.flows import any_order
from likelihood_jax.flows import marginalization as mam
from likelihood_jax.models.marginal_mlp import MarginalizationMLP

D, K = 3, 2
STATES = jnp.asarray(list(itertools.product(range(K), repeat=D)))
LOG_JOINT = jax.nn.log_softmax(2.0 * jax.random.normal(jax.random.key(0), (K ** D,)))


def exact_log_marginal(tokens, shift=0.0):
    """``log sum_{s consistent with the observed tokens} p(s)`` (+ ``shift`` * #observed)."""
    observed = tokens < K
    consistent = jnp.all((STATES == tokens) | ~observed, axis=1)
    return jax.nn.logsumexp(jnp.where(consistent, LOG_JOINT, -jnp.inf)) + shift * jnp.sum(
        observed)


def exact_log_cond(tokens):
    extended = jax.vmap(lambda i: jax.vmap(lambda v: tokens.at[i].set(v))(jnp.arange(K)))(
        jnp.arange(D))  # (D, K, D)
    return jax.vmap(jax.vmap(exact_log_marginal))(extended) - exact_log_marginal(tokens)


def test_residuals_vanish_for_exact_marginals_and_not_otherwise():
    x = STATES[5]
    observed = jnp.array([True, False, True])
    wrong = lambda t: exact_log_marginal(t, shift=0.3)  # noqa: E731

    @jax.jit
    def residuals(order, d):
        return (mam.self_consistency_residual(exact_log_marginal, exact_log_cond, x, order, d,
                                              K),
                mam.self_consistency_residual(wrong, exact_log_cond, x, order, d, K),
                mam.sum_rule_residual(exact_log_marginal, x, observed, 1, K),
                mam.sum_rule_residual(wrong, x, observed, 1, K))
    for order in itertools.permutations(range(D)):
        for d in range(D):
            good, bad, sum_good, sum_bad = residuals(jnp.asarray(order), d)
            assert abs(good) < 1e-5 and abs(sum_good) < 1e-5
            np.testing.assert_allclose(bad, 0.3, atol=1e-5)
            # log p(x_S) + 0.6 - logsumexp(log p(x_S, x_i) + 0.9) = -0.3 for the shifted one
            np.testing.assert_allclose(sum_bad, -0.3, atol=1e-5)
    loss, r = jax.jit(lambda k: mam.self_consistency_loss(exact_log_marginal, exact_log_cond,
                                                          x, k, K))(jax.random.key(1))
    assert abs(loss) < 1e-8 and abs(r) < 1e-5


def test_marginals_and_conditionals_match_brute_force():
    x = STATES[6]
    observed = jnp.array([False, True, True])
    unnormalized = lambda t: exact_log_marginal(t) + 1.7  # noqa: E731  total mass e^1.7
    got = jax.jit(lambda: mam.marginal_log_prob(unnormalized, x, observed, K))()
    brute = jnp.log(jnp.sum(jnp.exp(LOG_JOINT) * jnp.all(STATES[:, 1:] == x[1:], axis=1)))
    np.testing.assert_allclose(got, brute, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(lambda: mam.log_prob(unnormalized, x, K))(),
                               LOG_JOINT[6], rtol=1e-5)
    cond = jax.jit(lambda: mam.conditional_from_marginals(unnormalized, x, observed, 0, K))()
    np.testing.assert_allclose(cond, exact_log_cond(jnp.where(observed, x, K))[0], atol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        mam.marginal_log_prob(unnormalized, x, observed[:2], K)


def test_samples_follow_the_joint():
    keys = jax.random.split(jax.random.key(2), 4000)
    samples = jax.jit(jax.vmap(lambda k: mam.sample(exact_log_cond, k, D, K)))(keys)
    codes = samples @ (K ** jnp.arange(D - 1, -1, -1))
    freq = jnp.bincount(codes, length=K ** D) / keys.shape[0]
    assert 0.5 * jnp.sum(jnp.abs(freq - jnp.exp(LOG_JOINT))) < 0.03


def test_reinforce_surrogate_gradient_matches_exact_reverse_kl():
    log_target = jnp.array([0.0, 1.0, -0.5, 2.0])  # unnormalized
    theta = jnp.array([0.3, -0.2, 0.5, 0.0])

    def kl(t):
        log_q = jax.nn.log_softmax(t)
        return jnp.sum(jnp.exp(log_q) * (log_q - jax.nn.log_softmax(log_target)))

    idx = jax.random.categorical(jax.random.key(3), theta, shape=(20000,))

    def surrogate(t):
        log_q = jax.nn.log_softmax(t)[idx]
        return jnp.mean(mam.reinforce_kl_surrogate(log_q, log_target[idx]))

    f = jax.nn.log_softmax(theta)[idx] - log_target[idx]
    grad = jax.jit(jax.grad(surrogate))(theta) * jnp.std(f)  # undo the standardization
    exact = jax.grad(kl)(theta)
    assert jnp.dot(grad, exact) / (jnp.linalg.norm(grad) * jnp.linalg.norm(exact)) > 0.99
    np.testing.assert_allclose(grad, exact, atol=0.03)
    with pytest.raises(ValueError, match="same shape"):
        mam.reinforce_kl_surrogate(jnp.zeros(3), jnp.zeros(4))


def test_two_head_network_shapes_and_conditionals_normalized():
    net = MarginalizationMLP(num_dims=5, num_values=3, hidden_dims=(8,))
    tokens = jnp.array([[0, 3, 2, 3, 1], [3, 3, 3, 3, 3]])
    params = jax.jit(net.init)(jax.random.key(0), tokens)
    log_marginal, log_cond = jax.jit(net.apply)(params, tokens)
    assert log_marginal.shape == (2,) and log_cond.shape == (2, 5, 3)
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_cond), -1), 1.0, rtol=1e-5)
    fn = lambda t: net.apply(params, t, method=net.conditional)  # noqa: E731
    np.testing.assert_allclose(fn(tokens[0]), log_cond[0], atol=1e-6)
    with pytest.raises(ValueError, match="D=5"):
        net.apply(params, tokens[:, :4])
    # the conditional head is an any-order model: its estimator runs on it
    value = any_order.any_order_log_likelihood_estimate(fn, tokens[0] % 3, jax.random.key(1), 3)
    assert jnp.isfinite(value)
