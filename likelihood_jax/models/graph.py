"""A small permutation-equivariant network on (adjacency, node mask, time).

:class:`GraphNet` maps one graph state (a real symmetric ``(n, n)`` matrix, e.g. a noisy
adjacency, its ``(n,)`` node mask and a scalar time) to a symmetric ``(n, n)`` edge output
that is zero on the diagonal and on padded nodes. It keeps node states ``h_i`` and edge
states ``e_ij`` (a message-passing network with edge features, in the spirit of the graph
transformers used by GruM/DiGress, without attention):

* inputs: ``e_ij <- Dense([A_ij, (A^2)_ij / n])``, ``h_i <- Dense([deg_i / n,
  (A^2)_ii / n]) + Dense(time embedding)`` with ``n`` the number of real nodes;
* each layer: ``m_ij = MLP([h_i, h_j, e_ij])``, ``h_i <- LN(h_i + MLP([h_i, sum_j mask_j
  m_ij / n, temb]))``, ``e_ij <- LN(e_ij + MLP([e_ij, h_i + h_j, h_i * h_j]))`` (the first
  dense layer of each edge MLP is applied to its node inputs per node, then broadcast);
* output: ``Dense(1)(e_ij)``, symmetrized and masked.

Every operation is per node, per edge, or a masked sum over nodes, so permuting the nodes of
the input permutes the output: ``f(P A P^T, P m) = P f(A, m) P^T``. Cost ``O(n^2 H^2)`` per
layer. One example per call; vmap ``apply`` over a batch.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def time_embedding(t, dim: int) -> jax.Array:
    """Sinusoidal embedding of a scalar ``t in [0, 1]`` (``dim`` even)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(1000.0) * jnp.arange(half) / max(half - 1, 1))
    angles = 1000.0 * jnp.asarray(t, jnp.float32) * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)])


class _MLP(nn.Module):
    hidden: int
    out: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.out)(nn.silu(nn.Dense(self.hidden)(x)))


class GraphNet(nn.Module):
    """Permutation-equivariant edge network (module docstring).

    Attributes:
      hidden: width of node and edge states.
      num_layers: message-passing layers.
      time_dim: size of the sinusoidal time embedding.
    """

    hidden: int = 32
    num_layers: int = 3
    time_dim: int = 16

    @nn.compact
    def __call__(self, adj: jax.Array, mask: jax.Array, t) -> jax.Array:
        """Edge outputs ``(n, n)`` for one graph state.

        Args:
          adj: ``(n, n)`` real symmetric matrix (entries of padded nodes are ignored).
          mask: ``(n,)`` 0/1 node mask.
          t: scalar time.

        Returns:
          ``(n, n)`` symmetric, zero on the diagonal and wherever a node is masked.

        Raises:
          ValueError: on shape mismatch.
        """
        n = adj.shape[-1]
        if adj.shape != (n, n) or mask.shape != (n,):
            raise ValueError(f"GraphNet wants adj (n, n) and mask (n,), got {adj.shape} and "
                             f"{mask.shape}")
        pair = mask[:, None] * mask[None, :] * (1.0 - jnp.eye(n, dtype=adj.dtype))
        adj = adj * pair
        count = jnp.maximum(jnp.sum(mask), 1.0)
        adj2 = adj @ adj / count
        temb = nn.Dense(self.hidden)(nn.silu(nn.Dense(self.hidden)(
            time_embedding(t, self.time_dim))))
        e = nn.Dense(self.hidden)(jnp.stack([adj, adj2], -1))
        h = nn.Dense(self.hidden)(jnp.stack([adj.sum(1) / count, jnp.diag(adj2)], -1)) + temb
        h = h * mask[:, None]
        for _ in range(self.num_layers):
            # MLP([h_i, h_j, e_ij]) with its first layer split into node and edge parts, so
            # the node parts cost O(n H^2) instead of O(n^2 H^2).
            first = (nn.Dense(self.hidden)(h)[:, None, :]
                     + nn.Dense(self.hidden, use_bias=False)(h)[None, :, :]
                     + nn.Dense(self.hidden, use_bias=False)(e))
            msg = nn.Dense(self.hidden)(nn.silu(first))
            agg = jnp.einsum("ijh,j->ih", msg, mask) / count
            tb = jnp.broadcast_to(temb, h.shape)
            h = nn.LayerNorm()(h + _MLP(self.hidden, self.hidden)(
                jnp.concatenate([h, agg, tb], -1))) * mask[:, None]
            # MLP([e_ij, h_i + h_j, h_i * h_j]), first layer split the same way.
            node = nn.Dense(self.hidden)(h)
            first = (nn.Dense(self.hidden, use_bias=False)(e) + node[:, None, :]
                     + node[None, :, :]
                     + nn.Dense(self.hidden, use_bias=False)(h[:, None, :] * h[None, :, :]))
            e = nn.LayerNorm()(e + nn.Dense(self.hidden)(nn.silu(first)))
        out = nn.Dense(1)(e)[..., 0]
        return 0.5 * (out + out.T) * pair
