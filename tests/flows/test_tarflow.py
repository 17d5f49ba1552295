"""TarFlow [P008]: log-dets against slogdet(jacfwd), the KV-cache inverse, causal Jacobians."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows.tarflow import patchify, unpatchify


def _perturbed(params, seed, scale=0.3):
    """Random parameters around ``params`` (the zero heads would make every block the identity)."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(tree, [p + scale * jax.random.normal(k, p.shape)
                                     for p, k in zip(leaves, keys)])


@pytest.fixture(scope="module")
def image_flow():
    """TarFlow on 4x4 images (D = 16) with 2x2 patches: T = 4 positions of C = 4 values."""
    body = flows.transformer_autoregressive_flow((4, 4, 1), patch_size=2, num_blocks=2,
                                                 width=8, num_layers=1, num_heads=2,
                                                 mlp_ratio=2)
    x = jax.random.normal(jax.random.key(0), (8, 16))
    params = _perturbed(jax.jit(body.init)(jax.random.key(1), x), 2)
    return body, params, x


def test_log_det_is_slogdet_of_jacobian_and_inverse_recovers_x(image_flow):
    body, params, x = image_flow

    @jax.jit
    def check(v):
        z, log_det = body.forward_and_log_det(params, v)
        jacobian = jax.jacfwd(lambda u: body.forward(params, u).reshape(-1))(v)
        back, inverse_log_det = body.inverse_and_log_det(params, z)
        return z, log_det, jnp.linalg.slogdet(jacobian)[1], back, inverse_log_det

    for v in x[:2]:
        z, log_det, slogdet, back, inverse_log_det = check(v)
        assert z.shape == (4, 4)
        np.testing.assert_allclose(log_det, slogdet, rtol=1e-4, atol=1e-4)
        assert abs(float(log_det)) > 0.1  # the perturbed blocks are not volume preserving
        np.testing.assert_allclose(back, v, atol=1e-4)
        np.testing.assert_allclose(inverse_log_det, -log_det, rtol=1e-4, atol=1e-4)


def test_block_jacobians_are_causal_in_each_blocks_order():
    """dz_t/dx_j = 0 for j after t in the block's order, != 0 before; diagonal within a patch."""
    seq_len, channels = 5, 2
    blocks = [flows.TarFlowBlock(width=8, num_layers=1, num_heads=2, mlp_ratio=2,
                                 reverse=reverse) for reverse in (False, True)]
    x = jax.random.normal(jax.random.key(4), (3, seq_len, channels))

    @jax.jit
    def jacobians(x):
        params = [_perturbed(b.init(jax.random.key(5 + i), x), 6 + i)
                  for i, b in enumerate(blocks)]
        return [jax.jacfwd(lambda v, b=b, p=p: b.forward(p, v))(x[0])
                for b, p in zip(blocks, params)]

    for block, jacobian in zip(blocks, jacobians(x)):
        jacobian = np.asarray(jacobian)
        dependence = np.abs(jacobian).sum(axis=(1, 3))  # |dz_t / dx_j| over channels: (T, T)
        order = np.arange(seq_len)[::-1] if block.reverse else np.arange(seq_len)
        rank = np.empty(seq_len, int)
        rank[order] = np.arange(seq_len)  # position of each patch in the block's order
        later = rank[None, :] > rank[:, None]  # [t, j]: j comes after t
        earlier = rank[None, :] < rank[:, None]
        assert np.all(dependence[later] == 0.0)
        assert np.all(dependence[earlier] > 1e-6)  # every earlier patch is read
        within = jacobian[np.arange(seq_len), :, np.arange(seq_len), :]  # (T, C, C)
        np.testing.assert_array_equal(within * (1 - np.eye(channels)), 0.0)


def test_blocks_alternate_order():
    body = flows.transformer_autoregressive_flow((2, 4, 1), patch_size=1, num_blocks=3,
                                                 width=8, num_layers=1, num_heads=2)
    assert isinstance(body.layers[0], flows.ActNorm)
    assert isinstance(body.layers[1], flows.Patchify)
    assert [layer.reverse for layer in body.layers[2:]] == [False, True, False]


@pytest.mark.nightly
def test_blocks_start_as_identity():
    block = flows.TarFlowBlock(width=8, num_layers=1, num_heads=2)
    x = jax.random.normal(jax.random.key(7), (4, 8, 1))
    params = jax.jit(block.init)(jax.random.key(8), x)
    mu, alpha = jax.jit(block.shift_and_log_scale)(params, x[0])  # the zero head
    np.testing.assert_array_equal(mu, 0.0)
    np.testing.assert_array_equal(alpha, 0.0)


def test_patchify_is_a_permutation_with_its_inverse():
    x = jnp.arange(4 * 6 * 2, dtype=jnp.float32)
    patches = patchify(x, (4, 6, 2), 2)
    assert patches.shape == (6, 8)
    image = np.arange(48).reshape(4, 6, 2)
    np.testing.assert_array_equal(patches[1], image[0:2, 2:4].reshape(-1))  # patch (0, 1)
    np.testing.assert_array_equal(unpatchify(patches, (4, 6, 2), 2), x)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="patch_size"):
        flows.Patchify((4, 4, 1), 3)
    with pytest.raises(ValueError, match="num_heads"):
        flows.TarFlowBlock(width=10, num_heads=4)
    with pytest.raises(ValueError, match="num_blocks"):
        flows.transformer_autoregressive_flow((4, 4, 1), num_blocks=0)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        flows.TarFlowBlock().forward_and_log_det({}, jnp.zeros(4))


@pytest.mark.nightly
def test_gaussian_nll_approaches_the_entropy():
    """On a correlated 4D Gaussian, TarFlow's test NLL reaches the analytic entropy."""
    import optax

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + 0.5 * np.eye(4)
    entropy = 0.5 * np.linalg.slogdet(2 * math.pi * math.e * cov)[1]
    chol = np.linalg.cholesky(cov)
    data = jnp.asarray(rng.normal(size=(4096, 4)) @ chol.T, jnp.float32)
    test = jnp.asarray(rng.normal(size=(4096, 4)) @ chol.T, jnp.float32)
    flow = flows.Flow(flows.transformer_autoregressive_flow(
        (1, 4, 1), num_blocks=2, width=16, num_layers=1, num_heads=2), (4,))
    params = flow.init(jax.random.key(0), data[:256])
    nll = lambda p, x: -jnp.mean(jax.vmap(flow.log_prob, in_axes=(None, 0))(p, x))  # noqa
    opt = optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, i):
        batch = jax.random.choice(jax.random.fold_in(jax.random.key(1), i), data, (256,))
        grads = jax.grad(nll)(params, batch)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state

    for i in range(1500):
        params, state = step(params, state, i)
    assert abs(float(nll(params, test)) - entropy) < 0.05
