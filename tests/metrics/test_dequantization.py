"""Truncated-normal dequantization (i-DODE) against scipy and a known 1D discrete law.

The discrete law P puts mass on L levels with centers c_k in [-1, 1]. Its diffusion at
time t_0, p(z) = sum_k P(k) N(z; alpha c_k, sigma^2), is the density a perfect diffusion
model has there; the discrete model it defines on the scaled cells alpha [c_k - h,
c_k + h] has P~(k) = integral_{cell} p, computed exactly with normal CDFs. The
truncated-normal bound must sit above -log P~(k), become exact when the model density
on the cell is the dequantizer itself, and approach -log P(k) as tau = alpha h / sigma
grows, with the gap -log Z(tau), Z = erf(tau / sqrt 2), the paper's point.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

from likelihood_jax import metrics

P = np.array([0.1, 0.4, 0.05, 0.3, 0.15])
L = len(P)
ALPHA = 0.99
H = 1.0 / L  # half-width of a cell in [-1, 1]
CENTERS = -1.0 + 2.0 * (np.arange(L) + 0.5) / L


def sigma_for(tau):
    return ALPHA * H / tau


def np_model_log_prob(z, sigma):
    """log p(z) of the diffused discrete law, numpy (z scalar)."""
    comps = (np.log(P) - 0.5 * ((z - ALPHA * CENTERS) / sigma) ** 2
             - np.log(sigma * math.sqrt(2 * math.pi)))
    return scipy.special.logsumexp(comps)


def cell_mass(k, sigma):
    """P~(k): the mass the density puts on the scaled cell of level k (exact)."""
    lo, hi = ALPHA * (CENTERS[k] - H), ALPHA * (CENTERS[k] + H)
    cdf = scipy.stats.norm.cdf
    return float(np.sum(P * (cdf((hi - ALPHA * CENTERS) / sigma)
                             - cdf((lo - ALPHA * CENTERS) / sigma))))


def quad_bound_nats(k, sigma, model_sigma=None):
    """E_q[log q - log p] by quadrature, with the library's closed-form entropy of q."""
    ms = sigma if model_sigma is None else model_sigma
    tau = ALPHA * H / sigma
    q = scipy.stats.truncnorm(-tau, tau, loc=ALPHA * CENTERS[k], scale=sigma)
    lo, hi = ALPHA * (CENTERS[k] - H), ALPHA * (CENTERS[k] + H)
    cross = scipy.integrate.quad(lambda z: q.pdf(z) * np_model_log_prob(z, ms), lo, hi,
                                 epsabs=1e-13, epsrel=1e-12, limit=200)[0]
    entropy = float(metrics.truncated_normal_entropy(1, num_levels=L, alpha=ALPHA,
                                                     sigma=sigma))
    return -entropy - cross


def mc_bound_nats(k, sigma, n=20_000, seed=0):
    """The sampled estimator (sample log q) in nats: per-draw values."""
    keys = jax.random.split(jax.random.key(seed), n)
    z, log_q = jax.vmap(lambda key: metrics.truncated_normal_dequantize(
        key, jnp.full((1,), k), num_levels=L, alpha=ALPHA, sigma=sigma,
        dtype=jnp.float64))(keys)
    log_p = np.array([np_model_log_prob(v, sigma) for v in np.asarray(z[:, 0])])
    return np.asarray(metrics.truncated_normal_bits_per_dim(log_p, log_q, 1)) * math.log(2.0)


def test_samples_stay_in_the_cell_and_log_q_matches_scipy():
    with jax.enable_x64(True):
        sigma = 0.05
        x = jnp.array([[0, 3], [16, 7]])
        z, log_q = metrics.truncated_normal_dequantize(jax.random.key(0), x, num_levels=17,
                                                       alpha=ALPHA, sigma=sigma,
                                                       dtype=jnp.float64)
        centers = metrics.cell_centers(x, num_levels=17, dtype=jnp.float64)
        h = 1.0 / 17
        assert np.all(np.abs(np.asarray(z) - ALPHA * np.asarray(centers)) <= ALPHA * h)
        tau = ALPHA * h / sigma
        eps = (np.asarray(z) - ALPHA * np.asarray(centers)) / sigma
        expected = np.sum(scipy.stats.truncnorm.logpdf(eps, -tau, tau)) - x.size * np.log(sigma)
        np.testing.assert_allclose(float(log_q), expected, rtol=1e-10)
        entropy = metrics.truncated_normal_entropy(4, num_levels=17, alpha=ALPHA, sigma=sigma)
        np.testing.assert_allclose(
            float(entropy), 4 * (scipy.stats.truncnorm.entropy(-tau, tau) + np.log(sigma)),
            rtol=1e-10)


def test_bound_is_above_the_discrete_nll_of_any_model_density():
    """Jensen, for the diffused law and for a mis-specified (wider) model density."""
    with jax.enable_x64(True):
        for tau, model_sigma in ((1.0, None), (3.0, None), (3.0, 0.2)):
            sigma = sigma_for(tau)
            ms = sigma if model_sigma is None else model_sigma
            for k in range(L):
                bound = quad_bound_nats(k, sigma, model_sigma)
                assert bound >= -math.log(cell_mass(k, ms)) - 1e-9, (tau, model_sigma, k)
        # Mis-specified: clearly loose.
        assert quad_bound_nats(2, sigma_for(3.0), 0.2) > -math.log(cell_mass(2, 0.2)) + 0.1


def test_sampled_estimator_is_unbiased_for_the_bound():
    with jax.enable_x64(True):
        sigma = sigma_for(2.0)
        draws = mc_bound_nats(1, sigma)
        se = draws.std() / math.sqrt(len(draws))
        assert abs(draws.mean() - quad_bound_nats(1, sigma)) < 4 * se


def test_bound_is_exact_when_the_model_is_the_dequantizer():
    """p(z) = P(k) q(z | k) on each cell: log p - log q = log P(k) for every draw."""
    with jax.enable_x64(True):
        tau = 2.0
        sigma = sigma_for(tau)
        keys = jax.random.split(jax.random.key(1), 100)
        for k in range(L):
            z, log_q = jax.vmap(lambda key: metrics.truncated_normal_dequantize(
                key, jnp.array([k]), num_levels=L, alpha=ALPHA, sigma=sigma,
                dtype=jnp.float64))(keys)
            eps = (np.asarray(z[:, 0]) - ALPHA * CENTERS[k]) / sigma
            log_p = np.log(P[k]) + scipy.stats.truncnorm.logpdf(eps, -tau, tau) - np.log(sigma)
            bits = metrics.truncated_normal_bits_per_dim(log_p, log_q, 1)
            np.testing.assert_allclose(np.asarray(bits), -np.log2(P[k]), rtol=1e-10)
            # The importance-weighted combination of the draws is exact too.
            iw = metrics.truncated_normal_bits_per_dim(log_p, log_q, 1, axis=0)
            np.testing.assert_allclose(float(iw), -np.log2(P[k]), rtol=1e-10)


def test_gap_is_minus_log_z_and_vanishes_as_tau_grows():
    with jax.enable_x64(True):
        gaps = []
        for tau in (1.0, 2.0, 4.0, 5.0, 8.0):
            gap = quad_bound_nats(1, sigma_for(tau)) + math.log(P[1])
            gaps.append(gap)
            if tau in (4.0, 5.0):
                # Up to the neighbours' tails (a relative O(Phi(-tau) / (1 - Z)) effect,
                # ~20% here), the gap is -log Z(tau).
                z = scipy.special.erf(tau / math.sqrt(2))
                assert gap == pytest.approx(-math.log(z), rel=0.25)
        assert all(a > b for a, b in zip(gaps, gaps[1:]))
        assert gaps[-1] < 1e-8
        assert gaps[0] > 0.2


def test_uniform_dequantization_is_far_looser_for_a_peaked_model():
    """The training-evaluation gap: the same density, uniformly dequantized."""
    with jax.enable_x64(True):
        sigma = sigma_for(3.0)
        k = 3
        u = np.asarray(jax.random.uniform(jax.random.key(2), (20_000,), jnp.float64))
        z = ALPHA * (-1.0 + 2.0 * (k + u) / L)  # slope alpha * 2 / L per level
        log_p = np.array([np_model_log_prob(v, sigma) for v in z])
        uniform = metrics.dequantized_bits_per_dim(log_p, 1, scale=ALPHA * 2.0 / L)
        uniform_nats = float(jnp.mean(uniform)) * math.log(2.0)
        true_nll = -math.log(cell_mass(k, sigma))
        tn = quad_bound_nats(k, sigma)
        assert true_nll <= tn < true_nll + 0.01
        assert uniform_nats > true_nll + 0.5


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_levels"):
        metrics.truncated_normal_dequantize(jax.random.key(0), jnp.zeros(2), num_levels=0,
                                            alpha=1.0, sigma=0.1)
    with pytest.raises(ValueError, match="high must be > low"):
        metrics.truncated_normal_entropy(2, num_levels=4, alpha=1.0, sigma=0.1, low=1.0,
                                         high=-1.0)
