"""iCT's loss pieces against closed forms, and a Gaussian whose consistency map is known."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import special

from likelihood_jax.continuous_time import consistency, edm
from likelihood_jax.models.time_mlp import TimeMLP

MU, S = 1.0, 0.5


def test_curriculum_doubles_the_levels_at_equal_intervals():
    levels = [int(consistency.num_noise_levels(k, 8000)) for k in (0, 999, 1000, 3000, 7000,
                                                                   7999)]
    assert levels == [11, 11, 21, 81, 1281, 1281]
    assert int(jax.jit(consistency.num_noise_levels, static_argnums=1)(jnp.int32(2500),
                                                                       8000)) == 41
    with pytest.raises(ValueError, match="total_steps"):
        consistency.num_noise_levels(0, 0)


def test_level_probabilities_are_lognormal_masses_of_the_intervals():
    sigmas = edm.karras_sigmas(jnp.int32(11), size=21)
    probs = np.asarray(consistency.noise_level_probabilities(sigmas, 11, -1.1, 2.0))
    cdf = special.erf((np.log(np.asarray(sigmas[:11], np.float64)) + 1.1) / (np.sqrt(2) * 2))
    expected = np.diff(cdf) / np.sum(np.diff(cdf))
    np.testing.assert_allclose(probs[:10], expected, rtol=1e-4, atol=1e-7)
    assert np.all(probs[10:] == 0) and abs(probs.sum() - 1) < 1e-6


def test_pseudo_huber_is_quadratic_near_zero_and_linear_far_away():
    c = 0.03
    zero = jnp.zeros(4)
    assert float(consistency.pseudo_huber(zero, zero, c)) == 0.0
    small = jnp.full(4, 1e-3)
    np.testing.assert_allclose(consistency.pseudo_huber(small, zero, c), 4e-6 / (2 * c),
                               rtol=1e-2)
    large = jnp.full(4, 10.0)
    np.testing.assert_allclose(consistency.pseudo_huber(large, zero, c), 20.0 - c, rtol=1e-5)
    assert abs(consistency.default_huber_c(3072) - 0.0299) < 1e-4


def exact_consistency_net(sigma_data, sigma_min):
    """The F whose consistency function is f*(x, s) = MU + (x - MU) S / sqrt(S^2 + s^2)."""
    def net(c_noise, x_in):
        sigma = jnp.exp(4.0 * c_noise)
        c_skip, c_out, c_in, _ = edm.preconditioning(sigma, sigma_data, sigma_min)
        x = x_in / c_in
        exact = MU + (x - MU) * S / jnp.sqrt(S**2 + sigma**2)
        return (exact - c_skip * x) / c_out
    return net


def test_boundary_condition_holds_exactly_for_any_network():
    net = lambda c_noise, x_in: 100.0 * jnp.sin(x_in) + c_noise  # noqa: E731
    x = jnp.array([0.3, -2.0])
    out = consistency.consistency_function(net, x, 0.002, sigma_data=0.5, sigma_min=0.002)
    np.testing.assert_array_equal(out, x)


def test_one_step_sampling_with_the_exact_map_gives_the_data_distribution():
    net = exact_consistency_net(0.5, 0.002)
    noise = jax.random.normal(jax.random.key(0), (40000, 1))
    one = jax.vmap(lambda z: consistency.multistep_sample(
        net, z, jax.random.key(1), (80.0,), sigma_data=0.5))(noise)
    two = jax.vmap(lambda z, k: consistency.multistep_sample(
        net, z, k, (80.0, 0.821), sigma_data=0.5))(noise, jax.random.split(jax.random.key(2),
                                                                          40000))
    for samples in (one, two):
        assert abs(float(samples.mean()) - MU) < 0.02
        assert abs(float(samples.std()) - S) < 0.01
    with pytest.raises(ValueError, match="decreasing"):
        consistency.multistep_sample(net, noise[0], jax.random.key(0), (0.5, 80.0),
                                     sigma_data=0.5)


def train_consistency_on_a_gaussian(seed: int, total: int, s1: int = 40):
    """CT alone (no teacher) on N(MU, S^2) in 1D, sigma_max = 10; the one-step W2 before/after.

    ``total`` steps of 256 examples (one ``lax.scan``), Adam with a cosine-decayed learning
    rate (1e-3 -> 0), the doubling curriculum from 10 to ``s1`` levels. ``W2`` is that of
    the moment-matched Gaussians: ``hypot(mean - MU, std - S)`` of 20000 one-step samples
    ``f(sigma_max z, sigma_max)``. Returns ``(w2_before, (mean, std) after)``.
    """
    model = TimeMLP((64, 64), out_dim=1, activation="silu", time_embedding="fourier",
                    max_frequency=2.0)
    params = model.init(jax.random.key(seed), jnp.zeros(()), jnp.zeros((1,)))
    sigma_max = 10.0
    optimizer = optax.adam(optax.cosine_decay_schedule(1e-3, total))
    opt_state = optimizer.init(params)
    base = jax.random.key(1000 + seed)

    @jax.jit
    def moments(params):
        net = lambda c, x_in: model.apply(params, c, x_in)  # noqa: E731
        noise = jax.random.normal(jax.random.fold_in(base, 10**6), (20000, 1))
        samples = jax.vmap(lambda z: consistency.multistep_sample(
            net, z, jax.random.key(0), (sigma_max,), sigma_data=S))(noise)
        return samples.mean(), samples.std()

    def one_step_moments(params):
        return tuple(float(m) for m in moments(params))

    def step(carry, k):
        params, opt_state = carry
        data_key, loss_key = jax.random.split(jax.random.fold_in(base, k))
        x = MU + S * jax.random.normal(data_key, (256, 1))
        levels = consistency.num_noise_levels(k, total, 10, s1)

        def loss(p):
            net = lambda c, x_in: model.apply(p, c, x_in)  # noqa: E731
            return jnp.mean(jax.vmap(lambda xi, ki: consistency.consistency_training_loss(
                net, xi, ki, levels, sigma_data=S, sigma_max=sigma_max, max_levels=s1 + 1))(
                    x, jax.random.split(loss_key, 256)))

        grads = jax.grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), None

    before = w2_to_data(one_step_moments(params))
    train = jax.jit(lambda carry: jax.lax.scan(step, carry, jnp.arange(total))[0])
    params, _ = train((params, opt_state))
    return before, one_step_moments(params)


def w2_to_data(moments) -> float:
    """W2 between N(mean, std^2) and the data's N(MU, S^2)."""
    return float(np.hypot(moments[0] - MU, moments[1] - S))


# Measured over seeds 0-7 (this file's helper, cosine-decayed Adam 1e-3; CPU, XLA defaults;
# seeds 0-4 at the tests' XLA optimization level 0 agree within 0.011):
#   3000 steps: W2 0.116-0.163, mean error -0.066 to -0.011, W2 at init 0.94-1.17;
#   1000 steps: W2 0.290-0.433 (at most 0.39 of the W2 at init), mean error -0.35 to -0.14.
# The thresholds below leave a margin of about 1.5x over the worst seed. (With a constant
# learning rate, 3000 steps reached W2 0.057-0.331 and mean errors down to -0.232 over the
# same seeds: the final iterate was too noisy for any fixed threshold.)


def test_consistency_training_on_a_gaussian_moves_one_step_samples_to_the_data():
    """The default tier's short run (1000 steps): one-step W2 falls well below its init."""
    before, after = train_consistency_on_a_gaussian(0, 1000)
    assert before > 0.8
    assert w2_to_data(after) < 0.6, after
    assert w2_to_data(after) < 0.6 * before, (before, after)


@pytest.mark.nightly
@pytest.mark.parametrize("seed", range(5))
def test_consistency_training_on_a_gaussian_learns_one_step_sampling(seed):
    """CT alone (no teacher) turns N(0, sigma_max^2) noise into N(MU, S^2) in one step.

    A small-scale check (1D, sigma_max = 10, s1 = 40, 3000 steps): the one-step samples'
    moments approach the data's (W2 of the moment-matched Gaussians ~1 at initialization,
    where f(x, sigma_max) is nearly 0).
    """
    before, after = train_consistency_on_a_gaussian(seed, 3000)
    assert before > 0.8
    assert w2_to_data(after) < 0.25, after
    assert abs(after[0] - MU) < 0.1, after
