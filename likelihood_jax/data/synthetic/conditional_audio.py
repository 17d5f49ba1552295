"""Conditioned audio datasets for FloWaveNet [P026]: waveforms ``x`` with per-clip ``mel``.

Each example is a clip ``x (T,)`` with its conditioning ``mel (T / hop, C)``, standardized
with the training split's per-channel mean and std:

* ``conditional_ar1`` (:func:`load_conditional_ar1`): the synthetic conditional AR(1) source
  of :func:`likelihood_jax.data.speech.conditional_ar1` (train seed 0, test seed 1), whose
  per-frame ``(phi, log sigma)`` is the conditioning and whose exact log-likelihood per clip
  is ``true_log_prob``;
* ``speech_mel`` (:func:`load_speech_mel`): the ``speech`` clips (int16 samples, see
  :mod:`likelihood_jax.data.speech`) with their log-mel spectrograms
  (:func:`likelihood_jax.data.audio.log_mel_spectrogram` of ``x / 32768``, the first
  ``T / hop`` frames).
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data import loader

__all__ = ["load_conditional_ar1", "load_speech_mel", "standardize"]

_PCM_SCALE = 32768.0


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(c - mean) / (std + 1e-5)`` per channel (last axis), with the train statistics."""
    mean, std = train.mean(axis=(0, 1)), train.std(axis=(0, 1)) + 1e-5
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def load_conditional_ar1(name: str, data_dir: str, length: int = 512, num_train: int = 4000,
                         num_test: int = 500, hop_length: int = 16) -> loader.Dataset:
    """Loader of ``conditional_ar1``: clips of ``length`` samples, one frame per ``hop_length``.

    Raises:
      ValueError: ``length`` not a multiple of ``hop_length``.
    """
    from likelihood_jax.data import speech

    del name, data_dir
    if length % hop_length:
        raise ValueError(f"dataset.length {length} must be a multiple of dataset.hop_length "
                         f"{hop_length}")
    train = speech.conditional_ar1(num_train, length, hop_length, seed=0)
    test = speech.conditional_ar1(num_test, length, hop_length, seed=1)
    mel_train, mel_test = standardize(train["features"], test["features"])
    info = loader.DatasetInfo(
        kind="continuous", event_shape=(length,),
        description=f"conditional AR(1), {length} samples per clip, hop {hop_length} "
                    "(likelihood_jax.data.speech.conditional_ar1; train seed 0, test 1).")
    return loader.Dataset(
        "ar1", {"x": train["x"], "mel": mel_train, "true_log_prob": train["log_prob"]},
        {"x": test["x"], "mel": mel_test, "true_log_prob": test["log_prob"]}, info)


def load_speech_mel(name: str, data_dir: str, length: int = 4096, min_rms: float = 0.02,
                    sample_rate: int = 16000, n_fft: int = 256, hop_length: int = 64,
                    n_mels: int = 40, fmin: float = 0.0, max_train_clips: int = 0,
                    max_test_clips: int = 0) -> loader.Dataset:
    """Loader of ``speech_mel``: ``speech`` clips with standardized log-mel conditioning.

    Args:
      name: ``"speech_mel"``.
      data_dir: where ``speech`` is built.
      length: samples per clip (a multiple of ``hop_length``).
      min_rms: the ``speech`` option (clips quieter than this are dropped).
      sample_rate: Hz.
      n_fft: FFT size of the spectrogram.
      hop_length: samples per mel frame.
      n_mels: mel bands.
      fmin: lowest mel frequency.
      max_train_clips: keep the first that many training clips (0: all).
      max_test_clips: the same for the test split.

    Returns:
      The dataset (``x`` int16 clips, ``mel (T / hop, n_mels)``), info of ``speech``.
    """
    import jax
    import jax.numpy as jnp

    from likelihood_jax.data import audio

    del name
    if length % hop_length:
        raise ValueError(f"dataset.length {length} must be a multiple of dataset.hop_length "
                         f"{hop_length}")
    raw = loader.load_dataset("speech", data_dir=data_dir, clip_length=length, min_rms=min_rms)
    frames = length // hop_length

    @jax.jit
    def mels(x):
        def one(clip):
            return audio.log_mel_spectrogram(clip, sample_rate, n_fft, hop_length, n_mels,
                                             fmin=fmin)[:frames]
        return jax.lax.map(one, x.astype(jnp.float32) / _PCM_SCALE, batch_size=64)

    splits = {}
    for split_name, split, limit in (("train", raw.train, max_train_clips),
                                     ("test", raw.test, max_test_clips)):
        limit = limit or len(split["x"])
        with jax.ensure_compile_time_eval():  # concrete even when first loaded under jit
            mel = np.asarray(mels(jnp.asarray(split["x"][:limit])))
        splits[split_name] = {"x": np.asarray(split["x"][:limit]), "mel": mel}
    splits["train"]["mel"], splits["test"]["mel"] = standardize(splits["train"]["mel"],
                                                                splits["test"]["mel"])
    return loader.Dataset("speech", splits["train"], splits["test"], raw.info)
