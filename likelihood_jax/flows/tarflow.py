"""TarFlow: a transformer autoregressive flow over patches (the core of STARFlow [P008]).

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

Gu, Zhai, Zhang, Liu, Berthelot, ... & Susskind (2025), "STARFlow: Scaling Latent Normalizing
Flows for High-resolution Image Synthesis", builds on TARFlow (Zhai et al. 2024, "Normalizing
Flows are Capable Generative Models"). An image is cut into ``T`` patches of ``C`` values
each, ``x = (x_1, ..., x_T)``, and one **block** is an affine autoregressive map whose
conditioner is a causal transformer::

    z_t = (x_t - mu_t(x_{<t})) * exp(-alpha_t(x_{<t})),     t = 1..T   (z_1: mu = alpha = 0)
    log|det dz/dx| = -sum_{t, c} alpha_{t, c}(x_{<t})

(the Jacobian is block lower triangular with diagonal blocks ``diag(exp(-alpha_t))``). The
transformer reads ``x_1..x_t`` at position ``t`` and its output there gives
``(alpha, mu)`` of position ``t + 1``: the outputs are shifted by one and the first patch is
passed through unchanged (as in the TARFlow code). Blocks alternate their order: every
second block reverses the patch sequence before the map and restores it after, so the
composition of blocks is not autoregressive in any single order. The whole model is exact
maximum likelihood, ``log p(x) = log N(z; 0, I) - sum_blocks sum alpha``
(:class:`~likelihood_jax.flows.Flow` over :func:`transformer_autoregressive_flow`).

**Sampling** inverts each block by the sequential recursion
``x_{t+1} = z_{t+1} exp(alpha_{t+1}(x_{<=t})) + mu_{t+1}(x_{<=t})``, one patch per step, with
the **KV cache** of the library's causal transformer
(:meth:`likelihood_jax.models.transformer.TransformerLM.extend` on continuous inputs,
``input_dim``): step ``t`` feeds only the new patch ``x_t`` and attends to the cached keys
and values of ``x_1..x_{t-1}``, so a block's inverse costs ``T`` single-position passes
instead of ``T`` full passes. The loop is a ``lax.scan`` over positions carrying the cache.

The conditioner is :class:`~likelihood_jax.models.transformer.TransformerLM` with learned
positions, ``input_dim = C`` (a Dense input projection) and ``output_size = 2C``; its head
starts at zero, so every block starts as the identity (TARFlow's zero-initialized output
projection). Not implemented (scale-out parts of STARFlow): the deep-shallow split of the
blocks, the pretrained autoencoder latent space, classifier-free guidance, Gaussian noise
augmentation with score-based denoising (the experiments use the library's uniform
dequantization so that TarFlow and RealNVP are compared on one convention).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.elementwise import ActNorm
from likelihood_jax.models.transformer import TransformerLM


def patchify(x: jax.Array, image_shape: tuple[int, int, int], patch_size: int) -> jax.Array:
    """A flat image ``(H * W * C,)`` -> patches ``(T, p * p * C)`` in raster order of patches.

    ``T = (H / p) (W / p)``; patch ``(i, j)`` holds ``x[i p : (i + 1) p, j p : (j + 1) p, :]``
    flattened row-major. A permutation of the entries (log-det 0).
    """
    h, w, c = image_shape
    p = patch_size
    grid = x.reshape(h // p, p, w // p, p, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape((h // p) * (w // p), p * p * c)


def unpatchify(patches: jax.Array, image_shape: tuple[int, int, int], patch_size: int
               ) -> jax.Array:
    """The inverse of :func:`patchify`: patches ``(T, p * p * C)`` -> flat ``(H * W * C,)``."""
    h, w, c = image_shape
    p = patch_size
    grid = patches.reshape(h // p, w // p, p, p, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape(h * w * c)


@dataclasses.dataclass(frozen=True)
class Patchify(Bijector):
    """Flat images ``(H W C,)`` -> patch sequences ``(T, p^2 C)`` (:func:`patchify`); log-det 0.

    Attributes:
        image_shape: ``(H, W, C)``; ``H`` and ``W`` divisible by ``patch_size``.
        patch_size: the side ``p`` of a square patch (1: every pixel is a position).
    """

    image_shape: tuple[int, int, int]
    patch_size: int = 1
    log_det_depends_on_x = False

    def __post_init__(self):
        shape = tuple(int(d) for d in self.image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (H, W, C) with positive sizes, got "
                             f"{self.image_shape}.")
        if self.patch_size < 1 or shape[0] % self.patch_size or shape[1] % self.patch_size:
            raise ValueError(f"patch_size must be a positive divisor of H and W of "
                             f"{shape}, got {self.patch_size}.")
        object.__setattr__(self, "image_shape", shape)

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """``(T, p^2 C)``."""
        h, w, c = self.image_shape
        p = self.patch_size
        return (h // p) * (w // p), p * p * c

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Patches of the flat image ``x``, log-det 0."""
        if x.shape != (math.prod(self.image_shape),):
            raise ValueError(f"Patchify.forward needs a flat image of "
                             f"{math.prod(self.image_shape)} values, got {x.shape}.")
        return patchify(x, self.image_shape, self.patch_size), jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The flat image of the patches ``z``, log-det 0."""
        if z.shape != self.sequence_shape:
            raise ValueError(f"Patchify.inverse needs patches {self.sequence_shape}, got "
                             f"{z.shape}.")
        return unpatchify(z, self.image_shape, self.patch_size), jnp.zeros((), z.dtype)


@dataclasses.dataclass(frozen=True)
class TarFlowBlock(Bijector):
    """One TarFlow block on sequences ``(T, C)``: ``z_t = (x_t - mu_t) exp(-alpha_t)`` [P008].

    ``(alpha_t, mu_t)`` come from a causal transformer reading ``x_{<t}`` (the module
    docstring); with ``reverse=True`` the block works in the reversed order ``T..1``. Density
    in one transformer pass, sampling by a ``lax.scan`` of single-position passes with the KV
    cache. Unconditional: a context is ignored.

    Attributes:
        width: transformer width.
        num_layers: transformer layers.
        num_heads: attention heads (dividing ``width``).
        mlp_ratio: MLP hidden width over ``width``.
        reverse: work in the reversed sequence order.
    """

    width: int = 64
    num_layers: int = 2
    num_heads: int = 4
    mlp_ratio: int = 4
    reverse: bool = False
    log_det_depends_on_x = True

    def __post_init__(self):
        for name in ("width", "num_layers", "num_heads", "mlp_ratio"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)}.")
        if self.width % self.num_heads:
            raise ValueError(f"width {self.width} is not divisible by num_heads "
                             f"{self.num_heads}.")

    def transformer(self, seq_len: int, channels: int) -> TransformerLM:
        """The conditioner for sequences ``(seq_len, channels)``: ``2 channels`` outputs."""
        return TransformerLM(vocab_size=1, output_size=2 * channels, num_layers=self.num_layers,
                             width=self.width, num_heads=self.num_heads,
                             mlp_ratio=self.mlp_ratio, max_len=seq_len, position="learned",
                             input_dim=channels)

    def _check(self, x: jax.Array, where: str) -> None:
        if x.ndim != 2:
            raise ValueError(f"TarFlowBlock.{where} needs one sequence (T, C), got {x.shape}.")

    def _order(self, x: jax.Array) -> jax.Array:
        return x[::-1] if self.reverse else x

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Transformer parameters with a zero head (the block starts as the identity).

        ``x`` is a batch ``(B, T, C)``.
        """
        del context
        if x.ndim != 3:
            raise ValueError(f"TarFlowBlock.init needs a batch (B, T, C), got {x.shape}.")
        params = self.transformer(*x.shape[1:]).init(key, x[:1])["params"]
        params = dict(params, head=jax.tree.map(jnp.zeros_like, params["head"]))
        return {"transformer": params}

    def shift_and_log_scale(self, params: Params, x: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """``(mu, alpha)``, each ``(T, C)``, of a sequence ``x`` already in the block's order.

        Row ``t`` depends only on ``x[:t]``; row 0 is zero.
        """
        seq_len, channels = x.shape
        out = self.transformer(seq_len, channels).apply(
            {"params": params["transformer"]}, x[None])[0]
        out = jnp.concatenate([jnp.zeros_like(out[:1]), out[:-1]], axis=0)
        return out[:, channels:], out[:, :channels]

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_t = (x_t - mu_t(x_{<t})) exp(-alpha_t(x_{<t}))``, ``log det = -sum alpha``."""
        del context
        self._check(x, "forward")
        v = self._order(x)
        shift, log_scale = self.shift_and_log_scale(params, v)
        z = (v - shift) * jnp.exp(-log_scale)
        return self._order(z), -jnp.sum(log_scale)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_{t+1} = z_{t+1} exp(alpha_{t+1}) + mu_{t+1}`` by a scan with the KV cache.

        Step ``t`` feeds the recovered ``x_t`` to ``TransformerLM.extend`` (one position,
        attending to the cached ``x_{<t}``) and gets the parameters of position ``t + 1``.
        Returns ``(x, +sum alpha)``.
        """
        del context
        self._check(z, "inverse")
        u = self._order(z)
        seq_len, channels = u.shape
        model = self.transformer(seq_len, channels)
        variables = {"params": params["transformer"]}
        cache = model.init_cache(1, seq_len, dtype=u.dtype)

        def step(carry, t):
            x, cache = carry
            out, cache = model.apply(variables, x[t][None, None], cache,
                                     method=TransformerLM.extend)
            log_scale, shift = out[0, 0, :channels], out[0, 0, channels:]
            x = x.at[t + 1].set(u[t + 1] * jnp.exp(log_scale) + shift)
            return (x, cache), jnp.sum(log_scale)

        (x, _), log_scales = jax.lax.scan(step, (u, cache), jnp.arange(seq_len - 1))
        return self._order(x), jnp.sum(log_scales)


def transformer_autoregressive_flow(image_shape: tuple[int, int, int], patch_size: int = 1,
                                    num_blocks: int = 4, width: int = 64, num_layers: int = 2,
                                    num_heads: int = 4, mlp_ratio: int = 4,
                                    actnorm: bool = True) -> Chain:
    """The TarFlow bijector for flat images ``(H W C,)`` [P008].

    ``Chain([ActNorm, Patchify, TarFlowBlock(reverse=False), TarFlowBlock(reverse=True),
    ...])``: a per-dimension ActNorm (data-dependent init, standardizes the inputs), the
    patches, and ``num_blocks`` blocks of alternating order. Wrap it in
    :class:`~likelihood_jax.flows.Flow` with ``event_shape=(H W C,)``; the latent is the
    patch sequence ``(T, p^2 C)``.

    Args:
        image_shape: ``(H, W, C)``.
        patch_size: side ``p`` of the square patches (1: pixels).
        num_blocks: flow blocks (each its own transformer).
        width: each block's transformer width.
        num_layers: layers of each block's transformer.
        num_heads: attention heads of each block's transformer.
        mlp_ratio: MLP hidden width over ``width``.
        actnorm: start with the ActNorm.

    Returns:
        A :class:`Chain`.
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be positive, got {num_blocks}.")
    layers = [ActNorm()] if actnorm else []
    layers.append(Patchify(tuple(image_shape), patch_size))
    layers += [TarFlowBlock(width, num_layers, num_heads, mlp_ratio, reverse=bool(i % 2))
               for i in range(num_blocks)]
    return Chain(tuple(layers))
