"""continuous_time.bridges: bridge marginals, the Dirac-endpoint mixture, GruM's loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.continuous_time import bridges

BRIDGES = [bridges.Bridge("ou", sigma_0=0.4, sigma_1=0.2, drift_coeff=1.0),
           bridges.Bridge("ou", sigma_0=1.0, sigma_1=1.0, drift_coeff=4.0),
           bridges.Bridge("brownian", sigma_0=0.8, sigma_1=0.5)]


@pytest.mark.parametrize("bridge", BRIDGES, ids=["ou_grum", "ou_strong", "brownian"])
def test_bridge_marginal_matches_closed_form_by_monte_carlo(bridge):
    """EM simulation of the bridge SDE from fixed z0 and from the prior vs the formulas."""
    n, x, t = 20000, 1.5, 0.6
    z0 = jnp.full((n,), 0.3)
    z = bridges.simulate_bridge(bridge, x, z0, jax.random.key(0), num_steps=600, t_end=t)
    c0, c1, s = bridge.marginal(t)
    want = float(c0 * 0.3 + c1 * x)
    assert float(jnp.mean(z)) == pytest.approx(want, abs=4 * float(s) / n**0.5 + 2e-3)
    assert float(jnp.std(z)) == pytest.approx(float(s), rel=0.03)
    # With z0 ~ N(0, 1): the endpoint marginal N(c1 x, c0^2 + s^2).
    z0 = jax.random.normal(jax.random.key(1), (n,))
    z = bridges.simulate_bridge(bridge, x, z0, jax.random.key(2), num_steps=600, t_end=t)
    mean, std = bridge.endpoint_marginal(t)
    assert float(jnp.mean(z)) == pytest.approx(float(mean * x), abs=4 * float(std) / n**0.5 + 2e-3)
    assert float(jnp.std(z)) == pytest.approx(float(std), rel=0.03)
    # The bridge ends at x.
    z1 = bridges.simulate_bridge(bridge, x, z0[:2000], jax.random.key(3), num_steps=600)
    assert float(jnp.mean(jnp.abs(z1 - x))) < 0.05


def test_marginal_endpoints_and_reference_transition():
    bridge = BRIDGES[0]
    c0, c1, s = bridge.marginal(0.0)
    assert (float(c0), float(c1), float(s)) == pytest.approx((1.0, 0.0, 0.0), abs=1e-7)
    c0, c1, s = bridge.marginal(1.0)
    assert (float(c0), float(c1), float(s)) == pytest.approx((0.0, 1.0, 0.0), abs=1e-6)
    # Reference OU transition from t to 1 by Monte Carlo of dZ = -k s^2 Z dt + s dW.
    t, z_start, n, steps = 0.3, 2.0, 20000, 400
    h = (1 - t) / steps

    def step(z, inputs):
        i, k = inputs
        u = t + i * h
        noise = jax.random.normal(k, z.shape)
        return z + bridge.reference_drift(u, z) * h + bridge.diffusion(u) * h**0.5 * noise, None

    keys = jax.random.split(jax.random.key(4), steps)
    z, _ = jax.lax.scan(step, jnp.full((n,), z_start),
                        (jnp.arange(steps, dtype=jnp.float32), keys))
    a, v = bridge.transition_to_end(t)
    assert float(jnp.mean(z)) == pytest.approx(float(a * z_start), abs=5e-3)
    assert float(jnp.var(z)) == pytest.approx(float(v), rel=0.03)


@pytest.mark.parametrize("bridge", [BRIDGES[0], BRIDGES[2]], ids=["ou_grum", "brownian"])
def test_posterior_mean_drift_transports_the_prior_onto_weighted_diracs(bridge):
    """Plugging the analytic E[X | Z_t] into the mixture drift samples the endpoints."""
    endpoints = jnp.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    weights = np.array([0.5, 0.3, 0.2])
    log_w = jnp.log(jnp.asarray(weights))

    def predict(t, z):
        return bridges.dirac_posterior_mean(bridge, endpoints, log_w, t, z)

    n = 4000
    z0 = jax.random.normal(jax.random.key(0), (n, 2))
    keys = jax.random.split(jax.random.key(1), n)
    sim = jax.jit(jax.vmap(lambda z, k: bridges.simulate(bridge, predict, z, k, num_steps=200)))
    z1 = np.asarray(sim(z0, keys))
    dist = np.linalg.norm(z1[:, None, :] - np.asarray(endpoints)[None], axis=-1)
    assert np.max(dist.min(1)) < 0.1
    frac = np.bincount(dist.argmin(1), minlength=3) / n
    np.testing.assert_allclose(frac, weights, atol=4 * np.sqrt(0.25 / n))


def test_mixture_marginal_at_intermediate_time_is_the_mixture_of_bridge_marginals():
    """Mean and variance of Z_t under the simulated mixture vs sum_m w_m N(c1 x_m, std^2)."""
    bridge = BRIDGES[2]
    endpoints = jnp.array([[-1.0], [3.0]])
    weights = jnp.array([0.25, 0.75])

    def predict(t, z):
        return bridges.dirac_posterior_mean(bridge, endpoints, jnp.log(weights), t, z)

    n, t = 20000, 0.5
    drift = bridges.mixture_drift(bridge, predict)
    steps = 250
    h = t / steps

    def one(z, key):
        def step(z, inputs):
            i, k = inputs
            u = i * h
            return (z + drift(u, z) * h
                    + bridge.diffusion(u) * h**0.5 * jax.random.normal(k, z.shape)), None
        z, _ = jax.lax.scan(step, z, (jnp.arange(steps, dtype=jnp.float32),
                                      jax.random.split(key, steps)))
        return z

    z0 = jax.random.normal(jax.random.key(5), (n, 1))
    z = jax.jit(jax.vmap(one))(z0, jax.random.split(jax.random.key(6), n))
    c1, std = bridge.endpoint_marginal(t)
    mean = float(jnp.sum(weights * c1 * endpoints[:, 0]))
    second = float(jnp.sum(weights * ((c1 * endpoints[:, 0]) ** 2 + std**2)))
    assert float(jnp.mean(z)) == pytest.approx(mean, abs=0.03)
    assert float(jnp.var(z)) == pytest.approx(second - mean**2, rel=0.04)


def test_bridge_weight_is_the_path_kl_integrand():
    """|eta(z; D) - eta(z; x)|^2 / (2 sigma_t^2) = w_t^2 |D - x|^2 / 2 for the loss weight."""
    for bridge in BRIDGES:
        z, x, d = jnp.array([0.4, -1.0]), jnp.array([1.0, 0.0]), jnp.array([0.2, 0.5])
        for t in (0.1, 0.5, 0.9):
            lhs = jnp.sum((bridge.bridge_drift(t, z, d) - bridge.bridge_drift(t, z, x)) ** 2)
            lhs = lhs / (2 * bridge.variance(t))
            rhs = 0.5 * bridge.loss_weight(t) ** 2 * jnp.sum((d - x) ** 2)
            np.testing.assert_allclose(lhs, rhs, rtol=1e-5)


def test_loss_is_zero_for_the_true_endpoint_and_masks_entries():
    bridge = BRIDGES[0]
    x = jnp.array([1.0, -1.0, 0.5])
    key = jax.random.key(0)
    for weighting in bridges.WEIGHTINGS:
        loss, _ = bridges.bridge_regression_loss(bridge, lambda t, z: x, x, key,
                                                 weighting=weighting)
        assert float(loss) == 0.0
    # Predicting z itself: the loss is |z - x|^2 / 2 with z from the endpoint marginal.
    loss, t = bridges.bridge_regression_loss(bridge, lambda t, z: z, x, key)
    _, z_key = jax.random.split(key)
    c1, std = bridge.endpoint_marginal(t)
    z = c1 * x + std * jax.random.normal(z_key, x.shape)
    np.testing.assert_allclose(loss, 0.5 * jnp.sum((z - x) ** 2), rtol=1e-5)
    mask = jnp.array([1.0, 0.0, 1.0])
    masked, _ = bridges.bridge_regression_loss(bridge, lambda t, z: z, x, key, mask=mask)
    np.testing.assert_allclose(masked, 0.5 * jnp.sum(mask * (z - x) ** 2), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown weighting"):
        bridges.bridge_regression_loss(bridge, lambda t, z: z, x, key, weighting="snr")
    with pytest.raises(ValueError, match="unknown bridge kind"):
        bridges.Bridge("vp")
