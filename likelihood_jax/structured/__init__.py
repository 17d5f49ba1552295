"""Exact inference in discrete structured models (family LAT-A).

* :mod:`~likelihood_jax.structured.crf`: linear-chain CRFs: log-partition, sequence
  score, log-likelihood, Viterbi and forward-backward marginals by ``lax.scan`` (the public
  API re-exported here) [P068].
* :mod:`~likelihood_jax.structured.regular_crf`: CRFs constrained to a regular language of
  tags (a DFA): log-partition and Viterbi over the CRF x DFA product states, the
  constrained log-likelihood, DFA acceptance [P126].
* :mod:`~likelihood_jax.structured.hmm`: hidden Markov models with Gaussian emissions:
  forward log-likelihood, forward-backward posteriors, Baum-Welch EM over padded batches,
  Viterbi, BIC [P209].
* :mod:`~likelihood_jax.structured.belief_propagation`: sum-product belief propagation over
  binary labels with pairwise and counting (label-proportion) factors, the counting
  messages by dynamic programming over counts [P231].
* :mod:`~likelihood_jax.structured.taggers`: the window CRF tagger network and its feature
  counts [P068, P126].
* :mod:`~likelihood_jax.structured.experiment`: the family's Experiment base (the window
  CRF tagger with its Gaussian-prior penalty), the only module that imports
  ``likelihood_jax.train``.
"""

from likelihood_jax.structured.belief_propagation import (
    bags_from_index,
    belief_propagation_marginals,
    counting_factor_messages,
    label_count_log_potentials,
)
from likelihood_jax.structured.crf import (
    crf_count_gradients,
    crf_log_likelihood,
    crf_log_partition,
    crf_marginals,
    crf_sequence_score,
    crf_viterbi,
)
from likelihood_jax.structured.hmm import (
    hmm_em_step,
    hmm_fit,
    hmm_log_likelihood,
    hmm_posteriors,
    hmm_viterbi,
)
from likelihood_jax.structured.regular_crf import (
    dfa_accepts,
    regular_crf_log_likelihood,
    regular_crf_log_partition,
    regular_crf_viterbi,
)

__all__ = ["bags_from_index", "belief_propagation_marginals", "counting_factor_messages",
           "crf_count_gradients", "crf_log_likelihood", "crf_log_partition", "crf_marginals",
           "crf_sequence_score", "crf_viterbi", "dfa_accepts", "regular_crf_log_likelihood",
           "regular_crf_log_partition", "regular_crf_viterbi", "hmm_em_step", "hmm_fit",
           "hmm_log_likelihood", "hmm_posteriors", "hmm_viterbi", "label_count_log_potentials"]
