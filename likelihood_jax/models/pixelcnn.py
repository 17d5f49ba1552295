"""PixelCNN++: a causal convolutional network with a discretized logistic mixture [P070].

Salimans, Karpathy, Chen & Kingma (2017), "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications" (code: openai/pixel-cnn).
An image ``x`` of ``H x W`` pixels (``C`` channels, ``L`` levels) gets the autoregressive
density over pixels in raster order

    log P(x) = sum_i log P(x_i | x_{<i}),
    P(x_i | x_{<i}) = sum_k pi_k [sigma((x_i + h - mu_k)/s_k) - sigma((x_i - h - mu_k)/s_k)],

with ``(pi, mu, s)`` computed from the pixels before ``i`` and the edge bins taking the tails
(:func:`likelihood_jax.distributions.discretized_logistic_mixture_log_prob` with
``num_levels = L``: data mapped to the grid ``-1 + 2k/(L - 1)``, half-width
``h = 1/(L - 1)``). This module is the network; the density (``log_prob``, ``sample``)
is :class:`likelihood_jax.flows.pixelcnn.DiscretizedPixelCNN`. The paper's modifications,
as built here:

1. the discretized logistic mixture likelihood (above) instead of an ``L``-way softmax;
2. conditioning on whole pixels: all channels of pixel ``i`` are predicted from the pixels
   before ``i`` (never from other channels of the same pixel). For ``C > 1`` the channels
   are independent given the context here (the paper adds linear dependencies of the
   green and blue means on the red and green values: not built, the experiments are
   single-channel);
3. downsampling: ``num_scales`` resolutions, strided down-shifted convolutions on the way
   down and transposed ones on the way back up;
4. short-cut connections: every gated resnet of the first (downsampling) pass feeds the
   matching one of the second pass (its output concatenated as the block's extra input);
5. dropout inside every gated resnet (on the hidden activations, training only).

Causality without a blind spot uses two streams (PixelCNN++'s "u" and "ul"): a
**vertical** stream of down-shifted convolutions (a ``2 x 3`` kernel padded so that row
``r`` sees only rows ``< r`` once shifted down by one) and a **horizontal** stream of
down-right-shifted convolutions (``2 x 2`` kernels: rows ``<= r`` and columns ``<= c``)
that also reads the vertical stream; the initial horizontal input is the sum of a
down-shifted ``1 x 3`` convolution and a right-shifted ``2 x 1`` one, so output ``(r, c)``
depends exactly on the pixels before it in raster order. The input gets a channel of ones
(so that zero padding is distinguishable from black pixels), and the nonlinearity is
``concat_elu(x) = elu([x, -x])``. Gated resnet (PixelCNN++ ``gated_resnet``)::

    c1 = conv(concat_elu(x)) [+ nin(concat_elu(a))];  c1 = dropout(concat_elu(c1))
    a, b = split(conv(c1), 2);  return x + a * sigmoid(b)

Not built: weight normalization with data-dependent init, Polyak averaging in the network
(the training loop's EMA plays that part), and the RGB coupling of point 2.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def concat_elu(x: jax.Array) -> jax.Array:
    """``elu(concat([x, -x], channel axis))`` (PixelCNN++'s resnet nonlinearity)."""
    return jax.nn.elu(jnp.concatenate([x, -x], axis=-1))


def down_shift(x: jax.Array) -> jax.Array:
    """Shifts ``[B, H, W, C]`` down by one row (zeros on top)."""
    return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def right_shift(x: jax.Array) -> jax.Array:
    """Shifts ``[B, H, W, C]`` right by one column (zeros on the left)."""
    return jnp.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


class DownShiftedConv(nn.Module):
    """Convolution whose output ``(r, c)`` reads rows ``<= r`` only (``2 x 3`` by default).

    Padding: ``kh - 1`` rows on top, ``(kw - 1) / 2`` columns on each side; ``stride`` 2
    halves the resolution.
    """

    features: int
    kernel: tuple[int, int] = (2, 3)
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # noqa: D102
        kh, kw = self.kernel
        pad = ((kh - 1, 0), ((kw - 1) // 2, (kw - 1) // 2))
        return nn.Conv(self.features, self.kernel, (self.stride, self.stride), pad)(x)


class DownRightShiftedConv(nn.Module):
    """Convolution whose output ``(r, c)`` reads rows ``<= r`` and columns ``<= c`` (``2 x 2``)."""

    features: int
    kernel: tuple[int, int] = (2, 2)
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # noqa: D102
        kh, kw = self.kernel
        pad = ((kh - 1, 0), (kw - 1, 0))
        return nn.Conv(self.features, self.kernel, (self.stride, self.stride), pad)(x)


class DownShiftedDeconv(nn.Module):
    """Stride-2 transposed convolution, cropped so that it stays down-shifted (``2 x 3``)."""

    features: int
    kernel: tuple[int, int] = (2, 3)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # noqa: D102
        kh, kw = self.kernel
        y = nn.ConvTranspose(self.features, self.kernel, (2, 2), "VALID")(x)
        height, width = 2 * x.shape[1], 2 * x.shape[2]
        left = (kw - 1) // 2
        return y[:, :height, left:left + width]


class DownRightShiftedDeconv(nn.Module):
    """Stride-2 transposed convolution, cropped to stay down-right-shifted (``2 x 2``)."""

    features: int
    kernel: tuple[int, int] = (2, 2)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # noqa: D102
        y = nn.ConvTranspose(self.features, self.kernel, (2, 2), "VALID")(x)
        return y[:, :2 * x.shape[1], :2 * x.shape[2]]


class GatedResnet(nn.Module):
    """PixelCNN++'s gated resnet block (module docstring) with a given causal convolution.

    Attributes:
        conv: ``DownShiftedConv`` or ``DownRightShiftedConv`` (the class).
        dropout: rate on the hidden activations (training only).
    """

    conv: type
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, aux: jax.Array | None = None, train: bool = False
                 ) -> jax.Array:
        """``x + a * sigmoid(b)`` for ``x [B, H, W, F]`` and the optional shortcut ``aux``."""
        features = x.shape[-1]
        h = self.conv(features)(concat_elu(x))
        if aux is not None:
            h = h + nn.Dense(features, name="nin")(concat_elu(aux))
        h = nn.Dropout(self.dropout)(concat_elu(h), deterministic=not train)
        a, b = jnp.split(self.conv(2 * features)(h), 2, axis=-1)
        return x + a * jax.nn.sigmoid(b)


class PixelCNNPP(nn.Module):
    """The PixelCNN++ network: images ``[B, H, W, C]`` in ``[-1, 1]`` -> mixture parameters.

    Output ``[B, H, W, C, 3K]`` (per channel: ``K`` mixture logits, ``K`` means, ``K``
    log-scales); position ``(r, c)`` depends only on the pixels before it in raster order.
    ``H`` and ``W`` must be divisible by ``2**(num_scales - 1)``.

    Attributes:
        num_filters: channels of both streams.
        num_resnet: gated resnets per resolution in the first pass (the second pass has
            one more at every resolution but the lowest, as in the paper's code).
        num_scales: resolutions (1: no downsampling; the paper uses 3).
        num_mixtures: ``K``.
        dropout: dropout rate in the resnets (the paper's 0.5).
    """

    num_filters: int = 32
    num_resnet: int = 2
    num_scales: int = 2
    num_mixtures: int = 5
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # noqa: D102
        if x.ndim != 4:
            raise ValueError(f"PixelCNNPP needs images [B, H, W, C], got {x.shape}.")
        factor = 2 ** (self.num_scales - 1)
        if x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(f"height and width {x.shape[1:3]} must be divisible by "
                             f"2**(num_scales - 1) = {factor}.")
        channels, f = x.shape[-1], self.num_filters
        x_pad = jnp.concatenate([x, jnp.ones_like(x[..., :1])], axis=-1)
        u = down_shift(DownShiftedConv(f, (2, 3))(x_pad))
        ul = (down_shift(DownShiftedConv(f, (1, 3))(x_pad))
              + right_shift(DownRightShiftedConv(f, (2, 1))(x_pad)))
        u_list, ul_list = [u], [ul]
        for scale in range(self.num_scales):  # first pass, downsampling
            if scale:
                u_list.append(DownShiftedConv(f, stride=2)(u_list[-1]))
                ul_list.append(DownRightShiftedConv(f, stride=2)(ul_list[-1]))
            for _ in range(self.num_resnet):
                u_list.append(GatedResnet(DownShiftedConv, self.dropout)(u_list[-1], None,
                                                                         train))
                ul_list.append(GatedResnet(DownRightShiftedConv, self.dropout)(
                    ul_list[-1], u_list[-1], train))
        u, ul = u_list.pop(), ul_list.pop()
        for scale in range(self.num_scales):  # second pass, upsampling with shortcuts
            if scale:
                u = DownShiftedDeconv(f)(u)
                ul = DownRightShiftedDeconv(f)(ul)
            for _ in range(self.num_resnet + (1 if scale else 0)):
                u = GatedResnet(DownShiftedConv, self.dropout)(u, u_list.pop(), train)
                ul = GatedResnet(DownRightShiftedConv, self.dropout)(
                    ul, jnp.concatenate([u, ul_list.pop()], axis=-1), train)
        out = nn.Dense(3 * self.num_mixtures * channels, name="out")(jax.nn.elu(ul))
        return out.reshape(x.shape + (3 * self.num_mixtures,))
