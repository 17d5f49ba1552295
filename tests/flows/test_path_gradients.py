"""Path-gradient estimators: recursion, fast == slow, unbiasedness, variance at q = p."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.data.synthetic import targets
from likelihood_jax.flows import path_gradients

ESTIMATORS = {
    "reverse_standard": path_gradients.reverse_kl_standard,
    "reverse_slow": path_gradients.reverse_kl_path_slow,
    "reverse_fast": path_gradients.reverse_kl_path_fast,
    "forward_standard": path_gradients.forward_kl_standard,
    "forward_slow": path_gradients.forward_kl_path_slow,
    "forward_fast": path_gradients.forward_kl_path_fast,
}


def _perturb(params, key, scale):
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(tree, [p + scale * jax.random.normal(k, p.shape, p.dtype)
                                     for p, k in zip(leaves, keys)])


@functools.lru_cache(maxsize=None)
def _mixed_flow(dim=4, dtype=jnp.float64):
    """A non-trivial flow with every layer kind the recursion handles (nested chain too)."""
    inner = flows.realnvp(dim, num_layers=2, hidden_dims=(16,))
    bijector = flows.Chain([inner, flows.Dense(), flows.Permute((2, 0, 3, 1)),
                            flows.Reverse(),
                            flows.AffineCoupling(flows.alternating_mask(dim, 1), (16,),
                                                 "softplus"),
                            flows.ActNorm()])
    x = jax.random.normal(jax.random.key(0), (64, dim), dtype)
    params = jax.jit(bijector.init)(jax.random.key(1), x)
    return bijector, _perturb(params, jax.random.key(2), 0.3)


def _target(dim=4):
    means = np.random.default_rng(0).normal(size=(3, dim)) * 1.5
    return targets.GaussianMixture(means, [0.7, 1.0, 1.3], [0.2, 0.3, 0.5])


def test_recursive_score_equals_autodiff_of_log_q():
    with jax.enable_x64(True):
        bijector, params = _mixed_flow()
        flow = flows.Flow(bijector, (4,))
        z = jax.random.normal(jax.random.key(3), (8, 4), jnp.float64)

        @jax.jit
        def run(params, z):
            x, log_q, score = jax.vmap(path_gradients.sample_and_score,
                                       in_axes=(None, None, 0))(bijector, params, z)
            exact_x = jax.vmap(bijector.inverse, in_axes=(None, 0))(params, z)
            exact_log_q = jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x)
            exact_score = jax.vmap(jax.grad(flow.log_prob, argnums=1),
                                   in_axes=(None, 0))(params, x)
            return (x, log_q, score), (exact_x, exact_log_q, exact_score)

        (x, log_q, score), (exact_x, exact_log_q, exact_score) = run(params, z)
        np.testing.assert_allclose(x, exact_x, atol=1e-10)
        np.testing.assert_allclose(log_q, exact_log_q, atol=1e-8)
        np.testing.assert_allclose(score, exact_score, atol=1e-8)
        assert float(jnp.max(jnp.abs(score))) > 0.1  # not a trivial flow


def test_pullback_score_equals_autodiff_of_pulled_back_target():
    with jax.enable_x64(True):
        bijector, params = _mixed_flow()
        target = _target()
        x = jax.random.normal(jax.random.key(4), (8, 4), jnp.float64)

        def pulled_back(z):
            x_back, log_det = bijector.inverse_and_log_det(params, z)
            return target.log_prob(x_back) + log_det

        @jax.vmap
        def run(xi):
            z, log_q, score = path_gradients.latent_and_pullback_score(
                bijector, params, xi, jax.grad(target.log_prob)(xi))
            exact = (bijector.forward(params, xi), flows.Flow(bijector, (4,)).log_prob(params, xi),
                     jax.grad(pulled_back)(z))
            return (z, log_q, score), exact

        got, exact = jax.jit(run)(x)
        for a, b in zip(got, exact):
            np.testing.assert_allclose(a, b, atol=1e-8)


@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_fast_path_gradient_equals_slow_reference(direction):
    with jax.enable_x64(True):
        bijector, params = _mixed_flow()
        target = _target()
        inputs = jax.random.normal(jax.random.key(5), (16, 4), jnp.float64)
        values, grads = {}, {}
        for kind in ("standard", "slow", "fast"):
            fn = ESTIMATORS[f"{direction}_{kind}"]

            def loss(p, fn=fn):
                return jnp.mean(jax.vmap(lambda v: fn(bijector, p, v, target.log_prob))(inputs))

            values[kind], grads[kind] = jax.jit(jax.value_and_grad(loss))(params)
        flat = {k: jax.flatten_util.ravel_pytree(g)[0] for k, g in grads.items()}
        np.testing.assert_allclose(flat["fast"], flat["slow"], rtol=1e-5, atol=1e-5)
        # The path gradient is a different estimator from the score-including one.
        assert float(jnp.max(jnp.abs(flat["fast"] - flat["standard"]))) > 1e-3
        if direction == "reverse":  # all three values are -log w
            np.testing.assert_allclose(values["fast"], values["standard"], rtol=1e-10)
            np.testing.assert_allclose(values["slow"], values["standard"], rtol=1e-10)
        else:  # all three values are the NLL
            np.testing.assert_allclose(values["fast"], values["standard"], rtol=1e-10)
            np.testing.assert_allclose(values["slow"], values["standard"], rtol=1e-10)


def _affine_kl_and_grad(loc, log_scale, mean, std):
    """KL(N(loc, e^{2a}) || N(mean, std^2)) (diagonal) and its gradient in (loc, a)."""
    var = np.exp(2 * log_scale)
    kl = np.sum(np.log(std) - log_scale + (var + (loc - mean) ** 2) / (2 * std ** 2) - 0.5)
    return kl, (loc - mean) / std ** 2, var / std ** 2 - 1.0


def _gaussian(mean, std):
    return targets.GaussianMixture(np.asarray(mean)[None], std)


def test_reverse_estimators_are_unbiased_for_the_analytic_kl_gradient():
    """Affine flow x = z e^a + loc against a Gaussian target: exact KL gradient is known."""
    with jax.enable_x64(True):
        bijector = flows.Chain([flows.ActNorm()])
        loc, log_scale = np.array([0.3, -0.5]), np.array([0.2, -0.3])
        params = ({"loc": jnp.asarray(loc), "log_scale": jnp.asarray(log_scale)},)
        mean, std = np.array([1.0, 0.5]), 0.8
        target = _gaussian(mean, std)
        _, grad_loc, grad_a = _affine_kl_and_grad(loc, log_scale, mean, std)
        z = jax.random.normal(jax.random.key(6), (20000, 2), jnp.float64)
        for name in ("reverse_standard", "reverse_slow", "reverse_fast"):
            fn = ESTIMATORS[name]
            g = jax.jit(jax.vmap(jax.grad(lambda p, v, fn=fn: fn(bijector, p, v, target.log_prob)),
                                 in_axes=(None, 0)))(params, z)[0]
            for got, want in ((g["loc"], grad_loc), (g["log_scale"], grad_a)):
                se = np.std(got, 0) / np.sqrt(len(z))
                assert np.all(np.abs(np.mean(got, 0) - want) < 4 * se + 1e-12), (name, got, want)


def test_forward_estimators_are_unbiased_for_the_analytic_ml_gradient():
    """KL(p||q) for q = N(loc, e^{2a}), p = N(m, s^2): grad_loc = (loc - m) / e^{2a},
    grad_a = 1 - (s^2 + (m - loc)^2) / e^{2a}; exact target samples."""
    with jax.enable_x64(True):
        bijector = flows.Chain([flows.ActNorm()])
        loc, log_scale = np.array([0.3, -0.5]), np.array([0.2, -0.3])
        params = ({"loc": jnp.asarray(loc), "log_scale": jnp.asarray(log_scale)},)
        mean, std = np.array([1.0, 0.5]), 0.8
        target = _gaussian(mean, std)
        var = np.exp(2 * log_scale)
        grad_loc = (loc - mean) / var
        grad_a = 1 - (std ** 2 + (mean - loc) ** 2) / var
        x = target.sample(jax.random.key(8), 20000, jnp.float64)
        for name in ("forward_standard", "forward_slow", "forward_fast"):
            fn = ESTIMATORS[name]
            g = jax.jit(jax.vmap(jax.grad(lambda p, v, fn=fn: fn(bijector, p, v, target.log_prob)),
                                 in_axes=(None, 0)))(params, x)[0]
            for got, want in ((g["loc"], grad_loc), (g["log_scale"], grad_a)):
                se = np.std(got, 0) / np.sqrt(len(x))
                assert np.all(np.abs(np.mean(got, 0) - want) < 4 * se + 1e-12), (name, got, want)


def test_path_and_standard_agree_in_mean_on_a_nonlinear_flow():
    """Their difference is the score term d/dtheta log q(x)|_x, whose mean under q is zero."""
    bijector = flows.realnvp(2, num_layers=2, hidden_dims=(8,))
    target = targets.grid_gaussian_mixture(2, 2, loc=1.5, std=0.5)
    params = bijector.init(jax.random.key(0), jax.random.normal(jax.random.key(1), (64, 2)))
    params = _perturb(params, jax.random.key(2), 0.2)
    z = jax.random.normal(jax.random.key(3), (1024, 2))

    def per_example(fn):
        grad = jax.grad(lambda p, v: fn(bijector, p, v, target.log_prob))
        return jax.jit(jax.vmap(lambda v: jax.flatten_util.ravel_pytree(grad(params, v))[0]))(z)

    diff = per_example(path_gradients.reverse_kl_standard) - per_example(
        path_gradients.reverse_kl_path_fast)
    assert float(jnp.mean(jnp.abs(diff))) > 1e-3  # the score term is not zero per sample
    directions = jax.random.normal(jax.random.key(4), (3, diff.shape[1]))
    proj = np.asarray(diff @ directions.T)
    se = proj.std(0) / np.sqrt(len(z))
    assert np.all(np.abs(proj.mean(0)) < 4 * se), (proj.mean(0), se)


@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_path_variance_vanishes_as_q_approaches_p_but_standard_does_not(direction):
    with jax.enable_x64(True):
        bijector = flows.Chain([flows.ActNorm()])
        mean, std = np.array([1.0, -0.5]), 0.8
        target = _gaussian(mean, std)
        key = jax.random.key(7)
        inputs = jax.random.normal(key, (512, 2), jnp.float64)
        if direction == "forward":
            inputs = target.sample(key, 512, jnp.float64)
        variances = {}
        for delta in (0.1, 0.01, 0.0):
            params = ({"loc": jnp.asarray(mean + delta),
                       "log_scale": jnp.asarray(np.log(std) - delta * np.ones(2))},)
            for kind in ("standard", "fast", "slow"):
                fn = ESTIMATORS[f"{direction}_{kind}"]
                stats = path_gradients.gradient_statistics(
                    lambda p, v, fn=fn: fn(bijector, p, v, target.log_prob), params, inputs)
                variances[kind, delta] = float(stats["total_variance"])
        for kind in ("fast", "slow"):
            assert variances[kind, 0.0] < 1e-20
            assert variances[kind, 0.01] < 0.03 * variances[kind, 0.1]  # ~ delta^2
        assert variances["standard", 0.0] > 0.5
        assert variances["standard", 0.01] > 0.5 * variances["standard", 0.1]


def test_effective_sample_size_against_numpy():
    log_w = np.random.default_rng(0).normal(size=100) * 2 + 30.0
    w = np.exp(log_w - log_w.max())
    expected = w.sum() ** 2 / (len(w) * (w ** 2).sum())
    np.testing.assert_allclose(path_gradients.effective_sample_size(jnp.asarray(log_w)),
                               expected, rtol=1e-5)
    assert float(path_gradients.effective_sample_size(jnp.zeros(10))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="vector"):
        path_gradients.effective_sample_size(jnp.zeros((2, 3)))


def test_gradient_statistics_against_explicit_per_example_gradients():
    params = {"w": jnp.array([0.5, -1.0])}
    x = jax.random.normal(jax.random.key(0), (128, 2))

    def loss(p, v):
        return jnp.sum(p["w"] * v) ** 2

    grads = jax.vmap(jax.grad(loss), in_axes=(None, 0))(params, x)["w"]
    stats = path_gradients.gradient_statistics(loss, params, x, chunk_size=32)
    np.testing.assert_allclose(stats["total_variance"], np.var(grads, 0, ddof=1).sum(), rtol=1e-4)
    np.testing.assert_allclose(stats["mean_sq_norm"], np.sum(np.mean(grads, 0) ** 2), rtol=1e-4)
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        path_gradients.gradient_statistics(loss, params, x[:100], chunk_size=32)


def test_bad_flow_raises():
    with pytest.raises(ValueError, match="Bijector"):
        path_gradients.sample_and_score(object(), {}, jnp.zeros(2))


def test_estimators_work_under_jit_and_vmap_in_float32():
    bijector = flows.realnvp(2, num_layers=1, hidden_dims=(8,))
    target = targets.grid_gaussian_mixture()
    params = bijector.init(jax.random.key(0), jax.random.normal(jax.random.key(1), (16, 2)))
    z = jax.random.normal(jax.random.key(2), (16, 2))
    for fn in ESTIMATORS.values():
        out = jax.jit(jax.vmap(lambda v, fn=fn: fn(bijector, params, v, target.log_prob)))(z)
        assert out.shape == (16,) and out.dtype == jnp.float32
        assert np.all(np.isfinite(out))
