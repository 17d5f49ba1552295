"""The weighted-MMD study [P048]: its U-statistic and its minimizer."""

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.weighted_mmd.configs import gaussian_location
from experiments.weighted_mmd.experiment import WeightedMMDStudy, minimize, u_statistic


def test_u_statistic_against_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5

    def gram(a, b):
        return np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * 0.8 ** 2))

    k_xx = gram(x, x)
    expected = ((k_xx.sum() - np.trace(k_xx)) / 30 - 2 * gram(x, y).mean() + gram(y, y).mean())
    got = u_statistic(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), 0.8)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_minimize_finds_quadratic_minima():
    fits = minimize({"a": lambda t: jnp.sum((t - 1.5) ** 2), "b": lambda t: jnp.sum(t ** 2)},
                    jnp.zeros(2) + 0.5, 400, 0.05)
    np.testing.assert_allclose(fits["a"], 1.5, atol=1e-2)
    np.testing.assert_allclose(fits["b"], 0.0, atol=1e-2)


def test_bad_study_is_refused():
    config = gaussian_location.get_config("runlocal")
    config.study.sizes = (1,)
    with pytest.raises(ValueError, match="study.sizes"):
        WeightedMMDStudy(config).run("/tmp")
