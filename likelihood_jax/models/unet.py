"""A small time-conditioned U-Net ``f(t, x)`` for single-channel images (8x8, 28x28).

The image-scale vector fields of flow matching (Tong et al. 2023, whose CIFAR-10 runs use
the U-Net of Dhariwal & Nichol 2021) and the noise/velocity nets of diffusion models
(Ho et al. 2020) are U-Nets conditioned on the time. This is a deliberately small
version in flax.linen:

* time: sinusoidal features of ``t`` (frequencies spaced geometrically in ``[1,
  max_frequency]``, :func:`likelihood_jax.models.time_mlp.time_features`) -> a 2-layer
  SiLU MLP -> an embedding ``e(t)`` of width ``4 C``;
* ``conv_in`` (3x3, ``C`` channels), then for each resolution level ``i`` (channels
  ``C * channel_mults[i]``) ``num_res_blocks`` residual blocks, each
  ``h + conv(silu(gn(conv(silu(gn(h))) + Dense(e(t)))))`` (the time enters every block
  as a per-channel shift), and a 2x average-pool between levels;
* a middle residual block, then the mirror path: nearest-neighbour 2x upsampling, the
  skip connection of the same level concatenated, residual blocks;
* ``gn -> silu -> conv_out`` (3x3, zero-initialized unless told otherwise, so the field
  starts at 0 and the first flow-matching steps are stable).

Input ``x`` is one image ``(H, W, C_in)`` or a batch ``(..., H, W, C_in)``; ``t`` is a
scalar or has the batch shape. ``H`` and ``W`` must be divisible by
``2 ** (len(channel_mults) - 1)`` (8x8 with two levels, 28x28 with up to three).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax.models.time_mlp import time_features


def _groups(channels: int, max_groups: int) -> int:
    """The largest group count ``<= max_groups`` that divides ``channels``."""
    for g in range(min(max_groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


class ResBlock(nn.Module):
    """Residual block with a time-embedding shift: ``h + F(h, e)``.

    Attributes:
      channels: output channels (a 1x1 convolution matches the skip when they differ).
      groups: maximum GroupNorm groups.
    """

    channels: int
    groups: int = 8

    @nn.compact
    def __call__(self, h: jax.Array, emb: jax.Array) -> jax.Array:
        """Maps ``h`` ``(B, H, W, C)`` and ``emb`` ``(B, E)`` to ``(B, H, W, channels)``."""
        x = nn.GroupNorm(num_groups=_groups(h.shape[-1], self.groups))(h)
        x = nn.Conv(self.channels, (3, 3))(nn.silu(x))
        x = x + nn.Dense(self.channels)(nn.silu(emb))[:, None, None, :]
        x = nn.GroupNorm(num_groups=_groups(self.channels, self.groups))(x)
        x = nn.Conv(self.channels, (3, 3))(nn.silu(x))
        if h.shape[-1] != self.channels:
            h = nn.Conv(self.channels, (1, 1), name="skip")(h)
        return h + x


class UNet(nn.Module):
    """``f(t, x)``: a small U-Net on images with the time added in every residual block.

    Attributes:
      base_channels: ``C``, the channels of the first level.
      channel_mults: channel multiplier per resolution level (a 2x downsampling between
        consecutive levels).
      num_res_blocks: residual blocks per level (on each side).
      groups: maximum GroupNorm groups.
      out_channels: output channels; ``None`` means the input's (a vector field).
      num_frequencies: sinusoidal time frequencies.
      max_frequency: the largest time frequency.
      zero_init_last: start with a zero output convolution.
    """

    base_channels: int = 32
    channel_mults: Sequence[int] = (1, 2)
    num_res_blocks: int = 1
    groups: int = 8
    out_channels: int | None = None
    num_frequencies: int = 8
    max_frequency: float = 64.0
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, t: jax.Array, x: jax.Array) -> jax.Array:
        """Maps ``t`` (scalar or batch-shaped), ``x`` ``(..., H, W, C_in)`` to the field.

        Raises:
          ValueError: ``x`` is not an image (fewer than 3 axes) or its size is not
            divisible by the total downsampling factor.
        """
        x = jnp.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"UNet needs images (..., H, W, C), got shape {x.shape}.")
        if not self.channel_mults:
            raise ValueError("UNet needs at least one level in channel_mults.")
        factor = 2 ** (len(self.channel_mults) - 1)
        height, width, in_channels = x.shape[-3:]
        if height % factor or width % factor:
            raise ValueError(f"Image size {height}x{width} is not divisible by {factor} "
                             f"(2 ** (levels - 1) for channel_mults={self.channel_mults}).")
        batch_shape = x.shape[:-3]
        h = x.reshape((-1, height, width, in_channels))
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), batch_shape).reshape(-1)

        width_emb = 4 * self.base_channels
        emb = time_features(t, "fourier", self.num_frequencies, self.max_frequency)
        emb = nn.Dense(width_emb)(emb)
        emb = nn.Dense(width_emb)(nn.silu(emb))

        h = nn.Conv(self.base_channels, (3, 3), name="conv_in")(h)
        skips = []
        for level, mult in enumerate(self.channel_mults):
            for _ in range(self.num_res_blocks):
                h = ResBlock(self.base_channels * mult, self.groups)(h, emb)
            skips.append(h)
            if level < len(self.channel_mults) - 1:
                h = nn.avg_pool(h, (2, 2), strides=(2, 2))
        h = ResBlock(h.shape[-1], self.groups, name="middle")(h, emb)
        for level in reversed(range(len(self.channel_mults))):
            if level < len(self.channel_mults) - 1:
                b, hh, ww, c = h.shape
                h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), method="nearest")
            h = jnp.concatenate([h, skips[level]], axis=-1)
            for _ in range(self.num_res_blocks):
                h = ResBlock(self.base_channels * self.channel_mults[level], self.groups)(h, emb)
        h = nn.silu(nn.GroupNorm(num_groups=_groups(h.shape[-1], self.groups))(h))
        out_channels = in_channels if self.out_channels is None else self.out_channels
        init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        h = nn.Conv(out_channels, (3, 3), kernel_init=init, name="conv_out")(h)
        return h.reshape(batch_shape + h.shape[1:])
