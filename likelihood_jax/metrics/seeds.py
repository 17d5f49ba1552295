"""Summaries over seeds: a mean with a Student-t confidence interval.

Every comparison in an experiment README is a mean over at least three seeds with an
interval; this module is the one place that computes it, so every table means the same
thing by ``a +- b``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_confidence_interval(values: Sequence[float], confidence: float = 0.95
                             ) -> tuple[float, float]:
    """The mean of per-seed values and the half-width of its Student-t interval.

    For ``n >= 2`` values with mean ``m`` and sample standard deviation ``s`` (``ddof=1``)
    the interval is ``m +- t_{(1+c)/2, n-1} * s / sqrt(n)``, the usual interval for the
    mean of independent, roughly normal seed results.

    Args:
      values: one number per seed (at least 2, all finite).
      confidence: the coverage ``c`` in ``(0, 1)``.

    Returns:
      ``(mean, half_width)`` as Python floats.

    Raises:
      ValueError: fewer than two values, a non-finite value, or ``confidence`` outside
        ``(0, 1)``.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size < 2:
        raise ValueError(f"values: need at least 2 seeds for an interval, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values: every per-seed value must be finite, got {x.tolist()}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    half = stats.t.ppf(0.5 + confidence / 2, df=x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def format_interval(values: Sequence[float], digits: int = 3,
                    confidence: float = 0.95) -> str:
    """``"mean +- half_width (n=N)"`` for a README table (see :func:`mean_confidence_interval`)."""
    mean, half = mean_confidence_interval(values, confidence)
    return f"{mean:.{digits}f} +- {half:.{digits}f} (n={len(values)})"
