"""Gaussian naive Bayes and logistic regression [P094] against scikit-learn and stationarity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from likelihood_jax.mixtures import naive_bayes as nb

# One compile per shape instead of one per primitive.
fit = jax.jit(nb.gaussian_naive_bayes_fit, static_argnums=2,
              static_argnames=("shared_variance",))
log_joint = jax.jit(nb.gaussian_naive_bayes_log_joint)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60).astype(np.int32)
    x = (rng.normal(size=(60, 4)) * [1.0, 2.0, 0.5, 3.0] + 2.0 * y[:, None] + 5.0)
    return x.astype(np.float32), y


def test_naive_bayes_matches_sklearn_gaussian_nb(data):
    x, y = data
    log_priors, means, variances = fit(x, y, 3)
    ref = GaussianNB().fit(x, y)
    np.testing.assert_allclose(np.exp(log_priors), ref.class_prior_, rtol=1e-6)
    np.testing.assert_allclose(means, ref.theta_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variances, ref.var_, rtol=1e-4)
    joint = log_joint(x, log_priors, means, variances)
    np.testing.assert_allclose(joint, ref.predict_joint_log_proba(x), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(jax.nn.softmax(joint, axis=1), ref.predict_proba(x), atol=1e-5)
    assert float(nb.classification_error(joint, y)) == pytest.approx(1 - ref.score(x, y))


def test_zero_one_weights_equal_fitting_the_subset(data):
    x, y = data
    keep = np.arange(60) % 3 != 0
    weighted = fit(x, y, 3, weights=keep.astype(np.float32))
    subset = fit(x[keep], y[keep], 3)
    for a, b in zip(weighted, subset):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", [False, True])
def test_fit_is_a_stationary_point_of_the_weighted_likelihood(data, shared):
    """The closed form zeroes the gradient of sum_n w_n log p(x_n, y_n) (no smoothing)."""
    x, y = data
    w = np.random.default_rng(1).uniform(0.5, 2.0, 60).astype(np.float32)
    log_priors, means, variances = fit(x, y, 3, weights=w, shared_variance=shared,
                                       var_smoothing=0.0)

    @jax.jit
    def log_lik(means, log_var):
        var = jnp.broadcast_to(jnp.exp(log_var), means.shape)
        joint = nb.gaussian_naive_bayes_log_joint(x, log_priors, means, var)
        return jnp.sum(w * joint[jnp.arange(60), y])

    log_var = jnp.log(variances[0] if shared else variances)
    grads = jax.grad(log_lik, argnums=(0, 1))(means, log_var)
    scale = float(np.sum(w))  # each gradient is a sum of O(1) terms over the points
    for g in grads:
        assert float(jnp.max(jnp.abs(g))) < 1e-4 * scale
    # and a perturbation lowers the likelihood (a maximum, not a saddle)
    assert float(log_lik(means, log_var)) > float(log_lik(means + 0.05, log_var + 0.05))
    if shared:  # the pooled variance beats every class's own variance as the shared one
        for c in range(3):
            own = jnp.log(fit(x, y, 3, weights=w, var_smoothing=0.0)[2][c])
            assert float(log_lik(means, log_var)) > float(log_lik(means, own))


def test_logistic_regression_matches_sklearn(data):
    x, y = data
    x = (x - x.mean(0)) / x.std(0)
    l2 = 0.05
    kernel, bias = jax.jit(lambda x, y: nb.logistic_regression_fit(x, y, 3, l2=l2,
                                                                   num_steps=60))(x, y)
    ref = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-10, max_iter=10000).fit(x, y)
    np.testing.assert_allclose(jax.nn.softmax(x @ kernel + bias), ref.predict_proba(x),
                               atol=1e-4)
    np.testing.assert_allclose(kernel, ref.coef_.T, atol=1e-3)


def test_bad_inputs_name_the_argument(data):
    x, y = data
    with pytest.raises(ValueError, match="gaussian_naive_bayes_fit: y must be labels in"):
        nb.gaussian_naive_bayes_fit(x, y + 1, 3)
    with pytest.raises(ValueError, match="logistic_regression_fit: l2 must be > 0"):
        nb.logistic_regression_fit(x, y, 3, l2=0.0)
    with pytest.raises(ValueError, match="gaussian_naive_bayes_fit: weights must be"):
        nb.gaussian_naive_bayes_fit(x, y, 3, weights=-np.ones(60, np.float32))
