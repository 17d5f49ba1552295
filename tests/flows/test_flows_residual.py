"""Residual flows (Behrmann et al. 2019; Chen et al. 2019): log-det series, estimators, inverse.

The block under test has aligned weights (``10 I`` plus noise, so spectral normalization binds
and ``||J|| ~ 0.64``, well away from 0) and biases that put LipSwish near its steepest slope.
The exact value is ``slogdet(I + jacfwd(g))``; the Monte Carlo checks use fixed keys and
allow four standard errors.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import residual

LIPSCHITZ = 0.9


def aligned_block(dtype=jnp.float64):
    """A 3-d block with ``Lip(g) <= 0.81`` and a Jacobian of norm ~0.64 at ``X0``."""
    rng = np.random.default_rng(0)
    block = flows.ResidualBlock((3,), LIPSCHITZ)
    params = [{"w": jnp.asarray(10 * np.eye(3) + 2 * rng.standard_normal((3, 3)), dtype),
               "b": jnp.full((3,), 2.0, dtype)} for _ in range(2)]
    return block, params, jnp.asarray(rng.standard_normal(3), dtype)


@pytest.fixture(scope="module")
def exact():
    """``(block, params, x0, g, log det(I + J), ||J||_2)`` in float64."""
    with jax.enable_x64(True):
        block, params, x0 = aligned_block()
        g = block.residual(params)
        jac = jax.jacfwd(g)(x0)
        log_det = jnp.linalg.slogdet(jnp.eye(3) + jac)[1]
        return block, params, x0, g, float(log_det), float(jnp.linalg.norm(jac, 2))


def test_truncated_series_with_exact_traces_converges_to_slogdet(exact):
    _, _, x0, g, log_det, norm = exact
    with jax.enable_x64(True):
        terms = (1, 2, 4, 8, 16, 32)
        series = jax.jit(lambda x: jnp.stack([residual.power_series_log_det(g, x, num_terms=n)[1]
                                              for n in terms]))(x0)
        errors = np.abs(np.asarray(series) - log_det)
    assert errors[0] > 0.1  # the first term alone is far off: the test can fail
    assert np.all(np.diff(errors) < 0)
    assert errors[-1] < 1e-7
    # |remainder| <= D sum_{k>n} ||J||^k / k <= D ||J||^(n+1) / ((n + 1)(1 - ||J||)).
    bound = [3 * norm ** (n + 1) / ((n + 1) * (1 - norm)) for n in terms]
    np.testing.assert_array_less(errors, bound)


def test_hutchinson_series_is_unbiased_for_the_truncated_series(exact):
    _, _, x0, g, _, _ = exact
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(5), 2000)
        estimates = np.asarray(jax.jit(jax.vmap(
            lambda k: residual.power_series_log_det(g, x0, k, num_terms=8)[1]))(keys))
        target = float(residual.power_series_log_det(g, x0, num_terms=8)[1])
    standard_error = np.std(estimates) / np.sqrt(len(keys))
    assert np.std(estimates) > 0.01  # a stochastic estimate, not the exact traces
    assert abs(np.mean(estimates) - target) < 4 * standard_error


def test_russian_roulette_expectation_is_the_exact_log_det(exact):
    _, _, x0, g, log_det, _ = exact
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(6), 2000)
        estimates = np.asarray(jax.jit(jax.vmap(
            lambda k: residual.russian_roulette_log_det(g, x0, k)[1]))(keys))
        two_terms = float(residual.power_series_log_det(g, x0, num_terms=2)[1])
    standard_error = np.std(estimates) / np.sqrt(len(keys))
    assert standard_error < 0.01 * abs(log_det)
    assert abs(np.mean(estimates) - log_det) < 4 * standard_error
    # Truncated after the two exact terms the series is biased by 0.1 (previous test):
    # the roulette's extra terms are what removes it.
    assert abs(two_terms - log_det) > 8 * standard_error


def test_chain_estimate_agrees_with_the_exact_log_det(exact):
    block, params, x0, _, _, _ = exact
    with jax.enable_x64(True):
        chain = flows.Chain([flows.ActNorm(), block])
        actnorm = {"loc": jnp.full((3,), 0.5), "log_scale": jnp.array([0.1, -0.2, 0.3])}
        chain_params = (actnorm, params)

        @jax.jit
        def run(keys):
            z_exact, exact_chain = chain.forward_and_log_det(chain_params, x0)
            h = (x0 - 0.5) * jnp.exp(-actnorm["log_scale"])
            jac = jax.jacfwd(block.residual(params))(h)
            by_hand = jnp.linalg.slogdet(jnp.eye(3) + jac)[1] - 0.2
            z, estimates = jax.vmap(lambda k: residual.forward_and_log_det_estimate(
                chain, chain_params, x0, k, estimator="series", num_terms=32))(keys)
            return z_exact, exact_chain, by_hand, z, estimates

        keys = jax.random.split(jax.random.key(7), 1000)
        z_exact, exact_chain, by_hand, z, estimates = jax.tree.map(np.asarray, run(keys))
    np.testing.assert_allclose(z, np.broadcast_to(z_exact, z.shape), atol=1e-12)
    np.testing.assert_allclose(exact_chain, by_hand, atol=1e-12)  # ActNorm's log-det: -0.2
    assert abs(np.mean(estimates) - exact_chain) < 4 * np.std(estimates) / np.sqrt(len(keys))


def test_inverse_by_fixed_point_iteration_in_float32():
    block, params, _ = aligned_block(jnp.float32)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((16, 3)) * 3, jnp.float32)

    @jax.jit
    def round_trip(x):
        z = jax.vmap(block.forward, in_axes=(None, 0))(params, x)
        return jax.vmap(block.inverse, in_axes=(None, 0))(params, z), z

    back, z = round_trip(x)
    assert np.max(np.abs(z - x)) > 0.5  # the block moves the points
    np.testing.assert_allclose(back, x, atol=1e-5)  # 2.1e-6 measured on 256 points


def test_spectral_normalization_makes_every_block_contractive():
    rng = np.random.default_rng(2)
    block = flows.ResidualBlock((8, 8), LIPSCHITZ)

    @jax.jit
    def normalized(params, points):
        jac_norm = lambda v: jnp.linalg.norm(jax.jacfwd(block.residual(params))(v), 2)  # noqa: E731
        return block.weights(params), block.lipschitz_bound(params), jax.vmap(jac_norm)(points)

    for scale in (0.05, 1.0, 30.0):
        params = [{"w": jnp.asarray(scale * rng.standard_normal(shape), jnp.float32),
                   "b": jnp.asarray(rng.standard_normal(shape[0]), jnp.float32)}
                  for shape in ((8, 4), (8, 8), (4, 8))]
        points = jnp.asarray(rng.standard_normal((32, 4)) * 3, jnp.float32)
        weights, bound, jac_norms = normalized(params, points)
        norms = [np.linalg.norm(np.asarray(w), 2) for w in weights]
        raw = [np.linalg.norm(np.asarray(p["w"]), 2) for p in params]
        # Rescaled to the bound when above it (power iteration within 0.1%), else unchanged.
        np.testing.assert_allclose(norms, np.minimum(raw, LIPSCHITZ), rtol=1e-3)
        assert bound < LIPSCHITZ ** 3 * 1.003
        assert np.max(jac_norms) <= bound


def test_bad_arguments_are_refused():
    g, x = jnp.tanh, jnp.zeros(2)
    with pytest.raises(ValueError, match="lipschitz"):
        flows.ResidualBlock(lipschitz=1.0)
    with pytest.raises(ValueError, match="num_terms"):
        residual.power_series_log_det(g, x, num_terms=0)
    with pytest.raises(ValueError, match="continue_prob"):
        residual.russian_roulette_log_det(g, x, jax.random.key(0), continue_prob=1.0)
    with pytest.raises(ValueError, match="max_terms"):
        residual.russian_roulette_log_det(g, x, jax.random.key(0), num_exact_terms=4,
                                          max_terms=3)
    block, params, x0 = aligned_block(jnp.float32)
    with pytest.raises(ValueError, match="estimator"):
        block.forward_and_log_det_estimate(params, x0, jax.random.key(0), estimator="exact")
    with pytest.raises(ValueError, match="batch of vectors"):
        flows.ResidualBlock().init(jax.random.key(0), jnp.zeros((2, 2, 2)))
