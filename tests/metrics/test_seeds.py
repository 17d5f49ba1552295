"""metrics.seeds: the Student-t interval against hand-computed values."""

import math

import pytest

from likelihood_jax import metrics


def test_interval_matches_the_t_table():
    # values 1, 2, 3: mean 2, s = 1, t_{0.975, 2} = 4.302653 (tables), se = 1/sqrt(3).
    mean, half = metrics.mean_confidence_interval([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    # n = 2, 90%: t_{0.95, 1} = 6.313752, s = |a - b| / sqrt(2), se = s / sqrt(2).
    mean, half = metrics.mean_confidence_interval([0.0, 1.0], confidence=0.9)
    assert mean == pytest.approx(0.5)
    assert half == pytest.approx(6.313752 * 0.5, rel=1e-6)


def test_format_interval():
    assert metrics.format_interval([1.0, 2.0, 3.0], digits=2) == "2.00 +- 2.48 (n=3)"


@pytest.mark.parametrize("values, confidence, match", [
    ([1.0], 0.95, "at least 2 seeds"),
    ([1.0, float("nan")], 0.95, "finite"),
    ([1.0, 2.0], 1.0, "confidence"),
])
def test_bad_inputs_are_named(values, confidence, match):
    with pytest.raises(ValueError, match=match):
        metrics.mean_confidence_interval(values, confidence)
