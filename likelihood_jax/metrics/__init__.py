"""Metrics: bits/dim and dequantization, distances between distributions, calibration.

Every public name lives in a submodule and is re-exported here, so
``from likelihood_jax import metrics; metrics.bits_per_dim(...)`` is the one way to
call them:

* :mod:`~likelihood_jax.metrics.dequantization`: bits/dim, uniform and truncated-normal
  dequantization (the conventions of likelihood numbers, spelled out once);
* :mod:`~likelihood_jax.metrics.distances`: the Fréchet distance between Gaussians and the
  squared maximum mean discrepancy between samples;
* :mod:`~likelihood_jax.metrics.calibration`: expected calibration error;
* :mod:`~likelihood_jax.metrics.coverage`: mode coverage of samples from a mixture with known
  modes (modes hit, high-quality fraction, per-mode mass);
* :mod:`~likelihood_jax.metrics.ranking`: the area under the ROC curve (Mann-Whitney);
* :mod:`~likelihood_jax.metrics.logme`: LogME, the maximum evidence of Bayesian linear
  regression of the labels on fixed features (transferability of an encoder) [P204];
* :mod:`~likelihood_jax.metrics.seeds`: a mean over seeds with its Student-t interval.

Heavier, model-based measures are submodules imported on their own:
:mod:`likelihood_jax.metrics.sample_quality` (an FID-like distance on a small fitted
classifier, scikit-learn).
"""

from likelihood_jax.metrics.calibration import expected_calibration_error
from likelihood_jax.metrics.coverage import ModeCoverage, mode_coverage, mode_coverage_summary
from likelihood_jax.metrics.dequantization import (
    bits_per_dim,
    cell_centers,
    dequantized_bits_per_dim,
    truncated_normal_bits_per_dim,
    truncated_normal_dequantize,
    truncated_normal_entropy,
    uniform_dequantize,
)
from likelihood_jax.metrics.distances import frechet_distance, mmd_squared
from likelihood_jax.metrics.logme import logme
from likelihood_jax.metrics.ranking import auroc
from likelihood_jax.metrics.seeds import format_interval, mean_confidence_interval

__all__ = [
    "ModeCoverage",
    "auroc",
    "bits_per_dim",
    "cell_centers",
    "dequantized_bits_per_dim",
    "expected_calibration_error",
    "format_interval",
    "frechet_distance",
    "logme",
    "mean_confidence_interval",
    "mmd_squared",
    "mode_coverage",
    "mode_coverage_summary",
    "truncated_normal_bits_per_dim",
    "truncated_normal_dequantize",
    "truncated_normal_entropy",
    "uniform_dequantize",
]
