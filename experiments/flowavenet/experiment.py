"""FloWaveNet [P026]: a mel-conditioned flow for raw audio, trained by maximum likelihood alone.

Kim, Lee, Song, Kim & Yoon (ICML 2019), "FloWaveNet: A Generative Flow for Raw Audio". The
model is :class:`likelihood_jax.flows.FloWaveNet` (squeeze, ActNorm, affine couplings with
non-causal WaveNet conditioners on the upsampled mel, multi-scale splits); the loss is the
per-sample negative log-likelihood ``-log p(x | mel) / T`` (the paper's objective, divided by
the number of samples as in its code).

Data (``config.dataset.name``):

* ``"speech"``: espeak-ng speech at 16 kHz (:mod:`likelihood_jax.data.speech`). The int16
  samples are uniformly dequantized to ``y = (q + u) / 32768`` in ``[-1, 1)``; the conditioning
  is the log-mel spectrogram (:func:`likelihood_jax.data.audio.log_mel_spectrogram`,
  computed once in
  ``__init__`` from the clip, standardized with the train mean and std). Metrics: ``nll`` (nats
  per sample of the continuous ``y``) and ``bits_per_sample``, the dequantization bound on the
  16-bit discrete data, ``(-log p(y) + T log 32768) / (T ln 2)`` (the headline).
* ``"ar1"``: the synthetic conditional AR(1) source of
  :func:`likelihood_jax.data.speech.conditional_ar1`, conditioned on its per-frame
  ``(phi, log sigma)``; its exact log-likelihood is known, so ``nll`` (headline) is reported
  beside ``true_nll`` and ``nll_gap = nll - true_nll`` (nats per sample, >= 0 in expectation).

Generated audio: :meth:`FloWaveNetExperiment.write_artifacts` samples a clip conditioned on a
test mel (``config.sample_temperature``) and writes ``generated.wav``, ``reference.wav`` and
``waveforms.png`` into the workdir; ``python -m experiments.flowavenet.synthesize`` calls it on
a trained workdir (the shared loop has no per-experiment artifact hook yet).
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data, flows, metrics
from likelihood_jax.data import audio, speech
from likelihood_jax.train import Experiment

_PCM_SCALE = 32768.0


def _standardize(train, test):
    mean, std = train.mean(axis=(0, 1)), train.std(axis=(0, 1)) + 1e-5
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def build_dataset(config) -> data.Dataset:
    """The experiment's dataset: waveforms ``x`` with their conditioning ``mel`` per clip."""
    d, a = config.dataset, config.audio
    hop = math.prod(config.model.upsample_factors)
    if d.name == "ar1":
        train = speech.conditional_ar1(d.num_train, d.length, hop, seed=0)
        test = speech.conditional_ar1(d.num_test, d.length, hop, seed=1)
        mel_train, mel_test = _standardize(train["features"], test["features"])
        info = data.DatasetInfo(
            kind="continuous", event_shape=(d.length,),
            description=f"conditional AR(1), {d.length} samples per clip, hop {hop} "
                        "(likelihood_jax.data.speech.conditional_ar1; train seed 0, test 1).")
        return data.Dataset(
            "ar1", {"x": train["x"], "mel": mel_train, "true_log_prob": train["log_prob"]},
            {"x": test["x"], "mel": mel_test, "true_log_prob": test["log_prob"]}, info)
    if d.name != "speech":
        raise ValueError(f"flowavenet: unknown dataset {d.name!r}; use 'speech' or 'ar1'.")
    raw = data.load_dataset("speech", clip_length=d.length, min_rms=d.get("min_rms", 0.02))
    if a.hop_length != hop:
        raise ValueError(f"audio.hop_length {a.hop_length} must equal prod(upsample_factors) "
                         f"= {hop}.")
    frames = d.length // hop

    @jax.jit
    def mels(x):
        def one(clip):
            return audio.log_mel_spectrogram(clip, a.sample_rate, a.n_fft, hop, a.n_mels,
                                             fmin=a.fmin)[:frames]
        return jax.lax.map(one, x.astype(jnp.float32) / _PCM_SCALE, batch_size=64)

    splits = {}
    for name, split in (("train", raw.train), ("test", raw.test)):
        limit = d.get(f"max_{name}_clips", 0) or len(split["x"])
        splits[name] = {"x": np.asarray(split["x"][:limit]),
                        "mel": np.asarray(mels(jnp.asarray(split["x"][:limit])))}
    splits["train"]["mel"], splits["test"]["mel"] = _standardize(splits["train"]["mel"],
                                                                 splits["test"]["mel"])
    return data.Dataset("speech", splits["train"], splits["test"], raw.info)


class FloWaveNetExperiment(Experiment):
    """FloWaveNet by maximum likelihood on ``speech`` or ``ar1`` (see the module docstring)."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset if dataset is not None else build_dataset(config))
        m = config.model
        self.speech = self.dataset.name == "speech"
        self.headline_metric = "bits_per_sample" if self.speech else "nll"
        self.length = int(config.dataset.length)
        self.flow = flows.FloWaveNet(
            length=self.length, num_mels=self.dataset.train["mel"].shape[-1],
            upsample_factors=tuple(m.upsample_factors), num_blocks=m.num_blocks,
            num_flows=m.num_flows, num_layers=m.num_layers, hidden=m.hidden,
            blocks_per_split=m.blocks_per_split)

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
        return jax.vmap(self.flow.sample, in_axes=(None, 0, 0, None))(params, keys, mel,
                                                                     temperature)

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
        rate = int(self.config.audio.sample_rate)
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
