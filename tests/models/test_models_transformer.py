"""TransformerLM: causality (Jacobian and perturbation), segments, KV cache == full pass."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.transformer import (
    TransformerLM,
    num_params,
    rotary_embedding,
    segment_positions,
)

VOCAB, T = 13, 10


@functools.lru_cache(maxsize=None)
def make(position="rotary", **kw):
    model = TransformerLM(vocab_size=VOCAB, num_layers=2, width=32, num_heads=4,
                          position=position, max_len=32, **kw)
    tokens = jax.random.randint(jax.random.key(0), (2, T), 0, VOCAB)
    params = jax.jit(model.init)(jax.random.key(1), tokens)["params"]
    # Random (not small-init) weights so that every path carries signal.
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(2), p.shape),
                          params)
    return model, params, tokens


def apply(model, params, *args, method=None, **kw):
    fn = jax.jit(lambda p, *a: model.apply({"params": p}, *a, method=method, **kw))
    return fn(params, *args)


def test_jacobian_of_output_t_wrt_inputs_after_t_is_zero():
    model, params, tokens = make("rotary")
    emb = apply(model, params, tokens, method=model.token_embeddings)[:1]

    def logits(e):
        return model.apply({"params": params}, e, method=model.logits_from_embeddings)[0]

    jac = jax.jit(jax.jacfwd(logits))(emb)[:, :, 0]  # [T_out, V, T_in, W]
    norms = jnp.sqrt(jnp.sum(jac ** 2, axis=(1, 3)))  # [T_out, T_in]
    future = np.triu(np.ones((T, T), bool), k=1)
    assert float(jnp.max(jnp.where(future, norms, 0.0))) == 0.0
    # ...and the past does matter (the check above is not vacuous).
    assert float(jnp.min(jnp.where(future, jnp.inf, norms))) > 1e-4


def test_segments_block_attention_across_packed_sequences():
    model, params, tokens = make()
    seg = jnp.array([[0] * 5 + [1] * 5, [0] * 5 + [2] * 5])
    packed = apply(model, params, tokens, seg, method=lambda m, x, s: m(x, segment_ids=s))
    # Each segment alone (positions restart at 0) gives the same logits.
    alone = apply(model, params, jnp.concatenate([tokens[:, :5], tokens[:, 5:]]))
    np.testing.assert_allclose(packed[:, :5], alone[:2], atol=1e-5)
    np.testing.assert_allclose(packed[:, 5:], alone[2:], atol=1e-5)
    np.testing.assert_array_equal(segment_positions(jnp.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])),
                                  [0, 1, 2, 3, 0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("position", ["rotary", "learned"])
def test_cached_decoding_equals_full_pass_at_every_step(position):
    model, params, tokens = make(position)
    full = apply(model, params, tokens)
    cache = model.init_cache(tokens.shape[0], T + 3)
    extend = jax.jit(lambda p, x, c: model.apply({"params": p}, x, c, method=model.extend))
    first, cache = extend(params, tokens[:, :3], cache)
    steps = [first]
    for t in range(3, T):
        logits, cache = extend(params, tokens[:, t:t + 1], cache)
        steps.append(logits)
    np.testing.assert_allclose(jnp.concatenate(steps, 1), full, atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(cache["index"], [T, T])


def test_padded_prefill_then_chunks_equal_full_pass_per_sequence():
    """Prompts of lengths 2 and 5 in one right-padded prefill, then chunks of 3 and 1 tokens
    at per-sequence, non-zero cache indices: every real position's logits match the full pass
    of that sequence alone."""
    model, params, tokens = make("rotary")
    full = apply(model, params, tokens)
    extend = jax.jit(lambda p, x, c, n: model.apply({"params": p}, x, c, n,
                                                    method=model.extend))
    lengths = np.array([2, 5])
    prompt = jnp.where(jnp.arange(5) < lengths[:, None], tokens[:, :5], VOCAB - 1)
    logits, cache = extend(params, prompt, model.init_cache(2, T + 3), jnp.asarray(lengths))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(logits[b, :n], full[b, :n], atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(cache["index"], lengths)
    chunk = jnp.stack([tokens[0, 2:5], tokens[1, 5:8]])
    logits, cache = extend(params, chunk, cache, None)
    np.testing.assert_allclose(logits[0], full[0, 2:5], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(logits[1], full[1, 5:8], atol=1e-4, rtol=1e-4)
    step = jnp.stack([tokens[0, 5:6], tokens[1, 8:9]])
    logits, cache = extend(params, step, cache, None)
    np.testing.assert_allclose(logits[:, 0], jnp.stack([full[0, 5], full[1, 8]]),
                               atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(cache["index"], [6, 9])


def test_extend_refuses_a_cache_of_another_batch_size():
    model, params, tokens = make("rotary")
    with pytest.raises(ValueError, match="cache index"):
        model.apply({"params": params}, tokens, model.init_cache(3, T), method=model.extend)


def test_rotary_scores_depend_only_on_relative_position():
    q = jax.random.normal(jax.random.key(0), (1, 1, 1, 8))
    k = jax.random.normal(jax.random.key(1), (1, 1, 1, 8))
    @jax.jit
    def score(i, j):
        return jnp.sum(rotary_embedding(q, jnp.array([[i]]))
                       * rotary_embedding(k, jnp.array([[j]])))
    np.testing.assert_allclose(score(5, 2), score(13, 10), rtol=1e-5)
    assert abs(float(score(5, 2) - score(5, 4))) > 1e-4


def test_output_size_and_bad_config():
    model = TransformerLM(vocab_size=5, output_size=4, num_layers=1, width=16, num_heads=2)
    x = jnp.zeros((2, 3), jnp.int32)
    params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
    assert jax.eval_shape(model.apply, {"params": params}, x).shape == (2, 3, 4)
    assert 0 < num_params(params) < 10_000
    with pytest.raises(ValueError, match="divisible"):
        jax.eval_shape(TransformerLM(vocab_size=5, width=10, num_heads=3).init,
                       jax.random.key(0), x)
    with pytest.raises(ValueError, match="position"):
        jax.eval_shape(TransformerLM(vocab_size=5, width=8, num_heads=2, position="alibi").init,
                       jax.random.key(0), x)
    with pytest.raises(ValueError, match="max_len"):
        TransformerLM(vocab_size=5, position="learned", max_len=4).init_cache(1, 8)


def test_bidirectional_encoder_sees_every_position_of_its_segment_only():
    """causal=False: d logits_t / d input_s is nonzero for all s in t's segment, zero elsewhere."""
    model, params, tokens = make("rotary", causal=False)
    emb = apply(model, params, tokens, method=model.token_embeddings)[:1]
    seg = jnp.array([[0] * 4 + [1] * 6])

    def logits(e):
        return model.apply({"params": params}, e, segment_ids=seg,
                           method=model.logits_from_embeddings)[0]

    jac = jax.jit(jax.jacfwd(logits))(emb)[:, :, 0]  # [T_out, V, T_in, W]
    norms = np.asarray(jnp.sqrt(jnp.sum(jac ** 2, axis=(1, 3))))
    same = np.asarray(seg[0][:, None] == seg[0][None, :])
    assert norms[~same].max() == 0.0
    assert norms[same].min() > 1e-4  # the future matters too (not causal)


def test_hidden_states_feed_the_head():
    model, params, tokens = make("learned", causal=False)
    emb = apply(model, params, tokens, method=model.token_embeddings)
    hidden = apply(model, params, emb, method=model.hidden_states)
    assert hidden.shape == (2, T, 32)
    head = params["head"]
    np.testing.assert_allclose(hidden @ head["kernel"] + head["bias"],
                               apply(model, params, tokens), atol=1e-5)


def test_bidirectional_transformer_refuses_a_cache():
    model = TransformerLM(vocab_size=VOCAB, num_layers=1, width=8, num_heads=2, causal=False)
    with pytest.raises(ValueError, match="bidirectional"):
        model.init_cache(2, 8)
