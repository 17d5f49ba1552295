"""Meta-learned MCMC proposals [P081]: MDN density, block proposals in MH, the motifs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax.energy import learned_proposals as lp
from likelihood_jax.energy import mcmc

PARAMS = lp.MDNParams(jnp.array([0.3, -0.5]), jnp.array([[0.0, 1.0], [2.0, -1.0]]),
                      jnp.array([[-0.2, 0.1], [0.3, -0.4]]))


def test_mdn_log_prob_matches_scipy_mixture():
    x = np.array([0.7, -0.2])
    w = np.exp(PARAMS.logits) / np.sum(np.exp(PARAMS.logits))
    dens = sum(w[m] * np.prod(stats.norm.pdf(x, PARAMS.means[m], np.exp(PARAMS.log_scales[m])))
               for m in range(2))
    np.testing.assert_allclose(lp.mdn_log_prob(PARAMS, jnp.asarray(x)), np.log(dens), rtol=1e-5)


def test_mdn_sample_moments_and_params_layout():
    draws = jax.jit(jax.vmap(lambda k: lp.mdn_sample(k, PARAMS)))(
        jax.random.split(jax.random.key(0), 20000))
    w = np.asarray(jax.nn.softmax(PARAMS.logits))
    np.testing.assert_allclose(draws.mean(0), w @ np.asarray(PARAMS.means), atol=0.04)
    raw = jnp.concatenate([PARAMS.logits, PARAMS.means.ravel(), PARAMS.log_scales.ravel()])
    split = lp.mdn_params(raw, 2, 2)
    for a, b in zip(split, PARAMS):
        np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="raw must be of shape"):
        lp.mdn_params(raw[:-1], 2, 2)


def test_gaussian_motif_posterior_against_bayes_rule_on_a_grid():
    y = jnp.array([0.4, 1.1, -0.3])
    mean, std = lp.gaussian_motif_posterior(0.5, np.log(2.0), np.log(0.7), y)
    grid = np.linspace(-4, 5, 20001)
    log_post = stats.norm.logpdf(grid, 0.5, 2.0) + stats.norm.logpdf(
        np.asarray(y)[:, None], grid, 0.7).sum(0)
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    np.testing.assert_allclose(mean, np.sum(grid * post), atol=1e-4)
    np.testing.assert_allclose(std, np.sqrt(np.sum((grid - mean) ** 2 * post)), atol=1e-4)


def test_exact_conditional_as_block_proposal_is_always_accepted():
    """Random-scan MH whose block proposals are the exact conditionals of a Gaussian with
    independent blocks accepts every move and recovers the mean and covariance."""
    means, stds = jnp.array([[1.0], [-2.0], [0.5]]), jnp.array([[0.5], [1.0], [2.0]])

    def conditional(x, j):
        return ((lambda k: means[j] + stds[j] * jax.random.normal(k, (1,))),
                (lambda v: jnp.sum(jax.scipy.stats.norm.logpdf(v, means[j], stds[j]))))

    log_prob = lambda x: jnp.sum(jax.scipy.stats.norm.logpdf(x, means, stds))  # noqa: E731
    sample, log_q = lp.random_scan_block_proposal(conditional, jnp.full((3,), 1 / 3))
    out = jax.jit(lambda k: mcmc.metropolis_hastings(
        log_prob, jnp.zeros((3, 1)), k, proposal_sample=sample, proposal_log_prob=log_q,
        num_steps=6000, return_trace=True))(jax.random.key(1))
    np.testing.assert_allclose(out.acceptance_rate, 1.0, atol=1e-5)
    trace = np.asarray(out.trace[300:, :, 0])
    np.testing.assert_allclose(trace.mean(0), means[:, 0], atol=0.15)
    np.testing.assert_allclose(trace.std(0), stds[:, 0], rtol=0.1)


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_random_scan_log_prob_is_the_mixture_density_and_skips_inactive_blocks():
    conditional = lp.random_walk_block_conditional(0.5)
    weights = jnp.array([0.25, 0.75, 0.0])
    sample, log_q = lp.random_scan_block_proposal(conditional, weights)
    x = jnp.array([[0.0, 1.0], [2.0, 0.0], [5.0, 5.0]])
    to = x.at[1].set(jnp.array([2.3, -0.4]))
    expected = np.log(0.75) + stats.norm.logpdf([2.3, -0.4], [2.0, 0.0], 0.5).sum()
    np.testing.assert_allclose(log_q(to, x), expected, rtol=1e-5)
    moved = jax.jit(jax.vmap(lambda k: sample(k, x)))(jax.random.split(jax.random.key(2), 400))
    changed = np.asarray(jnp.any(moved != x, axis=-1))
    assert changed[:, 2].sum() == 0 and 0.6 < changed[:, 1].mean() < 0.9
    assert np.all(changed.sum(1) == 1)  # exactly one block moves


def test_gmm_log_posterior_against_explicit_sum_over_assignments():
    inst = lp.GMMInstance(jnp.array([[0.0, 0.1], [2.0, 2.2], [-1.0, 0.5]]),
                          jnp.zeros((3, 2)), jnp.array([1.0, 1.0, 0.0]))
    mu = jnp.array([[0.2, 0.0], [1.9, 2.0], [9.0, 9.0]])
    prior = stats.norm.logpdf(np.asarray(mu[:2]), 0.0, 3.0).sum()
    lik = sum(np.log(sum(0.5 * np.prod(stats.norm.pdf(np.asarray(p), np.asarray(mu[k]), 0.5))
                         for k in range(2))) for p in inst.points)
    np.testing.assert_allclose(lp.gmm_log_posterior(mu, inst), prior + lik, rtol=1e-5)
    features = lp.gmm_blanket_features(mu, jnp.int32(0), inst)
    own = stats.norm.logpdf(np.asarray(inst.points), np.asarray(mu[1]), 0.5).sum(1)
    np.testing.assert_allclose(features[:, 2], np.maximum(own, -20.0) / 20.0, rtol=1e-5)
    np.testing.assert_allclose(  # the block's own mean is never read
        lp.gmm_blanket_features(mu.at[0].set(7.0), jnp.int32(0), inst), features)


def test_matched_mean_error_is_permutation_invariant():
    truth = np.array([[0.0, 0.0], [3.0, 0.0], [9.0, 9.0]])
    est = np.array([[3.0, 1.0], [0.0, 0.0], [-5.0, 2.0]])
    assert lp.matched_mean_error(est, truth, [1, 1, 0]) == pytest.approx(0.5)
