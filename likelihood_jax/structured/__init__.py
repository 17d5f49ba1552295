"""Exact inference in discrete structured models (family LAT-A).

* :mod:`~likelihood_jax.structured.crf`: linear-chain CRFs: log-partition, sequence
  score, log-likelihood and Viterbi by ``lax.scan`` (the public API re-exported here).
"""

from likelihood_jax.structured.crf import (
    crf_log_likelihood,
    crf_log_partition,
    crf_sequence_score,
    crf_viterbi,
)

__all__ = ["crf_log_likelihood", "crf_log_partition", "crf_sequence_score", "crf_viterbi"]
