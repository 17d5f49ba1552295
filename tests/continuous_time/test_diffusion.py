"""Diffusion likelihood bounds with the analytic score of Gaussian data (float64).

The data is N(MEAN, diag(VAR)); at every time the diffused data is Gaussian, so the optimal
noise prediction / score is known and the model's likelihood is (nearly) the data's own.
A valid bound must then sit above the true NLL on average, and close to it for a good
schedule.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import diffusion

MEAN = np.array([0.5, -1.0])
VAR = np.array([1.0, 0.3])
NUM = 400_000


def true_nll(x):
    return np.sum(0.5 * (x - MEAN) ** 2 / VAR + 0.5 * np.log(2 * np.pi * VAR), axis=-1)


def data(n, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 2)) * np.sqrt(VAR) + MEAN


def optimal_noise_prediction(gamma):
    """E[eps | z_t] for z_t = alpha x + sigma eps, x ~ N(MEAN, diag VAR)."""
    def eps_hat(t, z):
        g = gamma(t)
        alpha, sigma = jnp.sqrt(jax.nn.sigmoid(-g)), jnp.sqrt(jax.nn.sigmoid(g))
        return sigma * (z - alpha * MEAN) / (alpha**2 * VAR + sigma**2)
    return eps_hat


def optimal_score(sde):
    def score(t, x):
        alpha, sigma = sde.marginal(t)
        return -(x - alpha * MEAN) / (alpha**2 * VAR + sigma**2)
    return score


def mean_gap(bound_fn, n=NUM, seed=2):
    """Mean and standard error of (bound - true NLL) over data and the bound's randomness."""
    x = data(n)
    keys = jax.random.split(jax.random.key(seed), n)
    bounds = jax.jit(jax.vmap(lambda v, k: bound_fn(v, k)[0]))(jnp.asarray(x), keys)
    gap = np.asarray(bounds) - true_nll(x)
    return float(gap.mean()), float(gap.std() / math.sqrt(n))


def test_vdm_bound_is_above_the_true_nll_and_tight_for_a_good_schedule():
    with jax.enable_x64(True):
        gamma = functools.partial(sde_lib.linear_log_snr, gamma_min=-13.3, gamma_max=5.0)
        gap, se = mean_gap(lambda x, k: diffusion.vdm_nll_bound(
            optimal_noise_prediction(gamma), x, k, gamma=gamma))
        assert gap > -4 * se
        assert gap < 0.03 + 4 * se
        # A noisy decoder (gamma_0 = -2) makes a loose bound: still a bound, visibly.
        bad = functools.partial(sde_lib.linear_log_snr, gamma_min=-2.0, gamma_max=5.0)
        bad_gap, bad_se = mean_gap(lambda x, k: diffusion.vdm_nll_bound(
            optimal_noise_prediction(bad), x, k, gamma=bad), n=100_000)
        assert bad_gap > 0.1 and bad_gap > gap + 4 * (se + bad_se)


def test_vdm_terms_in_closed_form():
    with jax.enable_x64(True):
        gamma = functools.partial(sde_lib.linear_log_snr, gamma_min=-6.0, gamma_max=3.0)
        x = jnp.asarray([0.3, -0.4])
        _, terms = diffusion.vdm_nll_bound(lambda t, z: jnp.zeros_like(z), x,
                                           jax.random.key(0), gamma=gamma, t=0.5)
        np.testing.assert_allclose(terms["reconstruction"], (math.log(2 * math.pi) - 6 + 1))
        var1 = 1 / (1 + math.exp(-3.0))
        expected_kl = 0.5 * np.sum((1 - var1) * np.asarray(x) ** 2 + var1 - 1 - math.log(var1))
        np.testing.assert_allclose(terms["prior"], expected_kl, rtol=1e-10)


def test_learned_schedule_receives_gradients():
    params = sde_lib.init_monotone_log_snr(4)

    def bound(p):
        gamma = functools.partial(sde_lib.monotone_log_snr, p)
        return diffusion.vdm_nll_bound(lambda t, z: 0.5 * z, jnp.ones(2), jax.random.key(0),
                                       gamma=gamma)[0]

    grads = jax.jit(jax.grad(bound))(params)
    assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("sde", [sde_lib.VPSDE(), sde_lib.SubVPSDE(),
                                 sde_lib.VESDE(sigma_min=0.01, sigma_max=20.0)],
                         ids=["vp", "subvp", "ve"])
def test_score_sde_bound_is_above_the_true_nll_and_tight(sde):
    with jax.enable_x64(True):
        gap, se = mean_gap(lambda x, k: diffusion.score_sde_nll_bound(
            optimal_score(sde), x, k, sde=sde, t_min=1e-5), n=150_000)
        assert gap > -4 * se
        assert gap < 0.05 + 4 * se


def test_a_wrong_score_gives_a_looser_bound():
    """A worse model must not get a better bound (the test can fail)."""
    with jax.enable_x64(True):
        sde = sde_lib.VPSDE()
        good = optimal_score(sde)

        def worse(t, x):
            return good(t, x) * 0.8

        kwargs = {"sde": sde, "t_min": 1e-5}
        # Same data and randomness for both scores: the paired difference has a small error.
        n = 100_000
        keys = jax.random.split(jax.random.key(2), n)
        diff = jax.jit(jax.vmap(lambda v, k: (
            diffusion.score_sde_nll_bound(worse, v, k, **kwargs)[0]
            - diffusion.score_sde_nll_bound(good, v, k, **kwargs)[0])))(
                jnp.asarray(data(n)), keys)
        assert float(diff.mean()) > 0.1
        assert float(diff.mean()) > 4 * float(diff.std()) / math.sqrt(n)


def test_likelihood_weighted_dsm_is_the_score_dependent_part_of_the_bound():
    """bound(s1) - bound(s2) == dsm(s1) - dsm(s2) for the same randomness (an identity)."""
    with jax.enable_x64(True):
        sde = sde_lib.SubVPSDE()
        s1 = optimal_score(sde)

        def s2(t, x):
            return jnp.tanh(x) - x

        x = jnp.asarray([0.2, -0.9])
        for seed in range(5):
            key = jax.random.key(seed)
            kwargs = {"sde": sde, "t_min": 1e-3, "t_sampling": "importance"}
            b1 = diffusion.score_sde_nll_bound(s1, x, key, **kwargs)[0]
            b2 = diffusion.score_sde_nll_bound(s2, x, key, **kwargs)[0]
            d1 = diffusion.weighted_denoising_score_matching(s1, x, key, **kwargs)
            d2 = diffusion.weighted_denoising_score_matching(s2, x, key, **kwargs)
            np.testing.assert_allclose(b1 - b2, d1 - d2, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sampling", ["uniform", "importance"])
def test_time_sampling_weights_integrate_correctly(sampling):
    """E[h(t) / density(t)] = integral of h over [t_min, T], for h = 1 and h = t."""
    sde = sde_lib.VPSDE()
    keys = jax.random.split(jax.random.key(0), 100_000)
    t, w = jax.vmap(lambda k: diffusion.sample_time(k, sde, t_min=0.01, sampling=sampling))(keys)
    assert float(t.min()) >= 0.01 and float(t.max()) <= 1.0
    np.testing.assert_allclose(float(jnp.mean(w)), 0.99, rtol=0.02)
    np.testing.assert_allclose(float(jnp.mean(w * t)), 0.5 * (1 - 0.01**2), rtol=0.02)


def test_variance_weighting_and_bad_names():
    sde = sde_lib.VPSDE()
    x = jnp.ones(2)
    loss = diffusion.weighted_denoising_score_matching(lambda t, y: -y, x, jax.random.key(0),
                                                       sde=sde, weighting="variance")
    assert np.isfinite(float(loss))
    with pytest.raises(ValueError, match="weighting"):
        diffusion.weighted_denoising_score_matching(lambda t, y: y, x, jax.random.key(0),
                                                    sde=sde, weighting="snr")
    with pytest.raises(ValueError, match="time sampling"):
        diffusion.sample_time(jax.random.key(0), sde, t_min=0.1, sampling="sobol")


def test_bits_per_dim_of_a_bound():
    # A bound of 0 nats on [0, 1)^D data with 256 levels is 8 bits/dim (metrics convention).
    np.testing.assert_allclose(diffusion.nll_bound_bits_per_dim(0.0, 3, num_levels=256), 8.0,
                               rtol=1e-6)
    np.testing.assert_allclose(diffusion.nll_bound_bits_per_dim(3 * math.log(2), 3,
                                                                num_levels=256), 9.0, rtol=1e-6)
