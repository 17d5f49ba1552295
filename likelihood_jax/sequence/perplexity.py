"""Sliding-window evaluation of a causal LM on a token stream longer than its context.

A model that reads at most ``T`` tokens cannot condition on the whole stream
``x_0 .. x_{N-1}``. Cutting the stream into disjoint windows scores the first tokens of
every window with almost no context; sliding a window of ``T + 1`` tokens by a stride
``S <= T`` (the HuggingFace perplexity guide's scheme) scores each token ``x_p``,
``p >= 1``, exactly once, in the first window that contains it and has not scored it,
with at least ``min(p, T - S + 1)`` tokens of left context:

* window ``k`` holds ``x[kS : kS + T + 1]`` (the last one padded past the end);
  its inputs are its first ``T`` tokens and it predicts its last ``T``;
* window 0 scores ``x_1 .. x_T``; window ``k >= 1`` scores the tokens after
  ``x_{(k-1)S + T}`` (the last one window ``k - 1`` scored): ``x_{(k-1)S+T+1} ..
  x_{kS+T}``, its last ``S`` targets, each with at least ``T - S + 1`` tokens before it
  in the window;
* there are ``K = 1 + ceil(max(N - 1 - T, 0) / S)`` windows.

``S = T`` gives windows that overlap in one token (every token scored with at least one
token of context); smaller strides give more context for ``T / S`` times the compute.
The corpus log-perplexity is the mean of the per-token NLLs, ``exp`` of it the perplexity,
and (nats / ln 2) / characters per token the bits per character.
"""

from __future__ import annotations

import math
import operator
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.sequence.objectives import token_cross_entropy

__all__ = ["sliding_window_nll", "sliding_windows"]


def _check(num_tokens: int, context: int, stride: int) -> tuple[int, int, int]:
    num_tokens, context, stride = map(operator.index, (num_tokens, context, stride))
    if context < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    if not 1 <= stride <= context:
        raise ValueError(f"stride must lie in [1, context={context}], got {stride}")
    if num_tokens < 2:
        raise ValueError(f"a stream of {num_tokens} tokens has nothing to score (need >= 2)")
    return num_tokens, context, stride


def sliding_windows(tokens: np.ndarray, context: int, stride: int, pad_id: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The windows of the sliding-window evaluation and which of their targets count.

    Args:
      tokens: ``[N]`` token stream, ``N >= 2``.
      context: ``T``, the model's input length.
      stride: ``S``, ``1 <= S <= T``.
      pad_id: Token that fills the last window past the end of the stream.

    Returns:
      ``(windows [K, T + 1], scored [K, T] bool)``: window ``k`` is ``tokens[kS : kS + T
      + 1]``; ``scored[k, j]`` says that its target ``j`` (``windows[k, j + 1]``, the token
      at position ``kS + 1 + j``) is scored here. Every position ``1 .. N-1`` is scored in
      exactly one window (see the module docstring).

    Raises:
      ValueError: ``context < 1``, ``stride`` outside ``[1, context]``, or ``N < 2``.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D stream, got shape {tokens.shape}")
    n, context, stride = _check(len(tokens), context, stride)
    num_windows = 1 + math.ceil(max(n - 1 - context, 0) / stride)
    starts = stride * np.arange(num_windows)
    padded = np.full(max(n, starts[-1] + context + 1), pad_id, tokens.dtype)
    padded[:n] = tokens
    windows = padded[starts[:, None] + np.arange(context + 1)]
    position = starts[:, None] + 1 + np.arange(context)  # of each target
    first = np.where(np.arange(num_windows) == 0, 1, starts - stride + context + 1)
    scored = (position >= first[:, None]) & (position < n)
    return windows, scored


def sliding_window_nll(logits_fn: Callable[[jax.Array], jax.Array], tokens: np.ndarray,
                       context: int, stride: int, batch_size: int | None = None
                       ) -> jax.Array:
    """``[N - 1]`` NLL (nats) of ``tokens[1:]``, each scored once by a sliding window.

    Token ``x_p`` is scored by ``-log q(x_p | x_{b..p-1})`` where ``b`` is the start of the
    window that scores it (:func:`sliding_windows`): at least ``min(p, T - S + 1)`` tokens
    of context. The perplexity of the stream is ``exp(mean(nll))``.

    Args:
      logits_fn: Causal model, ``inputs [B, T] -> logits [B, T, V]`` (position ``t``
        predicts the token after input ``t``).
      tokens: ``[N]`` token stream.
      context: ``T``.
      stride: ``S``, ``1 <= S <= T``.
      batch_size: Windows per call of ``logits_fn`` (None: all at once).
    """
    tokens = np.asarray(tokens)
    windows, scored = sliding_windows(tokens, context, stride)
    batch_size = batch_size or len(windows)
    per_window = [token_cross_entropy(logits_fn(jnp.asarray(w[:, :-1])), jnp.asarray(w[:, 1:]))
                  for w in np.array_split(windows, range(batch_size, len(windows), batch_size))]
    nll = jnp.concatenate(per_window)  # [K, T]
    starts = stride * np.arange(len(windows))
    position = starts[:, None] + 1 + np.arange(context)
    out = jnp.zeros(len(tokens) - 1, nll.dtype)
    return out.at[position[scored] - 1].set(nll[scored])
