"""likelihood_jax.data.audio against independent numpy computations (no librosa)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.data import audio


def _reference_log_mel(x, sr, n_fft, hop, n_mels, fmin, fmax):
    """Loops, an explicit DFT sum and np.interp triangles: independent of audio.py's code."""
    pad = n_fft // 2
    xp = np.concatenate([x[1:pad + 1][::-1], x, x[-pad - 1:-1][::-1]])  # reflect padding
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / n_fft) for n in range(n_fft)])
    frames = []
    start = 0
    while start + n_fft <= len(xp):
        seg = xp[start:start + n_fft] * window
        spec = []
        for k in range(n_fft // 2 + 1):
            angle = -2j * math.pi * k * np.arange(n_fft) / n_fft
            spec.append(abs(np.sum(seg * np.exp(angle))))
        frames.append(spec)
        start += hop
    mag = np.array(frames)
    lo, hi = 2595 * math.log10(1 + fmin / 700), 2595 * math.log10(1 + fmax / 700)
    mels = [lo + (hi - lo) * i / (n_mels + 1) for i in range(n_mels + 2)]
    hz = [700 * (10 ** (m / 2595) - 1) for m in mels]
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    bank = np.stack([np.interp(freqs, hz[j:j + 3], [0.0, 1.0, 0.0], left=0.0, right=0.0)
                     for j in range(n_mels)], axis=1)
    return np.log(np.maximum(mag @ bank, 1e-5))


@pytest.mark.parametrize("n_fft,hop,n_mels", [(64, 16, 10), (128, 32, 20)])
def test_log_mel_matches_an_independent_numpy_reference(n_fft, hop, n_mels):
    rng = np.random.default_rng(0)
    t = np.arange(600) / 8000.0
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.normal(size=t.size)
    got = np.asarray(jax.jit(lambda v: audio.log_mel_spectrogram(
        v, 8000, n_fft, hop, n_mels, fmin=50.0, fmax=3800.0))(jnp.asarray(x, jnp.float32)))
    want = _reference_log_mel(x, 8000, n_fft, hop, n_mels, 50.0, 3800.0)
    assert got.shape == want.shape == (1 + 600 // hop, n_mels)
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=1e-4)


def test_pure_tone_peaks_in_its_mel_band():
    sr, n_fft = 16000, 512
    x = np.sin(2 * np.pi * 1000 * np.arange(4096) / sr).astype(np.float32)
    mel = np.asarray(audio.log_mel_spectrogram(x, sr, n_fft, 128, 40))
    centers = audio.mel_to_hz(np.linspace(audio.hz_to_mel(0), audio.hz_to_mel(sr / 2), 42))[1:-1]
    assert abs(centers[int(np.argmax(mel[10]))] - 1000) < 150


def test_filterbank_shape_peaks_and_errors():
    bank = audio.mel_filterbank(16000, 512, 40)
    assert bank.shape == (257, 40)
    assert np.all(bank >= 0) and np.all(bank.max(axis=0) > 0.5) and np.all(bank <= 1)
    with pytest.raises(ValueError, match="fmin"):
        audio.mel_filterbank(16000, 512, 40, fmin=9000.0)
    with pytest.raises(ValueError, match="1D"):
        audio.stft_magnitude(jnp.zeros((2, 100)), 64, 16)


def test_wav_round_trip_and_resampling(tmp_path):
    wave = 0.5 * np.sin(2 * np.pi * 300 * np.arange(2205) / 22050)
    path = audio.write_wav(tmp_path / "a.wav", wave, 22050)
    pcm, rate = audio.read_wav(path)
    assert rate == 22050 and pcm.dtype == np.int16
    np.testing.assert_allclose(pcm / 32767.0, wave, atol=1.0 / 32767)
    down = audio.resample(pcm.astype(np.float64), 22050, 16000)
    assert down.size == 1600
    # A 300 Hz tone stays a 300 Hz tone: compare with the tone sampled at 16 kHz (interior).
    expected = 0.5 * 32767 * np.sin(2 * np.pi * 300 * np.arange(1600) / 16000)
    np.testing.assert_allclose(down[100:-100], expected[100:-100], atol=0.01 * 32767)
