"""Decoding from autoregressive LMs in ``lax.scan``, and metrics of generated text.

Shared by the sequence experiments; the repetition metrics are those of unlikelihood
training [P055] (``seq_rep_n``, ``rep``/``wrep``), also reported by MixCE [P023].

Every decoder works with any flax model that has the interface of
:class:`~likelihood_jax.models.transformer.TransformerLM` and
:class:`~likelihood_jax.models.gru.GRULM`:

* ``model.init_cache(batch_size, max_len)``: an empty cache pytree (no params);
* ``model.apply({"params": p}, tokens [B, L], cache, method=model.extend)
  -> (logits [B, L, V], cache)``: the logits of ``L`` new tokens after the cache.

The prompt is run through ``extend`` once (prefill), then one token per scan step,
so generating ``N`` tokens costs ``N`` single-token steps (linear in ``N`` up to the
attention over the cache). :func:`greedy_uncached` re-runs the full prefix every
step (quadratic), for tests and the benchmark.

All decoders are jit-compiled (the model and the lengths are static) and return
only the ``N`` generated tokens ``[B, N]`` (beam search: ``[B, K, N]``).

Samplers (all in :func:`sample`): ancestral with ``temperature``; top-k
(Fan et al. 2018) keeps the ``k`` largest logits; nucleus / top-p (Holtzman et al.
2020) keeps the smallest set of most likely tokens whose probability reaches ``p``
(always at least the most likely token, so ``p -> 0`` is greedy decoding).

Text metrics (per sequence; callers vmap): :func:`seq_rep_n` and
:func:`distinct_n` of generated continuations, :func:`repeat_at_1` (next-token
predictions that repeat one of the previous ``l`` context tokens, Welleck et al.
2019), :func:`ngram_repeat_mask` (the candidates of sequence-level unlikelihood).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

_NEG_INF = -jnp.inf


# -- Logit filters ---------------------------------------------------------------------------


def top_k_logits(logits: jax.Array, k: int) -> jax.Array:
    """Logits with everything below the ``k``-th largest (last axis) set to ``-inf``."""
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    k = min(k, logits.shape[-1])
    kth = jax.lax.top_k(logits, k)[0][..., -1:]
    return jnp.where(logits < kth, _NEG_INF, logits)


def top_p_logits(logits: jax.Array, p: float | jax.Array) -> jax.Array:
    """Nucleus filter: keep the most likely tokens until their probability reaches ``p``.

    A token is kept if the total probability of the strictly more likely tokens
    is below ``p``; the most likely token is always kept (so ``p = 0`` is greedy,
    ``p = 1`` keeps every token).
    """
    order = jnp.argsort(-logits, axis=-1)
    sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs
    keep_sorted = (before < p) | (jnp.arange(logits.shape[-1]) == 0)
    keep = jnp.take_along_axis(keep_sorted, jnp.argsort(order, axis=-1), axis=-1)
    return jnp.where(keep, logits, _NEG_INF)


# -- The step function -----------------------------------------------------------------------


def _extend(model, params, cache, tokens):
    return model.apply({"params": params}, tokens, cache, method=model.extend)


def _prefill(model, params, prompt, total_len):
    cache = model.init_cache(prompt.shape[0], total_len)
    logits, cache = _extend(model, params, cache, prompt)
    return logits[:, -1], cache


def _check_prompt(prompt):
    if prompt.ndim != 2 or prompt.shape[1] < 1:
        raise ValueError(f"prompt must have shape [batch, length >= 1], got {prompt.shape}")


def _decode(model, params, prompt, num_steps, choose, key):
    """Shared scan: ``choose(logits [B, V], key) -> tokens [B]`` picks each token."""
    _check_prompt(prompt)
    logits, cache = _prefill(model, params, prompt, prompt.shape[1] + num_steps)

    def step(carry, step_key):
        logits, cache = carry
        token = choose(logits, step_key).astype(prompt.dtype)
        new_logits, cache = _extend(model, params, cache, token[:, None])
        return (new_logits[:, 0], cache), token

    keys = jax.random.split(key, num_steps)
    _, tokens = jax.lax.scan(step, (logits, cache), keys)
    return tokens.T


@functools.partial(jax.jit, static_argnames=("model", "num_steps"))
def greedy(model: Any, params: Any, prompt: jax.Array, num_steps: int) -> jax.Array:
    """Greedy continuation ``[B, num_steps]`` of ``prompt [B, P]`` (argmax at every step)."""
    return _decode(model, params, prompt, num_steps,
                   lambda logits, _: jnp.argmax(logits, -1), jax.random.key(0))


@functools.partial(jax.jit, static_argnames=("model", "num_steps", "top_k"))
def sample(model: Any, params: Any, key: jax.Array, prompt: jax.Array, num_steps: int, *,
           temperature: float | jax.Array = 1.0, top_k: int | None = None,
           top_p: float | jax.Array | None = None) -> jax.Array:
    """Sampled continuation ``[B, num_steps]`` of ``prompt [B, P]``.

    Args:
      model: the LM (a flax module with ``init_cache`` and ``extend``).
      params: its parameters.
      key: PRNG key.
      prompt: ``[B, P]`` tokens, ``P >= 1``.
      num_steps: tokens to generate.
      temperature: logits are divided by it before filtering (1: ancestral).
      top_k: keep only the ``k`` most likely tokens (static; None: all).
      top_p: nucleus mass (None or 1: all tokens).
    """
    def choose(logits, step_key):
        logits = logits / temperature
        if top_k is not None:
            logits = top_k_logits(logits, top_k)
        if top_p is not None:
            logits = top_p_logits(logits, top_p)
        return jax.random.categorical(step_key, logits, axis=-1)

    return _decode(model, params, prompt, num_steps, choose, key)


@functools.partial(jax.jit, static_argnames=("model", "num_steps", "beam_size"))
def beam_search(model: Any, params: Any, prompt: jax.Array, num_steps: int,
                beam_size: int) -> tuple[jax.Array, jax.Array]:
    """Beam search for the most likely continuations of fixed length ``num_steps``.

    Keeps the ``beam_size`` highest-scoring partial continuations (score = sum of
    token log-probabilities); each step expands every beam by every token and keeps
    the best ``beam_size`` of the ``beam_size * V`` candidates, reordering the caches.
    There is no end-of-sequence token, so no length normalization is needed.

    Returns:
      ``(tokens [B, K, N], scores [B, K])``, best beam first. With ``beam_size=1``
      this is greedy decoding.
    """
    _check_prompt(prompt)
    batch, k = prompt.shape[0], beam_size
    logits, cache = _prefill(model, params, jnp.repeat(prompt, k, axis=0),
                             prompt.shape[1] + num_steps)
    vocab = logits.shape[-1]
    if k > vocab:
        raise ValueError(f"beam_size {k} exceeds the vocabulary size {vocab}")
    scores = jnp.where(jnp.arange(k) == 0, 0.0, _NEG_INF)[None].repeat(batch, 0)  # [B, K]
    history = jnp.zeros((batch, k, num_steps), prompt.dtype)

    def step(carry, t):
        logits, cache, scores, history = carry
        log_probs = jax.nn.log_softmax(logits, -1).reshape(batch, k, vocab)
        candidates = (scores[..., None] + log_probs).reshape(batch, k * vocab)
        scores, flat = jax.lax.top_k(candidates, k)
        beam, token = flat // vocab, (flat % vocab).astype(prompt.dtype)
        rows = (jnp.arange(batch)[:, None] * k + beam).reshape(-1)
        cache = jax.tree.map(lambda x: x[rows] if x.ndim else x, cache)
        history = jnp.take_along_axis(history, beam[..., None], axis=1).at[:, :, t].set(token)
        new_logits, cache = _extend(model, params, cache, token.reshape(-1, 1))
        return (new_logits[:, 0], cache, scores, history), None

    (_, _, scores, history), _ = jax.lax.scan(step, (logits, cache, scores, history),
                                              jnp.arange(num_steps))
    return history, scores


@functools.partial(jax.jit, static_argnames=("model", "num_steps"))
def greedy_uncached(model: Any, params: Any, prompt: jax.Array, num_steps: int) -> jax.Array:
    """Greedy decoding without a cache: every step re-runs the model on the whole buffer.

    The buffer has the static length ``P + num_steps`` (future slots hold zeros,
    which the causal mask hides), so each step costs a full forward pass and
    ``N`` tokens cost ``O(N * (P + N))``. Same output as :func:`greedy`.
    """
    _check_prompt(prompt)
    batch, plen = prompt.shape
    buffer = jnp.zeros((batch, plen + num_steps), prompt.dtype).at[:, :plen].set(prompt)

    def step(buffer, t):
        logits = model.apply({"params": params}, buffer)
        token = jnp.argmax(jax.lax.dynamic_index_in_dim(logits, plen - 1 + t, 1, False), -1)
        token = token.astype(buffer.dtype)
        return jax.lax.dynamic_update_index_in_dim(buffer, token, plen + t, 1), token

    _, tokens = jax.lax.scan(step, buffer, jnp.arange(num_steps))
    return tokens.T


# -- Metrics of generated text (one sequence; vmap over a batch) ------------------------------


def _ngram_matches(tokens: jax.Array, n: int) -> jax.Array:
    """``[M, M]`` bool: n-gram ``i`` equals n-gram ``j`` (``M = T - n + 1``)."""
    num = tokens.shape[-1] - n + 1
    if num < 1:
        raise ValueError(f"a sequence of length {tokens.shape[-1]} has no {n}-grams")
    grams = jnp.stack([tokens[i:i + num] for i in range(n)], axis=-1)  # [M, n]
    return jnp.all(grams[:, None, :] == grams[None, :, :], axis=-1)


def _first_occurrence(tokens: jax.Array, n: int) -> jax.Array:
    """``[M]`` bool: n-gram ``i`` does not occur at any earlier position."""
    same = _ngram_matches(tokens, n)
    earlier = jnp.tril(jnp.ones_like(same), k=-1)
    return ~jnp.any(same & earlier, axis=-1)


def seq_rep_n(tokens: jax.Array, n: int = 4) -> jax.Array:
    """Fraction of repeated n-grams: ``1 - |unique n-grams| / |n-grams|`` (Welleck et al. 2019).

    Args:
      tokens: ``[T]`` one generated continuation.
      n: n-gram size.
    """
    first = _first_occurrence(tokens, n)
    return jnp.sum(~first).astype(jnp.float32) / first.shape[0]


def distinct_n(tokens: jax.Array, n: int = 1) -> jax.Array:
    """Distinct-n of one sequence: ``|unique n-grams| / |n-grams|`` (Li et al. 2016)."""
    first = _first_occurrence(tokens, n)
    return jnp.sum(first).astype(jnp.float32) / first.shape[0]


def ngram_repeat_mask(tokens: jax.Array, n: int = 4) -> jax.Array:
    """``[T]`` bool: token ``t`` lies in an n-gram that already occurred earlier.

    The negative candidates of sequence-level unlikelihood (Welleck et al. 2019):
    every token of every repeated n-gram occurrence (not of its first occurrence).
    """
    length = tokens.shape[-1]
    repeated = ~_first_occurrence(tokens, n)  # [M]: n-gram starting at i is a repeat
    starts = jnp.arange(repeated.shape[0])
    covers = (jnp.arange(length)[:, None] >= starts[None, :]) & (
        jnp.arange(length)[:, None] < starts[None, :] + n)
    return jnp.any(covers & repeated[None, :], axis=-1)


def repeat_at_1(predictions: jax.Array, targets: jax.Array, context: jax.Array | None = None,
                *, window: int = 16) -> dict[str, jax.Array]:
    """Next-token repetition rates ``rep/l`` and ``wrep/l`` of one sequence (Welleck et al. 2019).

    Position ``t`` repeats if the prediction ``predictions[t]`` (e.g. the argmax of
    the model given the true prefix) is one of the previous ``window`` tokens of the
    true sequence ``context[t - window + 1 .. t]``, where ``context`` is the model's
    input (``context[t]`` is the token just before ``targets[t]``; default: the
    targets shifted right by one, without a first token).

    Returns:
      ``{"rep": [T] bool, "wrep": [T] bool, "human_rep": [T] bool}``: the
      prediction repeats; it repeats and is wrong; the true next token repeats.
      Average them over the unmasked positions.
    """
    length = targets.shape[-1]
    if context is None:
        context = jnp.concatenate([jnp.full((1,), -1, targets.dtype), targets[:-1]])
    t, s = jnp.arange(length)[:, None], jnp.arange(length)[None, :]
    in_window = (s <= t) & (s > t - window)  # [T, T]
    rep = jnp.any(in_window & (context[None, :] == predictions[:, None]), axis=-1)
    human = jnp.any(in_window & (context[None, :] == targets[:, None]), axis=-1)
    return {"rep": rep, "wrep": rep & (predictions != targets), "human_rep": human}
