"""FloWaveNet [P026] (Kim, Lee, Song, Kim & Yoon, ICML 2019): a conditional flow for raw audio.

A waveform ``x (T,)`` and its mel spectrogram ``mel (F, n_mels)`` (``T = F * hop``) are mapped
to a standard-normal latent ``eps (T,)`` by a single bijection, so that::

    log p(x | mel) = log N(eps; 0, I) + log|det d eps / d x|,

trained by maximum likelihood alone and sampled in parallel over time by the inverse map.

Direction: ``forward`` maps data ``x`` -> latent ``eps`` and ``inverse`` maps ``eps`` -> ``x``,
as everywhere in :mod:`likelihood_jax.flows`. Signals are channels-last ``(time, channels)``.

:class:`FloWaveNet` is a conditional bijector under the contract of
:mod:`likelihood_jax.flows.base`, its ``context`` being the clip's mel spectrogram: wrap it
in :class:`~likelihood_jax.flows.Flow` for ``log_prob(params, x, context=mel)`` and
``sample(params, key, n, context=mel, temperature=...)``.

Pieces (paper Sec. 3 and Fig. 1; public code ``ksw0306/FloWaveNet``):

* **Upsampling** (:class:`MelUpsampler`): the mel frames are brought to the sample rate by
  transposed 2D convolutions over the (mel band, frame) plane with kernel ``(3, 2 s)`` and
  stride ``(1, s)``, each followed by a leaky ReLU (slope 0.4); ``prod(s) = hop``.
* **Squeeze** (:func:`squeeze`): ``(T, C) -> (T/2, 2C)`` with
  ``out[t, 2c + p] = in[2t + p, c]``, applied to the signal and the conditioning alike at the
  start of every flow block. A permutation: log-det 0.
* **Flow** = ActNorm (:class:`likelihood_jax.flows.ActNorm`, per channel, data-dependent init;
  log-det ``-T' sum_c log_scale_c``) then an **affine coupling** whose conditioner is a
  non-causal dilated-convolution WaveNet (:class:`WaveNet`) on the first channel half ``x_a``
  and the first half of the conditioning channels ``c_a``::

      log_s, t = WN(x_a, c_a),   z_b = (x_b - t) exp(-log_s),   log|det| = -sum(log_s),

  inverse ``x_b = z_b exp(log_s) + t``; then the channel halves of both the signal and the
  conditioning are swapped (``change_order``), so the next coupling transforms the other half.
  The WaveNet's last 1x1 convolution is zero-initialized, so every coupling starts as the
  identity.
* **Block** = squeeze then ``num_flows`` flows. **Multi-scale**: after every
  ``blocks_per_split``-th block (except the last) half of the channels leave the flow. The
  paper models them with a Gaussian whose mean and log-std come from a small WaveNet ("prior")
  of the remaining channels and the conditioning; here that Gaussian is written as one more
  affine bijection ``eps_z = (z - mean) exp(-log_sd)`` (log-det ``-sum(log_sd)``), which gives
  the same density with a standard-normal base for every latent and makes the whole map one
  bijection ``x -> eps`` whose Jacobian can be checked with ``jax.jacfwd``.

Every log-det is exact; the flow's Jacobian is block-triangular (couplings, splits) times
diagonal (ActNorm) times permutations (squeeze, swap).

:class:`AutoregressiveWaveNet` is the sequential baseline: a causal WaveNet predicting a
Gaussian for each sample from the past samples and the upsampled mel, sampled one sample at a
time in ``lax.scan`` (the ancestral sampling FloWaveNet removes).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows.base import Bijector, Context
from likelihood_jax.flows.elementwise import ActNorm

__all__ = [
    "AutoregressiveWaveNet",
    "FloWaveNet",
    "MelUpsampler",
    "WaveNet",
    "init_module",
    "squeeze",
    "swap_halves",
    "unsqueeze",
]

Params = Any
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def squeeze(h: jax.Array) -> jax.Array:
    """Time to channels: ``(T, C) -> (T/2, 2C)`` with ``out[t, 2c + p] = h[2t + p, c]``."""
    t, c = h.shape
    return h.reshape(t // 2, 2, c).transpose(0, 2, 1).reshape(t // 2, 2 * c)


def unsqueeze(h: jax.Array) -> jax.Array:
    """Inverse of :func:`squeeze`: ``(T, 2C) -> (2T, C)``."""
    t, c2 = h.shape
    return h.reshape(t, c2 // 2, 2).transpose(0, 2, 1).reshape(2 * t, c2 // 2)


def swap_halves(h: jax.Array) -> jax.Array:
    """Swaps the two channel halves (FloWaveNet's ``change_order``); its own inverse."""
    a, b = jnp.split(h, 2, axis=-1)
    return jnp.concatenate([b, a], axis=-1)


class WaveNet(nn.Module):
    """Gated dilated-convolution network on ``(T, C_in)`` with a per-sample conditioning.

    Layer ``l`` (dilation ``2^l``): ``y = conv_k(h) + conv_1(cond)``,
    ``g = tanh(y_1) * sigmoid(y_2)``, ``h <- (h + conv_1(g)) / sqrt(2)``, ``skip += conv_1(g)``;
    output ``conv_1(relu(conv_1(relu(skip))))`` with the last convolution zero-initialized
    (so a coupling built on it starts as the identity).

    Attributes:
        out_channels: output channels.
        hidden: residual, gate and skip channels.
        num_layers: number of dilated layers (receptive field ``1 + (k-1)(2^L - 1)``).
        kernel_size: ``k``.
        causal: pad on the left only (output ``t`` sees inputs ``<= t``) instead of both sides.
        zero_init_last: zero the last convolution's weights and bias.
    """

    out_channels: int
    hidden: int = 32
    num_layers: int = 2
    kernel_size: int = 3
    causal: bool = False
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        """``x (..., T, C_in)``, ``cond (..., T, C_cond)`` or None -> ``(..., T, out)``."""
        h = nn.Conv(self.hidden, (1,), name="front")(x)
        skip = 0.0
        for layer in range(self.num_layers):
            dilation = 2 ** layer
            total = (self.kernel_size - 1) * dilation
            pad = (total, 0) if self.causal else (total // 2, total - total // 2)
            y = nn.Conv(2 * self.hidden, (self.kernel_size,), kernel_dilation=(dilation,),
                        padding=[pad], name=f"dilated_{layer}")(h)
            if cond is not None:
                y = y + nn.Conv(2 * self.hidden, (1,), use_bias=False,
                                name=f"cond_{layer}")(cond)
            a, b = jnp.split(y, 2, axis=-1)
            g = jnp.tanh(a) * jax.nn.sigmoid(b)
            h = (h + nn.Conv(self.hidden, (1,), name=f"res_{layer}")(g)) * math.sqrt(0.5)
            skip = skip + nn.Conv(self.hidden, (1,), name=f"skip_{layer}")(g)
        out = nn.Conv(self.hidden, (1,), name="post")(jax.nn.relu(skip))
        init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        return nn.Conv(self.out_channels, (1,), kernel_init=init, bias_init=nn.initializers.zeros,
                       name="out")(jax.nn.relu(out))


class MelUpsampler(nn.Module):
    """Mel frames ``(F, n_mels)`` to per-sample features ``(F * prod(factors), n_mels)``.

    FloWaveNet's upsampler: per factor ``s``, a transposed convolution over the
    (mel band, frame) plane with one channel, kernel ``(3, 2s)``, stride ``(1, s)``, ``SAME``
    padding (output length exactly ``s`` times the input), then ``leaky_relu(., 0.4)``.

    Attributes:
        factors: upsampling factors, their product is the hop length.
    """

    factors: tuple[int, ...] = (8, 8)

    @nn.compact
    def __call__(self, mel: jax.Array) -> jax.Array:
        """``mel (F, n_mels) -> (F * hop, n_mels)``."""
        c = mel.T[..., None]  # (n_mels, F, 1): an image of one channel
        for i, s in enumerate(self.factors):
            c = nn.ConvTranspose(1, (3, 2 * s), strides=(1, s), padding="SAME",
                                 name=f"convt_{i}")(c)
            c = jax.nn.leaky_relu(c, 0.4)
        return c[..., 0].T


def init_module(module: nn.Module, key: jax.Array, *args: jax.Array,
                zero_last: str = "out") -> Params:
    """Parameters of a linen ``module`` from one normal draw: ``N(0, 1 / fan_in)`` kernels.

    Biases are zero, and so is every parameter of the submodule named ``zero_last`` (the
    identity-at-init output layer). ``fan_in`` is the product of a kernel's input dimensions
    divided by its stride for the upsampler's transposed convolutions (each output of a
    ``(3, 2s)`` kernel with stride ``s`` sums ``3 * 2`` inputs). One ``random.normal`` for
    all weights instead of one per tensor keeps the compile time of an init under ``jit``
    small.

    Args:
        module: the flax module.
        key: PRNG key.
        *args: example inputs (only their shapes are used).
        zero_last: name of the submodule whose parameters start at zero.

    Returns:
        The parameter pytree, ``module.init``'s structure.
    """
    shapes = jax.eval_shape(module.init, jax.random.key(0), *args)
    leaves, tree = jax.tree_util.tree_flatten_with_path(shapes)
    total = sum(math.prod(leaf.shape) for _, leaf in leaves)
    noise = jax.random.normal(key, (total,), leaves[0][1].dtype)
    out, offset = [], 0
    for path, leaf in leaves:
        names = [getattr(k, "key", str(k)) for k in path]
        size = math.prod(leaf.shape)
        if names[-1] != "kernel" or zero_last in names:
            out.append(jnp.zeros(leaf.shape, leaf.dtype))
        else:
            fan_in = math.prod(leaf.shape[:-1])
            if any(str(n).startswith("convt_") for n in names):
                fan_in = 6
            out.append(noise[offset:offset + size].reshape(leaf.shape) / math.sqrt(fan_in))
        offset += size
    return jax.tree.unflatten(tree, out)


@dataclasses.dataclass(frozen=True)
class _BlockPlan:
    length: int  # time steps inside the block (after its squeeze)
    channels: int  # signal channels inside the block
    cond_channels: int  # conditioning channels inside the block
    split: bool  # half the channels leave after the block


@dataclasses.dataclass(frozen=True)
class FloWaveNet(Bijector):
    """The FloWaveNet bijection ``x (T,) <-> eps (T,)`` given the context ``mel (F, n_mels)``.

    A conditional bijector: every method needs the mel conditioning as its ``context``.

    Attributes:
        length: samples per clip ``T``; divisible by ``2**num_blocks`` and by the hop.
        num_mels: mel bands of the conditioning.
        upsample_factors: the :class:`MelUpsampler` factors, product = hop length.
        num_blocks: flow blocks (each starts with a squeeze); the paper uses 8.
        num_flows: ActNorm + coupling steps per block; the paper uses 6.
        num_layers: dilated layers of each coupling's WaveNet; the paper uses 2.
        hidden: WaveNet channels; the paper uses 256.
        blocks_per_split: multi-scale split after every that many blocks (0: never); the
            paper's default configuration splits after block 4 of 8.
        kernel_size: WaveNet kernel size (3 in the paper).
        prior_layers: dilated layers of the split's prior WaveNet (2 in the paper).
    """

    length: int
    num_mels: int
    upsample_factors: tuple[int, ...] = (8, 8)
    num_blocks: int = 4
    num_flows: int = 4
    num_layers: int = 2
    hidden: int = 32
    blocks_per_split: int = 0
    kernel_size: int = 3
    prior_layers: int = 2

    def __post_init__(self):
        object.__setattr__(self, "upsample_factors", tuple(int(s) for s in self.upsample_factors))
        if self.num_blocks < 1 or self.num_flows < 1:
            raise ValueError(f"FloWaveNet needs num_blocks >= 1 and num_flows >= 1, got "
                             f"{self.num_blocks} and {self.num_flows}.")
        if self.length % (2 ** self.num_blocks):
            raise ValueError(f"FloWaveNet length {self.length} must be divisible by "
                             f"2**num_blocks = {2 ** self.num_blocks}.")
        if self.length % self.hop:
            raise ValueError(f"FloWaveNet length {self.length} must be divisible by the hop "
                             f"length prod(upsample_factors) = {self.hop}.")

    @property
    def hop(self) -> int:
        """Samples per mel frame."""
        return math.prod(self.upsample_factors)

    @property
    def num_frames(self) -> int:
        """Mel frames per clip."""
        return self.length // self.hop

    def plan(self) -> tuple[_BlockPlan, ...]:
        """Shapes inside each block and where the multi-scale splits are."""
        out, channels, cond, length = [], 1, self.num_mels, self.length
        for i in range(self.num_blocks):
            length, channels, cond = length // 2, channels * 2, cond * 2
            split = bool(self.blocks_per_split) and (i + 1) % self.blocks_per_split == 0 \
                and i != self.num_blocks - 1
            out.append(_BlockPlan(length, channels, cond, split))
            if split:
                channels //= 2
        return tuple(out)

    # -- networks ----------------------------------------------------------------------------

    def _upsampler(self) -> MelUpsampler:
        return MelUpsampler(self.upsample_factors)

    def _coupling_net(self, block: _BlockPlan) -> WaveNet:
        return WaveNet(block.channels, self.hidden, self.num_layers, self.kernel_size)

    def _prior_net(self, block: _BlockPlan) -> WaveNet:
        return WaveNet(block.channels, self.hidden, self.prior_layers, self.kernel_size)

    def upsample(self, params: Params, mel: Context) -> jax.Array:
        """Per-sample conditioning ``(T, n_mels)`` from ``mel (F, n_mels)``."""
        if mel is None:
            raise ValueError("FloWaveNet is conditional: pass the mel spectrogram "
                             f"{(self.num_frames, self.num_mels)} as the context.")
        if mel.shape != (self.num_frames, self.num_mels):
            raise ValueError(f"FloWaveNet expects mel of shape {(self.num_frames, self.num_mels)}"
                             f", got {mel.shape}.")
        return self._upsampler().apply(params["upsample"], mel)

    # -- one step -----------------------------------------------------------------------------

    def _coupling(self, block, params, h, c, inverse):
        a, b = jnp.split(h, 2, axis=-1)
        c_a = jnp.split(c, 2, axis=-1)[0]
        log_s, t = jnp.split(self._coupling_net(block).apply(params, a, c_a), 2, axis=-1)
        if inverse:
            return jnp.concatenate([a, b * jnp.exp(log_s) + t], -1), jnp.sum(log_s)
        return jnp.concatenate([a, (b - t) * jnp.exp(-log_s)], -1), -jnp.sum(log_s)

    # -- Initialization ------------------------------------------------------------------------

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Parameters; ActNorm is initialized from the statistics of the batch.

        Every coupling starts as the identity (zero-initialized last layer) and every prior
        as ``N(0, 1)``, so the data-dependent ActNorm statistics need only the squeezes,
        swaps and splits, no network evaluation. Weights come from one normal draw scaled by
        ``1 / sqrt(fan_in)`` (:func:`init_module`), which keeps the init cheap to compile.

        Args:
            key: PRNG key.
            x: waveforms ``(B, T)``.
            context: their mel spectrograms ``(B, F, n_mels)``.

        Returns:
            ``{"upsample": ..., "blocks": [{"flows": [{"actnorm", "coupling"}], "prior"?}]}``.
        """
        if x.ndim != 2 or x.shape[1] != self.length:
            raise ValueError(f"FloWaveNet.init needs x of shape (B, {self.length}), got "
                             f"{x.shape}.")
        if context is None or context.ndim != 3 or context.shape[0] != x.shape[0]:
            raise ValueError(f"FloWaveNet.init needs the mel spectrograms of the batch as "
                             f"context (B, F, n_mels) with B = {x.shape[0]}, got "
                             f"{None if context is None else context.shape}.")
        mel = context
        keys = iter(jax.random.split(key, 2 + self.num_blocks * (self.num_flows + 1)))
        params = {"upsample": init_module(self._upsampler(), next(keys), mel[0])}
        h = x[..., None]
        blocks = []
        for block in self.plan():
            h = jax.vmap(squeeze)(h)
            half = jnp.zeros((block.length, block.channels // 2), x.dtype)
            cond_half = jnp.zeros((block.length, block.cond_channels // 2), x.dtype)
            flows = []
            for _ in range(self.num_flows):
                actnorm = ActNorm().init(None, h)
                h = jax.vmap(ActNorm().forward, in_axes=(None, 0))(actnorm, h)
                coupling = init_module(self._coupling_net(block), next(keys), half, cond_half)
                h = swap_halves(h)  # the coupling is the identity at init
                flows.append({"actnorm": actnorm, "coupling": coupling})
            entry = {"flows": flows}
            if block.split:
                h = h[..., : block.channels // 2]
                entry["prior"] = init_module(
                    self._prior_net(block), next(keys), half,
                    jnp.zeros((block.length, block.cond_channels), x.dtype))
            blocks.append(entry)
        params["blocks"] = blocks
        return params

    # -- The bijection --------------------------------------------------------------------------

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x (T,) -> (eps (T,), log|det d eps / d x|)`` given ``context = mel (F, n_mels)``.

        ``eps`` concatenates the flattened latents of the splits (in block order) and of the
        last block.
        """
        if x.shape != (self.length,):
            raise ValueError(f"FloWaveNet expects one waveform of shape ({self.length},), got "
                             f"{x.shape}.")
        c = self.upsample(params, context)
        h, log_det, parts = x[:, None], jnp.zeros((), x.dtype), []
        for block, bp in zip(self.plan(), params["blocks"]):
            h, c = squeeze(h), squeeze(c)
            for fp in bp["flows"]:
                h, ld = ActNorm().forward_and_log_det(fp["actnorm"], h)
                log_det = log_det + ld
                h, ld = self._coupling(block, fp["coupling"], h, c, False)
                log_det = log_det + ld
                h, c = swap_halves(h), swap_halves(c)
            if block.split:
                h, z = jnp.split(h, 2, axis=-1)
                mean, log_sd = jnp.split(self._prior_net(block).apply(bp["prior"], h, c), 2, -1)
                parts.append(((z - mean) * jnp.exp(-log_sd)).reshape(-1))
                log_det = log_det - jnp.sum(log_sd)
        parts.append(h.reshape(-1))
        return jnp.concatenate(parts), log_det

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z (T,) -> (x (T,), log|det dx / dz|)`` given ``context = mel``; parallel in time."""
        if z.shape != (self.length,):
            raise ValueError(f"FloWaveNet expects one latent of shape ({self.length},), got "
                             f"{z.shape}.")
        plan = self.plan()
        c = self.upsample(params, context)
        conds = []  # the conditioning as it leaves each block's flows
        for _ in plan:
            c = squeeze(c)
            for _ in range(self.num_flows):
                c = swap_halves(c)
            conds.append(c)
        sizes = [b.length * b.channels // 2 for b in plan if b.split]
        pieces = jnp.split(z, np.cumsum(sizes)) if sizes else [z]
        last = plan[-1]
        h = pieces[-1].reshape(last.length, -1)
        split_latents = iter(pieces[-2::-1])
        log_det = jnp.zeros((), z.dtype)
        for block, bp, c in zip(plan[::-1], params["blocks"][::-1], conds[::-1]):
            if block.split:
                e = next(split_latents).reshape(block.length, block.channels // 2)
                mean, log_sd = jnp.split(self._prior_net(block).apply(bp["prior"], h, c), 2, -1)
                h = jnp.concatenate([h, e * jnp.exp(log_sd) + mean], -1)
                log_det = log_det + jnp.sum(log_sd)
            for fp in bp["flows"][::-1]:
                h, c = swap_halves(h), swap_halves(c)
                h, ld = self._coupling(block, fp["coupling"], h, c, True)
                log_det = log_det + ld
                h, ld = ActNorm().inverse_and_log_det(fp["actnorm"], h)
                log_det = log_det + ld
            h = unsqueeze(h)
        return h[:, 0], log_det


@dataclasses.dataclass(frozen=True)
class AutoregressiveWaveNet:
    """Sequential baseline: ``p(x | mel) = prod_t N(x_t; mu_t, sigma_t^2)`` with a causal WaveNet.

    ``(mu_t, log sigma_t) = WN_causal(x_{<t}, c_{<=t})`` where ``c`` is the upsampled mel; the
    network input at position ``t`` is ``x_{t-1}`` (0 at ``t = 0``). Sampling draws one sample
    per ``lax.scan`` step and re-runs the network on the last ``receptive_field`` inputs (no
    activation cache), the ancestral sampling whose cost FloWaveNet avoids.

    Attributes:
        length: samples per clip.
        num_mels: mel bands.
        upsample_factors: as in :class:`FloWaveNet`.
        num_layers: causal dilated layers.
        hidden: channels.
        kernel_size: causal kernel size (2 as in WaveNet).
    """

    length: int
    num_mels: int
    upsample_factors: tuple[int, ...] = (8, 8)
    num_layers: int = 8
    hidden: int = 32
    kernel_size: int = 2

    @property
    def receptive_field(self) -> int:
        """Inputs that one output sees: ``1 + (k - 1)(2^L - 1)``."""
        return 1 + (self.kernel_size - 1) * (2 ** self.num_layers - 1)

    def _net(self) -> WaveNet:
        return WaveNet(2, self.hidden, self.num_layers, self.kernel_size, causal=True,
                       zero_init_last=False)

    def init(self, key: jax.Array, x: jax.Array, mel: jax.Array) -> Params:
        """Random parameters (``x (B, T)`` and ``mel (B, F, n_mels)`` give the shapes)."""
        k1, k2 = jax.random.split(key)
        upsample = MelUpsampler(tuple(self.upsample_factors)).init(k1, mel[0])
        cond = MelUpsampler(tuple(self.upsample_factors)).apply(upsample, mel[0])
        return {"upsample": upsample, "net": self._net().init(k2, x[0][:, None], cond)}

    def _cond(self, params, mel):
        return MelUpsampler(tuple(self.upsample_factors)).apply(params["upsample"], mel)

    def means_and_log_scales(self, params: Params, x: jax.Array, mel: jax.Array):
        """Teacher-forced ``(mu (T,), log sigma (T,))`` for one waveform, in parallel."""
        inputs = jnp.concatenate([jnp.zeros((1,), x.dtype), x[:-1]])[:, None]
        out = self._net().apply(params["net"], inputs, self._cond(params, mel))
        return out[:, 0], out[:, 1]

    def log_prob(self, params: Params, x: jax.Array, mel: jax.Array) -> jax.Array:
        """``sum_t log N(x_t; mu_t, sigma_t^2)`` in nats."""
        mean, log_scale = self.means_and_log_scales(params, x, mel)
        return jnp.sum(-0.5 * ((x - mean) * jnp.exp(-log_scale)) ** 2 - log_scale
                       - _HALF_LOG_2PI)

    def sample(self, params: Params, key: jax.Array, mel: jax.Array,
               eps: jax.Array | None = None) -> jax.Array:
        """One waveform ``(T,)``, one sample per ``lax.scan`` step (``eps`` optional noise)."""
        r = self.receptive_field
        cond = jnp.pad(self._cond(params, mel), ((r - 1, 0), (0, 0)))
        if eps is None:
            eps = jax.random.normal(key, (self.length,))

        def step(window, inputs):
            t, e = inputs
            c = jax.lax.dynamic_slice_in_dim(cond, t, r, axis=0)
            out = self._net().apply(params["net"], window[:, None], c)[-1]
            x_t = out[0] + jnp.exp(out[1]) * e
            return jnp.concatenate([window[1:], x_t[None]]), x_t

        window = jnp.zeros((r,), eps.dtype)
        _, xs = jax.lax.scan(step, window, (jnp.arange(self.length), eps))
        return xs
