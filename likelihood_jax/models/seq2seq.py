"""A tiny transformer encoder-decoder (flax linen) with greedy and sampled decoding.

``Seq2Seq`` maps a source ``[B, S]`` and decoder inputs ``[B, T]`` to next-token
logits ``[B, T, V_out]``:

* encoder: :class:`~likelihood_jax.models.transformer.TransformerLM` with
  ``causal=False`` (bidirectional pre-norm blocks, rotary positions); only its
  embedding, blocks and final norm are used (``hidden_states``), never its head.
  Padded source positions (``source_mask == 0``) form a separate segment, so
  real source tokens never attend to padding;
* decoder: token embedding, ``num_decoder_layers`` blocks of
  ``x + SelfAttn(LN(x))`` (causal, the library's
  :class:`~likelihood_jax.models.transformer.CausalSelfAttention` with rotary
  positions), ``x + CrossAttn(LN(x), memory)`` (:class:`CrossAttention`, keys
  and values from the encoder output, padded source positions masked) and
  ``x + MLP(LN(x))``; a final LayerNorm and a linear head.

Logit ``[b, t]`` depends on ``decoder_inputs[b, :t + 1]`` and on the whole
(unpadded) source. Usage::

    model = Seq2Seq(source_vocab_size=32, target_vocab_size=20)
    params = model.init(key, source, decoder_inputs)["params"]
    logits = model.apply({"params": params}, source, decoder_inputs, source_mask)
    tokens = greedy_decode(model, params, source, bos_id=1, max_len=8, eos_id=2)

The decoders here (:func:`greedy_decode`, :func:`sample_decode`) encode the
source once and then **re-run the decoder on the whole (fixed-size) prefix
buffer at every step** (no KV cache): ``O(max_len^2)`` decoder work per
sequence, which is fine for the short outputs (a dozen tokens) these
experiments generate. The causal mask makes the logits at step ``t``
independent of the not-yet-written buffer slots after ``t``.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax.models.transformer import CausalSelfAttention, TransformerLM

_MASKED = -1e30


class CrossAttention(nn.Module):
    """Multi-head attention of decoder queries over encoder keys/values (no positions)."""

    num_heads: int
    head_dim: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, memory, mask, deterministic=True):
        """Attention output ``[B, L, W]``.

        Args:
          x: ``[B, L, W]`` decoder states (queries).
          memory: ``[B, S, W_enc]`` encoder outputs (keys and values).
          mask: ``[B, 1, 1, S]`` (or broadcastable to ``[B, H, L, S]``) True where a
            source position may be attended to.
          deterministic: no dropout on the attention weights.
        """
        width = x.shape[-1]
        dense = lambda name: nn.DenseGeneral((self.num_heads, self.head_dim), name=name)  # noqa: E731
        q, k, v = dense("query")(x), dense("key")(memory), dense("value")(memory)
        scores = jnp.einsum("blhd,bshd->bhls", q, k) / jnp.sqrt(self.head_dim).astype(q.dtype)
        scores = jnp.where(mask, scores, _MASKED)
        weights = jax.nn.softmax(scores, axis=-1)
        weights = nn.Dropout(self.dropout)(weights, deterministic=deterministic)
        out = jnp.einsum("bhls,bshd->blhd", weights, v)
        return nn.DenseGeneral(width, axis=(-2, -1), name="out")(out)


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: causal self-attention, cross-attention, MLP (each residual).

    ``dropout`` acts on the attention weights and on each residual branch when not
    ``deterministic``.
    """

    num_heads: int
    mlp_ratio: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, positions, self_mask, memory, cross_mask, deterministic=True):
        """Block output ``[B, L, W]``."""
        width = x.shape[-1]
        head_dim = width // self.num_heads
        drop = nn.Dropout(self.dropout)
        attn, _ = CausalSelfAttention(self.num_heads, head_dim, True, dropout=self.dropout,
                                      name="self_attention")(
            nn.LayerNorm(name="norm_self")(x), positions, self_mask, deterministic=deterministic)
        x = x + drop(attn, deterministic=deterministic)
        cross = CrossAttention(self.num_heads, head_dim, self.dropout, name="cross_attention")(
            nn.LayerNorm(name="norm_cross")(x), memory, cross_mask, deterministic)
        x = x + drop(cross, deterministic=deterministic)
        h = nn.LayerNorm(name="norm_mlp")(x)
        h = nn.Dense(self.mlp_ratio * width, name="mlp_in")(h)
        h = nn.Dense(width, name="mlp_out")(nn.gelu(h))
        return x + drop(h, deterministic=deterministic)


class Seq2Seq(nn.Module):
    """Transformer encoder-decoder.

    Attributes:
      source_vocab_size: number of source token ids.
      target_vocab_size: number of decoder input token ids.
      output_size: number of output classes (default ``target_vocab_size``).
      num_encoder_layers: bidirectional encoder blocks.
      num_decoder_layers: decoder blocks.
      width: model width (encoder and decoder); ``num_heads`` must divide it and
        the head size must be even (rotary positions).
      num_heads: attention heads.
      mlp_ratio: MLP hidden width over ``width``.
      dropout: rate of every dropout site (encoder as in
        :class:`~likelihood_jax.models.transformer.TransformerLM`; decoder embedding,
        attention weights and residual branches); active only with ``train=True``,
        which draws from the ``"dropout"`` rng stream. Default 0: none.
    """

    source_vocab_size: int
    target_vocab_size: int
    output_size: int | None = None
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    width: int = 64
    num_heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0

    def setup(self):  # noqa: D102
        if self.width % self.num_heads or (self.width // self.num_heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.num_heads} heads of even "
                             f"size")
        self.encoder = TransformerLM(vocab_size=self.source_vocab_size,
                                     num_layers=self.num_encoder_layers, width=self.width,
                                     num_heads=self.num_heads, mlp_ratio=self.mlp_ratio,
                                     causal=False, dropout=self.dropout)
        self.embed = nn.Embed(self.target_vocab_size, self.width,
                              embedding_init=nn.initializers.normal(0.02))
        self.embedding_drop = nn.Dropout(self.dropout)
        self.blocks = [DecoderBlock(self.num_heads, self.mlp_ratio, self.dropout,
                                    name=f"decoder_block_{i}")
                       for i in range(self.num_decoder_layers)]
        self.norm = nn.LayerNorm()
        self.head = nn.Dense(self.output_size or self.target_vocab_size)

    def encode(self, source: jax.Array, source_mask: jax.Array | None = None,
               train: bool = False) -> jax.Array:
        """Encoder outputs ``[B, S, W]`` of ``source [B, S]`` (padding: ``source_mask == 0``)."""
        if source.ndim != 2:
            raise ValueError(f"source must have shape [batch, length], got {source.shape}")
        segments = None if source_mask is None else source_mask.astype(jnp.int32)
        positions = jnp.broadcast_to(jnp.arange(source.shape[1]), source.shape)
        return self.encoder.hidden_states(self.encoder.token_embeddings(source), positions,
                                          segments, train)

    def decode(self, memory: jax.Array, decoder_inputs: jax.Array,
               source_mask: jax.Array | None = None, train: bool = False) -> jax.Array:
        """Next-token logits ``[B, T, V_out]`` of ``decoder_inputs [B, T]`` given ``memory``."""
        if decoder_inputs.ndim != 2:
            raise ValueError(f"decoder_inputs must have shape [batch, length], got "
                             f"{decoder_inputs.shape}")
        batch, length = decoder_inputs.shape
        positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
        self_mask = jnp.tril(jnp.ones((length, length), bool))[None, None]
        if source_mask is None:
            cross_mask = jnp.ones((batch, 1, 1, memory.shape[1]), bool)
        else:
            cross_mask = source_mask.astype(bool)[:, None, None, :]
        h = self.embedding_drop(self.embed(decoder_inputs), deterministic=not train)
        for block in self.blocks:
            h = block(h, positions, self_mask, memory, cross_mask, not train)
        return self.head(self.norm(h))

    def __call__(self, source: jax.Array, decoder_inputs: jax.Array,
                 source_mask: jax.Array | None = None, train: bool = False) -> jax.Array:
        """Logits ``[B, T, V_out]``: ``decode(encode(source), decoder_inputs)``.

        Args:
          source: ``[B, S]`` source token ids.
          decoder_inputs: ``[B, T]`` decoder input ids (BOS then the target shifted).
          source_mask: optional ``[B, S]``, 1 for real source tokens, 0 for padding.
          train: dropout on (needs ``rngs={"dropout": key}``).
        """
        if source_mask is not None and source_mask.shape != source.shape:
            raise ValueError(f"source_mask shape {source_mask.shape} differs from source shape "
                             f"{source.shape}")
        return self.decode(self.encode(source, source_mask, train), decoder_inputs, source_mask,
                           train)


def _decode_loop(model, params, source, source_mask, bos_id, max_len, eos_id, pad_id, choose,
                 key):
    batch = source.shape[0]
    memory = model.apply({"params": params}, source, source_mask, method=model.encode)
    buffer = jnp.full((batch, max_len + 1), pad_id, jnp.int32).at[:, 0].set(bos_id)
    done = jnp.zeros((batch,), bool)

    def step(t, carry):
        buffer, done = carry
        logits = model.apply({"params": params}, memory, buffer[:, :max_len], source_mask,
                             method=model.decode)
        logits_t = jax.lax.dynamic_index_in_dim(logits, t, axis=1, keepdims=False)
        token = choose(logits_t, jax.random.fold_in(key, t)).astype(jnp.int32)
        token = jnp.where(done, pad_id, token)
        if eos_id is not None:
            done = done | (token == eos_id)
        buffer = jax.lax.dynamic_update_slice(buffer, token[:, None], (0, t + 1))
        return buffer, done

    buffer, _ = jax.lax.fori_loop(0, max_len, step, (buffer, done))
    return buffer[:, 1:]


@functools.partial(jax.jit, static_argnames=("model", "max_len", "bos_id", "eos_id", "pad_id"))
def greedy_decode(model: Seq2Seq, params: Any, source: jax.Array, *, bos_id: int, max_len: int,
                  eos_id: int | None = None, pad_id: int = 0,
                  source_mask: jax.Array | None = None) -> jax.Array:
    """Greedy output ``[B, max_len]``: argmax at every step, ``pad_id`` after ``eos_id``.

    Re-runs the decoder on the prefix buffer each step (see the module docstring).
    Token ``t`` of the output is ``argmax logits[t]`` of the full teacher-forced pass
    on ``[bos_id, output[:t]]``.
    """
    return _decode_loop(model, params, source, source_mask, bos_id, max_len, eos_id, pad_id,
                        lambda logits, _: jnp.argmax(logits, -1), jax.random.key(0))


@functools.partial(jax.jit, static_argnames=("model", "max_len", "bos_id", "eos_id", "pad_id"))
def sample_decode(model: Seq2Seq, params: Any, key: jax.Array, source: jax.Array, *,
                  bos_id: int, max_len: int, eos_id: int | None = None, pad_id: int = 0,
                  temperature: float | jax.Array = 1.0,
                  source_mask: jax.Array | None = None) -> jax.Array:
    """Ancestral samples ``[B, max_len]`` at ``temperature``, ``pad_id`` after ``eos_id``."""
    return _decode_loop(model, params, source, source_mask, bos_id, max_len, eos_id, pad_id,
                        lambda logits, k: jax.random.categorical(k, logits / temperature, -1),
                        key)
