"""Coupled chains and the unbiased MCMC estimator [P139], against enumeration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.energy import coupling

Z_MAX = 4.5  # |z| bound for a handful of simultaneous z-tests (two-sided p ~ 7e-6 each)


def _categorical(logits):
    return (lambda k: jax.random.categorical(k, logits),
            lambda z: jax.nn.log_softmax(logits)[z])


def test_maximal_coupling_marginals_and_meeting_probability():
    p = jnp.array([0.1, 0.4, 0.2, 0.3])
    q = jnp.array([0.3, 0.3, 0.3, 0.1])
    n = 5000
    sample_p, log_p = _categorical(jnp.log(p))
    sample_q, log_q = _categorical(jnp.log(q))
    draw = jax.jit(jax.vmap(lambda k: coupling.maximal_coupling(k, sample_p, log_p, sample_q,
                                                                log_q)))
    x, y = map(np.asarray, draw(jax.random.split(jax.random.key(0), n)))
    for samples, probs in ((x, p), (y, q)):
        freq = np.bincount(samples, minlength=4) / n
        z = (freq - probs) / np.sqrt(probs * (1 - probs) / n)
        assert np.max(np.abs(z)) < Z_MAX, z
    meet = float(1.0 - 0.5 * jnp.sum(jnp.abs(p - q)))  # 1 - TV = 0.8
    z = (np.mean(x == y) - meet) / np.sqrt(meet * (1 - meet) / n)
    assert abs(z) < Z_MAX, z


def _ring_target(k=5):
    """A 5-state target, a +-1 random-walk proposal on the ring, and an exact MH row."""
    logits = jnp.array([2.0, -1.0, 0.5, 1.5, -0.5])
    target = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum()

    def sample(key, x):
        return (x + jnp.where(jax.random.bernoulli(key), 1, -1)) % k

    def mh_row(x):
        row = np.zeros(k)
        for step in (1, -1):
            to = (x + step) % k
            row[to] += 0.5 * min(1.0, target[to] / target[x])
        row[x] += 1.0 - row.sum()
        return row

    def log_q(to, frm):  # the true proposal density: the maximal coupling needs it
        near = ((to - frm) % k == 1) | ((frm - to) % k == 1)
        return jnp.where(near, jnp.log(0.5), -jnp.inf)

    return logits, sample, log_q, target, mh_row


@pytest.mark.nightly
def test_coupled_metropolis_hastings_is_mh_on_each_chain_and_faithful():
    logits, sample, log_q, _, mh_row = _ring_target()
    log_prob = lambda z: logits[z]  # noqa: E731
    n = 5000
    step = jax.jit(jax.vmap(lambda k, x, y: coupling.coupled_metropolis_hastings(
        k, x, y, log_prob, sample, log_q), in_axes=(0, None, None)))
    keys = jax.random.split(jax.random.key(1), n)
    x1, y1 = map(np.asarray, step(keys, jnp.int32(0), jnp.int32(2)))
    for samples, start in ((x1, 0), (y1, 2)):
        row = mh_row(start)
        freq = np.bincount(samples, minlength=5) / n
        z = (freq - row) / np.sqrt(np.maximum(row * (1 - row), 1e-12) / n)
        assert np.max(np.abs(z)) < Z_MAX, (start, z)
    same_x, same_y = map(np.asarray, step(keys[:500], jnp.int32(3), jnp.int32(3)))
    np.testing.assert_array_equal(same_x, same_y)


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_unbiased_expectation_matches_the_target_from_a_bad_start():
    logits, sample, log_q, target, _ = _ring_target()
    log_prob = lambda z: logits[z]  # noqa: E731
    h = lambda z: (z == 0).astype(jnp.float32) + 0.5 * z  # noqa: E731

    def coupled(k, x, y):
        return coupling.coupled_metropolis_hastings(k, x, y, log_prob, sample, log_q)

    def one(k):  # X_0 = Y_0 = state 2, far from the target's mass at 0 and 3
        return coupling.unbiased_expectation(k, h, jnp.int32(2), jnp.int32(2), coupled,
                                             max_iterations=1000)

    n = 1000
    est = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(2), n))
    assert bool(jnp.all(est.met))
    exact = float(np.sum(target * np.asarray(h(jnp.arange(5)))))
    values = np.asarray(est.estimate)
    z = (values.mean() - exact) / (values.std() / np.sqrt(n))
    assert abs(z) < Z_MAX, z
    naive = np.asarray(h(est.state))  # h of a chain after tau steps: biased here
    assert abs(naive.mean() - exact) > 5 * naive.std() / np.sqrt(n)
    capped = jax.vmap(lambda k: coupling.unbiased_expectation(
        k, h, jnp.int32(2), jnp.int32(2), coupled, max_iterations=1))(
        jax.random.split(jax.random.key(3), 200))
    assert not bool(jnp.all(capped.met)) and bool(jnp.all(capped.meeting_time == 1))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="max_iterations"):
        coupling.unbiased_expectation(jax.random.key(0), lambda x: x, 0.0, 0.0,
                                      lambda k, x, y: (x, y), max_iterations=0)
    with pytest.raises(ValueError, match="log_q"):
        coupling.maximal_coupling(jax.random.key(0), lambda k: 0, lambda z: 0.0,
                                  lambda k: 0, None)
