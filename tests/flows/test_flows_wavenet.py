"""FloWaveNet flow pieces: exact inverses, log-dets against slogdet(jacfwd), shapes, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import wavenet


def _perturbed(params, key, scale=0.1):
    """Random nonzero weights everywhere (the zero-initialized outputs included)."""
    leaves, tree = jax.tree.flatten(params)
    noise = jax.random.normal(key, (sum(p.size for p in leaves),))
    offsets = np.cumsum([0] + [p.size for p in leaves])
    return jax.tree.unflatten(tree, [p + scale * noise[a:b].reshape(p.shape)
                                     for p, a, b in zip(leaves, offsets[:-1], offsets[1:])])


def _flow_and_params(length=16, num_blocks=2, blocks_per_split=1, num_mels=3, factors=(2, 2)):
    flow = wavenet.FloWaveNet(length=length, num_mels=num_mels, upsample_factors=factors,
                              num_blocks=num_blocks, num_flows=2, num_layers=2, hidden=8,
                              blocks_per_split=blocks_per_split)
    kx, km, kp, kq = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(kx, (4, length))
    mel = jax.random.normal(km, (4, flow.num_frames, num_mels))
    params = jax.jit(lambda k1, k2: _perturbed(flow.init(k1, x, mel), k2))(kp, kq)
    return flow, params, x, mel


_CACHE = {}


def _cached(blocks_per_split=1):
    if blocks_per_split not in _CACHE:
        _CACHE[blocks_per_split] = _flow_and_params(blocks_per_split=blocks_per_split)
    return _CACHE[blocks_per_split]


def test_squeeze_layout_and_inverse():
    h = jnp.arange(12.0).reshape(6, 2)  # h[t, c] = 2t + c
    s = wavenet.squeeze(h)
    assert s.shape == (3, 4)
    for t in range(3):
        for c in range(2):
            for p in range(2):
                assert s[t, 2 * c + p] == h[2 * t + p, c]
    np.testing.assert_array_equal(wavenet.unsqueeze(s), h)
    np.testing.assert_array_equal(wavenet.swap_halves(wavenet.swap_halves(s)), s)


def test_coupling_inverse_is_exact():
    """One affine coupling with a WaveNet conditioner: round trip and opposite log-dets."""
    flow, params, x, mel = _cached()
    block = flow.plan()[0]
    coupling = params["blocks"][0]["flows"][0]["coupling"]
    h = jax.random.normal(jax.random.key(3), (block.length, block.channels))
    c = jax.random.normal(jax.random.key(4), (block.length, block.cond_channels))

    @jax.jit
    def round_trip(h, c):
        z, ld = flow._coupling(block, coupling, h, c, inverse=False)
        back, ld_inv = flow._coupling(block, coupling, z, c, inverse=True)
        return z, ld, back, ld_inv

    z, ld, back, ld_inv = round_trip(h, c)
    assert float(jnp.max(jnp.abs(back - h))) < 1e-5
    assert abs(float(ld + ld_inv)) < 1e-5
    assert float(jnp.max(jnp.abs(z - h))) > 1e-3  # not the identity


def test_flow_round_trip_and_log_det_matches_slogdet():
    """Multi-scale flow (a split after block 1): exact inverse, log-det = slogdet(jacfwd)."""
    flow, params, x, mel = _cached()
    assert flow.plan()[0].split and not flow.plan()[1].split
    with jax.enable_x64(True):
        params64 = jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), params)
        x0 = jnp.asarray(x[0], jnp.float64)
        m0 = jnp.asarray(mel[0], jnp.float64)

        @jax.jit
        def check(params64, x0, m0):
            eps, log_det = flow.forward_and_log_det(params64, x0, m0)
            back, inv_log_det = flow.inverse_and_log_det(params64, eps, m0)
            jac = jax.jacfwd(lambda v: flow.forward_and_log_det(params64, v, m0)[0])(x0)
            return back, log_det, inv_log_det, jnp.linalg.slogdet(jac)

        back, log_det, inv_log_det, (sign, expected) = check(params64, x0, m0)
        assert float(jnp.max(jnp.abs(back - x0))) < 1e-10
        np.testing.assert_allclose(float(inv_log_det), -float(log_det), atol=1e-9)
        assert float(sign) != 0.0
        np.testing.assert_allclose(float(log_det), float(expected), rtol=1e-9, atol=1e-8)
        assert abs(float(log_det)) > 0.1  # a nontrivial Jacobian
    # float32 round trip.
    eps32, _ = jax.jit(flow.forward_and_log_det)(params, x[1], mel[1])
    back32, _ = jax.jit(flow.inverse_and_log_det)(params, eps32, mel[1])
    assert float(jnp.max(jnp.abs(back32 - x[1]))) < 1e-5


def test_log_prob_is_normal_plus_log_det_and_sample_inverts():
    """FloWaveNet under Flow: log_prob and sample with the mel as the context."""
    bijector, params, x, mel = _cached()
    flow = flows.Flow(bijector, (bijector.length,))
    forward = jax.jit(bijector.forward_and_log_det)
    eps, log_det = forward(params, x[0], mel[0])
    expected = -0.5 * jnp.sum(eps ** 2) - 0.5 * eps.size * math.log(2 * math.pi) + log_det
    np.testing.assert_allclose(jax.jit(flow.log_prob)(params, x[0], mel[0]), expected,
                               rtol=1e-6)
    s = jax.jit(lambda p, k, c: flow.sample(p, k, 2, c, temperature=0.5))(
        params, jax.random.key(7), mel[0])
    assert s.shape == (2, bijector.length) and bool(jnp.all(jnp.isfinite(s)))
    eps_again = 0.5 * jax.random.normal(jax.random.key(7), (2, bijector.length))
    np.testing.assert_allclose(forward(params, s[1], mel[0])[0], eps_again[1], atol=1e-4)


def test_init_is_actnorm_normalized_identity_couplings():
    """At init the couplings are the identity, so the latents of the init batch are whitened."""
    flow = wavenet.FloWaveNet(length=64, num_mels=2, upsample_factors=(4,), num_blocks=2,
                              num_flows=2, hidden=8)
    x = 3.0 + 0.5 * jax.random.normal(jax.random.key(0), (16, 64))
    mel = jax.random.normal(jax.random.key(1), (16, 16, 2))
    params = jax.jit(flow.init)(jax.random.key(2), x, mel)
    eps = jax.jit(jax.vmap(lambda a, b: flow.forward_and_log_det(params, a, b)[0]))(x, mel)
    assert abs(float(jnp.mean(eps))) < 1e-3
    assert float(jnp.std(eps)) == pytest.approx(1.0, abs=1e-2)


def test_upsampler_length_and_mel_shape_errors():
    up = wavenet.MelUpsampler((4, 2))
    mel = jnp.ones((5, 3))
    out = up.apply(up.init(jax.random.key(0), mel), mel)
    assert out.shape == (40, 3)
    flow, params, x, mel = _cached()
    with pytest.raises(ValueError, match="mel of shape"):
        flow.forward_and_log_det(params, x[0], mel[0, :-1])
    with pytest.raises(ValueError, match="shape"):
        flow.forward_and_log_det(params, x[0, :-2], mel[0])
    with pytest.raises(ValueError, match="as the context"):
        flow.forward_and_log_det(params, x[0])
    with pytest.raises(ValueError, match="divisible"):
        wavenet.FloWaveNet(length=30, num_mels=2, upsample_factors=(2,), num_blocks=2)


def test_noncausal_and_causal_wavenet_receptive_fields():
    """d out_t / d x_s is nonzero only for |t - s| within the receptive field (causal: s <= t)."""
    x = jax.random.normal(jax.random.key(0), (32, 1))
    for causal, k in ((False, 3), (True, 2)):
        net = wavenet.WaveNet(1, hidden=4, num_layers=3, kernel_size=k, causal=causal,
                              zero_init_last=False)
        p = net.init(jax.random.key(1), x)
        jac = jax.jit(jax.jacfwd(lambda v, p=p, net=net: net.apply(p, v[:, None])[:, 0]))(
            x[:, 0])
        nz = np.abs(np.asarray(jac)) > 0
        t, s = np.nonzero(nz)
        if causal:
            assert np.all(s <= t) and np.all(t - s <= 7)
        else:
            assert np.all(np.abs(t - s) <= 7) and np.any(s > t)


def test_autoregressive_scan_sampling_matches_teacher_forcing():
    """Samples drawn one at a time reproduce the teacher-forced conditionals past the warm-up."""
    ar = wavenet.AutoregressiveWaveNet(length=48, num_mels=2, upsample_factors=(4,),
                                       num_layers=3, hidden=8)
    mel = jax.random.normal(jax.random.key(0), (1, 12, 2))
    params = jax.jit(ar.init)(jax.random.key(1), jnp.zeros((1, 48)), mel)
    eps = jax.random.normal(jax.random.key(2), (48,))
    x = jax.jit(lambda e: ar.sample(params, None, mel[0], eps=e))(eps)
    mean, log_scale = jax.jit(ar.means_and_log_scales)(params, x, mel[0])
    recovered = (x - mean) * jnp.exp(-log_scale)
    r = ar.receptive_field
    np.testing.assert_allclose(recovered[r - 1:], eps[r - 1:], atol=1e-4)
    expected = jnp.sum(-0.5 * recovered ** 2 - log_scale - 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(jax.jit(ar.log_prob)(params, x, mel[0]), expected, rtol=1e-5)


def test_exported_from_flows():
    assert flows.FloWaveNet is wavenet.FloWaveNet
    assert flows.AutoregressiveWaveNet is wavenet.AutoregressiveWaveNet
