"""Glow (Kingma & Dhariwal 2018): 1x1 convolutions, squeeze, and the multi-scale image flow.

The multi-scale log-density of an 8x8x1 image flow is checked against a pass written out by
hand: the two levels applied one at a time, the factored-out half of the first level's
channels kept aside, and ``log p(x) = log N(z_1) + log N(h_2) + log|det f_1'| +
log|det f_2'|`` (the contract table checks the multi-scale log-det, forward and inverse,
against ``slogdet(jax.jacfwd)`` on a 4x4x1 image).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import glow


def perturbed(params, seed, scale=0.2):
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: a + jnp.asarray(scale * rng.standard_normal(a.shape), a.dtype), params)


def normal_log_prob(v):
    return -0.5 * jnp.sum(v ** 2) - 0.5 * v.size * jnp.log(2 * jnp.pi)


def test_an_8x8_image_flow_counts_the_factored_latents_and_samples_consistently():
    shape = (8, 8, 1)
    bijector = flows.multiscale_glow(shape, num_levels=2, num_steps=1, hidden=4)
    flow = flows.Flow(bijector, shape)
    x = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (16,) + shape), jnp.float32)
    params = perturbed(jax.jit(flow.init)(jax.random.key(1), x), 3)

    @jax.jit
    def run(params, x0, key):
        first, second = bijector.levels
        h1, log_det1 = first.forward_and_log_det(params[0], x0)  # (4, 4, 4)
        h2, log_det2 = second.forward_and_log_det(params[1], h1[..., :2])  # (2, 2, 8)
        z1 = h1[..., 2:]
        by_hand = normal_log_prob(z1) + normal_log_prob(h2) + log_det1 + log_det2
        latent = jnp.concatenate([z1.reshape(-1), h2.reshape(-1)])
        samples, log_prob = flow.sample_and_log_prob(params, key, 4)
        direct = jax.vmap(flow.log_prob, in_axes=(None, 0))(params, samples)
        return (flow.log_prob(params, x0), by_hand, bijector.forward(params, x0), latent,
                samples, log_prob, direct)

    log_prob_x, by_hand, z, latent, samples, log_prob, direct = jax.tree.map(
        np.asarray, run(params, x[0], jax.random.key(4)))
    assert bijector.level_shapes(params) == [(4, 4, 4), (2, 2, 8)]
    np.testing.assert_allclose(z, latent, atol=1e-6)  # [z_1 (4x4x2), h_2 (2x2x8)]
    np.testing.assert_allclose(log_prob_x, by_hand, rtol=1e-5)
    # Without the factored half's density log p(x) would be off by log N(z_1).
    assert abs(normal_log_prob(latent[:32])) > 10.0
    assert samples.shape == (4,) + shape and np.all(np.isfinite(samples))
    np.testing.assert_allclose(log_prob, direct, rtol=1e-4, atol=1e-3)


def test_squeeze_moves_each_2x2_patch_into_the_channels():
    x = jnp.arange(32.0).reshape(4, 4, 2)  # x[h, w, c] = 8 h + 2 w + c
    z = flows.Squeeze().forward(None, x)
    assert z.shape == (2, 2, 8)
    # out[i, j, 4 c + 2 a + b] = x[2 i + a, 2 j + b, c]
    expected = [8 * (2 * 1 + a) + 2 * (2 * 0 + b) + c for c in range(2) for a in (0, 1)
                for b in (0, 1)]
    np.testing.assert_array_equal(z[1, 0], expected)
    np.testing.assert_array_equal(flows.Squeeze().inverse(None, z), x)


def test_lu_convolution_starts_orthogonal_and_its_log_det_is_the_sum_of_log_s():
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(4).standard_normal((8, 3, 2, 4)))
        conv = flows.InvertibleConv1x1()
        params = jax.jit(conv.init)(jax.random.key(5), x)
        w0 = np.asarray(conv.weight(params))
        params = perturbed(params, 6)
        w = np.asarray(conv.weight(params))
        log_det = float(conv.forward_and_log_det(params, x[0])[1])
        permuted = np.asarray(flows.InvertibleConv1x1(perm=(3, 1, 0, 2)).weight(params))
    np.testing.assert_allclose(w0 @ w0.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(log_det, 6 * np.linalg.slogdet(w)[1], atol=1e-10)
    np.testing.assert_allclose(permuted, w[[3, 1, 0, 2]])


def test_ebflow_split_of_a_glow_step_leaves_only_the_coupling_x_dependent():
    x = jnp.asarray(np.random.default_rng(7).standard_normal((8, 2, 2, 4)), jnp.float32)
    step = glow.glow_step(hidden=4, conditioner="dense")  # LU conv; lu=False is flows.Dense
    params = perturbed(jax.jit(step.init)(jax.random.key(8), x), 9)
    assert [layer.log_det_depends_on_x for layer in step.layers] == [False, False, True]

    @jax.jit
    def parts(params, x0):
        actnorm, conv, coupling = step.layers
        h, ld_actnorm = actnorm.forward_and_log_det(params[0], x0)
        h, ld_conv = conv.forward_and_log_det(params[1], h)
        _, ld_coupling = coupling.forward_and_log_det(params[2], h)
        return step.forward_and_log_det_parts(params, x0), ld_actnorm + ld_conv, ld_coupling

    (_, dependent, independent), constant, coupling = parts(params, x[0])
    np.testing.assert_allclose(independent, constant, rtol=1e-5)
    np.testing.assert_allclose(dependent, coupling, rtol=1e-5)
    assert abs(float(coupling)) > 1e-3 and abs(float(constant)) > 1e-3


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        flows.multiscale_glow((6, 6, 1), num_levels=2)
    with pytest.raises(ValueError, match="conditioner"):
        flows.ChannelCoupling(conditioner="attention")
    with pytest.raises(ValueError, match="LU form"):
        flows.InvertibleConv1x1(lu=False, perm=(1, 0))
    with pytest.raises(ValueError, match="permute"):
        flows.InvertibleConv1x1(perm=(0, 0))
    with pytest.raises(ValueError, match="even height"):
        flows.Squeeze().forward(None, jnp.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="at least 2 channels"):
        flows.ChannelCoupling().init(jax.random.key(0), jnp.zeros((2, 4, 4, 1)))
