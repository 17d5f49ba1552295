"""Free-form injective flows [P009]: the surrogate against exact log-dets and traces."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.flows import injective

D, d = 5, 2


def _linear(seed=0):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(D, d))
    return g, np.linalg.pinv(g)


def test_surrogate_gradient_equals_exact_log_det_gradient_when_encoder_is_pseudo_inverse():
    """With f = g^+ and d orthogonal probes, grad S = grad 1/2 logdet(G^T G) exactly."""
    with jax.enable_x64(True):
        g0, f0 = _linear()
        x = jnp.asarray(np.random.default_rng(1).normal(size=D))
        probes = injective.latent_probes(jax.random.key(0), d, d, "orthogonal", jnp.float64)

        def surrogate(g):
            return injective.surrogate_from_probes(lambda x: f0 @ x, lambda z: g @ z, x,
                                                   probes)[0]

        exact = jax.grad(lambda g: 0.5 * jnp.linalg.slogdet(g.T @ g)[1])(jnp.asarray(g0))
        np.testing.assert_allclose(jax.grad(surrogate)(jnp.asarray(g0)), exact, atol=1e-10)
        # The closed form: d/dG 1/2 logdet(G^T G) = (G^+)^T.
        np.testing.assert_allclose(exact, f0.T, atol=1e-10)
        # ... and half_log_det_metric is the same log-det.
        np.testing.assert_allclose(injective.half_log_det_metric(lambda z: g0 @ z, jnp.ones(d)),
                                   0.5 * np.linalg.slogdet(g0.T @ g0)[1], atol=1e-10)


def test_hutchinson_trace_is_unbiased_over_all_rademacher_probes():
    """The mean of v^T F G v over all 2^d sign vectors is tr(F G) (not only with f = g^+)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        g, f = rng.normal(size=(D, 3)), rng.normal(size=(3, D))
        probes = jnp.asarray(list(itertools.product([-1.0, 1.0], repeat=3)))
        value = injective.surrogate_from_probes(lambda x: f @ x, lambda z: g @ z,
                                                jnp.ones(D), probes)[0]
        np.testing.assert_allclose(value, np.trace(f @ g), atol=1e-10)
        # Random Gaussian probes: the sample mean is within 5 standard errors of tr(F G).
        keys = jax.random.split(jax.random.key(3), 4000)
        draws = jax.jit(jax.vmap(lambda k: injective.volume_change_surrogate(
            lambda x: f @ x, lambda z: g @ z, jnp.ones(D), k, probe="gaussian")[0]))(keys)
        assert abs(draws.mean() - np.trace(f @ g)) < 5 * draws.std() / np.sqrt(len(keys))


def test_orthogonal_probes_are_isotropic_and_stabilised_objective_differs():
    v = injective.latent_probes(jax.random.key(0), 4, 4)
    np.testing.assert_allclose(v.T @ v / 4, np.eye(4), atol=1e-5)
    # On a curved decoder with an encoder that is not its inverse off the manifold, the
    # encoder Jacobian at x and at x_hat differ, so the two objectives differ.
    enc = lambda x: jnp.tanh(x[:2] + 0.3 * x[2])  # noqa: E731
    dec = lambda z: jnp.stack([z[0], z[1], z[0] * z[1]])  # noqa: E731
    x, probes = jnp.array([0.3, -0.2, 1.0]), injective.latent_probes(jax.random.key(1), 2, 2)
    at_x = injective.surrogate_from_probes(enc, dec, x, probes)[0]
    at_hat = injective.surrogate_from_probes(enc, dec, x, probes,
                                             jacobian_at="reconstruction")[0]
    assert abs(at_x - at_hat) > 1e-3


def test_loss_terms_and_manifold_log_prob_on_linear_flow():
    g0, f0 = _linear()
    enc, dec = (lambda x: jnp.asarray(f0, jnp.float32) @ x,
                lambda z: jnp.asarray(g0, jnp.float32) @ z)
    x = jnp.asarray(g0 @ np.array([0.5, -1.0]), jnp.float32)  # on the manifold
    loss, m = injective.injective_flow_loss(enc, dec, x, jax.random.key(0), beta=10.0,
                                            num_probes=2)
    assert float(m["reconstruction"]) < 1e-9
    np.testing.assert_allclose(m["surrogate"], d, rtol=1e-5)  # tr(G^+ G) = d
    np.testing.assert_allclose(m["latent_nll"], 0.5 * 1.25 + np.log(2 * np.pi), rtol=1e-5)
    expected = -m["latent_nll"] - 0.5 * np.linalg.slogdet(g0.T @ g0)[1]
    np.testing.assert_allclose(injective.manifold_log_prob(enc, dec, x), expected, rtol=1e-5)


def test_principal_angles_and_bad_inputs():
    a = np.eye(4)[:, :2]
    np.testing.assert_allclose(injective.principal_angles(a, a @ np.array([[2, 1], [0, 1]])),
                               0.0, atol=1e-3)
    np.testing.assert_allclose(injective.principal_angles(a, np.eye(4)[:, 2:]), np.pi / 2,
                               atol=1e-6)
    with pytest.raises(ValueError, match="probe"):
        injective.latent_probes(jax.random.key(0), 2, 1, "sphere")
    with pytest.raises(ValueError, match="num_probes"):
        injective.latent_probes(jax.random.key(0), 2, 3)
    with pytest.raises(ValueError, match="jacobian_at"):
        injective.surrogate_from_probes(lambda x: x[:1], lambda z: jnp.tile(z, 2),
                                        jnp.ones(2), jnp.ones((1, 1)), jacobian_at="z")
