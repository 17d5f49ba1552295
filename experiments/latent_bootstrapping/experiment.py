"""Latent bootstrapping vs MLM with the same encoder and budget [P185].

Samuel (2023), "Mean BERTs make erratic language teachers: the effectiveness of latent
bootstrapping in low-resource settings" (BabyLM, arXiv:2310.19420). The student reads the
BERT-masked input; at the masked positions a small head (Dense, GELU, LayerNorm without
affine parameters, Dense, as in the author's code) predicts the teacher's final-layer
contextual embeddings of the *unmasked* input, LayerNorm-ed without affine parameters and
under ``stop_gradient``; the loss is smooth-L1
(:func:`likelihood_jax.sequence.masked_lm.latent_bootstrapping_loss`). The paper's model
adds this loss to the usual MLM loss; here
``loss = objective.mlm_weight * MLM + objective.bootstrap_weight * bootstrap``, so
``(1, 0)`` is plain MLM, ``(1, 1)`` the paper's combination and ``(0, 1)`` bootstrapping
alone (where collapse would show).

**The teacher.** The paper's teacher is an exponential moving average ("mean teacher") of
the student, ``teacher <- d * teacher + (1 - d) * student`` after every optimizer step
(:func:`likelihood_jax.sequence.masked_lm.ema_update`, ``d = objective.teacher_decay``). It
is kept as the ``params["teacher"]`` subtree, initialized to the student: its loss terms
sit behind ``stop_gradient``, so its gradient is zero and Adam leaves it unchanged, and
:meth:`LatentBootstrapping.after_update` (the loop's hook) applies the EMA. ``d = 0``
makes the teacher the current student (a SimSiam-style stop-gradient target).

Evaluation: the MLM loss under a fixed masking, the bootstrapping loss, the linear probe
for the mixture component (``probe_acc``, the headline; see
:class:`likelihood_jax.sequence.experiment.MaskedLMBase`) and ``embedding_var``, the
variance over test tokens of the final hidden states (0 = collapse).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax.sequence import masked_lm
from likelihood_jax.sequence.experiment import MaskedLMBase, apply_lm


class BootstrapHead(nn.Module):
    """Predictor of the teacher's embedding: Dense, GELU, LayerNorm (no affine), Dense."""

    width: int

    @nn.compact
    def __call__(self, h):  # noqa: D102
        h = nn.gelu(nn.Dense(self.width)(h))
        h = nn.LayerNorm(use_bias=False, use_scale=False)(h)
        return nn.Dense(self.width)(h)


class LatentBootstrapping(MaskedLMBase):
    """MLM and/or latent bootstrapping onto a stop-gradient teacher (``config.objective``)."""

    headline_metric = "probe_acc"

    def __init__(self, config, dataset=None):
        objective = config.objective
        self.mlm_weight = float(objective.mlm_weight)
        self.bootstrap_weight = float(objective.bootstrap_weight)
        if self.mlm_weight < 0 or self.bootstrap_weight < 0 or not (
                self.mlm_weight or self.bootstrap_weight):
            raise ValueError(f"objective.mlm_weight {self.mlm_weight} and "
                             f"objective.bootstrap_weight {self.bootstrap_weight} must be >= 0 "
                             f"and not both 0")
        self.teacher_decay = float(objective.get("teacher_decay", 0.999))
        if not 0.0 <= self.teacher_decay <= 1.0:
            raise ValueError(f"objective.teacher_decay must be in [0, 1], got "
                             f"{self.teacher_decay}")
        optim = config.optim
        if optim.get("name", "adam") == "adamw" and optim.get("weight_decay", 0.0):
            raise ValueError("the EMA teacher lives in params and must get no optimizer update: "
                             "use optim.name='adam' (or adamw with weight_decay=0)")
        super().__init__(config, dataset)
        self.head = BootstrapHead(config.model.width)
        self.beta = float(objective.get("beta", 1.0))

    def init_params(self, key, batch):
        """The encoder, the bootstrapping head and the teacher (a copy of the encoder)."""
        enc_key, head_key = jax.random.split(key)
        width = self.config.model.width
        encoder = self.init_model(enc_key, batch["x"])
        return {"encoder": encoder, "teacher": jax.tree.map(jnp.copy, encoder),
                "head": self.head.init(head_key, jnp.zeros((1, width)))["params"]}

    def after_update(self, params, step):
        """The mean-teacher step ``teacher <- d teacher + (1 - d) student``."""
        del step
        teacher = masked_lm.ema_update(params["teacher"], params["encoder"], self.teacher_decay)
        return dict(params, teacher=teacher)

    def losses(self, params, x, key, train: bool = False):
        """``(mlm [B], bootstrap [B])`` for one masking of ``x``; ``train``: student dropout on.

        The teacher reads ``x`` without dropout.
        """
        p = params["encoder"]
        inputs, target = self.mask(key, x)
        hidden = apply_lm(self.encoder, p, inputs, train=train, key=key,
                          method=lambda m, t, **kw: m.hidden_states(m.token_embeddings(t), **kw))
        logits = self.encoder.apply({"params": p}, hidden, method="output_logits")
        mlm = masked_lm.masked_lm_loss(logits, x, target)
        teacher = self.hidden(jax.lax.stop_gradient(params["teacher"]), x)
        predictions = self.head.apply({"params": params["head"]}, hidden)
        boot = masked_lm.latent_bootstrapping_loss(predictions, teacher, target, self.beta)
        return mlm, boot

    def loss_fn(self, params, batch, key, step):
        """``mlm_weight * MLM + bootstrap_weight * bootstrapping`` per sequence."""
        mlm, boot = self.losses(params, batch["x"], key, train=True)
        loss = self.mlm_weight * mlm + self.bootstrap_weight * boot
        return loss, {"mlm_loss": mlm, "bootstrap_loss": boot}

    def eval_fn(self, params, batch, key):
        """Both losses under a fixed masking."""
        del key
        mlm, boot = self.losses(params, batch["x"], jax.random.key(0))
        return {"mlm_loss": mlm, "bootstrap_loss": boot}

    def model_metrics(self, params, key):
        """Linear-probe accuracy and the no-collapse statistic."""
        p = params["encoder"]
        return {"probe_acc": self.probe_accuracy(p), "bayes_acc": self.bayes_accuracy,
                "embedding_var": self.embedding_variance(p)}


EXPERIMENT = LatentBootstrapping
