"""Mode coverage against a numpy loop, and on samples drawn from chosen modes."""

import jax
import numpy as np
import pytest

from likelihood_jax import metrics


def _loop_reference(samples, centers, std, num_std, min_count):
    """Sample by sample: nearest centre, high-quality flag, per-mode tallies."""
    good, nearest_counts = np.zeros(len(centers), int), np.zeros(len(centers), int)
    high = 0
    for x in samples:
        d = [np.sqrt(np.sum((x - c) ** 2)) for c in centers]
        k = int(np.argmin(d))
        nearest_counts[k] += 1
        if d[k] <= num_std * std:
            good[k] += 1
            high += 1
    return int(np.sum(good >= min_count)), high / len(samples), nearest_counts / len(samples)


@pytest.mark.parametrize("min_count", [1, 5])
def test_mode_coverage_matches_a_loop(min_count):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 3)).astype(np.float32) * 4
    samples = (centers[rng.integers(0, 3, 60)] + rng.normal(size=(60, 3)) * 0.7).astype(np.float32)
    got = jax.jit(lambda s, c: metrics.mode_coverage(s, c, std=0.5, min_count=min_count))(
        samples, centers)
    hit, high, fractions = _loop_reference(samples, centers, 0.5, 3.0, min_count)
    assert int(got.modes_hit) == hit
    np.testing.assert_allclose(got.high_quality_fraction, high, rtol=1e-6)
    np.testing.assert_allclose(got.mode_fractions, fractions, rtol=1e-6)
    np.testing.assert_allclose(np.sum(got.mode_fractions), 1.0, rtol=1e-6)


def test_samples_from_three_of_eight_modes_hit_three_with_their_mass():
    angles = np.arange(8) * np.pi / 4
    centers = 4 * np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    rng = np.random.default_rng(1)
    modes = rng.choice([0, 2, 5], size=3000, p=[0.5, 0.25, 0.25])
    samples = centers[modes] + 0.1 * rng.normal(size=(3000, 2)).astype(np.float32)
    got = metrics.mode_coverage(samples, centers, std=0.1)
    assert int(got.modes_hit) == 3
    # within 3 std in 2D: P(chi_2 <= 3) = 1 - exp(-9 / 2)
    np.testing.assert_allclose(got.high_quality_fraction, 1 - np.exp(-4.5), atol=0.01)
    fractions = np.asarray(got.mode_fractions)[[0, 2, 5]]
    np.testing.assert_allclose(fractions, [0.5, 0.25, 0.25], atol=0.03)
    summary = metrics.mode_coverage_summary(samples, centers, std=0.1,
                                            weights=[0.5, 0, 0.25, 0, 0, 0.25, 0, 0])
    assert summary["modes_hit"] == 3.0 and summary["mode_tv"] < 0.03
    uniform = metrics.mode_coverage_summary(samples, centers, std=0.1)  # 5 of 8 modes empty
    np.testing.assert_allclose(uniform["mode_tv"], 5 / 8, atol=1e-6)
    far = metrics.mode_coverage(samples + 1.0, centers, std=0.1)  # 10 std off every mode
    assert int(far.modes_hit) == 0 and float(far.high_quality_fraction) == 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"std": 0.0}, "std"), ({"std": 1.0, "num_std": -1.0}, "num_std"),
    ({"std": 1.0, "min_count": 0}, "min_count")])
def test_mode_coverage_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.mode_coverage(np.zeros((4, 2), np.float32), np.ones((2, 2), np.float32), **kwargs)


def test_mode_coverage_refuses_mismatched_dimensions():
    with pytest.raises(ValueError, match="dimensions"):
        metrics.mode_coverage(np.zeros((4, 2), np.float32), np.ones((2, 3), np.float32), std=1.0)
