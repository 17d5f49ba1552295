"""GRULM: causality, cached steps == full pass, segment resets, a numpy GRU reference."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.gru import GRULM

VOCAB, T = 7, 9


@functools.lru_cache(maxsize=None)
def make(num_layers=2):
    model = GRULM(vocab_size=VOCAB, width=12, num_layers=num_layers)
    tokens = jax.random.randint(jax.random.key(0), (3, T), 0, VOCAB)
    params = jax.jit(model.init)(jax.random.key(1), tokens)["params"]
    return model, params, tokens


def apply(model, params, tokens, segment_ids=None):
    return jax.jit(lambda p, x, s: model.apply({"params": p}, x, segment_ids=s))(
        params, tokens, segment_ids)


def test_cached_steps_equal_the_full_pass():
    model, params, tokens = make()
    full = apply(model, params, tokens)
    cache = model.init_cache(3)
    extend = jax.jit(lambda p, x, c: model.apply({"params": p}, x, c, method=model.extend))
    outs = []
    for t in range(T):
        logits, cache = extend(params, tokens[:, t:t + 1], cache)
        outs.append(logits)
    np.testing.assert_allclose(jnp.concatenate(outs, 1), full, atol=1e-5)


def test_padded_prefill_keeps_each_rows_state_at_its_length():
    """Rows with 2, 5 and 9 real tokens in one padded prefill, then one step each: the
    logits match the full pass at each row's next position."""
    model, params, tokens = make()
    full = apply(model, params, tokens)
    extend = jax.jit(lambda p, x, c, n: model.apply({"params": p}, x, c, n,
                                                    method=model.extend))
    lengths = np.array([2, 5, 8])
    padded = jnp.where(jnp.arange(8) < lengths[:, None], tokens[:, :8], 0)
    logits, cache = extend(params, padded, model.init_cache(3), jnp.asarray(lengths))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(logits[b, :n], full[b, :n], atol=1e-5)
    nxt = tokens[jnp.arange(3), lengths][:, None]
    logits, _ = extend(params, nxt, cache, None)
    np.testing.assert_allclose(logits[:, 0], full[jnp.arange(3), lengths], atol=1e-5)


def test_causal_by_perturbation():
    model, params, tokens = make()
    base = apply(model, params, tokens)
    changed = apply(model, params, tokens.at[:, 5].set((tokens[:, 5] + 1) % VOCAB))
    np.testing.assert_array_equal(base[:, :5], changed[:, :5])
    assert float(jnp.max(jnp.abs(base[:, 5:] - changed[:, 5:]))) > 1e-4


def test_segment_ids_reset_the_state():
    model, params, tokens = make()
    seg = jnp.array([[0] * 4 + [1] * 5] * 3)
    packed = apply(model, params, tokens, seg)
    np.testing.assert_allclose(packed[:, 4:], apply(model, params, tokens[:, 4:]), atol=1e-5)


def test_matches_a_numpy_gru():
    """One layer against the GRU equations written out (flax GRUCell's convention)."""
    model, params, tokens = make(num_layers=1)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    cell = p["gru_0"]["cell"]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = np.zeros((3, 12))
    outs = []
    for t in range(T):
        x = p["embed"]["embedding"][np.asarray(tokens[:, t])]
        r = sig(x @ cell["ir"]["kernel"] + cell["ir"]["bias"] + h @ cell["hr"]["kernel"])
        z = sig(x @ cell["iz"]["kernel"] + cell["iz"]["bias"] + h @ cell["hz"]["kernel"])
        n = np.tanh(x @ cell["in"]["kernel"] + cell["in"]["bias"]
                    + r * (h @ cell["hn"]["kernel"] + cell["hn"]["bias"]))
        h = (1 - z) * n + z * h
        outs.append(h @ p["head"]["kernel"] + p["head"]["bias"])
    np.testing.assert_allclose(apply(model, params, tokens), np.stack(outs, 1),
                               atol=1e-5)


def test_dropout_acts_only_in_training_calls_and_is_a_function_of_the_rng():
    model, params, tokens = make()
    dropped = GRULM(vocab_size=VOCAB, width=12, num_layers=2, dropout=0.3)

    @jax.jit  # one compilation for every call below
    def calls(p, k1, k2):
        def train(m, k):
            return m.apply({"params": p}, tokens, train=True, rngs={"dropout": k})
        return (model.apply({"params": p}, tokens), dropped.apply({"params": p}, tokens),
                train(dropped, k1), train(dropped, k1), train(dropped, k2), train(model, k1))

    plain, evaluated, first, again, other, rate_zero = calls(params, jax.random.key(5),
                                                             jax.random.key(6))
    np.testing.assert_allclose(evaluated, plain, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rate_zero, plain, rtol=1e-6, atol=1e-6)
    assert float(jnp.max(jnp.abs(first - plain))) > 1e-2
    np.testing.assert_array_equal(again, first)
    assert float(jnp.max(jnp.abs(other - first))) > 1e-2
    with pytest.raises(ValueError, match="dropout"):
        jax.eval_shape(GRULM(vocab_size=VOCAB, dropout=1.0).init, jax.random.key(0), tokens)
