"""GAN losses against closed forms [P072]: D* for two 1D Gaussians, V(D*, G) and the JSD.

The optimal discriminator between ``p_data = N(1, 0.5^2)`` and ``p_g = N(-0.5, 1)`` has the
logit ``log p_data - log p_g``, a quadratic in ``x``: a discriminator that is logistic in
``(1, x, x^2)`` and trained by optax on samples must recover it. The value at ``D*`` is
compared with ``-log 4 + 2 JSD`` where the JSD comes from scipy on a fine grid.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats
from scipy.spatial import distance

from likelihood_jax.energy import gan

DATA, MODEL = (1.0, 0.5), (-0.5, 1.0)  # (mean, std) of p_data and p_g


def log_normal(x, mean, std):
    return stats.norm.logpdf(np.asarray(x, np.float64), mean, std)


def test_trained_logistic_discriminator_matches_the_optimal_one():
    key_data, key_fake = jax.random.split(jax.random.key(0))
    real = DATA[0] + DATA[1] * jax.random.normal(key_data, (4000,))
    fake = MODEL[0] + MODEL[1] * jax.random.normal(key_fake, (4000,))
    features = lambda x: jnp.stack([jnp.ones_like(x), x, x * x], axis=-1)  # noqa: E731

    def loss(w):
        return jnp.mean(gan.discriminator_loss(features(real) @ w, features(fake) @ w))

    opt = optax.adam(0.05)

    def step(carry, _):
        w, state = carry
        updates, state = opt.update(jax.grad(loss)(w), state)
        return (optax.apply_updates(w, updates), state), None

    w0 = jnp.zeros(3)
    (w, _), _ = jax.jit(lambda w: jax.lax.scan(step, (w, opt.init(w)), length=1500))(w0)
    grid = np.linspace(-1.5, 2.0, 36)  # where both densities have mass
    trained = jax.nn.sigmoid(features(jnp.asarray(grid, jnp.float32)) @ w)
    optimal = gan.optimal_discriminator(log_normal(grid, *DATA), log_normal(grid, *MODEL))
    np.testing.assert_allclose(trained, optimal, atol=0.04)
    # The closed-form logit is quadratic: 1/(2 s_g^2) - 1/(2 s_d^2) in front of x^2.
    assert float(w[2]) == pytest.approx(0.5 / MODEL[1] ** 2 - 0.5 / DATA[1] ** 2, abs=0.2)


def test_value_at_the_optimal_discriminator_is_minus_log4_plus_twice_the_jsd():
    grid = np.linspace(-8.0, 8.0, 20001)
    log_p, log_q = log_normal(grid, *DATA), log_normal(grid, *MODEL)
    p, q = np.exp(log_p), np.exp(log_q)
    with jax.enable_x64(True):
        d_star = np.asarray(gan.optimal_discriminator(log_p, log_q))
    value = np.trapezoid(p * np.log(d_star) + q * np.log1p(-d_star), grid)
    jsd = distance.jensenshannon(p, q) ** 2  # scipy: natural log, normalizes p and q itself
    assert value == pytest.approx(float(gan.value_from_jensen_shannon(jsd)), abs=1e-6)
    assert float(gan.jensen_shannon_from_value(value)) == pytest.approx(jsd, abs=1e-6)
    assert 0.0 < jsd < math.log(2.0)
    # The Monte-Carlo value of the same discriminator on samples agrees.
    rng = np.random.default_rng(0)
    xs_p, xs_q = rng.normal(*DATA, 100_000), rng.normal(*MODEL, 100_000)
    logit = lambda x: gan.optimal_discriminator_logit(  # noqa: E731
        log_normal(x, *DATA).astype(np.float32), log_normal(x, *MODEL).astype(np.float32))
    assert float(gan.gan_value(logit(xs_p), logit(xs_q))) == pytest.approx(value, abs=0.01)


def test_the_global_optimum_p_g_equal_p_data_has_value_minus_log4():
    x = np.random.default_rng(1).normal(*DATA, 1000).astype(np.float32)
    log_p = log_normal(x, *DATA).astype(np.float32)
    logit = gan.optimal_discriminator_logit(log_p, log_p)
    np.testing.assert_array_equal(gan.optimal_discriminator(log_p, log_p), 0.5)
    assert float(gan.gan_value(logit, logit)) == pytest.approx(-math.log(4.0), abs=1e-6)
    assert float(gan.jensen_shannon_from_value(gan.gan_value(logit, logit))) == pytest.approx(
        0.0, abs=1e-6)
    # The discriminator's loss there is -V = log 4 per pair.
    np.testing.assert_allclose(gan.discriminator_loss(logit, logit), math.log(4.0), rtol=1e-6)


def test_losses_match_their_log_forms_and_the_generator_losses_their_gradients():
    d = np.array([-3.0, -0.5, 0.0, 1.5], np.float32)
    s = 1.0 / (1.0 + np.exp(-d.astype(np.float64)))
    np.testing.assert_allclose(gan.discriminator_loss(d, d[::-1]),
                               -np.log(s) - np.log1p(-s[::-1]), rtol=1e-5)
    np.testing.assert_allclose(gan.minimax_generator_loss(d), np.log1p(-s), rtol=1e-5)
    np.testing.assert_allclose(gan.non_saturating_generator_loss(d), -np.log(s), rtol=1e-5)
    # Where D rejects a sample (logit -10) the minimax loss saturates, the other does not.
    minimax = jax.grad(gan.minimax_generator_loss)(-10.0)
    saturating_free = jax.grad(gan.non_saturating_generator_loss)(-10.0)
    assert abs(float(minimax)) < 1e-4 and float(saturating_free) == pytest.approx(-1.0, abs=1e-4)


def test_bad_logits_are_refused_with_one_line():
    with pytest.raises(ValueError, match="real_logit must be a floating-point array"):
        gan.discriminator_loss(np.array([1, 2]), np.zeros(2))
    with pytest.raises(ValueError, match="shapes that broadcast"):
        gan.discriminator_loss(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="log_p_g"):
        gan.optimal_discriminator_logit(np.zeros(3), np.zeros(4))
