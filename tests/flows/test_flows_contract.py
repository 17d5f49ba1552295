"""The bijector contract on every bijector, with and without a context.

For each bijector, on one example (float64): ``inverse(forward(x)) == x``, the forward
log-det equals ``slogdet(jax.jacfwd(forward))`` of the flattened map, and the inverse
log-det is its negative. Unconditional layers called with a context must ignore it;
conditional ones (an AffineCoupling initialized with contexts, the conditional RealNVP,
FloWaveNet) must depend on it.
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the table: a bijector, its init batch and (optional) contexts."""

    name: str
    bijector: Any
    x: Any  # callable: key -> batch (B,) + event_shape
    context: Any = None  # callable: key -> contexts (B, ...) or None
    conditional: bool = False


def _normal(shape, scale=1.0, shift=0.0):
    return lambda key: shift + scale * jax.random.normal(key, shape, jnp.float64)


def _unit(shape):
    return lambda key: jax.random.uniform(key, shape, jnp.float64, 0.05, 0.95)


WAVENET = flows.FloWaveNet(length=16, num_mels=2, upsample_factors=(4,), num_blocks=2,
                           num_flows=1, hidden=4, blocks_per_split=1)

CASES = [
    Case("actnorm", flows.ActNorm(), _normal((8, 3), 2.0, 1.0)),
    Case("logit", flows.Logit(0.05), _unit((8, 3))),
    Case("reverse", flows.Reverse(), _normal((8, 4))),
    Case("permute", flows.Permute((2, 0, 3, 1)), _normal((8, 4))),
    Case("dense", flows.Dense(), _normal((8, 3))),
    Case("smooth_leaky_relu", flows.SmoothLeakyReLU(0.3), _normal((8, 3))),
    Case("smooth_tanh", flows.SmoothTanh(), _normal((8, 3))),
    Case("reshape", flows.Reshape((2, 3), (3, 2)), _normal((8, 2, 3))),
    Case("flatten", flows.Flatten((2, 2, 1)), _normal((8, 2, 2, 1))),
    Case("coupling", flows.AffineCoupling((1, 0, 1, 0), (8,)), _normal((8, 4))),
    Case("coupling_softplus", flows.AffineCoupling((0, 1, 1), (8,), "softplus"),
         _normal((8, 3))),
    Case("realnvp_chain", flows.realnvp(4, num_layers=2, hidden_dims=(8,)), _normal((8, 4))),
    Case("conditional_coupling", flows.AffineCoupling((1, 0, 1, 0), (8,), conditional=True),
         _normal((8, 4)),
         _normal((8, 3)), conditional=True),
    Case("conditional_realnvp", flows.conditional_realnvp(3, 3, (8,), log_scale_bound=2.0),
         _normal((8, 3)), _normal((8, 2)), conditional=True),
    Case("conditional_chain_with_actnorm",
         flows.Chain([flows.ActNorm(), flows.AffineCoupling((1, 0, 0), (8,), conditional=True),
                      flows.Reverse()]),
         _normal((8, 3), 2.0), _normal((8, 2)), conditional=True),
    Case("flowavenet", WAVENET, _normal((2, 16)), _normal((2, WAVENET.num_frames, 2)),
         conditional=True),
    # Glow (flows.glow), planar/radial (flows.planar_radial), residual (flows.residual).
    Case("conv1x1_lu", flows.InvertibleConv1x1(perm=(2, 0, 1)), _normal((8, 2, 2, 3))),
    Case("conv1x1_unconstrained", flows.InvertibleConv1x1(lu=False), _normal((8, 2, 2, 3))),
    Case("channel_coupling_conv", flows.ChannelCoupling(4), _normal((8, 2, 2, 3))),
    Case("squeeze", flows.Squeeze(), _normal((8, 2, 4, 1))),
    Case("glow_multiscale",  # dense conditioner; the conv one: channel_coupling_conv
         flows.multiscale_glow((4, 4, 1), num_steps=1, hidden=4, conditioner="dense"),
         _normal((8, 4, 4, 1))),
    Case("planar", flows.Planar(), _normal((8, 3))),
    Case("radial", flows.Radial(), _normal((8, 3))),
    Case("residual_block", flows.ResidualBlock((8,)), _normal((8, 3))),
    # Splines (flows.splines) and masked autoregressive layers (flows.autoregressive; IAF is
    # MAF in the other direction, test_flows_autoregressive.py); the scale puts some inputs on
    # the splines' linear tails (outside [-B, B]).
    Case("spline_coupling", flows.SplineCoupling((1, 0, 1, 0), (8,), num_bins=4, bound=1.5),
         _normal((8, 4), 1.5)),
    Case("maf_affine", flows.MaskedAutoregressive((8,), "affine", order=(2, 0, 1)),
         _normal((8, 3))),
    Case("maf_spline", flows.MaskedAutoregressive((8,), "spline", num_bins=4, bound=1.5,
                                                  order=(1, 2, 0)), _normal((8, 3), 1.5)),
]


def _perturbed(params, key, scale=0.2):
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    return jax.tree.unflatten(treedef, [p + scale * jax.random.normal(k, p.shape, p.dtype)
                                        for p, k in zip(leaves, keys)])


@functools.cache  # both tests of a row share its float64 batch and parameters
def _setup(case):
    kx, kc, ki, kp = jax.random.split(jax.random.key(0), 4)
    x = case.x(kx)
    context = None if case.context is None else case.context(kc)
    # Compiled once: op-by-op initialization of a deep bijector (FloWaveNet) costs seconds.
    params = _perturbed(jax.jit(case.bijector.init)(ki, x, context), kp)
    return x, context, params


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_round_trip_and_log_det_match_slogdet_of_the_jacobian(case):
    with jax.enable_x64(True):
        x, context, params = _setup(case)
        b = case.bijector
        x0 = x[1]
        c0 = None if context is None else context[1]

        @jax.jit  # one compiled program instead of op-by-op dispatch
        def check(params, x0, c0):
            z, log_det = b.forward_and_log_det(params, x0, c0)
            back, inverse_log_det = b.inverse_and_log_det(params, z, c0)
            flat = lambda v: b.forward(params, v.reshape(x0.shape), c0).reshape(-1)  # noqa: E731
            jac_log_det = jnp.linalg.slogdet(jax.jacfwd(flat)(x0.reshape(-1)))[1]
            return back, log_det, inverse_log_det, jac_log_det

        back, log_det, inverse_log_det, jac_log_det = check(params, x0, c0)
        np.testing.assert_allclose(back, x0, atol=1e-8)
        np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-8)
        np.testing.assert_allclose(log_det, jac_log_det, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_context_is_used_by_conditional_layers_and_ignored_by_the_others(case):
    with jax.enable_x64(True):
        x, context, params = _setup(case)
        b = case.bijector
        if case.conditional:
            z1, z2 = jax.jit(lambda p, x0, c: (b.forward(p, x0, c[0]), b.forward(p, x0, c[1]))
                             )(params, x[0], context)
            assert not np.allclose(z1, z2), "a conditional layer must see its context"
        else:
            ignored = jnp.ones((5,), x.dtype)

            @jax.jit  # one compiled program: op-by-op dispatch of a deep layer costs seconds
            def outputs(params, x0):
                z = b.forward(params, x0)
                return (z, b.forward(params, x0, ignored), b.inverse_and_log_det(params, z)[1],
                        b.inverse_and_log_det(params, z, ignored)[1])

            z, z_ignored, log_det, log_det_ignored = outputs(params, x[0])
            np.testing.assert_array_equal(z_ignored, z)
            np.testing.assert_array_equal(log_det_ignored, log_det)


def test_flow_log_prob_and_sample_take_the_context():
    """Flow serves p(x) and p(x | c): log_prob of its own samples matches sample_and_log_prob."""
    flow = flows.Flow(flows.conditional_realnvp(3, 2, (8,)), (3,))
    x, c = jax.random.normal(jax.random.key(0), (8, 3)), jax.random.normal(jax.random.key(1),
                                                                              (8, 2))
    params = _perturbed(flow.init(jax.random.key(2), x, c), jax.random.key(3))
    samples, log_prob = flow.sample_and_log_prob(params, jax.random.key(4), 4, c[0])
    direct = jax.vmap(flow.log_prob, in_axes=(None, 0, None))(params, samples, c[0])
    np.testing.assert_allclose(log_prob, direct, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="batch of 8"):
        flow.init(jax.random.key(2), x, c[:3])
