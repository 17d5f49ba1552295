"""MixCE [P023]: mixing forward and reverse cross-entropy for autoregressive LMs.

Zhang, Wu, Irsoy, Lu, Bansal, Dredze & Rosenberg (2023), "MixCE: Training
autoregressive language models by mixing forward and reverse cross-entropies"
(ACL 2023, arXiv:2305.16958).

MLE minimizes the forward cross-entropy ``CE(P, Q) = -E_P log Q``, which punishes
a model ``Q`` for missing data but not for putting mass where the data has none
("over-generalization"). MixCE targets ``eta * CE(P, Q) + (1 - eta) * CE(Q, P)``
and trains with the paper's data-only approximation of the reverse term: the
per-token loss ``-(eta + (1 - eta) * sg(q_t)) log q_t``
(:func:`likelihood_jax.sequence.objectives.mixce`); ``eta = 1`` is MLE.

Data (``config.dataset.name``):

* ``"markov"`` / ``"hmm"``: a synthetic source ``P`` with a known distribution (a
  registered dataset, options in ``config.dataset``;
  :mod:`likelihood_jax.data.synthetic.sources`); train and test sequences of length ``L``
  are sampled from it with fixed seeds. The model reads
  ``[BOS, x_1..x_{L-1}]`` (BOS = token ``V``) and predicts ``x_1..x_L``. Evaluation
  reports, per token and in nats: the forward CE on source samples ``fwd_ce``,
  the reverse CE ``rev_ce`` (one model sample per test row scored by ``P``), the
  Monte Carlo entropies ``src_entropy`` (of ``P``) and ``model_entropy`` (of ``Q``,
  from its own samples), and exact values on all ``V^l`` sequences of length
  ``l = config.eval.enum_length``: total variation ``tv``, ``fwd_ce_enum``,
  ``rev_ce_enum``, ``q_mass_rare`` (the model's mass on sequences with a
  transition of source probability below ``config.eval.rare_threshold``, e.g.
  the zeroed transitions of a sparse source) and ``p_mass_rare`` (the source's).
* ``"shakespeare_char"``: non-overlapping windows of ``context + 1`` characters;
  bits/char, next-character accuracy and repetition metrics of greedy and sampled
  continuations (:class:`LanguageModelExperiment`).

The data, the model factory and the evaluation are the library's
:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`, shared with the
other sequence-objective experiments.
"""

from __future__ import annotations

from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment


class MixCE(LanguageModelExperiment):
    """The LM trained with MixCE at mixing ratio ``config.objective.eta`` (1 = MLE)."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        self.eta = float(config.objective.eta)
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"objective.eta must lie in [0, 1], got {self.eta}")

    def token_loss(self, logits, targets):
        """``-(eta + (1 - eta) sg(q_t)) log q_t`` per token."""
        return seq_losses.mixce(logits, targets, eta=self.eta)


EXPERIMENT = MixCE
