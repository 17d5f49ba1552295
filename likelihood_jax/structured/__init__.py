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

Names are loaded on first use (PEP 562), so importing the package does not import jax.
"""

from __future__ import annotations

from likelihood_jax._lazy import lazy_attributes

_EXPORTS = {
    "bags_from_index": "belief_propagation",
    "belief_propagation_marginals": "belief_propagation",
    "counting_factor_messages": "belief_propagation",
    "crf_count_gradients": "crf",
    "crf_log_likelihood": "crf",
    "crf_log_partition": "crf",
    "crf_marginals": "crf",
    "crf_sequence_score": "crf",
    "crf_viterbi": "crf",
    "dfa_accepts": "regular_crf",
    "hmm_em_step": "hmm",
    "hmm_fit": "hmm",
    "hmm_log_likelihood": "hmm",
    "hmm_posteriors": "hmm",
    "hmm_viterbi": "hmm",
    "label_count_log_potentials": "belief_propagation",
    "regular_crf_log_likelihood": "regular_crf",
    "regular_crf_log_partition": "regular_crf",
    "regular_crf_viterbi": "regular_crf",
}

_SUBMODULES = frozenset({"belief_propagation", "crf", "experiment", "hmm", "regular_crf",
                         "taggers"})

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS, _SUBMODULES)
