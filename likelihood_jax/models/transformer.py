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

Continuous inputs (``input_dim``): with ``input_dim = C`` the "tokens" are float vectors
``[B, T, C]`` that a Dense layer projects to the width (``vocab_size`` is then unused),
so the same causal stack and its KV cache serve a model of continuous sequences, e.g.
the transformer autoregressive flow of :mod:`likelihood_jax.flows.tarflow` [P008].

Training options (all off by default, so a model without them computes exactly what
it did before they existed):

* dropout (``dropout``, or per site ``attention_dropout``, ``residual_dropout``,
  ``embedding_dropout``): on the attention weights, on each residual branch before
  it is added, and on the input embeddings; active only in calls with
  ``train=True``, which draw from the ``"dropout"`` rng stream
  (``model.apply(..., train=True, rngs={"dropout": key})``);
* ``tie_embeddings``: the head is the transposed token embedding,
  ``logits = h @ E[:V_out]^T`` (``nn.Embed.attend``, no bias, no head kernel);
* ``scaled_residual_init``: the output projections of attention and MLP (the
  layers that write into the residual stream) start from ``N(0, (0.02 /
  sqrt(2 num_layers))^2)`` (GPT-2), so the residual stream's variance does not
  grow with depth at initialization;
* ``dtype = "bfloat16"``: compute (matmuls, activations, the cache) in bfloat16
  with float32 parameters; attention scores and softmax, LayerNorm statistics
  and the returned logits are float32, so a loss computed from them is float32;
* ``remat``: every block is rematerialized (``nn.remat``): its activations are
  recomputed in the backward pass instead of stored;
* ``scan_layers``: the blocks run under ``nn.scan`` (one compiled block; its
  parameters under ``"blocks"`` with a leading layer axis, converted to and from
  the unrolled ``block_<i>`` layout by :func:`stack_layer_params` and
  :func:`unstack_layer_params`); the cache's ``"layers"`` is then one
  ``{"k", "v"}`` of shape ``[B, num_layers, H, S, D]`` (batch still on axis 0).
"""

from __future__ import annotations

import re
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

POSITIONS = ("rotary", "learned")
DTYPES = ("float32", "bfloat16", "float16")
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


def _kernel_init(std: float | None) -> dict:
    """``{"kernel_init": N(0, std^2)}``, or ``{}`` (flax's default init) when ``std`` is None."""
    return {} if std is None else {"kernel_init": nn.initializers.normal(std)}


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention under a given boolean mask, with an optional KV cache.

    The projections compute in ``dtype``; the scores ``q.k / sqrt(D)`` and their
    softmax are float32. ``dropout`` zeroes attention weights (and rescales the
    rest by ``1 / (1 - dropout)``) when not ``deterministic``; ``out_init_std``
    (None: flax's default) is the standard deviation of the output projection's
    initial kernel.
    """

    num_heads: int
    head_dim: int
    rotary: bool
    rotary_base: float = 10000.0
    dropout: float = 0.0
    dtype: Any = jnp.float32
    out_init_std: float | None = None

    @nn.compact
    def __call__(self, x, positions, mask, kv=None, index=None, deterministic=True):
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
          deterministic: no dropout (evaluation, decoding).
        """
        width = x.shape[-1]
        dense = lambda name: nn.DenseGeneral((self.num_heads, self.head_dim),  # noqa: E731
                                             dtype=self.dtype, name=name)
        q, k, v = dense("query")(x), dense("key")(x), dense("value")(x)
        if self.rotary:
            q = rotary_embedding(q, positions, self.rotary_base)
            k = rotary_embedding(k, positions, self.rotary_base)
        q, k, v = (jnp.swapaxes(a, 1, 2) for a in (q, k, v))  # [B, H, L, D]
        new_kv = None
        if kv is not None:
            k, v = write_cache(kv["k"], k, index), write_cache(kv["v"], v, index)
            new_kv = {"k": k, "v": v}
        scores = jnp.einsum("bhld,bhsd->bhls", q, k, preferred_element_type=jnp.float32)
        scores = scores / jnp.sqrt(self.head_dim).astype(jnp.float32)
        scores = jnp.where(mask, scores, _MASKED)
        weights = jax.nn.softmax(scores, axis=-1)
        weights = nn.Dropout(self.dropout)(weights, deterministic=deterministic)
        out = jnp.einsum("bhls,bhsd->blhd", weights.astype(v.dtype), v)
        out = nn.DenseGeneral(width, axis=(-2, -1), dtype=self.dtype, name="out",
                              **_kernel_init(self.out_init_std))(out)
        return out, new_kv


class Block(nn.Module):
    """Pre-norm transformer block: ``x + Drop(Attn(LN(x)))`` then ``x + Drop(MLP(LN(x)))``.

    ``residual_init_std`` (None: flax's default) initializes the two projections
    that write into the residual stream (attention ``out`` and ``mlp_out``).
    """

    num_heads: int
    mlp_ratio: int
    rotary: bool
    rotary_base: float = 10000.0
    attention_dropout: float = 0.0
    residual_dropout: float = 0.0
    residual_init_std: float | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, positions, mask, kv=None, index=None, deterministic=True):
        """Block output ``[B, L, W]`` and the updated ``kv`` cache (or None).

        The signature is ``nn.scan``'s ``(carry, *xs) -> (carry, y)`` with ``x``
        the carry, and ``deterministic`` is positional (argument 6 counting
        ``self``: static under ``nn.remat``).
        """
        width = x.shape[-1]
        drop = nn.Dropout(self.residual_dropout)
        attn, new_kv = CausalSelfAttention(
            self.num_heads, width // self.num_heads, self.rotary, self.rotary_base,
            self.attention_dropout, self.dtype, self.residual_init_std, name="attention")(
                nn.LayerNorm(dtype=self.dtype, name="norm_attention")(x), positions, mask, kv,
                index, deterministic)
        x = x + drop(attn, deterministic=deterministic)
        h = nn.LayerNorm(dtype=self.dtype, name="norm_mlp")(x)
        h = nn.Dense(self.mlp_ratio * width, dtype=self.dtype, name="mlp_in")(h)
        h = nn.Dense(width, dtype=self.dtype, name="mlp_out",
                     **_kernel_init(self.residual_init_std))(nn.gelu(h))
        return x + drop(h, deterministic=deterministic), new_kv


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
      dropout: the rate of every dropout site (default 0: none); each of
        ``attention_dropout``, ``residual_dropout`` and ``embedding_dropout``
        overrides it for its site when not None. Active only with ``train=True``.
      tie_embeddings: logits from the transposed token embedding (requires
        ``output_size <= vocab_size``; the first ``output_size`` rows are the
        output embeddings).
      scaled_residual_init: GPT-2's ``N(0, (0.02 / sqrt(2 num_layers))^2)`` init
        of the residual output projections (default: flax's ``lecun_normal``).
      dtype: compute dtype, one of ``DTYPES`` (a name or a jnp dtype); the
        parameters stay float32 and the logits are returned in float32.
      remat: rematerialize each block in the backward pass.
      scan_layers: run the blocks under ``nn.scan`` (parameters stacked under
        ``"blocks"``; see :func:`stack_layer_params`).
      input_dim: None (default) for token ids; ``C`` for continuous inputs
        ``[B, T, C]`` projected by a Dense layer (named ``embed``; no
        ``tie_embeddings``).
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
    dropout: float = 0.0
    attention_dropout: float | None = None
    residual_dropout: float | None = None
    embedding_dropout: float | None = None
    tie_embeddings: bool = False
    scaled_residual_init: bool = False
    dtype: Any = jnp.float32
    remat: bool = False
    scan_layers: bool = False
    input_dim: int | None = None

    # -- configuration -------------------------------------------------------------------

    @property
    def compute_dtype(self) -> jnp.dtype:
        """The compute dtype (``dtype`` as a jnp dtype), checked against ``DTYPES``."""
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype.name not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {DTYPES}")
        return dtype

    @property
    def num_outputs(self) -> int:
        """``V_out``: ``output_size``, default ``vocab_size``."""
        return self.output_size or self.vocab_size

    def dropout_rates(self) -> dict[str, float]:
        """``{"attention", "residual", "embedding"}`` rates (``dropout`` where not set), checked.

        Raises:
          ValueError: a rate outside ``[0, 1)``, naming its field.
        """
        rates = {}
        for site in ("attention", "residual", "embedding"):
            field = f"{site}_dropout"
            rate = getattr(self, field)
            if rate is None:
                field, rate = "dropout", self.dropout
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{field} must lie in [0, 1), got {rate}")
            rates[site] = float(rate)
        return rates

    def _check_config(self):
        if self.position not in POSITIONS:
            raise ValueError(f"unknown position {self.position!r}; choose one of {POSITIONS}")
        if self.width % self.num_heads:
            raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}")
        if self.position == "rotary" and (self.width // self.num_heads) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.width // self.num_heads}")
        if self.tie_embeddings and self.num_outputs > self.vocab_size:
            raise ValueError(f"tie_embeddings needs output_size <= vocab_size, got "
                             f"{self.num_outputs} > {self.vocab_size}")
        if self.scan_layers and self.num_layers < 1:
            raise ValueError(f"scan_layers needs num_layers >= 1, got {self.num_layers}")
        if self.input_dim is not None and (self.input_dim < 1 or self.tie_embeddings):
            raise ValueError(f"input_dim must be a positive int without tie_embeddings, got "
                             f"{self.input_dim} (tie_embeddings={self.tie_embeddings})")

    def setup(self):  # noqa: D102
        self._check_config()
        dtype, rates = self.compute_dtype, self.dropout_rates()
        init = nn.initializers.normal(0.02)
        if self.input_dim is None:
            self.embed = nn.Embed(self.vocab_size, self.width, embedding_init=init, dtype=dtype)
        else:
            self.embed = nn.Dense(self.width, dtype=dtype)
        if self.position == "learned":
            self.position_embed = nn.Embed(self.max_len, self.width, embedding_init=init,
                                           dtype=dtype)
        self.embedding_drop = nn.Dropout(rates["embedding"])
        block_options = dict(
            num_heads=self.num_heads, mlp_ratio=self.mlp_ratio,
            rotary=self.position == "rotary", rotary_base=self.rotary_base,
            attention_dropout=rates["attention"], residual_dropout=rates["residual"],
            residual_init_std=(0.02 / (2 * self.num_layers) ** 0.5
                               if self.scaled_residual_init else None),
            dtype=dtype)
        block = Block
        if self.remat:  # ``deterministic`` (argument 6 counting self) is a Python bool
            block = nn.remat(Block, static_argnums=(6,), prevent_cse=not self.scan_layers)
        if self.scan_layers:
            # carry: the hidden states; the cache is sliced along its layer axis 1 (batch
            # stays on axis 0); positions, mask, index and the flag go to every layer.
            self.blocks = nn.scan(
                block, variable_axes={"params": 0, "intermediates": 0},
                split_rngs={"params": True, "dropout": True},
                in_axes=(nn.broadcast, nn.broadcast, 1, nn.broadcast, nn.broadcast),
                out_axes=1, length=self.num_layers)(**block_options, name="blocks")
        else:
            self.blocks = [block(**block_options, name=f"block_{i}")
                           for i in range(self.num_layers)]
        self.norm = nn.LayerNorm(dtype=dtype)
        if not self.tie_embeddings:
            self.head = nn.Dense(self.num_outputs, dtype=dtype)

    # -- helpers -------------------------------------------------------------------------

    def _check_tokens(self, tokens):
        if self.input_dim is not None:
            if tokens.ndim != 3 or tokens.shape[-1] != self.input_dim:
                raise ValueError(f"continuous inputs must have shape [batch, length, "
                                 f"{self.input_dim}], got {tokens.shape}")
        elif tokens.ndim != 2:
            raise ValueError(f"tokens must have shape [batch, length], got {tokens.shape}")

    def token_embeddings(self, tokens: jax.Array) -> jax.Array:
        """``[B, T]`` ids (or ``[B, T, C]`` inputs) -> ``[B, T, W]`` embeddings (no positions)."""
        self._check_tokens(tokens)
        return self.embed(tokens)

    def _blocks(self, h, positions, mask, cache=None, train=False):
        """Final-norm hidden states ``[B, L, W]`` and the caches of the layers."""
        if self.position == "learned":
            h = h + self.position_embed(positions)
        h = self.embedding_drop(h, deterministic=not train)
        index = None if cache is None else cache["index"]
        if self.scan_layers:
            kv = None if cache is None else cache["layers"]
            h, layers = self.blocks(h, positions, mask, kv, index, not train)
            return self.norm(h), layers
        layers = []
        for i, block in enumerate(self.blocks):
            kv = None if cache is None else cache["layers"][i]
            h, new_kv = block(h, positions, mask, kv, index, not train)
            layers.append(new_kv)
        return self.norm(h), layers

    def output_logits(self, hidden: jax.Array) -> jax.Array:
        """float32 logits ``[..., V_out]`` of final-norm hidden states ``[..., W]``.

        The head ``h @ K + b``, or with ``tie_embeddings`` ``h @ E[:V_out]^T``.
        """
        if self.tie_embeddings:
            logits = self.embed.attend(hidden)[..., :self.num_outputs]
        else:
            logits = self.head(hidden)
        return logits.astype(jnp.float32)

    # -- full sequences --------------------------------------------------------------------

    def hidden_states(self, embeddings: jax.Array, positions: jax.Array | None = None,
                      segment_ids: jax.Array | None = None, train: bool = False) -> jax.Array:
        """Contextual embeddings ``[B, T, W]`` (after the final LayerNorm, before the head).

        In the compute dtype (``dtype``; the logits of :meth:`output_logits` are float32).

        Args:
          embeddings: ``[B, T, W]`` token embeddings (``token_embeddings(tokens)``).
          positions: optional ``[B, T]`` positions, as in ``__call__``.
          segment_ids: optional ``[B, T]`` packed-sequence ids, as in ``__call__``.
          train: dropout on (needs the ``"dropout"`` rng), as in ``__call__``.
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
        hidden, _ = self._blocks(embeddings, positions, mask, train=train)
        return hidden

    def logits_from_embeddings(self, embeddings: jax.Array, positions: jax.Array | None = None,
                               segment_ids: jax.Array | None = None, train: bool = False
                               ) -> jax.Array:
        """Logits ``[B, T, V_out]`` from token embeddings ``[B, T, W]`` (see ``__call__``)."""
        return self.output_logits(self.hidden_states(embeddings, positions, segment_ids, train))

    def __call__(self, tokens: jax.Array, positions: jax.Array | None = None,
                 segment_ids: jax.Array | None = None, train: bool = False) -> jax.Array:
        """float32 logits ``[B, T, V_out]`` of ``tokens [B, T]``: next-token or per-position.

        Args:
          tokens: ``[B, T]`` int token ids.
          positions: optional ``[B, T]`` positions (default ``0..T-1``, or the
            position within the segment when ``segment_ids`` is given).
          segment_ids: optional ``[B, T]`` ids of packed sequences; a token attends
            only to (earlier, if causal) tokens with the same id.
          train: dropout on; the call then needs ``rngs={"dropout": key}`` (unless
            every rate is 0).
        """
        return self.logits_from_embeddings(self.token_embeddings(tokens), positions,
                                           segment_ids, train)

    # -- incremental decoding --------------------------------------------------------------

    def init_cache(self, batch_size: int, max_len: int, dtype: Any = None) -> dict:
        """An empty KV cache for ``batch_size`` sequences of up to ``max_len`` tokens.

        ``dtype`` defaults to the compute dtype. No parameters are needed:
        ``model.init_cache(...)`` works on the unbound module.
        """
        if not self.causal:
            raise ValueError("a bidirectional (causal=False) transformer has no KV cache")
        if self.position == "learned" and max_len > self.max_len:
            raise ValueError(f"cache length {max_len} exceeds max_len {self.max_len} of the "
                             f"learned positions")
        dtype = self.compute_dtype if dtype is None else dtype
        head_dim = self.width // self.num_heads
        if self.scan_layers:
            shape = (batch_size, self.num_layers, self.num_heads, max_len, head_dim)
            layers = {"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape, dtype)}
        else:
            shape = (batch_size, self.num_heads, max_len, head_dim)
            layers = [{"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape, dtype)}
                      for _ in range(self.num_layers)]
        return {"index": jnp.zeros((batch_size,), jnp.int32), "layers": layers}

    def _cache_length(self, cache: dict, default: int) -> int:
        """``S`` of a cache of this model's layout (``default`` without layers)."""
        layers = cache["layers"]
        if self.scan_layers != isinstance(layers, dict):
            raise ValueError(f"the cache's layers are a {type(layers).__name__}, but a model "
                             f"with scan_layers={self.scan_layers} needs a "
                             f"{'dict' if self.scan_layers else 'list'}: a cache from this "
                             f"model's init_cache")
        if self.scan_layers:
            return layers["k"].shape[3]
        return layers[0]["k"].shape[2] if self.num_layers else default

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
          ``i < lengths[b]``; the padding's logits are meaningless). Decoding is
          deterministic (no dropout).
        """
        if not self.causal:
            raise ValueError("a bidirectional (causal=False) transformer cannot extend a cache")
        self._check_tokens(tokens)
        batch, length = tokens.shape[:2]
        index = cache["index"]
        if index.shape != (batch,):
            raise ValueError(f"cache index has shape {index.shape}, expected ({batch},): "
                             f"a cache from init_cache({batch}, ...)")
        max_len = self._cache_length(cache, length)
        positions = index[:, None] + jnp.arange(length)
        key_positions = jnp.arange(max_len)
        mask = (key_positions[None, None, None, :] <= positions[:, None, :, None])
        hidden, layers = self._blocks(self.token_embeddings(tokens), positions, mask, cache)
        advance = length if lengths is None else jnp.asarray(lengths, index.dtype)
        return self.output_logits(hidden), {"index": index + advance, "layers": layers}


_BLOCK_NAME = re.compile(r"block_(\d+)")


def stack_layer_params(params: dict) -> dict:
    """Unrolled parameters (``block_0 .. block_{L-1}``) -> scanned (``blocks``, layer axis 0).

    The other entries (embeddings, final norm, head) are kept as they are; the result
    is the parameter tree of the same model with ``scan_layers=True``.

    Raises:
      ValueError: ``params`` has no ``block_<i>`` entries or they are not ``0 .. L-1``.
    """
    index = {int(m.group(1)): k for k in params if (m := _BLOCK_NAME.fullmatch(k))}
    if not index or sorted(index) != list(range(len(index))):
        raise ValueError(f"expected unrolled TransformerLM parameters with entries block_0 .. "
                         f"block_<L-1>, got {sorted(params)}")
    rest = {k: v for k, v in params.items() if k not in index.values()}
    layers = [params[index[i]] for i in range(len(index))]
    return {**rest, "blocks": jax.tree.map(lambda *xs: jnp.stack(xs), *layers)}


def unstack_layer_params(params: dict) -> dict:
    """Scanned parameters (``blocks`` with a leading layer axis) -> unrolled ``block_<i>``.

    The inverse of :func:`stack_layer_params`.

    Raises:
      ValueError: ``params`` has no ``blocks`` entry.
    """
    if "blocks" not in params:
        raise ValueError(f"expected scanned TransformerLM parameters with a 'blocks' entry, "
                         f"got {sorted(params)}")
    blocks = params["blocks"]
    num_layers = jax.tree.leaves(blocks)[0].shape[0]
    rest = {k: v for k, v in params.items() if k != "blocks"}
    return {**rest, **{f"block_{i}": jax.tree.map(lambda x, i=i: x[i], blocks)
                       for i in range(num_layers)}}


def num_params(params: Any) -> int:
    """Number of scalars in a parameter pytree."""
    return sum(int(x.size) for x in jax.tree.leaves(params))
