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
steps on *noisy* samples of ``P``, where a fraction ``config.objective.noise``
of the tokens is replaced by uniform random tokens (the long, noisy supervision
of the paper's SFT setting). The schedule is a function of the traced training
``step``. Evaluation against the clean ``P``: exact TV on short sequences
(headline), forward and reverse cross-entropy, and ``mode_accuracy`` (the
model's most likely next token is the source's; see :meth:`ProbObjectives.eval_fn`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment, make_source, source_dataset


def corrupt_tokens(x: np.ndarray, vocab_size: int, noise: float, seed: int) -> np.ndarray:
    """Replaces each token of ``x`` with probability ``noise`` by a uniform random token."""
    rng = np.random.default_rng(seed)
    flip = rng.random(x.shape) < noise
    return np.where(flip, rng.integers(0, vocab_size, x.shape), x).astype(x.dtype)


class ProbObjectives(LanguageModelExperiment):
    """MLE pretraining on clean data, then ``f_alpha`` fine-tuning on noisy data."""

    def __init__(self, config, dataset=None):
        obj = config.objective
        self.alpha = float(obj.alpha)
        self.threshold = float(obj.get("threshold", 0.0))
        self.pretrain_steps = int(obj.pretrain_steps)
        self.noise = float(obj.noise)
        if self.alpha < 0 or not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"need alpha >= 0, threshold and noise in [0, 1]; got {self.alpha}, "
                             f"{self.threshold}, {self.noise}")
        if config.dataset.name not in ("markov", "hmm"):
            raise ValueError("prob_objectives runs on a synthetic source (dataset.name='markov')")
        if dataset is None:
            source = make_source(config.source)
            clean = source_dataset(source, config.source, config.dataset.name)
            noisy_options = config.source.copy_and_resolve_references()
            noisy_options.data_seed = config.source.data_seed + 1000
            noisy = source_dataset(source, noisy_options, config.dataset.name).train["x"]
            noisy = corrupt_tokens(noisy, source.vocab_size, self.noise, config.source.data_seed)
            dataset = data_lib.Dataset(clean.name, {"x": clean.train["x"], "x_noisy": noisy},
                                       clean.test, clean.info)
        super().__init__(config, dataset)

    def loss_fn(self, params, batch, key, step):
        """NLL on clean ``x`` before ``pretrain_steps``, the objective on ``x_noisy`` after."""
        pretraining = step < self.pretrain_steps
        x = jnp.where(pretraining, batch["x"], batch["x_noisy"])
        inputs, targets = self.inputs_and_targets(x)
        logits = self.logits(params, inputs)
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
