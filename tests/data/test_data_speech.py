"""The speech dataset (espeak-ng, pinned wheel) and the synthetic conditional AR(1) source."""

import numpy as np
import pytest
from scipy import stats

from likelihood_jax import data
from likelihood_jax.data import speech


def test_conditional_ar1_log_prob_matches_the_multivariate_normal():
    """Exact log-likelihood against scipy's MVN with the covariance of the recursion."""
    hop, length = 3, 12
    batch = speech.conditional_ar1(4, length, hop, seed=5)
    for x, feat, logp in zip(batch["x"], batch["features"], batch["log_prob"]):
        phi = np.repeat(feat[:, 0].astype(np.float64), hop)
        sigma = np.exp(np.repeat(feat[:, 1].astype(np.float64), hop))
        # x = A^{-1} D e with (A x)_t = x_t - phi_t x_{t-1}, D = diag of the innovation stds.
        a = np.eye(length) - np.diag(phi[1:], -1)
        d = sigma.copy()
        d[0] = sigma[0] / np.sqrt(1 - phi[0] ** 2)
        m = np.linalg.solve(a, np.diag(d))
        cov = m @ m.T
        expected = stats.multivariate_normal(np.zeros(length), cov).logpdf(x.astype(np.float64))
        np.testing.assert_allclose(logp, expected, rtol=1e-8)


def test_conditional_ar1_statistics_and_errors():
    batch = speech.conditional_ar1(2000, 8, 8, seed=0)
    phi = batch["features"][:, 0, 0]
    sigma = np.exp(batch["features"][:, 0, 1])
    # Stationary start: var(x_0) = sigma^2 / (1 - phi^2), so x_0 / that std is N(0, 1).
    z = batch["x"][:, 0] / (sigma / np.sqrt(1 - phi ** 2))
    assert abs(np.mean(z)) < 0.1 and abs(np.std(z) - 1) < 0.05
    assert batch["x"].dtype == np.float32 and batch["features"].shape == (2000, 1, 2)
    with pytest.raises(ValueError, match="multiple of hop"):
        speech.conditional_ar1(2, 10, 3, seed=0)


def test_select_lines_is_deterministic_and_filters():
    text = "\n".join(["HAMLET.", "[Exit.]", "short"] +
                     [f"This is spoken line number {i:03d} of the play." for i in range(50)])
    lines = speech.select_lines(text, 5)
    assert lines == speech.select_lines(text, 5)
    assert lines[0].endswith("000 of the play.") and lines[-1].endswith("049 of the play.")
    with pytest.raises(ValueError, match="candidate"):
        speech.select_lines(text, 100)


def test_rendered_lines_are_deterministic_16khz_speech(tmp_path):
    lines = ["To be, or not to be.", "Hello world."]
    waves, engine = speech.render_lines(lines, tmp_path)
    again, _ = speech.render_lines(lines, tmp_path)
    assert "espeak" in engine
    for a, b in zip(waves, again):
        assert a.dtype == np.int16 and np.array_equal(a, b)
    assert 0.5 * speech.SAMPLE_RATE < waves[0].size < 3 * speech.SAMPLE_RATE
    assert np.sqrt(np.mean((waves[0] / 32768.0) ** 2)) > 0.01


def test_load_speech_clips():
    ds = data.load_dataset("speech", clip_length=2048)
    assert ds.info.kind == "audio" and ds.info.event_shape == (2048,)
    assert "espeak" in ds.info.description.lower() and "1." in ds.info.description
    for split in (ds.train, ds.test):
        x = split["x"]
        assert x.dtype == np.int16 and x.shape[1] == 2048
        rms = np.sqrt(np.mean((x / 32768.0) ** 2, axis=1))
        assert np.all(rms >= 0.02)
        assert len(np.unique(split["utterance"])) > 10
    assert len(ds.train["x"]) > 5 * len(ds.test["x"]) / 2
