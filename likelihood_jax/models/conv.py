"""A small fully convolutional network: image -> a grid of output vectors.

``ConvGrid`` maps a batch of images ``(B, H, W, C)`` to ``(B, H / 2^s, W / 2^s, out)``
(``s = num_downsamples``): 3x3 convolutions with ReLU, the first ``s`` of them of stride 2,
then a 1x1 output convolution. Each output cell can be one component of a dense
prediction head (the mixture detector of :mod:`likelihood_jax.mixtures.detection`).
"""

from __future__ import annotations

import flax.linen as nn
import jax


class ConvGrid(nn.Module):
    """``(B, H, W, C) -> (B, H / 2^s, W / 2^s, out_channels)`` (module docstring).

    Attributes:
      features: channels of each 3x3 convolution (at least ``num_downsamples`` of them).
      num_downsamples: how many of the first convolutions have stride 2.
      out_channels: channels of the final 1x1 convolution.
    """

    features: tuple[int, ...]
    num_downsamples: int
    out_channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """The output grid of a batch of images ``x``."""
        if len(self.features) < self.num_downsamples:
            raise ValueError(f"features: need at least num_downsamples = "
                             f"{self.num_downsamples} convolutions, got {len(self.features)}")
        for i, width in enumerate(self.features):
            stride = 2 if i < self.num_downsamples else 1
            x = nn.relu(nn.Conv(width, (3, 3), strides=(stride, stride))(x))
        return nn.Conv(self.out_channels, (1, 1))(x)
