"""A GRU language model with the same interface as :class:`~.transformer.TransformerLM`.

``GRULM`` embeds tokens, runs ``num_layers`` stacked GRUs (Cho et al. 2014) over
time and maps the top hidden state to next-token logits. Its decoding cache is
the hidden state of every layer, so a step costs ``O(1)`` in the length::

    model = GRULM(vocab_size=83, width=256)
    params = model.init(key, tokens)["params"]
    logits = model.apply({"params": params}, tokens)                  # [B, T, V]
    cache = model.init_cache(batch_size=B, max_len=T)                 # max_len unused
    logits, cache = model.apply({"params": params}, tokens[:, :1], cache,
                                method=GRULM.extend)

``segment_ids`` (packed sequences) reset the hidden state to zero where a new
segment starts, so each segment is modelled as if it stood alone. ``dropout``
(default 0) acts on the non-recurrent connections (the embeddings, between layers,
before the head; Zaremba et al. 2014) in calls with ``train=True``, which draw from
the ``"dropout"`` rng stream; decoding (``extend``) is deterministic.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class _ResettingGRU(nn.Module):
    """One GRU step: the state is zeroed where ``reset``, kept where not ``active``.

    ``active`` is False on padding after a sequence's last token.
    """

    features: int

    @nn.compact
    def __call__(self, carry, inputs):
        x, reset, active = inputs
        carry = jnp.where(reset[:, None], jnp.zeros_like(carry), carry)
        new_carry, out = nn.GRUCell(self.features, name="cell")(carry, x)
        return jnp.where(active[:, None], new_carry, carry), out


_ScanGRU = nn.scan(_ResettingGRU, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=1, out_axes=1)


class GRULM(nn.Module):
    """Stacked-GRU language model.

    Attributes:
      vocab_size: number of input token ids.
      output_size: number of output classes (default ``vocab_size``).
      width: hidden size of every GRU layer (and the embedding size).
      num_layers: stacked GRU layers.
      dropout: rate of the non-recurrent dropout (active only with ``train=True``).
    """

    vocab_size: int
    output_size: int | None = None
    width: int = 256
    num_layers: int = 1
    dropout: float = 0.0

    def setup(self):  # noqa: D102
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        self.drop = nn.Dropout(self.dropout)
        self.embed = nn.Embed(self.vocab_size, self.width,
                              embedding_init=nn.initializers.normal(0.1))
        self.layers = [_ScanGRU(self.width, name=f"gru_{i}") for i in range(self.num_layers)]
        self.head = nn.Dense(self.output_size or self.vocab_size)

    def init_cache(self, batch_size: int, max_len: int | None = None,
                   dtype=jnp.float32) -> dict:
        """Zero hidden states ``{"h": [[B, W]] * num_layers}`` (``max_len`` is ignored)."""
        return {"h": [jnp.zeros((batch_size, self.width), dtype)
                      for _ in range(self.num_layers)]}

    def _run(self, tokens, cache, resets, active, train=False):
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape [batch, length], got {tokens.shape}")
        h = self.drop(self.embed(tokens), deterministic=not train)
        states = []
        for layer, carry in zip(self.layers, cache["h"]):
            carry, h = layer(carry, (h, resets, active))
            h = self.drop(h, deterministic=not train)
            states.append(carry)
        return self.head(h), {"h": states}

    def extend(self, tokens: jax.Array, cache: dict, lengths: jax.Array | None = None
               ) -> tuple[jax.Array, dict]:
        """Logits ``[B, L, V_out]`` of ``L`` new tokens after the cached state; the new state.

        With ``lengths [B]`` only the first ``lengths[b]`` tokens of row ``b`` update
        its state (right padding after them is read but leaves the state unchanged).
        """
        active = jnp.ones(tokens.shape, bool)
        if lengths is not None:
            active = jnp.arange(tokens.shape[1]) < jnp.asarray(lengths)[:, None]
        return self._run(tokens, cache, jnp.zeros(tokens.shape, bool), active)

    def __call__(self, tokens: jax.Array, positions: jax.Array | None = None,
                 segment_ids: jax.Array | None = None, train: bool = False) -> jax.Array:
        """Next-token logits ``[B, T, V_out]``; ``positions`` is accepted and unused.

        Args:
          tokens: ``[B, T]`` int token ids.
          positions: unused (a recurrent model knows positions implicitly).
          segment_ids: optional ``[B, T]``; the state resets where the id changes.
          train: dropout on (needs ``rngs={"dropout": key}`` when ``dropout > 0``).
        """
        resets = jnp.zeros(tokens.shape, bool)
        if segment_ids is not None:
            resets = jnp.concatenate([jnp.zeros_like(segment_ids[:, :1], bool),
                                      segment_ids[:, 1:] != segment_ids[:, :-1]], axis=1)
        logits, _ = self._run(tokens, self.init_cache(tokens.shape[0]), resets,
                              jnp.ones(tokens.shape, bool), train)
        return logits
