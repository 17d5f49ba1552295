"""Token- and sequence-level loss smoothing [P056] for autoregressive LMs, against MLE.

Elbayad, Besacier & Verbeek (2018), "Token-level and sequence-level loss
smoothing for RNN language models" (ACL 2018, arXiv:1805.05062).

* Token level (``config.objective.token_weight`` > 0): the NLL is mixed with the
  cross-entropy to soft targets ``r(w | y_t) ∝ exp(cos(e_w, e_{y_t}) / tau_tok)``
  (:func:`likelihood_jax.sequence.objectives.token_smoothing`). The paper takes
  ``e`` from pretrained word embeddings; here they are the model's own output
  embeddings (the LM head's columns) under stop-gradient, the only embeddings a
  character or synthetic model has.
* Sequence level (``config.objective.seq_temperature`` > 0): reward-augmented
  maximum likelihood with the Hamming reward. Each training sequence is replaced
  by a sample of ``q(y | y*) ∝ exp(-Hamming(y, y*) / tau_seq)``
  (:func:`~likelihood_jax.sequence.objectives.sample_hamming_targets`, exact) with a
  fresh key every step, and the model is trained on it (by the token-level loss,
  so both can be combined, as the paper does). With probability
  ``config.objective.seq_rate`` a sequence is resampled, else kept (the paper
  mixes MLE on the ground truth with the augmented samples).

Both at zero are MLE. Data and metrics:
:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment, output_embeddings


class LossSmoothing(LanguageModelExperiment):
    """MLE with token-level and/or sequence-level (RAML) smoothing."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        obj = config.objective
        self.token_weight = float(obj.token_weight)
        self.token_temperature = float(obj.token_temperature)
        self.seq_temperature = float(obj.seq_temperature)
        self.seq_rate = float(obj.get("seq_rate", 1.0))
        if not 0.0 <= self.token_weight <= 1.0 or not 0.0 <= self.seq_rate <= 1.0:
            raise ValueError(f"token_weight and seq_rate must lie in [0, 1], got "
                             f"{self.token_weight}, {self.seq_rate}")
        if self.token_temperature < 0 or self.seq_temperature < 0:
            raise ValueError("temperatures must be >= 0")

    def loss_fn(self, params, batch, key, step):
        """Mean per-token smoothed loss ``[B]`` on (possibly resampled) sequences."""
        x = batch["x"]
        if self.seq_temperature > 0:
            sample_key, keep_key = jax.random.split(key)
            augmented = seq_losses.sample_hamming_targets(sample_key, x, self.vocab_size,
                                                          self.seq_temperature)
            resample = jax.random.uniform(keep_key, x.shape[:1]) < self.seq_rate
            x = jnp.where(resample[:, None], augmented, x)
        inputs, targets = self.inputs_and_targets(x)
        logits = self.logits(params, inputs, train=True, key=key)
        loss = seq_losses.token_smoothing(logits, targets,
                                          output_embeddings(params, self.vocab_size),
                                          temperature=self.token_temperature,
                                          weight=self.token_weight)
        clean_inputs, clean_targets = self.inputs_and_targets(batch["x"])
        nll = seq_losses.token_cross_entropy(
            logits if self.seq_temperature == 0 else self.logits(
                jax.lax.stop_gradient(params), clean_inputs), clean_targets)
        return jnp.mean(loss, -1), {"nll": jnp.mean(nll, -1)}


EXPERIMENT = LossSmoothing
