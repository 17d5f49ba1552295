"""EDM noise levels, preconditioning, loss and Heun sampler against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.continuous_time import edm

MU, S, SIGMA_DATA = 1.5, 0.5, 0.5


def test_karras_sigmas_match_the_formula_and_span_the_range():
    sigmas = np.asarray(edm.karras_sigmas(5, 0.002, 80.0, 7.0))
    lo, hi = 0.002 ** (1 / 7), 80.0 ** (1 / 7)
    np.testing.assert_allclose(sigmas, [(lo + i / 4 * (hi - lo)) ** 7 for i in range(5)],
                               rtol=1e-5)
    assert np.all(np.diff(sigmas) > 0)
    padded = np.asarray(edm.karras_sigmas(jnp.int32(5), 0.002, 80.0, 7.0, size=8))
    np.testing.assert_allclose(padded[:5], sigmas, rtol=1e-6)


def test_consistency_preconditioning_is_the_identity_at_sigma_min():
    c_skip, c_out, _, _ = edm.preconditioning(0.002, SIGMA_DATA, sigma_min=0.002)
    assert float(c_skip) == 1.0 and float(c_out) == 0.0
    c_skip, c_out, c_in, c_noise = edm.preconditioning(1.0, SIGMA_DATA)
    np.testing.assert_allclose([c_skip, c_out, c_in, c_noise],
                               [0.25 / 1.25, 0.5 / np.sqrt(1.25), 1 / np.sqrt(1.25), 0.0],
                               rtol=1e-6)


def exact_gaussian_net(c_noise, x_in):
    """The F for which D(x, sigma) is the optimal denoiser of N(MU, S^2) data."""
    sigma = jnp.exp(4.0 * c_noise)
    c_skip, c_out, c_in, _ = edm.preconditioning(sigma, SIGMA_DATA)
    x = x_in / c_in
    optimal = MU + S**2 / (S**2 + sigma**2) * (x - MU)
    return (optimal - c_skip * x) / c_out


def test_heun_sampler_with_the_optimal_denoiser_solves_the_probability_flow_ode():
    """For N(MU, S^2) data the ODE maps x(sigma_max) to MU + (x - MU) S / sqrt(S^2 + sigma^2)."""
    noise = jax.random.normal(jax.random.key(0), (4000, 1))
    exact = MU + (80.0 * noise - MU) * S / np.sqrt(S**2 + 80.0**2)

    def sample(num_steps):
        return jax.jit(jax.vmap(lambda z: edm.heun_sample(
            exact_gaussian_net, z, num_steps=num_steps, sigma_data=SIGMA_DATA)))(noise)

    errors = [float(jnp.max(jnp.abs(sample(n) - exact))) for n in (18, 100)]
    assert errors[1] < 0.02 and errors[1] < errors[0] / 4  # second order: 5.6x steps
    # The samples then have the data's statistics (up to the finite sample of noise).
    assert abs(float(sample(100).mean()) - MU) < 0.03
    assert abs(float(sample(100).std()) - S) < 0.02


def test_denoising_loss_is_the_weighted_squared_error_at_a_lognormal_sigma():
    key = jax.random.key(3)
    x = jnp.array([0.2, -0.4, 1.0])
    net = lambda c_noise, x_in: jnp.tanh(x_in) * (1.0 + c_noise)  # noqa: E731
    loss = edm.denoising_loss(net, x, key, sigma_data=SIGMA_DATA, p_mean=-1.2, p_std=1.2)
    sigma_key, noise_key = jax.random.split(key)
    sigma = np.exp(-1.2 + 1.2 * float(jax.random.normal(sigma_key, ())))
    noisy = np.asarray(x) + sigma * np.asarray(jax.random.normal(noise_key, (3,)))
    c_skip = SIGMA_DATA**2 / (sigma**2 + SIGMA_DATA**2)
    c_out = sigma * SIGMA_DATA / np.sqrt(sigma**2 + SIGMA_DATA**2)
    c_in = 1 / np.sqrt(sigma**2 + SIGMA_DATA**2)
    denoised = c_skip * noisy + c_out * np.tanh(c_in * noisy) * (1 + 0.25 * np.log(sigma))
    expected = np.mean((denoised - np.asarray(x)) ** 2) / c_out**2
    np.testing.assert_allclose(float(loss), expected, rtol=1e-4)


def test_one_level_is_sigma_max_and_one_heun_step_is_one_euler_step_to_zero():
    np.testing.assert_allclose(edm.karras_sigmas(1), [80.0], rtol=1e-6)
    z = jnp.array([0.7])
    sample = edm.heun_sample(exact_gaussian_net, z, num_steps=1, sigma_data=SIGMA_DATA)
    np.testing.assert_allclose(sample, edm.denoise(exact_gaussian_net, 80.0 * z, 80.0,
                                                   SIGMA_DATA), rtol=1e-5)
