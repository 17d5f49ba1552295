"""MCMC samplers against closed forms: Gaussian moments, ULA's bias, Ising enumeration.

Monte Carlo errors are measured, not assumed: every estimate is a mean over independent
chains (fixed keys), its standard error the spread across chains over sqrt(#chains).
"""

from __future__ import annotations

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.energy import mcmc

MEAN = np.array([1.0, -0.5])
COV = np.array([[1.0, 0.6], [0.6, 0.5]])
PRECISION = np.linalg.inv(COV)
CHOL = np.linalg.cholesky(COV)


def gaussian_log_prob(x):
    d = x - MEAN
    return -0.5 * d @ PRECISION @ d


def run_chains(sampler, num_chains, seed=0, x0=(3.0, 3.0), **kwargs):
    keys = jax.random.split(jax.random.key(seed), num_chains)
    start = jnp.broadcast_to(jnp.asarray(x0, jnp.float32), (num_chains, len(x0)))
    return jax.jit(jax.vmap(lambda k, x: sampler(x0=x, key=k, **kwargs)))(keys, start)


def moments_with_errors(trace):
    """Pooled mean and covariance of ``trace (chains, steps, D)`` and their standard errors."""
    trace = np.asarray(trace, np.float64)
    chain_means = trace.mean(axis=1)
    centered = trace - chain_means.mean(axis=0)
    chain_covs = np.einsum("csi,csj->cij", centered, centered) / trace.shape[1]
    n = trace.shape[0]
    return (chain_means.mean(0), chain_means.std(0, ddof=1) / np.sqrt(n),
            chain_covs.mean(0), chain_covs.std(0, ddof=1) / np.sqrt(n))


@pytest.mark.parametrize("sampler, kwargs", [
    (mcmc.mala, {"step_size": 0.4}),
    (mcmc.random_walk_metropolis, {"scale": 0.8}),
], ids=["mala", "random_walk_metropolis"])
def test_chains_match_gaussian_moments(sampler, kwargs):
    result = run_chains(sampler, 64, log_prob_fn=gaussian_log_prob, num_steps=500,
                        return_trace=True, **kwargs)
    mean, mean_se, cov, cov_se = moments_with_errors(result.trace[:, 100:])
    assert np.all(mean_se < 0.05) and np.all(cov_se < 0.05), (mean_se, cov_se)
    np.testing.assert_array_less(np.abs(mean - MEAN), 4 * mean_se)
    np.testing.assert_array_less(np.abs(cov - COV), 4 * cov_se)
    assert 0.2 < float(result.acceptance_rate.mean()) < 0.95


def test_ula_bias_matches_closed_form_and_shrinks_with_step():
    """ULA on N(0, s^2): stationary variance s^2 / (1 - h / (4 s^2)), from the AR(1) recursion."""
    s2 = 1.0
    num_chains = 4096
    keys = jax.random.split(jax.random.key(1), num_chains)
    measured = {}
    for h in (1.0, 0.25):
        run = jax.jit(jax.vmap(lambda k, h=h: mcmc.ula(
            lambda x: -0.5 * jnp.sum(x**2) / s2, jnp.zeros(1), k, step_size=h,
            num_steps=80).state))
        x = np.asarray(run(keys), np.float64)[:, 0]
        variance = x.var()
        se = variance * np.sqrt(2.0 / num_chains)
        closed_form = s2 / (1.0 - h / (4.0 * s2))
        assert abs(variance - closed_form) < 4 * se, (h, variance, closed_form, se)
        measured[h] = (variance, se)
    big, big_se = measured[1.0]
    small, _ = measured[0.25]
    assert big - s2 > 8 * big_se  # the bias at h = 1 is visible
    assert small - s2 < 0.5 * (big - s2)  # and shrinks with the step


def test_metropolis_hastings_with_exact_independent_proposal_accepts_all():
    def exact(k, x):
        return jnp.asarray(MEAN, jnp.float32) + jnp.asarray(CHOL, jnp.float32) @ jax.random.normal(
            k, (2,))

    def wide(k, x):
        return jnp.asarray(MEAN, jnp.float32) + 2.0 * jax.random.normal(k, (2,))

    exact_rate = run_chains(mcmc.metropolis_hastings, 8, log_prob_fn=gaussian_log_prob,
                            proposal_sample=exact,
                            proposal_log_prob=lambda to, frm: gaussian_log_prob(to),
                            num_steps=100).acceptance_rate
    np.testing.assert_allclose(exact_rate, 1.0, atol=1e-5)
    wide_rate = run_chains(mcmc.metropolis_hastings, 8, log_prob_fn=gaussian_log_prob,
                           proposal_sample=wide,
                           proposal_log_prob=lambda to, frm: -jnp.sum((to - MEAN) ** 2) / 8.0,
                           num_steps=100).acceptance_rate
    assert float(wide_rate.mean()) < 0.8


COUPLING = 0.8
FIELDS = np.array([0.3, -0.5, 0.1])


def ising_energy(x):
    spins = 2.0 * x - 1.0
    return -COUPLING * (spins[0] * spins[1] + spins[1] * spins[2]) - jnp.sum(FIELDS * spins)


def ising_logits(x, i):
    return jnp.stack([-ising_energy(x.at[i].set(k)) for k in (0, 1)])


def test_gibbs_matches_enumerated_ising_distribution():
    states = np.array(list(itertools.product((0, 1), repeat=3)))
    weights = np.exp([-float(ising_energy(jnp.asarray(s, jnp.float32))) for s in states])
    joint = weights / weights.sum()
    marginals = joint @ states

    num_chains = 256
    keys = jax.random.split(jax.random.key(2), num_chains)
    trace = jax.jit(jax.vmap(lambda k: mcmc.gibbs(
        ising_logits, jnp.zeros(3, jnp.int32), k, num_sweeps=200, return_trace=True).trace))(keys)
    trace = np.asarray(trace)[:, 20:]
    index = trace @ np.array([4, 2, 1])
    frequencies = (index[..., None] == np.arange(8)).mean(axis=1)  # (chains, 8)
    estimate = frequencies.mean(0)
    se = frequencies.std(0, ddof=1) / np.sqrt(num_chains)
    np.testing.assert_array_less(np.abs(estimate - joint), 4 * se + 1e-12)
    chain_marginals = trace.mean(axis=1)
    marginal_se = chain_marginals.std(0, ddof=1) / np.sqrt(num_chains)
    np.testing.assert_array_less(np.abs(chain_marginals.mean(0) - marginals), 4 * marginal_se)
    assert np.all(marginal_se < 0.02)


def test_sgld_with_full_gradient_is_ula():
    grad = jax.grad(gaussian_log_prob)
    key, x0 = jax.random.key(3), jnp.array([3.0, 3.0])
    ula = mcmc.ula(gaussian_log_prob, x0, key, step_size=0.3, num_steps=50, return_trace=True)
    sgld = mcmc.sgld(lambda x, k: grad(x), x0, key, step_size=0.3, num_steps=50,
                     return_trace=True)
    np.testing.assert_allclose(sgld.trace, ula.trace, rtol=1e-5, atol=1e-5)
    assert float(sgld.acceptance_rate) == 1.0


def test_sgld_applies_the_step_size_schedule():
    """Zero drift: x_T - x_0 = sum_t sqrt(h_t) xi_t has variance sum_t a (b + t)^-gamma."""
    a, b, gamma, steps, num_chains = 0.5, 2.0, 0.75, 20, 2048
    schedule = mcmc.polynomial_decay(a, b, gamma)
    keys = jax.random.split(jax.random.key(4), num_chains)
    x = jax.jit(jax.vmap(lambda k: mcmc.sgld(
        lambda x, k: jnp.zeros_like(x), jnp.zeros(1), k, step_size=schedule,
        num_steps=steps).state))(keys)
    variance = np.asarray(x, np.float64).var()
    expected = sum(a * (b + t) ** -gamma for t in range(steps))
    assert abs(variance - expected) < 4 * expected * np.sqrt(2.0 / num_chains)


def test_pytree_state_matches_flat_state():
    key = jax.random.key(5)
    flat = mcmc.mala(gaussian_log_prob, jnp.array([0.5, 0.2]), key, step_size=0.3,
                     num_steps=20)
    tree = mcmc.mala(lambda p: gaussian_log_prob(jnp.concatenate([p["a"], p["b"]])),
                     {"a": jnp.array([0.5]), "b": jnp.array([0.2])}, key, step_size=0.3,
                     num_steps=20)
    np.testing.assert_allclose(jnp.concatenate([tree.state["a"], tree.state["b"]]), flat.state,
                               rtol=1e-6)
    np.testing.assert_allclose(tree.acceptance_rate, flat.acceptance_rate, rtol=1e-6)


def test_log_prob_from_energy():
    log_prob = mcmc.log_prob_from_energy(lambda x: 0.5 * jnp.sum(x**2))
    assert float(log_prob(jnp.array([1.0, 2.0]))) == -2.5


KEY = jax.random.key(0)
BAD_INPUTS = [
    ("ula: step_size must be > 0, got -0.1",
     lambda: mcmc.ula(gaussian_log_prob, jnp.zeros(2), KEY, step_size=-0.1, num_steps=5)),
    ("mala: num_steps must be an integer >= 1, got 0",
     lambda: mcmc.mala(gaussian_log_prob, jnp.zeros(2), KEY, step_size=0.1, num_steps=0)),
    ("mala: log_prob_fn must be a function returning a scalar, got an output of shape (2,)",
     lambda: mcmc.mala(lambda x: x, jnp.zeros(2), KEY, step_size=0.1, num_steps=5)),
    ("ula: x0 must be a floating-point array, got dtype int32",
     lambda: mcmc.ula(gaussian_log_prob, jnp.zeros(2, jnp.int32), KEY, step_size=0.1,
                      num_steps=5)),
    ("random_walk_metropolis: scale must be > 0, got 0.0",
     lambda: mcmc.random_walk_metropolis(gaussian_log_prob, jnp.zeros(2), KEY, scale=0.0,
                                         num_steps=5)),
    ("metropolis_hastings: proposal_sample must be a map R^D to R^D",
     lambda: mcmc.metropolis_hastings(gaussian_log_prob, jnp.zeros(2), KEY,
                                      proposal_sample=lambda k, x: jnp.zeros(3),
                                      proposal_log_prob=lambda to, frm: 0.0, num_steps=5)),
    ("sgld: grad_fn must be callable, got an object of type float",
     lambda: mcmc.sgld(1.0, jnp.zeros(2), KEY, step_size=0.1, num_steps=5)),
    ("gibbs: x0 must be an integer array, got dtype float32",
     lambda: mcmc.gibbs(ising_logits, jnp.zeros(3), KEY, num_sweeps=5)),
    ("gibbs: conditional_logits_fn must be a function returning logits (K,)",
     lambda: mcmc.gibbs(lambda x, i: 0.0, jnp.zeros(3, jnp.int32), KEY, num_sweeps=5)),
    ("polynomial_decay: gamma must be >= 0, got -1.0",
     lambda: mcmc.polynomial_decay(1.0, 1.0, -1.0)),
]


@pytest.mark.parametrize("message, call", BAD_INPUTS,
                         ids=[f"{m.split(':')[0]}-{i}" for i, (m, _) in enumerate(BAD_INPUTS)])
def test_bad_inputs_raise_one_line(message, call):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)
