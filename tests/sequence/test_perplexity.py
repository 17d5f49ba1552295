"""Sliding-window perplexity against token-by-token scoring with each token's own context."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import perplexity


def hf_style_contexts(num_tokens: int, context: int, stride: int) -> dict[int, int]:
    """{position p: start of its context}, by the HuggingFace perplexity guide's loop."""
    starts, last_scored = {}, 0
    for begin in range(0, num_tokens, stride):
        end = min(begin + context + 1, num_tokens)  # a window of at most T + 1 tokens
        for p in range(max(last_scored, begin) + 1, end):
            assert p not in starts
            starts[p] = begin
        last_scored = end - 1
        if end == num_tokens:
            break
    return starts


@pytest.fixture()
def tiny_lm():
    # Learned absolute positions: a token scored at the wrong offset in its window changes.
    model = TransformerLM(vocab_size=7, num_layers=1, width=16, num_heads=2, max_len=8,
                          position="learned")
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))["params"]
    return model, params


def test_each_token_scored_once_with_its_allowed_context(tiny_lm):
    model, params = tiny_lm
    # 14 tokens, T = 4, S = 3: four windows (two calls of two), the last one padded.
    context, stride, tokens = 4, 3, np.random.default_rng(0).integers(0, 7, 14)
    apply = jax.jit(lambda x: model.apply({"params": params}, x))
    nll = np.asarray(perplexity.sliding_window_nll(apply, tokens, context, stride, batch_size=2))

    starts = hf_style_contexts(len(tokens), context, stride)
    assert sorted(starts) == list(range(1, len(tokens)))  # every token once
    # Its own forward pass for each token, on exactly its context.
    last_nll = jax.jit(lambda x, y: -jax.nn.log_softmax(apply(x[None])[0, -1])[y])
    expected = []
    for p, begin in sorted(starts.items()):
        assert p - begin >= min(p, context - stride + 1)  # the stated context guarantee
        expected.append(last_nll(tokens[begin:p], tokens[p]))
    np.testing.assert_allclose(nll, np.array(expected), rtol=2e-5, atol=1e-6)


def test_sliding_windows_layout_and_errors():
    windows, scored = perplexity.sliding_windows(np.arange(10) + 1, 4, 3, pad_id=0)
    # K = 1 + ceil((10 - 1 - 4) / 3) = 3 windows at 0, 3, 6; the last is padded by one 0.
    np.testing.assert_array_equal(windows, [[1, 2, 3, 4, 5], [4, 5, 6, 7, 8], [7, 8, 9, 10, 0]])
    np.testing.assert_array_equal(scored, [[1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 0]])
    with pytest.raises(ValueError, match="stride must lie in"):
        perplexity.sliding_windows(np.arange(10), 4, 5)
    with pytest.raises(ValueError, match="nothing to score"):
        perplexity.sliding_windows(np.arange(1), 4, 2)
    with pytest.raises(ValueError, match="1-D"):
        perplexity.sliding_windows(np.zeros((2, 5), int), 4, 2)
