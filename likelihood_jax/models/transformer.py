"""A small transformer language model: causal with a KV cache, or bidirectional for MLM.

``TransformerLM`` maps tokens ``[B, T]`` to next-token logits ``[B, T, V_out]``:
token embedding (plus learned absolute positions, or rotary position embeddings
inside attention), ``num_layers`` pre-norm blocks ``x + Attn(LN(x))``,
``x + MLP(LN(x))``, a final LayerNorm and a linear head. Logit ``[b, t]`` depends
on ``tokens[b, :t + 1]`` only (the causal mask); with ``segment_ids`` (packed
sequences) also only on tokens of the same segment, and positions restart at
each segment. With ``causal=False`` the same stack is a bidirectional encoder
(every token attends to every token of its segment): the masked language model
of BERT-style objectives, whose logit ``[b, t]`` predicts the token at ``t``
itself; ``hidden_states`` gives the contextual embeddings before the head.

Incremental decoding uses an explicit cache pytree (no flax ``cache``
collection)::

    model = TransformerLM(vocab_size=83, num_layers=4, width=256, num_heads=4)
    params = model.init(key, tokens)["params"]
    logits = model.apply({"params": params}, tokens)                  # [B, T, V]
    cache = model.init_cache(batch_size=B, max_len=T)
    logits, cache = model.apply({"params": params}, tokens[:, :5], cache,
                                method=TransformerLM.extend)             # prefill
    logits, cache = model.apply({"params": params}, tokens[:, 5:6], cache,
                                method=TransformerLM.extend)             # one step

``extend`` writes the keys and values of sequence ``b``'s ``L`` new tokens at
positions ``cache["index"][b] ... + L - 1`` and attends to everything written so
far, so a step costs ``O(L * max_len)`` attention and ``O(L)`` everything else, and
generating ``N`` tokens costs ``O(N)`` projections instead of the ``O(N^2)`` of
re-running the whole prefix. The index is per sequence (``[B]``): with
``lengths [B]`` only the first ``lengths[b]`` of the ``L`` tokens count for
sequence ``b`` (its index advances by ``lengths[b]``), which is how prompts of
different lengths share one right-padded prefill; the padding's keys sit beyond
the index, hidden by the causal mask until later tokens overwrite them. Every leaf
of the cache has the batch on axis 0 (beam search reorders caches by gathering
along it).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

POSITIONS = ("rotary", "learned")
_MASKED = -1e30


def rotary_embedding(x: jax.Array, positions: jax.Array, base: float = 10000.0) -> jax.Array:
    """Rotates feature pairs of ``x`` by position-dependent angles (RoPE, Su et al. 2021).

    Args:
      x: ``[B, L, H, D]`` queries or keys, ``D`` even.
      positions: ``[B, L]`` integer positions.
      base: the frequency base; pair ``i`` turns by ``pos * base**(-2i/D)``.

    Returns:
      ``x`` with pair ``(x[..., i], x[..., i + D/2])`` rotated, so that the dot
      product of a rotated query and key depends on their positions only through
      their difference.
    """
    half = x.shape[-1] // 2
    freqs = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
    angles = positions[..., None].astype(jnp.float32) * freqs  # [B, L, D/2]
    cos, sin = jnp.cos(angles)[:, :, None, :], jnp.sin(angles)[:, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x.dtype)


def segment_positions(segment_ids: jax.Array) -> jax.Array:
    """Position of each token within its segment: ``[B, T]`` ids -> ``[B, T]`` 0, 1, ...

    A segment starts where the id differs from the previous token's.
    """
    t = jnp.arange(segment_ids.shape[-1])
    starts = jnp.concatenate([jnp.ones_like(segment_ids[..., :1], bool),
                              segment_ids[..., 1:] != segment_ids[..., :-1]], axis=-1)
    last_start = jax.lax.cummax(jnp.where(starts, t, 0), axis=segment_ids.ndim - 1)
    return t - last_start


def write_cache(cache: jax.Array, new: jax.Array, index: jax.Array) -> jax.Array:
    """``cache [B, H, S, D]`` with ``new [B, H, L, D]`` written at positions ``index[b]...``."""
    def write_row(row, update, start):
        return jax.lax.dynamic_update_slice(row, update.astype(row.dtype), (0, start, 0))
    return jax.vmap(write_row)(cache, new, index)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention under a given boolean mask, with an optional KV cache."""

    num_heads: int
    head_dim: int
    rotary: bool
    rotary_base: float = 10000.0

    @nn.compact
    def __call__(self, x, positions, mask, kv=None, index=None):
        """Attention output ``[B, L, W]`` and the updated ``kv`` (or None).

        Args:
          x: ``[B, L, W]`` inputs.
          positions: ``[B, L]`` positions of the inputs (for rotary embeddings).
          mask: ``[B, 1, L, S]`` True where query ``l`` may attend to key ``s``.
          kv: optional cache ``{"k", "v"}`` of shape ``[B, H, S, D]`` (heads before
            positions, so that neither attention product has to transpose the whole
            cache); the new keys and values are written at ``index`` and attention
            runs over all ``S``.
          index: ``[B]`` where each sequence's first new token goes in ``kv``.
        """
        width = x.shape[-1]
        dense = lambda name: nn.DenseGeneral((self.num_heads, self.head_dim), name=name)  # noqa: E731
        q, k, v = dense("query")(x), dense("key")(x), dense("value")(x)
        if self.rotary:
            q = rotary_embedding(q, positions, self.rotary_base)
            k = rotary_embedding(k, positions, self.rotary_base)
        q, k, v = (jnp.swapaxes(a, 1, 2) for a in (q, k, v))  # [B, H, L, D]
        new_kv = None
        if kv is not None:
            k, v = write_cache(kv["k"], k, index), write_cache(kv["v"], v, index)
            new_kv = {"k": k, "v": v}
        scores = jnp.einsum("bhld,bhsd->bhls", q, k) / jnp.sqrt(self.head_dim).astype(q.dtype)
        scores = jnp.where(mask, scores, _MASKED)
        weights = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("bhls,bhsd->blhd", weights, v)
        out = nn.DenseGeneral(width, axis=(-2, -1), name="out")(out)
        return out, new_kv


class Block(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    num_heads: int
    mlp_ratio: int
    rotary: bool
    rotary_base: float = 10000.0

    @nn.compact
    def __call__(self, x, positions, mask, kv=None, index=None):
        """Block output ``[B, L, W]`` and the updated ``kv`` cache (or None)."""
        width = x.shape[-1]
        attn, new_kv = CausalSelfAttention(
            self.num_heads, width // self.num_heads, self.rotary, self.rotary_base,
            name="attention")(nn.LayerNorm(name="norm_attention")(x), positions, mask, kv, index)
        x = x + attn
        h = nn.LayerNorm(name="norm_mlp")(x)
        h = nn.Dense(self.mlp_ratio * width, name="mlp_in")(h)
        h = nn.Dense(width, name="mlp_out")(nn.gelu(h))
        return x + h, new_kv


class TransformerLM(nn.Module):
    """Causal transformer LM (pre-norm, rotary or learned positions, KV cache).

    Attributes:
      vocab_size: number of input token ids.
      output_size: number of output classes (default ``vocab_size``); e.g. a
        synthetic source with a BOS input id that is never predicted.
      num_layers: transformer blocks.
      width: model width; ``num_heads`` must divide it (and the head size must
        be even for rotary positions).
      num_heads: attention heads.
      mlp_ratio: hidden width of the MLP over ``width``.
      max_len: longest sequence (only limits learned positions).
      position: ``"rotary"`` or ``"learned"``.
      rotary_base: frequency base of the rotary embedding.
      causal: True (default) for the causal LM; False for a bidirectional
        encoder (no KV cache: ``extend`` raises).
    """

    vocab_size: int
    output_size: int | None = None
    num_layers: int = 4
    width: int = 256
    num_heads: int = 4
    mlp_ratio: int = 4
    max_len: int = 1024
    position: str = "rotary"
    rotary_base: float = 10000.0
    causal: bool = True

    def setup(self):  # noqa: D102
        if self.position not in POSITIONS:
            raise ValueError(f"unknown position {self.position!r}; choose one of {POSITIONS}")
        if self.width % self.num_heads:
            raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}")
        if self.position == "rotary" and (self.width // self.num_heads) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.width // self.num_heads}")
        init = nn.initializers.normal(0.02)
        self.embed = nn.Embed(self.vocab_size, self.width, embedding_init=init)
        if self.position == "learned":
            self.position_embed = nn.Embed(self.max_len, self.width, embedding_init=init)
        self.blocks = [Block(self.num_heads, self.mlp_ratio, self.position == "rotary",
                             self.rotary_base, name=f"block_{i}")
                       for i in range(self.num_layers)]
        self.norm = nn.LayerNorm()
        self.head = nn.Dense(self.output_size or self.vocab_size)

    # -- helpers -------------------------------------------------------------------------

    def _check_tokens(self, tokens):
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape [batch, length], got {tokens.shape}")

    def token_embeddings(self, tokens: jax.Array) -> jax.Array:
        """``[B, T]`` ids -> ``[B, T, W]`` token embeddings (without positions)."""
        self._check_tokens(tokens)
        return self.embed(tokens)

    def _blocks(self, h, positions, mask, cache=None):
        """Final-norm hidden states ``[B, L, W]`` and the per-layer caches."""
        if self.position == "learned":
            h = h + self.position_embed(positions)
        layers = []
        for i, block in enumerate(self.blocks):
            kv = None if cache is None else cache["layers"][i]
            h, new_kv = block(h, positions, mask, kv, None if cache is None else cache["index"])
            layers.append(new_kv)
        return self.norm(h), layers

    # -- full sequences --------------------------------------------------------------------

    def hidden_states(self, embeddings: jax.Array, positions: jax.Array | None = None,
                      segment_ids: jax.Array | None = None) -> jax.Array:
        """Contextual embeddings ``[B, T, W]`` (after the final LayerNorm, before the head).

        Args:
          embeddings: ``[B, T, W]`` token embeddings (``token_embeddings(tokens)``).
          positions: optional ``[B, T]`` positions, as in ``__call__``.
          segment_ids: optional ``[B, T]`` packed-sequence ids, as in ``__call__``.
        """
        batch, length = embeddings.shape[:2]
        if positions is None:
            positions = (segment_positions(segment_ids) if segment_ids is not None
                         else jnp.broadcast_to(jnp.arange(length), (batch, length)))
        mask = jnp.ones((length, length), bool)
        if self.causal:
            mask = jnp.tril(mask)
        mask = mask[None, None]
        if segment_ids is not None:
            mask = mask & (segment_ids[:, None, :, None] == segment_ids[:, None, None, :])
        hidden, _ = self._blocks(embeddings, positions, mask)
        return hidden

    def logits_from_embeddings(self, embeddings: jax.Array, positions: jax.Array | None = None,
                               segment_ids: jax.Array | None = None) -> jax.Array:
        """Logits ``[B, T, V_out]`` from token embeddings ``[B, T, W]`` (see ``__call__``)."""
        return self.head(self.hidden_states(embeddings, positions, segment_ids))

    def __call__(self, tokens: jax.Array, positions: jax.Array | None = None,
                 segment_ids: jax.Array | None = None) -> jax.Array:
        """Logits ``[B, T, V_out]`` of ``tokens [B, T]``: next-token (causal) or per-position.

        Args:
          tokens: ``[B, T]`` int token ids.
          positions: optional ``[B, T]`` positions (default ``0..T-1``, or the
            position within the segment when ``segment_ids`` is given).
          segment_ids: optional ``[B, T]`` ids of packed sequences; a token attends
            only to (earlier, if causal) tokens with the same id.
        """
        return self.logits_from_embeddings(self.token_embeddings(tokens), positions, segment_ids)

    # -- incremental decoding --------------------------------------------------------------

    def init_cache(self, batch_size: int, max_len: int, dtype: Any = jnp.float32) -> dict:
        """An empty KV cache for ``batch_size`` sequences of up to ``max_len`` tokens.

        No parameters are needed: ``model.init_cache(...)`` works on the unbound module.
        """
        if not self.causal:
            raise ValueError("a bidirectional (causal=False) transformer has no KV cache")
        if self.position == "learned" and max_len > self.max_len:
            raise ValueError(f"cache length {max_len} exceeds max_len {self.max_len} of the "
                             f"learned positions")
        head_dim = self.width // self.num_heads
        shape = (batch_size, self.num_heads, max_len, head_dim)
        layer = lambda: {"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape, dtype)}  # noqa: E731
        return {"index": jnp.zeros((batch_size,), jnp.int32),
                "layers": [layer() for _ in range(self.num_layers)]}

    def extend(self, tokens: jax.Array, cache: dict, lengths: jax.Array | None = None
               ) -> tuple[jax.Array, dict]:
        """Logits of ``L`` new tokens given everything in ``cache``, and the new cache.

        Args:
          tokens: ``[B, L]`` the next ``L`` tokens of every sequence (``L = 1`` for a
            decoding step, the prompt for prefill).
          cache: from :meth:`init_cache` or a previous ``extend``.
          lengths: optional ``[B]`` number of real tokens among the ``L`` of each
            sequence (right padding after them; default ``L``): the sequence's
            index advances by ``lengths[b]``, so its next tokens overwrite the
            padding.

        Returns:
          ``(logits [B, L, V_out], cache)``, where ``logits[b, i]`` equals the
          full-sequence logits at position ``cache["index"][b] + i`` (for
          ``i < lengths[b]``; the padding's logits are meaningless).
        """
        if not self.causal:
            raise ValueError("a bidirectional (causal=False) transformer cannot extend a cache")
        self._check_tokens(tokens)
        batch, length = tokens.shape
        index = cache["index"]
        if index.shape != (batch,):
            raise ValueError(f"cache index has shape {index.shape}, expected ({batch},): "
                             f"a cache from init_cache({batch}, ...)")
        max_len = cache["layers"][0]["k"].shape[2] if self.num_layers else length
        positions = index[:, None] + jnp.arange(length)
        key_positions = jnp.arange(max_len)
        mask = (key_positions[None, None, None, :] <= positions[:, None, :, None])
        hidden, layers = self._blocks(self.token_embeddings(tokens), positions, mask, cache)
        advance = length if lengths is None else jnp.asarray(lengths, index.dtype)
        return self.head(hidden), {"index": index + advance, "layers": layers}


def num_params(params: Any) -> int:
    """Number of scalars in a parameter pytree."""
    return sum(int(x.size) for x in jax.tree.leaves(params))
