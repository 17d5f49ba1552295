"""The route-trajectory dataset [P015]: route frequencies, geometry and determinism."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data.synthetic import trajectories


def test_routes_follow_their_probabilities_and_angles():
    probs = (0.6, 0.3, 0.1)
    ds = trajectories.load_route_trajectories("route_trajectories", route_probs=probs,
                                              num_train=3000, num_test=10, seed=3)
    train = ds.train
    assert train["x"].shape == (3000, 12, 2) and train["past"].shape == (3000, 8, 2)
    assert ds.info.event_shape == (12, 2) and ds.info.num_classes == 3
    freq = np.bincount(train["label"], minlength=3) / 3000
    se = np.sqrt(np.asarray(probs) * (1 - np.asarray(probs)) / 3000)
    assert np.all(np.abs(freq - probs) < 4 * se), freq
    # Relative frame: the last observed position is the origin; the past walks along +x at
    # the agent's speed, the future along its route's angle.
    np.testing.assert_array_equal(train["past"][:, -1], 0.0)
    step = np.diff(train["past"][..., 0], axis=1).mean(axis=1)
    np.testing.assert_allclose(step, train["speed"], atol=0.05)
    angles = trajectories.route_angles(3, 0.8)
    np.testing.assert_allclose(angles, [-0.8, 0.0, 0.8], rtol=1e-6)
    assert np.mean(trajectories.classify_route(train["x"], angles) == train["label"]) > 0.99
    # The oracle's futures have the same end points per route as the data.
    rng = np.random.default_rng(0)
    oracle = trajectories.conditional_futures(rng, train["speed"][:200], 50, route_probs=probs,
                                              spread=0.8, pred_len=12, noise_std=0.05)
    routes = trajectories.classify_route(oracle, angles)
    assert abs(np.mean(routes == 0) - 0.6) < 0.02
    ends = np.linalg.norm(oracle[:, :, -1], axis=-1).mean(axis=1)
    np.testing.assert_allclose(ends, 12 * train["speed"][:200], atol=0.05)


def test_same_seed_same_rows_and_bad_options():
    a = data.load_dataset("route_trajectories", num_train=20, num_test=5, seed=1)
    b = trajectories.load_route_trajectories("route_trajectories", num_train=20, num_test=5,
                                             seed=1)
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    with pytest.raises(ValueError, match="route_probs"):
        trajectories.load_route_trajectories("r", route_probs=(0.5, 0.6))
    with pytest.raises(ValueError, match="obs_len"):
        trajectories.load_route_trajectories("r", obs_len=1)
