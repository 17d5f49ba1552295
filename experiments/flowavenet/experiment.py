"""FloWaveNet [P026]: a mel-conditioned flow for raw audio, trained by maximum likelihood alone.

Kim, Lee, Song, Kim & Yoon (ICML 2019), "FloWaveNet: A Generative Flow for Raw Audio". The
model is :class:`likelihood_jax.flows.Flow` of the conditional bijector
:class:`likelihood_jax.flows.FloWaveNet` (squeeze, ActNorm, affine couplings with non-causal
WaveNet conditioners on the upsampled mel, multi-scale splits; the mel is the bijector's
``context``); the loss is the
per-sample negative log-likelihood ``-log p(x | mel) / T`` (the paper's objective, divided by
the number of samples as in its code).

Data (``config.dataset``, registered datasets of
:mod:`likelihood_jax.data.synthetic.conditional_audio`; ``dataset.hop_length`` must equal
``prod(model.upsample_factors)``):

* ``"speech_mel"``: espeak-ng speech at 16 kHz (:mod:`likelihood_jax.data.speech`). The int16
  samples are uniformly dequantized to ``y = (q + u) / 32768`` in ``[-1, 1)``; the
  conditioning is the log-mel spectrogram (:func:`likelihood_jax.data.audio.log_mel_spectrogram`
  of the clip, standardized with the train mean and std). Metrics: ``nll`` (nats per sample
  of the continuous ``y``) and ``bits_per_sample``, the dequantization bound on the 16-bit
  discrete data, ``(-log p(y) + T log 32768) / (T ln 2)`` (the headline).
* ``"conditional_ar1"``: the synthetic conditional AR(1) source of
  :func:`likelihood_jax.data.speech.conditional_ar1`, conditioned on its per-frame
  ``(phi, log sigma)``; its exact log-likelihood is known, so ``nll`` (headline) is reported
  beside ``true_nll`` and ``nll_gap = nll - true_nll`` (nats per sample, >= 0 in expectation).

Generated audio: :meth:`FloWaveNetExperiment.write_artifacts` samples a clip conditioned on a
test mel (``config.sample_temperature``) and writes ``generated.wav``, ``reference.wav`` and
``waveforms.png`` into the workdir; ``python -m experiments.flowavenet.synthesize`` calls it on
a trained workdir (the shared loop has no per-experiment artifact hook yet).
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import flows, metrics
from likelihood_jax.data import audio
from likelihood_jax.train import Experiment

_PCM_SCALE = 32768.0


class FloWaveNetExperiment(Experiment):
    """FloWaveNet by maximum likelihood on ``speech_mel`` or ``conditional_ar1``."""

    @functools.cached_property
    def speech(self) -> bool:
        """Whether the data is speech (int16 samples, dequantized) rather than AR(1)."""
        return self.dataset.name == "speech"

    @property
    def headline_metric(self) -> str:
        """``bits_per_sample`` for speech, ``nll`` (nats per sample) for AR(1)."""
        return "bits_per_sample" if self.speech else "nll"

    @functools.cached_property
    def length(self) -> int:
        """Samples per clip ``T``."""
        return int(self.dataset.info.event_shape[0])

    def make_model(self, config, info) -> flows.Flow:
        """``Flow(FloWaveNet)`` on clips ``(T,)``, the mel conditioning as context."""
        m = config.model
        hop = math.prod(m.upsample_factors)
        if config.dataset.get("hop_length", hop) != hop:
            raise ValueError(f"dataset.hop_length {config.dataset.hop_length} must equal "
                             f"prod(model.upsample_factors) = {hop}.")
        length = int(info.event_shape[0])
        bijector = flows.FloWaveNet(
            length=length, num_mels=self.dataset.train["mel"].shape[-1],
            upsample_factors=tuple(m.upsample_factors), num_blocks=m.num_blocks,
            num_flows=m.num_flows, num_layers=m.num_layers, hidden=m.hidden,
            blocks_per_split=m.blocks_per_split)
        return flows.Flow(bijector, (length,))

    @property
    def flow(self) -> flows.Flow:
        """The run's flow (:attr:`model`)."""
        return self.model

    # -- data -> model space -------------------------------------------------------------------

    def preprocess(self, batch, key):
        """Speech: uniform dequantization of the int16 samples into ``[-1, 1)``."""
        if not self.speech:
            return batch
        x = batch["x"].astype(jnp.float32)
        u = jax.random.uniform(key, x.shape)
        return dict(batch, x=(x + u) / _PCM_SCALE)

    def log_prob(self, params, batch):
        """``log p(x | mel)`` per clip ``[B]`` (nats)."""
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0, 0))(params, batch["x"],
                                                                   batch["mel"])

    # -- Experiment interface -------------------------------------------------------------------

    def init_params(self, key, batch):
        """Data-dependent ActNorm init on the first (dequantized) training batch."""
        k1, k2 = jax.random.split(key)
        batch = self.preprocess(batch, k1)
        return self.flow.init(k2, batch["x"], batch["mel"])

    def loss_fn(self, params, batch, key, step):
        """Negative log-likelihood per sample, ``-log p(x | mel) / T``."""
        return -self.log_prob(params, batch) / self.length, {}

    def eval_fn(self, params, batch, key):
        """``nll`` per sample; speech: ``bits_per_sample``; ar1: ``true_nll``, ``nll_gap``."""
        log_prob = self.log_prob(params, batch)
        out = {"nll": -log_prob / self.length}
        if self.speech:
            out["bits_per_sample"] = metrics.dequantized_bits_per_dim(
                log_prob, self.length, scale=1.0 / _PCM_SCALE)
        else:
            true_nll = -batch["true_log_prob"] / self.length
            out["true_nll"] = true_nll
            out["nll_gap"] = out["nll"] - true_nll
        return out

    def generate(self, params, key, mel, temperature=None):
        """Waveforms ``(B, T)`` for ``mel (B, F, n_mels)``, all samples in parallel."""
        temperature = self.config.get("sample_temperature", 1.0) if temperature is None \
            else temperature
        keys = jax.random.split(key, mel.shape[0])

        def one(k, context):
            return self.flow.sample(params, k, 1, context, temperature=temperature)[0]

        return jax.vmap(one)(keys, mel)

    def write_artifacts(self, params, workdir, key=None):
        """Writes generated audio for the first test clip's mel into ``workdir``.

        Files: ``generated.wav`` (a parallel sample at ``config.sample_temperature``),
        ``reference.wav`` (the test clip) and ``waveforms.png``. Returns the WAV paths.
        """
        key = jax.random.key(self.config.seed) if key is None else key
        test = self.dataset.test
        mel = jnp.asarray(test["mel"][:1])
        wave = np.asarray(jax.jit(self.generate)(params, key, mel))[0]
        ref = np.asarray(test["x"][0], np.float64)
        if self.speech:
            ref = ref / _PCM_SCALE
        peak = max(1.0, float(np.max(np.abs(ref))), float(np.max(np.abs(wave))))
        rate = int(self.config.dataset.get("sample_rate", 16000))
        paths = {"generated": audio.write_wav(os.path.join(workdir, "generated.wav"),
                                              wave / peak, rate),
                 "reference": audio.write_wav(os.path.join(workdir, "reference.wav"),
                                              ref / peak, rate)}
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True, sharey=True)
        axes[0].plot(ref, lw=0.5)
        axes[0].set_title("test clip")
        axes[1].plot(wave, lw=0.5)
        axes[1].set_title(f"generated for its mel (temperature "
                          f"{self.config.get('sample_temperature', 1.0)})")
        fig.tight_layout()
        fig.savefig(os.path.join(workdir, "waveforms.png"), dpi=80)
        plt.close(fig)
        return paths


EXPERIMENT = FloWaveNetExperiment
