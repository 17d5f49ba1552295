"""The 2D toy samplers: shapes, determinism and each toy's geometry."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data import toys

N = 20000
REQUIRED = (
    "moons",
    "circles",
    "8gaussians",
    "checkerboard",
    "2spirals",
    "pinwheel",
    "swissroll",
    "sine",
    "swirl",
)


def test_required_toys_are_offline_datasets():
    for name in REQUIRED:
        assert name in data.TOY_NAMES
        assert name in data.DATASETS
    assert data.TRAIN_SEED != data.TEST_SEED


@pytest.mark.parametrize("name", toys.TOY_NAMES)
def test_shape_dtype_determinism(name):
    x = data.sample_toy(name, 1000, seed=7)
    assert x.shape == (1000, 2)
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(x, data.sample_toy(name, 1000, seed=7))
    assert not np.array_equal(x, data.sample_toy(name, 1000, seed=8))
    # Train and test splits come from different seeds, so they differ.
    train = data.sample_toy(name, 500, data.TRAIN_SEED)
    test = data.sample_toy(name, 500, data.TEST_SEED)
    assert not np.any(np.all(train == test, axis=1))
    assert data.sample_toy(name, 0, seed=0).shape == (0, 2)
    assert float(np.abs(x).max()) < 12.0


def test_sample_toy_errors():
    with pytest.raises(ValueError, match="nope"):
        data.sample_toy("nope", 10, 0)
    with pytest.raises(ValueError, match="n must be"):
        data.sample_toy("moons", -1, 0)


def test_moons_lie_on_two_half_circles():
    p = (data.sample_toy("moons", N, 0).astype(np.float64) + [1.0, 0.2]) / 2.0
    upper = np.abs(np.hypot(p[:, 0], p[:, 1]) - 1.0)
    lower = np.abs(np.hypot(p[:, 0] - 1.0, p[:, 1] - 0.5) - 1.0)
    dist = np.minimum(upper, lower)
    assert np.quantile(dist, 0.99) < 0.3  # noise std 0.1
    # Half the points on each moon: the upper one has y > 0.25 mostly.
    assert 0.45 < np.mean(upper < lower) < 0.55


def test_circles_radii():
    r = np.hypot(*data.sample_toy("circles", N, 0).T)
    outer = np.abs(r - 3.0) < np.abs(r - 1.5)
    assert 0.47 < outer.mean() < 0.53
    assert abs(np.median(r[outer]) - 3.0) < 0.05
    assert abs(np.median(r[~outer]) - 1.5) < 0.05
    assert np.std(r[outer] - 3.0) == pytest.approx(0.24, rel=0.1)


def test_rings_radii():
    r = np.hypot(*data.sample_toy("rings", N, 0).T)
    radii = np.array([3.0, 2.25, 1.5, 0.75])
    nearest = np.argmin(np.abs(r[:, None] - radii), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=4) / N, 0.25, atol=0.02)
    assert np.quantile(np.min(np.abs(r[:, None] - radii), axis=1), 0.99) < 0.3


def test_8gaussians_centers():
    x = data.sample_toy("8gaussians", N, 0).astype(np.float64)
    angles = np.arange(8) * np.pi / 4
    centers = 4.0 / 1.414 * np.stack([np.cos(angles), np.sin(angles)], 1)
    d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / N, 1 / 8, atol=0.015)
    for k in range(8):
        np.testing.assert_allclose(x[nearest == k].mean(0), centers[k], atol=0.03)
    std = 0.5 / 1.414
    assert np.mean(d2.min(1)) == pytest.approx(2 * std**2, rel=0.05)
    modes, mode_std = toys.mixture_modes("8gaussians")
    np.testing.assert_allclose(modes, centers, rtol=1e-6)
    assert mode_std == pytest.approx(std)
    assert toys.mixture_modes("moons") is None


def test_checkerboard_points_lie_in_dark_squares():
    x = data.sample_toy("checkerboard", N, 0)
    assert np.all(np.abs(x) <= 4.0)
    cells = np.floor(x / 2.0).astype(int)
    assert np.all((cells[:, 0] + cells[:, 1]) % 2 == 0)
    # All 8 dark squares are used about equally.
    ids = (cells[:, 0] + 2) * 4 + (cells[:, 1] + 2)
    counts = np.bincount(ids, minlength=16)
    assert np.count_nonzero(counts) == 8
    np.testing.assert_allclose(counts[counts > 0] / N, 1 / 8, atol=0.015)


def test_2spirals_are_point_symmetric():
    x = data.sample_toy("2spirals", N, 0).astype(np.float64)
    r = np.hypot(*x.T)
    assert np.quantile(r, 0.999) < 3.0 * np.pi / 3 + 0.6
    # Arms are mirror images: the cloud is symmetric under x -> -x.
    mirrored = -x
    assert np.abs(x.mean(0)).max() < 0.05
    np.testing.assert_allclose(
        np.quantile(x, [0.1, 0.5, 0.9], axis=0),
        np.quantile(mirrored, [0.1, 0.5, 0.9], axis=0),
        atol=0.06,
    )


def test_pinwheel_has_five_arms():
    x = data.sample_toy("pinwheel", N, 0).astype(np.float64)
    r = np.hypot(*x.T)
    assert abs(np.median(r) - 2.0) < 0.1
    # Five-fold symmetry: the angle histogram has five clear peaks.
    theta = np.arctan2(x[:, 1], x[:, 0])[r > 2.0]
    hist, _ = np.histogram(theta, bins=60, range=(-np.pi, np.pi))
    smooth = np.convolve(np.r_[hist[-2:], hist, hist[:2]], np.ones(5) / 5, "valid")
    peaks = (smooth > np.roll(smooth, 1)) & (smooth >= np.roll(smooth, -1))
    peaks &= smooth > smooth.mean()
    assert peaks.sum() == 5


def test_swissroll_radius_range():
    x = data.sample_toy("swissroll", N, 0).astype(np.float64)
    r = np.hypot(*x.T)
    lo, hi = 1.5 * np.pi / 5, 4.5 * np.pi / 5
    assert np.quantile(r, 0.01) > lo - 0.5 and np.quantile(r, 0.99) < hi + 0.5
    # Noise-free radius t/5 is uniform on [lo, hi]: the median is near its middle.
    assert abs(np.median(r) - (lo + hi) / 2) < 0.1


def test_sine_follows_the_curve():
    x = data.sample_toy("sine", N, 0).astype(np.float64)
    assert np.all(np.abs(x[:, 0]) <= 8.0)
    residual = x[:, 1] / 4.0 - np.sin(3.0 * x[:, 0] / 4.0)
    assert abs(residual.mean()) < 0.01
    assert residual.std() == pytest.approx(0.25, rel=0.05)


def test_swirl_is_one_arm_around_its_center():
    scale = 2.5 / 3.0
    x = data.sample_toy("swirl", N, 0).astype(np.float64)
    d = x - scale * np.array([0.75, 1.75])
    # Centered, a point is scale * (n cos n, -n sin n) + uniform noise of half-width 0.25 * scale.
    radius = np.hypot(*d.T)
    assert radius.max() < scale * (3 * np.pi + 0.4)
    far = radius > 2.0
    t = radius[far] / scale
    direction = np.stack([np.cos(t), -np.sin(t)], 1)
    cosine = (d[far] * direction).sum(1) / radius[far]
    assert np.quantile(cosine, 0.01) > 0.9
