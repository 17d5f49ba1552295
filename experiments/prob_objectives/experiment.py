"""Probability-based objectives [P053] across the model-capability continuum.

Li, Qiu, Chen, Ji & Tong (2025), "Beyond Log Likelihood: Probability-Based
Objectives for Supervised Fine-Tuning across the Model Capability Continuum"
(arXiv:2510.00526). Fine-tuning with ``f_alpha(p) = -(p^alpha - 1) / alpha``
(``alpha = 0``: NLL; ``1``: ``-p``; ``10``: ``-p^10``;
:func:`likelihood_jax.sequence.objectives.probability_objective`), optionally only on
tokens with ``p >= threshold``
(:func:`~likelihood_jax.sequence.objectives.thresholded_probability_objective`).
The paper's claim: when the model already fits the task well ("model-strong"),
prior-leaning objectives (``alpha > 0``, thresholds) beat NLL, because they
ignore tokens the model finds unlikely (noisy supervision); when it does not
("model-weak"), NLL wins.

Setting, on a synthetic source ``P`` with exact metrics
(:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`): the model is
first pretrained by MLE on clean samples of ``P`` for
``config.objective.pretrain_steps`` steps (0: a model-weak start; many: a
model-strong start), then fine-tuned with the objective for the remaining
steps on *noisy* samples of ``P``, where a fraction ``config.dataset.noisy_copy``
of the tokens is replaced by uniform random tokens (the long, noisy supervision
of the paper's SFT setting). The schedule is a function of the traced training
``step``. Evaluation against the clean ``P``: exact TV on short sequences
(headline), forward and reverse cross-entropy, and ``mode_accuracy`` (the
model's most likely next token is the source's; see :meth:`ProbObjectives.eval_fn`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment


class ProbObjectives(LanguageModelExperiment):
    """MLE pretraining on clean data, then ``f_alpha`` fine-tuning on noisy data.

    The data is a registered source dataset whose option ``noisy_copy`` (the fraction of
    replaced tokens) adds the noisy fine-tuning sequences ``x_noisy`` to the train split
    (:func:`likelihood_jax.data.synthetic.sources.source_dataset`).
    """

    def __init__(self, config, dataset=None):
        obj = config.objective
        self.alpha = float(obj.alpha)
        self.threshold = float(obj.get("threshold", 0.0))
        self.pretrain_steps = int(obj.pretrain_steps)
        if self.alpha < 0 or not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"need objective.alpha >= 0 and objective.threshold in [0, 1]; "
                             f"got {self.alpha}, {self.threshold}")
        if config.dataset.name not in ("markov", "hmm"):
            raise ValueError("prob_objectives runs on a synthetic source (dataset.name='markov')")
        if config.dataset.get("noisy_copy", None) is None:
            raise ValueError("prob_objectives fine-tunes on noisy data: set dataset.noisy_copy "
                             "(the fraction of replaced tokens)")
        super().__init__(config, dataset)

    def loss_fn(self, params, batch, key, step):
        """NLL on clean ``x`` before ``pretrain_steps``, the objective on ``x_noisy`` after."""
        pretraining = step < self.pretrain_steps
        x = jnp.where(pretraining, batch["x"], batch["x_noisy"])
        inputs, targets = self.inputs_and_targets(x)
        logits = self.logits(params, inputs, train=True, key=key)
        nll = seq_losses.token_cross_entropy(logits, targets)
        objective = seq_losses.thresholded_probability_objective(
            logits, targets, alpha=self.alpha, threshold=self.threshold)
        per_token = jnp.where(pretraining, nll, objective)
        kept = jnp.where(pretraining, 1.0,
                         jnp.mean((jnp.exp(-nll) >= self.threshold).astype(jnp.float32)))
        return jnp.mean(per_token, -1), {"nll": jnp.mean(nll, -1), "kept_fraction": kept}

    def eval_fn(self, params, batch, key):
        """The synthetic metrics plus ``mode_accuracy``.

        ``mode_accuracy``: how often the model's most likely next token (teacher forced on
        clean test sequences) is the source's most likely one, the analogue of the
        greedy-answer accuracy that the paper's benchmarks measure.
        """
        out = super().eval_fn(params, batch, key)
        x = batch["x"]
        model_mode = jnp.argmax(self.model_conditional_log_probs(params, x), -1)
        source_mode = jnp.argmax(jax.vmap(self.source.conditional_log_probs)(x), -1)
        out["mode_accuracy"] = jnp.mean((model_mode == source_mode).astype(jnp.float32), -1)
        return out


EXPERIMENT = ProbObjectives
