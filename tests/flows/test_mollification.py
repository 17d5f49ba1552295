"""Data mollification: the schedule and the mollified target, against closed forms."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

from likelihood_jax.flows import mollification


def paper_schedule(t, n_max, start=0.0, end=3.0, tau=0.7):
    """The sigmoid schedule of the paper's code, transcribed in numpy (before clipping)."""
    u = t / n_max
    v_start, v_end = expit(start / tau), expit(end / tau)
    return (v_end - expit((u * (end - start) + start) / tau)) / (v_end - v_start)


class ScheduleTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_paper_formula_and_ends_exactly_at_zero(self):
        fn = self.variant(lambda s: mollification.sigmoid_noise_schedule(s, 1000))
        steps = np.arange(0, 1000, 37)
        np.testing.assert_allclose([fn(s) for s in steps], paper_schedule(steps, 1000),
                                   rtol=1e-5, atol=1e-6)
        assert float(fn(0)) == pytest.approx(1.0)
        for s in (1000, 1001, 5000):
            assert float(fn(s)) == 0.0
        values = np.array([fn(s) for s in range(0, 1001, 10)])
        assert np.all(np.diff(values) <= 0)

    def test_bad_num_steps(self):
        with pytest.raises(ValueError, match="num_steps"):
            mollification.sigmoid_noise_schedule(0, 0)


def _gmm_log_prob(x, weights, means, covs):
    comps = [np.log(w) + stats.multivariate_normal(m, c).logpdf(x)
             for w, m, c in zip(weights, means, covs)]
    return logsumexp(np.stack(comps), axis=0)


@pytest.mark.parametrize("noise", [0.0, 0.1, 0.5, 0.9])
def test_mollified_gmm_is_the_gmm_convolved_with_the_current_gaussian(noise):
    """x_t = sqrt(1-n) x + sqrt(n) eps of a 2D GMM is the GMM with means sqrt(1-n) mu_k and
    covariances (1-n) S_k + n I: its samples score like direct samples of that mixture."""
    rng = np.random.default_rng(0)
    weights = np.array([0.3, 0.7])
    means = np.array([[-4.0, 0.0], [4.0, 1.0]])
    covs = np.array([[[0.2, 0.05], [0.05, 0.1]], [[0.1, 0.0], [0.0, 0.3]]])
    n = 20000
    comp = rng.choice(2, size=n, p=weights)
    x = np.stack([rng.multivariate_normal(means[k], covs[k]) for k in comp]).astype(np.float32)
    mollified = np.asarray(mollification.mollify(jnp.asarray(x), jax.random.key(1), noise))
    m_means = np.sqrt(1 - noise) * means
    m_covs = (1 - noise) * covs + noise * np.eye(2)
    comp2 = rng.choice(2, size=n, p=weights)
    direct = np.stack([rng.multivariate_normal(m_means[k], m_covs[k]) for k in comp2])
    got = _gmm_log_prob(mollified, weights, m_means, m_covs)
    ref = _gmm_log_prob(direct, weights, m_means, m_covs)
    stderr = np.sqrt(got.var() / n + ref.var() / n)
    assert abs(got.mean() - ref.mean()) < 5 * stderr + 1e-6
    np.testing.assert_allclose(mollified.mean(0), (weights @ m_means), atol=0.1)
    # The unmollified mixture explains mollified samples worse (for n > 0).
    if noise > 0:
        assert _gmm_log_prob(mollified, weights, means, covs).mean() < got.mean() - 0.1


def test_zero_noise_is_identity():
    x = jnp.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(mollification.mollify(x, jax.random.key(0), 0.0), x)


def test_mollify_batch_follows_the_schedule_and_keeps_other_entries():
    """mollify_batch = mollify(x, key, n(step)) with n over fraction * total_steps; rest kept."""
    config = ml_collections.ConfigDict({"enabled": True, "fraction": 0.5, "start": 0.0,
                                        "end": 3.0, "tau": 0.7})
    x = jnp.arange(12.0).reshape(4, 3)
    batch = {"x": x, "label": jnp.arange(4)}
    key = jax.random.key(3)
    out, level = mollification.mollify_batch(batch, key, 10, 100, config)
    expected_level = mollification.sigmoid_noise_schedule(10, 50, start=0.0, end=3.0, tau=0.7)
    np.testing.assert_allclose(level, expected_level)
    np.testing.assert_allclose(out["x"], mollification.mollify(x, key, expected_level))
    np.testing.assert_array_equal(out["label"], batch["label"])
    out, level = mollification.mollify_batch(batch, key, 50, 100, config)
    assert float(level) == 0.0
    np.testing.assert_array_equal(out["x"], x)
    with pytest.raises(ValueError, match="fraction"):
        mollification.mollify_batch(batch, key, 0, 100, ml_collections.ConfigDict(
            {**config.to_dict(), "fraction": 0.0}))
    with pytest.raises(ValueError, match="batch\\['x'\\]"):
        mollification.mollify_batch({"y": x}, key, 0, 100, config)
