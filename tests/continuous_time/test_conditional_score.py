"""losses.conditional_score: DLSM against hand-derived values and finite differences,
guided scores by Bayes' rule, composed posterior scores against the conjugate Gaussian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import conditional_score as cs


def linear_logits(params):
    return lambda t, x: params["w"] @ x + params["b"] + t * params["c"]


def test_dlsm_objective_equals_the_hand_derived_gradient_of_a_linear_softmax():
    rng = np.random.default_rng(0)
    w, b, c = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=3)
    x_t, score, eps = rng.normal(size=(3, 2))
    t, sigma, y = 0.3, 0.7, 1
    logits = w @ x_t + b + t * c
    p = np.exp(logits - logits.max())
    p /= p.sum()
    grad = w[y] - p @ w  # d/dx log softmax(Wx + b)[y]
    expected = 0.5 * np.sum((sigma * (grad + score) + eps) ** 2)
    params = {"w": jnp.asarray(w), "b": jnp.asarray(b), "c": jnp.asarray(c)}
    got = cs.dlsm_objective(linear_logits(params), jnp.asarray(score), t, jnp.asarray(x_t), y,
                            jnp.asarray(eps), sigma)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def mlp_logits(params):
    def f(t, x):
        h = jnp.tanh(params["w1"] @ jnp.concatenate([x, jnp.atleast_1d(t)]) + params["b1"])
        return params["w2"] @ h + params["b2"]
    return f


def test_dlsm_loss_parameter_gradient_matches_finite_differences():
    """Double backprop (grad of a loss containing grad_x) against central differences."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        params = {"w1": rng.normal(size=(5, 3)), "b1": rng.normal(size=5),
                  "w2": rng.normal(size=(4, 5)), "b2": rng.normal(size=4)}
        params = jax.tree.map(jnp.asarray, params)
        sde = sde_lib.VPSDE()
        x = jnp.asarray([0.3, -1.2])

        def score_fn(t, z):
            return -z / (1.0 + t) + jnp.sin(z)

        def loss(p):
            return cs.denoising_likelihood_score_matching(
                mlp_logits(p), score_fn, x, 2, jax.random.key(3), sde=sde, ce_weight=0.5)[0]

        loss = jax.jit(loss)
        grads = jax.grad(loss)(params)
        flat, unravel = ravel_pytree(params)
        g_flat, _ = ravel_pytree(grads)
        h = 1e-6
        fd = np.array([(loss(unravel(flat.at[i].add(h))) - loss(unravel(flat.at[i].add(-h))))
                       / (2 * h) for i in range(flat.size)])
        np.testing.assert_allclose(np.asarray(g_flat), fd, rtol=1e-6, atol=1e-8)
        assert np.abs(fd).max() > 1e-2  # a nontrivial gradient


def test_dlsm_loss_terms_and_stop_gradient_on_the_score():
    sde = sde_lib.VPSDE()
    params = jax.tree.map(jnp.asarray, {"w": np.ones((3, 2)), "b": np.zeros(3),
                                        "c": np.zeros(3)})
    x = jnp.asarray([0.5, 0.1])
    score_params = jnp.asarray(2.0)

    def total(sp, ce_weight):
        return cs.denoising_likelihood_score_matching(
            linear_logits(params), lambda t, z: -sp * z, x, 0, jax.random.key(0), sde=sde,
            ce_weight=ce_weight)

    loss, terms = total(score_params, 0.25)
    np.testing.assert_allclose(float(loss), float(terms["dlsm"] + 0.25 * terms["ce"]),
                               rtol=1e-6)
    assert float(jax.grad(lambda sp: total(sp, 1.0)[0])(score_params)) == 0.0
    ce = cs.noisy_cross_entropy(linear_logits(params), x, 0, jax.random.key(0), sde=sde)
    np.testing.assert_allclose(float(ce), float(terms["ce"]), rtol=1e-6)  # same (t, eps)


def gmm():
    means = jnp.asarray([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    covs = jnp.stack([0.3 * jnp.eye(2)] * 4)
    weights = jnp.asarray([0.1, 0.2, 0.3, 0.4])
    labels = jnp.asarray([0, 1, 0, 1])
    return weights, means, covs, labels


def test_guided_score_with_the_bayes_classifier_is_the_conditional_score():
    weights, means, covs, labels = gmm()
    sde = sde_lib.VPSDE()
    t = 0.3
    alpha, sigma = sde.marginal(t)

    def class_log_prob(x, y):  # log p_t(x | y) + log p(y)
        w = jnp.where(labels == y, weights, 0.0)
        return cs.diffused_gaussian_mixture_log_prob(x, w + 1e-30, means, covs, alpha,
                                                     sigma) + jnp.log(jnp.sum(w))

    def logits_fn(_, x):
        return jnp.stack([class_log_prob(x, 0), class_log_prob(x, 1)])

    def score_fn(_, x):
        return jax.grad(cs.diffused_gaussian_mixture_log_prob)(x, weights, means, covs,
                                                               alpha, sigma)

    x = jnp.asarray([0.7, -0.4])
    for y in (0, 1):
        got = jax.jit(cs.guided_score(score_fn, logits_fn, y))(t, x)
        want = jax.jit(jax.grad(class_log_prob), static_argnums=1)(x, y)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    # the gradient of a linear-softmax classifier is not the conditional score: a real check
    assert np.abs(np.asarray(got - jax.jit(cs.guided_score(score_fn, logits_fn, 0))(t, x))
                  ).max() > 0.1


def test_bad_labels_raise():
    params = jax.tree.map(jnp.asarray, {"w": np.ones((3, 2)), "b": np.zeros(3),
                                        "c": np.zeros(3)})
    with pytest.raises(ValueError, match="scalar class index"):
        cs.classifier_log_likelihood(linear_logits(params), 0.1, jnp.ones(2), jnp.asarray([0]))


# -- Composition -------------------------------------------------------------------------

A = np.array([[1.0, 0.5], [-0.3, 1.0], [0.4, 0.2]])
SX = 0.5 * np.eye(3)
M0, S0 = np.array([0.5, -0.2]), np.array([[1.0, 0.3], [0.3, 0.8]])


def posterior(xs):
    prec = np.linalg.inv(S0) + len(xs) * A.T @ np.linalg.inv(SX) @ A
    cov = np.linalg.inv(prec)
    mean = cov @ (np.linalg.solve(S0, M0) + A.T @ np.linalg.solve(SX, np.sum(xs, 0)))
    return mean, cov


def gauss_score(theta, mean, cov):
    return -jnp.linalg.solve(cov, theta - mean)


def single_score(sde):
    @jax.jit
    def s(t, theta, xj):
        alpha, sigma = sde.marginal(t)
        prec = jnp.linalg.inv(jnp.asarray(S0)) + A.T @ np.linalg.inv(SX) @ A
        cov = jnp.linalg.inv(prec)
        mean = cov @ (np.linalg.solve(S0, M0) + A.T @ np.linalg.inv(SX) @ xj)
        return gauss_score(theta, alpha * mean, alpha**2 * cov + sigma**2 * jnp.eye(2))
    return s


def prior_score(sde):
    @jax.jit
    def s(t, theta):
        alpha, sigma = sde.marginal(t)
        return gauss_score(theta, alpha * M0, alpha**2 * S0 + sigma**2 * jnp.eye(2))
    return s


def observations(n, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal(M0, S0)
    return rng.multivariate_normal(A @ theta, SX, size=n)


@pytest.mark.parametrize("prior", ["bridge", "diffused"])
def test_composed_score_is_exact_at_t0_and_only_approximate_in_between(prior):
    with jax.enable_x64(True):
        sde = sde_lib.VPSDE()
        xs = observations(5)
        theta = jnp.asarray([0.2, 0.9])
        mean, cov = posterior(xs)
        got = cs.composed_posterior_score(single_score(sde), prior_score(sde), 0.0, theta,
                                          jnp.asarray(xs), prior=prior)
        np.testing.assert_allclose(np.asarray(got), np.asarray(gauss_score(theta, mean, cov)),
                                   rtol=1e-8)
        t = 0.3
        alpha, sigma = sde.marginal(t)
        diffused = gauss_score(theta, alpha * mean, alpha**2 * cov + sigma**2 * np.eye(2))
        got = cs.composed_posterior_score(single_score(sde), prior_score(sde), t, theta,
                                          jnp.asarray(xs), prior=prior)
        assert np.abs(np.asarray(got - diffused)).max() > 1e-2  # approximate at t > 0


def test_bridge_score_is_the_score_of_the_gaussian_bridge_density():
    """p(theta)^{(1-n)(T-t)/T} prod_j p_t(theta|x_j), multiplied out as Gaussians."""
    with jax.enable_x64(True):
        sde = sde_lib.VPSDE()
        xs = observations(4, seed=2)
        t, n = 0.4, 4
        alpha, sigma = (float(v) for v in sde.marginal(t))
        single_cov = np.linalg.inv(np.linalg.inv(S0) + A.T @ np.linalg.inv(SX) @ A)
        c = alpha**2 * single_cov + sigma**2 * np.eye(2)
        prec = (1 - n) * (1 - t) * np.linalg.inv(S0) + n * np.linalg.inv(c)
        lin = (1 - n) * (1 - t) * np.linalg.solve(S0, M0)
        for xj in xs:
            mj = single_cov @ (np.linalg.solve(S0, M0) + A.T @ np.linalg.solve(SX, xj))
            lin = lin + np.linalg.solve(c, alpha * mj)
        theta = np.array([0.3, -0.1])
        want = lin - prec @ theta
        got = cs.composed_posterior_score(single_score(sde), prior_score(sde), t,
                                          jnp.asarray(theta), jnp.asarray(xs))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-8)


def test_mask_drops_padded_observations():
    sde = sde_lib.VPSDE()
    xs = jnp.asarray(observations(6, seed=3), jnp.float32)
    theta = jnp.asarray([0.1, 0.2])
    full = cs.composed_posterior_score(single_score(sde), prior_score(sde), 0.2, theta, xs[:4])
    masked = cs.composed_posterior_score(single_score(sde), prior_score(sde), 0.2, theta, xs,
                                         mask=jnp.asarray([1, 1, 1, 1, 0, 0]))
    np.testing.assert_allclose(np.asarray(masked), np.asarray(full), rtol=1e-5)
    with pytest.raises(ValueError, match="prior correction"):
        cs.composed_posterior_score(single_score(sde), prior_score(sde), 0.2, theta, xs,
                                    prior="tempered")


def test_annealed_langevin_on_the_bridge_recovers_the_analytic_posterior():
    sde = sde_lib.VPSDE()
    n = 10
    xs = jnp.asarray(observations(n, seed=4), jnp.float32)
    mean, cov = posterior(np.asarray(xs, np.float64))
    times = jnp.linspace(1.0, 1e-3, 60)
    alphas, sigmas = sde.marginal(times)
    steps = 0.1 * (alphas**2 * 0.1 + sigmas**2) / n
    score = jax.vmap(lambda t, th: cs.composed_posterior_score(
        single_score(sde), prior_score(sde), t, th, xs), in_axes=(None, 0))
    x0 = jax.random.normal(jax.random.key(0), (4000, 2)) / np.sqrt(n)
    out = jax.jit(lambda x: cs.annealed_langevin(score, x, jax.random.key(1), times=times,
                                                 step_sizes=steps, num_steps=20))(x0)
    out = np.asarray(out, np.float64)
    std = np.sqrt(np.diag(cov))
    assert np.all(np.abs(out.mean(0) - mean) < 0.1 * std)
    np.testing.assert_allclose(np.cov(out.T), cov, rtol=0.15, atol=0.05 * std.max() ** 2)
    with pytest.raises(ValueError, match="equal length"):
        cs.annealed_langevin(score, x0, jax.random.key(1), times=times, step_sizes=steps[:3],
                             num_steps=2)
