"""EM for Gaussian mixtures against a numpy EM step and scikit-learn."""

import warnings

import chex
import jax
import numpy as np
import scipy.special
import scipy.stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from likelihood_jax import mixtures


def _data_and_init(seed=0, num_points=60, dim=2, num_components=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_components, dim)) * 3.0
    x = centers[rng.integers(0, num_components, size=num_points)]
    x = x + rng.normal(size=(num_points, dim))
    weights = rng.dirichlet(np.ones(num_components))
    means = x[rng.choice(num_points, num_components, replace=False)]
    covariances = np.stack([np.eye(dim) * s for s in rng.uniform(0.5, 2.0, num_components)])
    return x, weights, means, covariances


def numpy_em_step(x, weights, means, covariances, reg_covar=0.0):
    """A textbook EM step with scipy densities (no 10 * eps guard)."""
    log_joint = np.stack([np.log(w) + scipy.stats.multivariate_normal(m, c).logpdf(x)
                          for w, m, c in zip(weights, means, covariances)], axis=1)
    resp = np.exp(log_joint - scipy.special.logsumexp(log_joint, axis=1, keepdims=True))
    counts = resp.sum(axis=0)
    new_means = resp.T @ x / counts[:, None]
    new_covs = []
    for k in range(len(weights)):
        diff = x - new_means[k]
        new_covs.append((resp[:, k, None] * diff).T @ diff / counts[k]
                        + reg_covar * np.eye(x.shape[1]))
    return counts / len(x), new_means, np.stack(new_covs)


def numpy_log_likelihood(x, weights, means, covariances):
    log_joint = np.stack([np.log(w) + scipy.stats.multivariate_normal(m, c).logpdf(x)
                          for w, m, c in zip(weights, means, covariances)], axis=1)
    return scipy.special.logsumexp(log_joint, axis=1).mean()


class GmmTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_em_step_matches_numpy(self):
        x, weights, means, covariances = _data_and_init()
        reg_covar = 0.1
        with jax.enable_x64(True):
            got = self.variant(lambda *a: mixtures.gmm_em_step(*a, reg_covar=reg_covar))(
                x, weights, means, covariances)
            got = [np.asarray(g) for g in got]
        expected = numpy_em_step(x, weights, means, covariances, reg_covar)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)

    def test_float32_step_close_to_numpy(self):
        x, weights, means, covariances = _data_and_init(1)
        got = jax.jit(mixtures.gmm_em_step)(*(a.astype(np.float32) for a in (
            x, weights, means, covariances)))
        for g, e in zip(got, numpy_em_step(x, weights, means, covariances)):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)

    def test_log_likelihood_matches_scipy_and_never_decreases(self):
        x, weights, means, covariances = _data_and_init(2, num_points=80)
        params = (weights, means, covariances)
        with jax.enable_x64(True):
            step = jax.jit(mixtures.gmm_em_step)
            log_likelihood = jax.jit(mixtures.gmm_log_likelihood)
            history = []
            for _ in range(15):
                history.append(float(log_likelihood(x, *params)))
                np.testing.assert_allclose(history[-1], numpy_log_likelihood(x, *params),
                                           rtol=1e-10)
                params = step(x, *params)
        assert np.all(np.diff(history) >= -1e-10), history
        assert history[-1] > history[0] + 0.1

    def test_single_iteration_matches_sklearn(self):
        x, weights, means, covariances = _data_and_init(3)
        reg_covar = 1e-3
        model = GaussianMixture(n_components=3, covariance_type="full", max_iter=1, n_init=1,
                                weights_init=weights, means_init=means,
                                precisions_init=np.linalg.inv(covariances),
                                reg_covar=reg_covar, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x)
        with jax.enable_x64(True):
            got = [np.asarray(g) for g in jax.jit(
                lambda *a: mixtures.gmm_em_step(*a, reg_covar=reg_covar))(
                    x, weights, means, covariances)]
        for g, e in zip(got, (model.weights_, model.means_, model.covariances_)):
            np.testing.assert_allclose(g, e, rtol=1e-7, atol=1e-10)
