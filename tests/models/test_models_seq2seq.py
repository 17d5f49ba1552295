"""Seq2Seq: causal decoder, source dependence, padding, decoding = argmax of the full pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.seq2seq import Seq2Seq, greedy_decode, sample_decode

SOURCE_V, TARGET_V, S, T = 11, 9, 5, 6


def _setup(seed=0):
    model = Seq2Seq(source_vocab_size=SOURCE_V, target_vocab_size=TARGET_V, width=32,
                    num_heads=2, num_encoder_layers=1, num_decoder_layers=2)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    source = jax.random.randint(k1, (3, S), 0, SOURCE_V)
    inputs = jax.random.randint(k2, (3, T), 0, TARGET_V)
    params = model.init(k3, source, inputs)["params"]
    # Larger random weights so the test is not passed by a near-constant network.
    params = jax.tree.map(lambda p: p * 3.0, params)
    return model, params, source, inputs


def test_decoder_is_causal():
    model, params, source, inputs = _setup()
    emb_params = params

    def logits_from_embeddings(emb):
        def fn(p):
            memory = model.apply({"params": p}, source, method=model.encode)
            batch, length = inputs.shape
            positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
            self_mask = jnp.tril(jnp.ones((length, length), bool))[None, None]
            cross = jnp.ones((batch, 1, 1, S), bool)
            h = emb
            for i in range(2):
                block = model.bind({"params": p}).blocks[i]
                h = block(h, positions, self_mask, memory, cross)
            mod = model.bind({"params": p})
            return mod.head(mod.norm(h))
        return fn(emb_params)

    emb = model.apply({"params": params}, inputs, method=lambda m, x: m.embed(x))
    direct = model.apply({"params": params}, source, inputs)
    logits = jax.jit(logits_from_embeddings)  # one compilation instead of op-by-op dispatch
    # Jitted vs eager float32 (weights x3): fusion moves the logits by a few 1e-5.
    np.testing.assert_allclose(logits(emb), direct, rtol=1e-4, atol=1e-4)
    jac = jax.jit(jax.jacobian(lambda e: logits_from_embeddings(e)[0].sum(-1)))(emb)  # [T,B,T,W]
    jac = np.abs(np.asarray(jac[:, 0])).sum(-1)  # [T_out, T_in]
    for t in range(T):
        assert np.all(jac[t, t + 1:] == 0.0), t
        assert np.all(jac[t, :t + 1] > 0.0), t


def test_future_tokens_do_not_change_past_logits_and_source_matters():
    model, params, source, inputs = _setup()
    base = model.apply({"params": params}, source, inputs)
    changed = inputs.at[:, 3:].set((inputs[:, 3:] + 1) % TARGET_V)
    other = model.apply({"params": params}, source, changed)
    np.testing.assert_allclose(base[:, :3], other[:, :3], rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(base[:, 3:] - other[:, 3:])) > 1e-3
    new_source = source.at[:, 0].set((source[:, 0] + 1) % SOURCE_V)
    moved = model.apply({"params": params}, new_source, inputs)
    assert np.min(np.max(np.abs(moved - base), axis=(1, 2))) > 1e-3  # every row, every t
    assert np.min(np.max(np.abs(moved - base), axis=(0, 2))) > 1e-3


def test_padded_source_positions_are_ignored():
    model, params, source, inputs = _setup()
    mask = jnp.ones_like(source).at[:, -2:].set(0)
    base = model.apply({"params": params}, source, inputs, mask)
    junk = source.at[:, -2:].set((source[:, -2:] + 3) % SOURCE_V)
    other = model.apply({"params": params}, junk, inputs, mask)
    np.testing.assert_allclose(base, other, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="source_mask"):
        model.apply({"params": params}, source, inputs, mask[:, :2])


def test_greedy_decoding_is_argmax_of_the_full_pass():
    model, params, source, _ = _setup(1)
    bos, eos, max_len = 1, 2, T
    out = greedy_decode(model, params, source, bos_id=bos, max_len=max_len)
    inputs = jnp.concatenate([jnp.full((source.shape[0], 1), bos), out[:, :-1]], axis=1)
    logits = model.apply({"params": params}, source, inputs)
    np.testing.assert_array_equal(out, jnp.argmax(logits, -1))
    # With an EOS: identical up to and including the first EOS, padding after it.
    stopped = greedy_decode(model, params, source, bos_id=bos, max_len=max_len, eos_id=eos)
    for row, full in zip(np.asarray(stopped), np.asarray(out)):
        hits = np.flatnonzero(full == eos)
        end = hits[0] + 1 if hits.size else max_len
        np.testing.assert_array_equal(row[:end], full[:end])
        assert np.all(row[end:] == 0)


def test_sampling_at_low_temperature_is_greedy_and_samples_vary():
    model, params, source, _ = _setup(2)
    greedy = greedy_decode(model, params, source, bos_id=1, max_len=T)
    cold = sample_decode(model, params, jax.random.key(0), source, bos_id=1, max_len=T,
                         temperature=1e-4)
    np.testing.assert_array_equal(greedy, cold)
    a = sample_decode(model, params, jax.random.key(1), source, bos_id=1, max_len=T,
                      temperature=3.0)
    b = sample_decode(model, params, jax.random.key(2), source, bos_id=1, max_len=T,
                      temperature=3.0)
    assert np.any(np.asarray(a) != np.asarray(b))


def test_dropout_only_in_training_calls():
    """train=False equals the dropout-free model; train=True with a rate drops (per rng, the
    same for the same rng) in encoder and decoder; rate 0 with train=True changes nothing."""
    model, params, source, inputs = _setup()
    plain = jax.jit(lambda p: model.apply({"params": p}, source, inputs))(params)
    dropped_model = model.clone(dropout=0.5)

    def run(m, key, train=True):
        return jax.jit(lambda p: m.apply({"params": p}, source, inputs, train=train,
                                         rngs={"dropout": key}))(params)

    np.testing.assert_array_equal(run(dropped_model, jax.random.key(0), train=False), plain)
    np.testing.assert_allclose(run(model, jax.random.key(0)), plain, rtol=1e-6, atol=1e-6)
    a, b = run(dropped_model, jax.random.key(0)), run(dropped_model, jax.random.key(1))
    np.testing.assert_array_equal(a, run(dropped_model, jax.random.key(0)))
    assert float(jnp.max(jnp.abs(a - plain))) > 1e-3 and float(jnp.max(jnp.abs(a - b))) > 1e-3
    memory = jax.jit(lambda p: dropped_model.apply({"params": p}, source, None, True,
                                                   rngs={"dropout": jax.random.key(0)},
                                                   method=dropped_model.encode))(params)
    clean_memory = jax.jit(lambda p: model.apply({"params": p}, source,
                                                 method=model.encode))(params)
    assert float(jnp.max(jnp.abs(memory - clean_memory))) > 1e-3
