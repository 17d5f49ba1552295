"""Decoding from autoregressive LMs in ``lax.scan``, and metrics of generated text.

Shared by the sequence experiments; the repetition metrics are those of unlikelihood
training [P055] (``seq_rep_n``, ``rep``/``wrep``), also reported by MixCE [P023].

Every decoder works with any flax model that has the interface of
:class:`~likelihood_jax.models.transformer.TransformerLM` and
:class:`~likelihood_jax.models.gru.GRULM`:

* ``model.init_cache(batch_size, max_len)``: an empty cache pytree (no params), every
  leaf with the batch on axis 0;
* ``model.apply({"params": p}, tokens [B, L], cache, lengths, method=model.extend)
  -> (logits [B, L, V], cache)``: the logits of ``L`` new tokens after the cache, of
  which the first ``lengths[b]`` are real for row ``b`` (``lengths`` is passed only for
  prompts of different lengths).

The prompt is run through ``extend`` once (:func:`prefill`, optionally in chunks), then
one token per scan step, so generating ``N`` tokens costs ``N`` single-token steps
(linear in ``N`` up to the attention over the cache). :func:`greedy_uncached` re-runs
the full prefix every step (quadratic), the reference of the tests and the benchmark.

Batches of prompts of different lengths: ``prompt [B, P]`` right-padded, with
``prompt_lengths [B]`` (each in ``[1, P]``). One padded prefill runs them all; row
``b``'s first token comes from the logits at position ``prompt_lengths[b] - 1`` and its
continuation is the one the row gets alone (the padding is never attended to).

End of sequence: with ``eos_id``, a row stops at its first EOS token (which is kept),
every later token of the row is ``pad_id``, and :func:`greedy` and :func:`sample` return
``(tokens [B, N], lengths [B])``, ``lengths[b]`` the number of generated tokens up to and
including the EOS (``N`` if there is none). Without ``eos_id`` they return the tokens
``[B, N]`` only. Once every row has stopped, the remaining scan steps skip the model
(``lax.cond``). All decoders are jit-compiled (the model, the lengths and the token ids
are static).

Samplers (all in :func:`sample`): ancestral with ``temperature`` (0 is greedy); top-k
(Fan et al. 2018) keeps the ``k`` largest logits; nucleus / top-p (Holtzman et al.
2020) keeps the smallest set of most likely tokens whose probability reaches ``p``
(always at least the most likely token, so ``p -> 0`` is greedy decoding).
:func:`beam_search` has GNMT's length normalization and early stopping.

Text metrics (per sequence; callers vmap): :func:`seq_rep_n` and
:func:`distinct_n` of generated continuations, :func:`repeat_at_1` (next-token
predictions that repeat one of the previous ``l`` context tokens, Welleck et al.
2019), :func:`ngram_repeat_mask` (the candidates of sequence-level unlikelihood).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_NEG_INF = -jnp.inf


# -- Logit filters ---------------------------------------------------------------------------


def top_k_logits(logits: jax.Array, k: int) -> jax.Array:
    """Logits with all but the ``k`` largest (last axis) set to ``-inf``.

    Exactly ``min(k, V)`` entries stay finite: among tied logits the lowest indices
    are kept (the order of ``lax.top_k``), so ``k = 1`` on several equal maxima keeps
    the first of them.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"top_k_logits: k (top_k) must be an integer >= 1, got {k!r}")
    if k >= logits.shape[-1]:
        return logits
    _, kept = jax.lax.top_k(logits, k)
    keep = jnp.put_along_axis(jnp.zeros(logits.shape, bool), kept, True, axis=-1,
                              inplace=False)
    return jnp.where(keep, logits, _NEG_INF)


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


# -- Argument checks (static: shapes, options, and values that are not traced) ------------------


def _check_count(function, argument, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{function}: {argument} must be an integer >= {minimum}, "
                         f"got {value!r}")


def _check_prompt(function, prompt, prompt_lengths=None):
    """Checks ``prompt [B, P]`` and ``prompt_lengths [B]``; returns the latter as an array."""
    if jnp.ndim(prompt) != 2 or prompt.shape[1] < 1:
        raise ValueError(f"{function}: prompt must be of shape [batch, length >= 1], "
                         f"got shape {jnp.shape(prompt)}")
    if prompt_lengths is None:
        return None
    prompt_lengths = jnp.asarray(prompt_lengths)
    batch, plen = prompt.shape
    if jnp.shape(prompt_lengths) != (batch,) or not jnp.issubdtype(
            jnp.result_type(prompt_lengths), jnp.integer):
        raise ValueError(f"{function}: prompt_lengths must be integers of shape (B,) = "
                         f"({batch},), got {jnp.result_type(prompt_lengths)} of shape "
                         f"{jnp.shape(prompt_lengths)}")
    if not isinstance(prompt_lengths, jax.core.Tracer):
        values = np.asarray(prompt_lengths)
        if values.min() < 1 or values.max() > plen:
            raise ValueError(f"{function}: prompt_lengths must be in [1, {plen}] (the padded "
                             f"prompt's length), got min {values.min()} and max {values.max()}")
    return prompt_lengths


def _check_decoding(function, model, prompt, num_steps, prompt_lengths, eos_id, pad_id,
                    prefill_chunk):
    """The checks every decoder shares; returns ``prompt_lengths`` as an array (or None).

    The EOS id is checked against the logits' size ``V`` when the decoder is traced.
    """
    prompt_lengths = _check_prompt(function, prompt, prompt_lengths)
    _check_count(function, "num_steps", num_steps, 1)
    if prefill_chunk is not None:
        _check_count(function, "prefill_chunk", prefill_chunk, 1)
    if eos_id is not None:
        _check_count(function, "eos_id", eos_id, 0)
    _check_count(function, "pad_id", pad_id, 0)
    vocab = getattr(model, "vocab_size", None)
    if vocab is not None and pad_id >= vocab:
        raise ValueError(f"{function}: pad_id must be a token id < vocab_size {vocab}, "
                         f"got {pad_id}")
    return prompt_lengths


def _check_eos(eos_id, vocab):
    if eos_id is not None and eos_id >= vocab:
        raise ValueError(f"eos_id must be an output id < {vocab} (the logits' size), "
                         f"got {eos_id}")


# -- Prefill -----------------------------------------------------------------------------------


def _extend(model, params, cache, tokens, lengths=None):
    """``model.extend``: logits ``[B, L, V]`` of ``tokens [B, L]`` after ``cache``, new cache."""
    args = (tokens, cache) if lengths is None else (tokens, cache, lengths)
    return model.apply({"params": params}, *args, method=model.extend)


def prefill(model: Any, params: Any, prompt: jax.Array, max_len: int, *,
            prompt_lengths: jax.Array | None = None,
            chunk_size: int | None = None) -> tuple[jax.Array, Any]:
    """Runs the prompts through ``model.extend``: the next-token logits and the cache.

    Args:
      model: the LM (a flax module with ``init_cache`` and ``extend``).
      params: its parameters.
      prompt: ``[B, P]`` tokens, right-padded where ``prompt_lengths`` is given.
      max_len: length of the cache (the prompt and every token still to come).
      prompt_lengths: optional ``[B]`` real tokens of each prompt, in ``[1, P]``
        (default ``P``); the padding after them never enters a row's state.
      chunk_size: extend by at most this many tokens at a time (static; None: the
        whole prompt at once). Chunk ``c`` covers prompt positions
        ``c * chunk_size ...`` and is written at those cache indices (rows whose
        prompt has ended take none of its tokens), so one call's attention scores are
        ``[B, H, chunk_size, max_len]`` instead of ``[B, H, P, max_len]``; the result
        is the same up to float rounding.

    Returns:
      ``(logits [B, V], cache)``: the logits after each row's last real token
      (position ``prompt_lengths[b] - 1``), and the cache holding the prompts
      (index ``prompt_lengths``).
    """
    prompt_lengths = _check_prompt("prefill", prompt, prompt_lengths)
    if chunk_size is not None:
        _check_count("prefill", "chunk_size", chunk_size, 1)
    batch, plen = prompt.shape
    size = plen if chunk_size is None else chunk_size
    last = jnp.full((batch,), plen - 1) if prompt_lengths is None else prompt_lengths - 1
    cache = model.init_cache(batch, max_len)
    next_logits = None
    for start in range(0, plen, size):
        piece = prompt[:, start:start + size]
        real = None if prompt_lengths is None else jnp.clip(prompt_lengths - start, 0,
                                                            piece.shape[1])
        logits, cache = _extend(model, params, cache, piece, real)
        here = logits[jnp.arange(batch), jnp.clip(last - start, 0, piece.shape[1] - 1)]
        # The last chunk that starts at or before a row's last token holds that token.
        next_logits = here if next_logits is None else jnp.where(
            (last >= start)[:, None], here, next_logits)
    return next_logits, cache


# -- Greedy decoding and sampling --------------------------------------------------------------


def _decode(model, params, prompt, num_steps, choose, key, prompt_lengths, eos_id, pad_id,
            prefill_chunk):
    """Shared scan: ``choose(logits [B, V], key) -> tokens [B]`` picks each token."""
    logits, cache = prefill(model, params, prompt, prompt.shape[1] + num_steps,
                            prompt_lengths=prompt_lengths, chunk_size=prefill_chunk)
    _check_eos(eos_id, logits.shape[-1])

    def advance(cache, token):
        new_logits, cache = _extend(model, params, cache, token[:, None])
        return new_logits[:, 0], cache

    def step(carry, step_key):
        logits, cache, done = carry
        token = choose(logits, step_key).astype(prompt.dtype)
        alive = ~done
        if eos_id is None:
            logits, cache = advance(cache, token)
        else:
            token = jnp.where(alive, token, jnp.asarray(pad_id, prompt.dtype))
            done = done | (token == eos_id)
            logits, cache = jax.lax.cond(jnp.all(done), lambda c, _: (logits, c), advance,
                                         cache, token)
        return (logits, cache, done), (token, alive)

    keys = jax.random.split(key, num_steps)
    done = jnp.zeros(prompt.shape[0], bool)
    _, (tokens, alive) = jax.lax.scan(step, (logits, cache, done), keys)
    if eos_id is None:
        return tokens.T
    return tokens.T, jnp.sum(alive, 0, dtype=jnp.int32)


_DECODE_STATIC = ("model", "num_steps", "eos_id", "pad_id", "prefill_chunk")


@functools.partial(jax.jit, static_argnames=_DECODE_STATIC)
def _greedy(model, params, prompt, num_steps, prompt_lengths, *, eos_id, pad_id,
            prefill_chunk):
    return _decode(model, params, prompt, num_steps, lambda logits, _: jnp.argmax(logits, -1),
                   jax.random.key(0), prompt_lengths, eos_id, pad_id, prefill_chunk)


def greedy(model: Any, params: Any, prompt: jax.Array, num_steps: int, *,
           prompt_lengths: jax.Array | None = None, eos_id: int | None = None,
           pad_id: int = 0, prefill_chunk: int | None = None
           ) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Greedy continuation ``[B, num_steps]`` of ``prompt [B, P]`` (argmax at every step).

    Args:
      model: the LM (a flax module with ``init_cache`` and ``extend``).
      params: its parameters.
      prompt: ``[B, P]`` tokens, ``P >= 1`` (right-padded with ``prompt_lengths``).
      num_steps: tokens to generate.
      prompt_lengths: optional ``[B]`` real tokens of each prompt, in ``[1, P]``.
      eos_id: optional end-of-sequence id: a row stops after emitting it.
      pad_id: the token of a row after its EOS (and what the model is fed there).
      prefill_chunk: run the prompt through the model this many tokens at a time
        (:func:`prefill`; None: all at once).

    Returns:
      the tokens ``[B, num_steps]``; with ``eos_id``, ``(tokens, lengths [B])``.
    """
    prompt_lengths = _check_decoding("greedy", model, prompt, num_steps, prompt_lengths,
                                     eos_id, pad_id, prefill_chunk)
    return _greedy(model, params, prompt, num_steps, prompt_lengths, eos_id=eos_id,
                   pad_id=pad_id, prefill_chunk=prefill_chunk)


def _sampler(temperature, top_k, top_p):
    """``choose(logits, key)``: a draw from the filtered ``softmax(logits / T)``; argmax at 0."""
    def choose(logits, key):
        temp = jnp.asarray(temperature, logits.dtype)
        hot = temp > 0
        scaled = logits / jnp.where(hot, temp, 1)
        if top_k is not None:
            scaled = top_k_logits(scaled, top_k)
        if top_p is not None:
            scaled = top_p_logits(scaled, top_p)
        return jnp.where(hot, jax.random.categorical(key, scaled, axis=-1),
                         jnp.argmax(logits, -1))
    return choose


@functools.partial(jax.jit, static_argnames=_DECODE_STATIC + ("top_k",))
def _sample(model, params, key, prompt, num_steps, temperature, top_p, prompt_lengths, *,
            top_k, eos_id, pad_id, prefill_chunk):
    return _decode(model, params, prompt, num_steps, _sampler(temperature, top_k, top_p), key,
                   prompt_lengths, eos_id, pad_id, prefill_chunk)


def sample(model: Any, params: Any, key: jax.Array, prompt: jax.Array, num_steps: int, *,
           temperature: float | jax.Array = 1.0, top_k: int | None = None,
           top_p: float | jax.Array | None = None, prompt_lengths: jax.Array | None = None,
           eos_id: int | None = None, pad_id: int = 0, prefill_chunk: int | None = None
           ) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Sampled continuation ``[B, num_steps]`` of ``prompt [B, P]``.

    Args:
      model: the LM (a flax module with ``init_cache`` and ``extend``).
      params: its parameters.
      key: PRNG key.
      prompt: ``[B, P]`` tokens, ``P >= 1`` (right-padded with ``prompt_lengths``).
      num_steps: tokens to generate.
      temperature: a scalar ``>= 0``; logits are divided by it before filtering (1:
        ancestral; 0: greedy, the argmax, with any filter). A negative value is refused
        unless it is traced (a traced temperature ``<= 0`` decodes greedily).
      top_k: keep only the ``k`` most likely tokens (static; None: all).
      top_p: nucleus mass (None or 1: all tokens).
      prompt_lengths: optional ``[B]`` real tokens of each prompt, in ``[1, P]``.
      eos_id: optional end-of-sequence id: a row stops after emitting it.
      pad_id: the token of a row after its EOS (and what the model is fed there).
      prefill_chunk: run the prompt through the model this many tokens at a time.

    Returns:
      the tokens ``[B, num_steps]``; with ``eos_id``, ``(tokens, lengths [B])``.
    """
    prompt_lengths = _check_decoding("sample", model, prompt, num_steps, prompt_lengths,
                                     eos_id, pad_id, prefill_chunk)
    if jnp.ndim(temperature) != 0:
        raise ValueError(f"sample: temperature must be a scalar, got shape "
                         f"{jnp.shape(temperature)}")
    if not isinstance(temperature, jax.core.Tracer) and float(temperature) < 0:
        raise ValueError(f"sample: temperature must be >= 0 (0 is greedy), got "
                         f"{float(temperature)}")
    if top_k is not None:
        _check_count("sample", "top_k", top_k, 1)
    return _sample(model, params, key, prompt, num_steps, temperature, top_p, prompt_lengths,
                   top_k=top_k, eos_id=eos_id, pad_id=pad_id, prefill_chunk=prefill_chunk)


# -- Beam search -------------------------------------------------------------------------------


def length_penalty(length: int | jax.Array, alpha: float) -> jax.Array:
    """GNMT's length normalizer ``lp(|y|) = ((5 + |y|) / 6) ** alpha`` (Wu et al. 2016).

    A hypothesis ``y`` scores ``log p(y | prompt) / lp(|y|)``; ``alpha = 0`` gives
    ``lp = 1`` (the raw log-probability), larger ``alpha`` favours longer hypotheses.
    """
    return ((5.0 + jnp.asarray(length, jnp.float32)) / 6.0) ** alpha


def _best(first, second, k):
    """The ``k`` best of the union of two sets of hypotheses, best first.

    A set is ``(scores [B, k], tokens [B, k, N], lengths [B, k])``; a tie keeps ``first``'s.
    """
    scores, tokens, lengths = (jnp.concatenate(pair, 1) for pair in zip(first, second))
    scores, index = jax.lax.top_k(scores, k)
    return (scores, jnp.take_along_axis(tokens, index[..., None], 1),
            jnp.take_along_axis(lengths, index, 1))


@functools.partial(jax.jit, static_argnames=("model", "num_steps", "beam_size", "alpha",
                                             "eos_id", "pad_id", "prefill_chunk"))
def _beam_search(model, params, prompt, num_steps, prompt_lengths, *, beam_size, alpha, eos_id,
                 pad_id, prefill_chunk):
    batch, k = prompt.shape[0], beam_size
    lengths = None if prompt_lengths is None else jnp.repeat(prompt_lengths, k)
    logits, cache = prefill(model, params, jnp.repeat(prompt, k, axis=0),
                            prompt.shape[1] + num_steps, prompt_lengths=lengths,
                            chunk_size=prefill_chunk)
    vocab = logits.shape[-1]
    _check_eos(eos_id, vocab)
    final_lp = length_penalty(num_steps, alpha)
    live = jnp.where(jnp.arange(k) == 0, 0.0, _NEG_INF).astype(jnp.float32)
    live = live[None].repeat(batch, 0)  # [B, K] raw log-probabilities (float32)
    seqs = jnp.full((batch, k, num_steps), pad_id, prompt.dtype)
    finished = (jnp.full((batch, k), _NEG_INF, jnp.float32), seqs, jnp.zeros((batch, k), jnp.int32))
    done = jnp.zeros(batch, bool)

    def advance(cache, rows, token):
        cache = jax.tree.map(lambda x: x[rows] if x.ndim else x, cache)
        new_logits, cache = _extend(model, params, cache, token.reshape(-1, 1))
        return new_logits[:, 0], cache

    def step(carry, t):
        logits, cache, live, seqs, finished, done = carry
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), -1)
        raw = live[..., None] + log_probs.reshape(batch, k, vocab)
        if eos_id is not None:
            ended = (raw[..., eos_id] / length_penalty(t + 1, alpha),
                     seqs.at[:, :, t].set(eos_id), jnp.full((batch, k), t + 1, jnp.int32))
            merged = _best(finished, ended, k)
            finished = jax.tree.map(
                lambda old, new: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), old,
                                           new), finished, merged)
            raw = raw.at[..., eos_id].set(_NEG_INF)
        live, flat = jax.lax.top_k(raw.reshape(batch, k * vocab), k)
        beam, token = flat // vocab, (flat % vocab).astype(prompt.dtype)
        seqs = jnp.take_along_axis(seqs, beam[..., None], axis=1).at[:, :, t].set(token)
        rows = (jnp.arange(batch)[:, None] * k + beam).reshape(-1)
        if eos_id is None:
            logits, cache = advance(cache, rows, token)
        else:
            # No completion of a live beam scores above live[:, 0] / lp(N) (see beam_search).
            done = done | (live[:, 0] / final_lp <= finished[0][:, -1])
            logits, cache = jax.lax.cond(jnp.all(done), lambda c, *_: (logits, c), advance,
                                         cache, rows, token)
        return (logits, cache, live, seqs, finished, done), None

    carry = (logits, cache, live, seqs, finished, done)
    (_, _, live, seqs, finished, done), _ = jax.lax.scan(step, carry, jnp.arange(num_steps))
    if eos_id is None:
        return seqs, live / final_lp
    truncated = (jnp.where(done[:, None], _NEG_INF, live / final_lp), seqs,
                 jnp.full((batch, k), num_steps, jnp.int32))
    scores, tokens, lengths = _best(finished, truncated, k)
    return tokens, scores, lengths


def beam_search(model: Any, params: Any, prompt: jax.Array, num_steps: int, beam_size: int, *,
                alpha: float = 0.0, eos_id: int | None = None, pad_id: int = 0,
                prompt_lengths: jax.Array | None = None, prefill_chunk: int | None = None
                ) -> tuple[jax.Array, ...]:
    """Beam search for the most likely continuations of at most ``num_steps`` tokens.

    A hypothesis ``y`` scores ``log p(y | prompt) / lp(|y|)`` with GNMT's
    :func:`length_penalty` ``lp(|y|) = ((5 + |y|) / 6) ** alpha`` (``alpha = 0``: the
    sum of the token log-probabilities). Each step expands every live beam by every
    token and keeps the best ``beam_size`` of the non-EOS candidates (reordering the
    caches). With ``eos_id``, a beam's EOS extension (EOS included in ``|y|``) enters
    a separate set of the ``beam_size`` best finished hypotheses, and after the last
    step the live beams join that set as hypotheses of length ``num_steps``.

    Early stopping: token log-probabilities are ``<= 0`` and ``lp`` grows with the
    length (``alpha >= 0``), so any completion of a live beam with raw score ``s``
    scores at most ``s / lp(num_steps)``. A row is done once this bound, for its best
    live beam, is at most the score of its ``beam_size``-th finished hypothesis: no
    live beam can then enter the finished set (for ``alpha = 0`` the bound is the
    live score itself). A done row stops changing (the scan keeps its fixed length;
    once every row is done its steps skip the model).

    Args:
      model: the LM (a flax module with ``init_cache`` and ``extend``).
      params: its parameters.
      prompt: ``[B, P]`` tokens, ``P >= 1`` (right-padded with ``prompt_lengths``).
      num_steps: the most tokens to generate (``N``).
      beam_size: beams ``K`` per prompt; beams beyond the number of distinct
        hypotheses score ``-inf``.
      alpha: the length-normalization exponent, ``>= 0`` (static).
      eos_id: optional end-of-sequence id.
      pad_id: the token after a hypothesis' EOS.
      prompt_lengths: optional ``[B]`` real tokens of each prompt, in ``[1, P]``.
      prefill_chunk: run the prompt through the model this many tokens at a time.

    Returns:
      ``(tokens [B, K, N], scores [B, K])``, best first; with ``eos_id`` also
      ``lengths [B, K]`` (generated tokens, the EOS included). Without ``eos_id``
      every hypothesis has length ``N`` and ``beam_size=1`` is greedy decoding.
    """
    prompt_lengths = _check_decoding("beam_search", model, prompt, num_steps, prompt_lengths,
                                     eos_id, pad_id, prefill_chunk)
    _check_count("beam_search", "beam_size", beam_size, 1)
    if not isinstance(alpha, numbers.Real) or alpha < 0:
        raise ValueError(f"beam_search: alpha must be a number >= 0, got {alpha!r}")
    return _beam_search(model, params, prompt, num_steps, prompt_lengths, beam_size=beam_size,
                        alpha=float(alpha), eos_id=eos_id, pad_id=pad_id,
                        prefill_chunk=prefill_chunk)


@functools.partial(jax.jit, static_argnames=("model", "num_steps"))
def _greedy_uncached(model, params, prompt, num_steps, prompt_lengths):
    batch, plen = prompt.shape
    starts = jnp.full((batch,), plen) if prompt_lengths is None else prompt_lengths
    rows = jnp.arange(batch)
    buffer = jnp.zeros((batch, plen + num_steps), prompt.dtype).at[:, :plen].set(prompt)

    def step(buffer, t):
        logits = model.apply({"params": params}, buffer)
        token = jnp.argmax(logits[rows, starts - 1 + t], -1).astype(buffer.dtype)
        return buffer.at[rows, starts + t].set(token), token

    _, tokens = jax.lax.scan(step, buffer, jnp.arange(num_steps))
    return tokens.T


def greedy_uncached(model: Any, params: Any, prompt: jax.Array, num_steps: int, *,
                    prompt_lengths: jax.Array | None = None) -> jax.Array:
    """Greedy decoding without a cache: every step re-runs the model on the whole buffer.

    The buffer has the static length ``P + num_steps``; row ``b``'s token ``t`` is
    written at position ``prompt_lengths[b] + t`` (default ``P + t``), over the
    prompt's padding, and the slots after it (padding, zeros) are hidden by the causal
    mask. Each step costs a full forward pass and ``N`` tokens cost ``O(N * (P + N))``.
    Same output as :func:`greedy`.
    """
    prompt_lengths = _check_decoding("greedy_uncached", model, prompt, num_steps, prompt_lengths,
                                     None, 0, None)
    return _greedy_uncached(model, params, prompt, num_steps, prompt_lengths)


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
