"""TransformerLM training options against the plain (unfused, unrolled, float32) model.

Dropout and its ``train`` flag, weight tying, depth-scaled residual init, bfloat16 compute,
rematerialization and scanned layers (full pass and cached decoding).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.transformer import (
    TransformerLM,
    stack_layer_params,
    unstack_layer_params,
)

VOCAB, T, B = 13, 10, 2
TOKENS = jax.random.randint(jax.random.key(0), (B, T), 0, VOCAB)


def model(**kw):
    return TransformerLM(vocab_size=VOCAB, num_layers=2, width=32, num_heads=4, max_len=32,
                         **kw)


@functools.lru_cache(maxsize=None)
def base_params():
    """Random parameters of the plain model: N(0, 0.3^2) entries (LayerNorm scales 1 + that).

    Drawn with numpy (nothing to compile); large enough that every path carries signal.
    """
    rng = np.random.default_rng(2)
    shapes = jax.eval_shape(model().init, jax.random.key(0), TOKENS)["params"]
    return jax.tree_util.tree_map_with_path(
        lambda path, s: jnp.asarray(rng.normal(0.0, 0.3, s.shape)
                                    + (path[-1].key == "scale"), jnp.float32), shapes)


@functools.lru_cache(maxsize=None)
def evaluator(m):
    """``params -> logits`` of an evaluation call of ``m``, compiled once per model."""
    return jax.jit(lambda p: m.apply({"params": p}, TOKENS))


def evaluate(m, params):
    return evaluator(m)(params)


def training_call(m):
    """``(params, key) -> logits`` of a training call, compiled once per model."""
    return jax.jit(lambda p, k: m.apply({"params": p}, TOKENS, train=True, rngs={"dropout": k}))


def nll_and_grads(m, params):
    """Mean next-token NLL of ``TOKENS`` and its gradient (traced by the caller)."""
    def nll(p):
        lp = jax.nn.log_softmax(m.apply({"params": p}, TOKENS))
        return -jnp.mean(jnp.take_along_axis(lp[:, :-1], TOKENS[:, 1:, None], -1))
    return jax.value_and_grad(nll)(params)


def max_diff(a, b):
    return float(jnp.max(jnp.abs(a - b)))


# -- dropout -----------------------------------------------------------------------------------


def test_dropout_acts_only_in_training_calls_and_is_a_function_of_the_rng():
    params = base_params()
    plain = evaluate(model(), params)
    dropped = model(dropout=0.3)
    np.testing.assert_array_equal(evaluate(dropped, params), plain)  # train=False: no dropout
    train = training_call(dropped)
    first = train(params, jax.random.key(5))
    assert max_diff(first, plain) > 1e-2
    np.testing.assert_array_equal(train(params, jax.random.key(5)), first)
    assert max_diff(train(params, jax.random.key(6)), first) > 1e-2
    # Rate 0: a training call computes exactly the evaluation call.
    np.testing.assert_array_equal(training_call(model())(params, jax.random.key(5)), plain)


def test_each_dropout_site_acts_alone_and_rates_are_checked():
    sites = ("attention_dropout", "residual_dropout", "embedding_dropout")
    # A site's own rate overrides ``dropout``: 0 at every site switches dropout off.
    off = model(dropout=0.3, **{site: 0.0 for site in sites})

    @jax.jit  # one compilation for the four models
    def training_calls(p, key):
        rngs = {"dropout": key}
        return [m.apply({"params": p}, TOKENS, train=True, rngs=rngs)
                for m in [model(**{site: 0.3}) for site in sites] + [off]]

    params = base_params()
    plain = evaluate(model(), params)
    *alone, none = training_calls(params, jax.random.key(5))
    for site, out in zip(sites, alone):
        assert max_diff(out, plain) > 1e-2, site
    np.testing.assert_allclose(none, plain, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="residual_dropout"):
        jax.eval_shape(model(residual_dropout=1.0).init, jax.random.key(0), TOKENS)


# -- weight tying and the residual init ------------------------------------------------------


def test_tied_head_is_the_transposed_embedding_sliced_to_the_output_size():
    m = model(tie_embeddings=True, output_size=VOCAB - 2)
    params = base_params().copy()
    del params["head"]
    assert (jax.tree.structure(jax.eval_shape(m.init, jax.random.key(0), TOKENS)["params"])
            == jax.tree.structure(params))  # no head kernel or bias of its own
    out, hidden = jax.jit(lambda p: m.apply(
        {"params": p}, TOKENS, method=lambda mdl, x: (
            mdl(x), mdl.hidden_states(mdl.token_embeddings(x)))))(params)
    table = np.asarray(params["embed"]["embedding"], np.float64)
    expected = np.asarray(hidden, np.float64) @ table[:VOCAB - 2].T
    assert out.shape == (B, T, VOCAB - 2)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="tie_embeddings"):
        jax.eval_shape(model(tie_embeddings=True, output_size=VOCAB + 1).init,
                       jax.random.key(0), TOKENS)


def test_scaled_residual_init_gives_the_output_projections_std_002_over_sqrt_2L():
    params = jax.jit(model(scaled_residual_init=True).init)(jax.random.key(0), TOKENS)["params"]
    target = 0.02 / np.sqrt(2 * 2)
    for i in range(2):
        block = params[f"block_{i}"]
        # 1024 and 4096 draws: the sample std lies within 3.5 and 1.7 standard errors of
        # the truth at 8 %.
        np.testing.assert_allclose(np.std(block["attention"]["out"]["kernel"]), target,
                                   rtol=0.08)
        np.testing.assert_allclose(np.std(block["mlp_out"]["kernel"]), target, rtol=0.08)
        # The other kernels keep flax's lecun_normal: std 1/sqrt(fan_in = 32).
        np.testing.assert_allclose(np.std(block["mlp_in"]["kernel"]), 32 ** -0.5, rtol=0.08)
    # Off (the default), the output projections keep lecun_normal too (fan_in 128).
    plain = jax.jit(model().init)(jax.random.key(0), TOKENS)["params"]
    np.testing.assert_allclose(np.std(plain["block_0"]["mlp_out"]["kernel"]), 128 ** -0.5,
                               rtol=0.08)


# -- bfloat16 compute -------------------------------------------------------------------------


def test_bfloat16_compute_keeps_float32_params_logits_and_gradients():
    params = base_params()
    m = model(dtype="bfloat16")
    shapes = jax.eval_shape(m.init, jax.random.key(0), TOKENS)
    assert {p.dtype for p in jax.tree.leaves(shapes)} == {jnp.dtype("float32")}
    out, state = jax.jit(lambda p: m.apply({"params": p}, TOKENS, capture_intermediates=True))(
        params)
    inner = state["intermediates"]["block_0"]
    for path in (("attention", "query"), ("attention", "out"), ("mlp_in",), ("mlp_out",),
                 ("norm_mlp",)):
        node = functools.reduce(lambda d, k: d[k], path, inner)
        assert node["__call__"][0].dtype == jnp.bfloat16, path
    assert out.dtype == jnp.float32
    # bfloat16 keeps 8 significant bits (relative rounding error up to 2^-9 per value);
    # through two blocks of these random weights the logits moved by 1.3 % of their
    # largest magnitude (an unrelated model: about 100 %).
    reference = evaluate(model(), params)
    assert max_diff(out, reference) < 0.035 * float(jnp.max(jnp.abs(reference)))
    value, grads = jax.eval_shape(lambda p: nll_and_grads(m, p), params)
    assert value.dtype == jnp.float32
    assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype("float32")}
    assert m.init_cache(B, T)["layers"][0]["k"].dtype == jnp.bfloat16


# -- rematerialization and scanned layers ----------------------------------------------------


def test_remat_and_scanned_layers_give_the_unrolled_values_and_gradients():
    @jax.jit  # one compilation for the three
    def values_and_grads(params):
        return (nll_and_grads(model(), params), nll_and_grads(model(remat=True), params),
                nll_and_grads(model(scan_layers=True, remat=True), stack_layer_params(params)))

    ((value, grads), (remat_value, remat_grads),
     (scan_value, scan_grads)) = values_and_grads(base_params())
    np.testing.assert_allclose(remat_value, value, rtol=1e-6)
    np.testing.assert_allclose(scan_value, value, rtol=1e-5)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-6)
    jax.tree.map(close, remat_grads, grads)
    jax.tree.map(close, unstack_layer_params(scan_grads), grads)


def test_layer_params_restack_exactly_and_match_the_scanned_tree():
    params = base_params()
    stacked = stack_layer_params(params)
    assert "block_0" not in stacked
    assert stacked["blocks"]["mlp_out"]["kernel"].shape == (2, 128, 32)
    np.testing.assert_array_equal(stacked["blocks"]["mlp_out"]["kernel"][1],
                                  params["block_1"]["mlp_out"]["kernel"])
    jax.tree.map(np.testing.assert_array_equal, unstack_layer_params(stacked), params)
    scanned_tree = jax.eval_shape(model(scan_layers=True).init, jax.random.key(0), TOKENS)
    assert (jax.tree.map(lambda x: x.shape, scanned_tree["params"])
            == jax.tree.map(lambda x: x.shape, stacked))
    with pytest.raises(ValueError, match="block_0"):
        stack_layer_params({"embed": {}, "block_1": {}})
    with pytest.raises(ValueError, match="blocks"):
        unstack_layer_params(params)


def test_scanned_cached_decoding_equals_the_unrolled_full_pass_per_sequence():
    """Right-padded prefill of lengths 2 and 5, then single steps, on the scanned model.

    Every cache leaf keeps the batch on axis 0: swapping the rows of the cache (as beam
    search gathers them) swaps the sequences.
    """
    params = base_params()
    full = evaluate(model(), params)
    m = model(scan_layers=True)
    stacked = stack_layer_params(params)
    extend = jax.jit(lambda c, x, n: m.apply({"params": stacked}, x, c, n, method=m.extend))
    lengths = np.array([2, 5])
    prompt = jnp.where(jnp.arange(5) < lengths[:, None], TOKENS[:, :5], VOCAB - 1)
    cache = m.init_cache(B, T + 2)
    assert all(leaf.shape[0] == B for leaf in jax.tree.leaves(cache))
    out, cache = extend(cache, prompt, jnp.asarray(lengths))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[b, :n], full[b, :n], rtol=1e-4, atol=1e-4)
    step = jnp.stack([TOKENS[0, 2:3], TOKENS[1, 5:6]])
    out, cache = extend(cache, step, jnp.ones(B, jnp.int32))
    np.testing.assert_allclose(out[:, 0], full[[0, 1], [2, 5]], rtol=1e-4, atol=1e-4)
    swapped = jax.tree.map(lambda x: x[jnp.array([1, 0])], cache)
    step = jnp.stack([TOKENS[1, 6:7], TOKENS[0, 3:4]])
    out, cache = extend(swapped, step, jnp.ones(B, jnp.int32))
    np.testing.assert_allclose(out[:, 0], full[[1, 0], [6, 3]], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(cache["index"], [7, 4])
    with pytest.raises(ValueError, match="scan_layers"):
        model().apply({"params": params}, TOKENS[:, :1], m.init_cache(B, T),
                      method=TransformerLM.extend)


def test_scanned_layers_draw_their_own_dropout_masks():
    """``split_rngs``: with dropout only on the residual branches (rate 0.5), the kept units
    of layer 1 differ from those of layer 0."""
    m = model(scan_layers=True, residual_dropout=0.5)
    _, state = jax.jit(lambda p: m.apply(
        {"params": p}, TOKENS, train=True, rngs={"dropout": jax.random.key(3)},
        capture_intermediates=lambda mdl, _: isinstance(mdl, nn.Dropout)))(
            stack_layer_params(base_params()))
    blocks = state["intermediates"]["blocks"]
    residual = [out for k, v in blocks.items() if k.startswith("Dropout") for out in v["__call__"]]
    assert len(residual) == 2  # after attention, after the MLP; stacked over the 2 layers
    for out in residual:
        dropped = np.asarray(out == 0)  # [layer, B, T, W]
        assert 0.4 < dropped.mean() < 0.6
        assert (dropped[0] != dropped[1]).mean() > 0.3
