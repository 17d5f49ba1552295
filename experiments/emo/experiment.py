"""EMO [P032]: earth mover's distance optimization for autoregressive LMs, against MLE.

Ren, Wu & Zhu (2024), "EMO: Earth Mover Distance Optimization for Auto-Regressive
Language Modeling" (ICLR 2024, arXiv:2310.04691). Per token, the upper bound of
the earth mover's distance between the model's next-token distribution ``q``
and the one-hot data token ``y`` with transport cost ``C(i, j) = 1 - cos(e_i,
e_j)`` is ``sum_i q_i C(i, y)``
(:func:`likelihood_jax.sequence.objectives.earth_mover_bound`); it is combined with
MLE as the authors' implementation does
(:func:`~likelihood_jax.sequence.objectives.emo`, ``config.objective.weight``;
0 = MLE). The embeddings ``e`` are the model's own output embeddings (the
columns of the LM head), under stop-gradient, as in the paper.

Data and metrics: :class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`
(a synthetic source with exact TV and forward/reverse CE, or ``shakespeare_char``
with bits/char and repetition).
"""

from __future__ import annotations

import jax.numpy as jnp

from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment, output_embeddings


class EMO(LanguageModelExperiment):
    """The LM trained with EMO + MLE at ``config.objective.weight`` (0 = MLE)."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        self.weight = float(config.objective.weight)
        if self.weight < 0:
            raise ValueError(f"objective.weight must be >= 0, got {self.weight}")

    def loss_fn(self, params, batch, key, step):
        """Mean per-token EMO objective ``[B]``; logs the NLL and the transport bound."""
        inputs, targets = self.inputs_and_targets(batch["x"])
        logits = self.logits(params, inputs, train=True, key=key)
        embeddings = output_embeddings(params, self.vocab_size)
        loss = jnp.mean(seq_losses.emo(logits, targets, embeddings, weight=self.weight), -1)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        bound = jnp.mean(seq_losses.earth_mover_bound(logits, targets, embeddings), -1)
        return loss, {"nll": nll, "emd_bound": bound}


EXPERIMENT = EMO
