r"""DDO [P084]: fine-tune a maximum-likelihood RealNVP as its own GAN discriminator.

Zheng et al. (2025), "Direct discriminative optimization: your likelihood-based visual
generative model is secretly a GAN discriminator". The pure loss is
:func:`likelihood_jax.energy.ddo.ddo_loss`; this module is the wiring.

Two stages of one config (``config.stages``), one command:

1. ``pretrain`` (``ddo.role = "pretrain"``): the RealNVP of ``experiments/mle_flow``
   (:class:`likelihood_jax.flows.experiment.MLEFlow`: uniform dequantization, logit map,
   affine couplings) trained briefly by maximum likelihood on ``digits``.
2. ``ddo`` (``ddo.role = "ddo"``): starts from the pretrained parameters (read with
   :func:`likelihood_jax.train.stages.stage_params`), which are also the frozen reference
   ``p_ref``, kept in ``TrainState.extra["reference"]``. Each step draws as many samples
   ``v~ ~ p_ref`` (model space, behind ``stop_gradient``) as data points ``v`` and minimizes
   ``softplus(-d(v)) + alpha softplus(d(v~))`` with ``d = beta (log p_theta - log p_ref)``.
   Every ``ddo.round_steps`` steps the fine-tuned model becomes the reference
   (``update_extra``): self-play rounds. The Jacobian of the logit map is the same for both
   models, so the ratio is taken in model space.

Metrics: test bits/dim of the discrete digits (``MLEFlow.eval_fn``) and, in
``model_metrics``, the Frechet distance of ``ddo.num_eval_samples`` samples to the test digits
in the features of a small digits classifier
(:class:`likelihood_jax.metrics.sample_quality.ImageFeatures`; ``fd``). With
``eval_every = round_steps`` the ``ddo`` stage's ``metrics.jsonl`` has both after every round;
the ``pretrain`` stage's final line is the "before".
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.energy import ddo
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.metrics import sample_quality
from likelihood_jax.train.stages import resolve_workdir, stage_params

FAMILY = "energy"
ROLES = ("pretrain", "ddo")
#: The ``ddo`` stage's objective: DDO, or the baseline that continues maximum likelihood for
#: the same steps at the same learning rate (does extra MLE training alone do as well?).
OBJECTIVES = ("ddo", "mle")


class DDOFlow(MLEFlow):
    """The RealNVP of ``mle_flow``, trained by MLE (``pretrain``) or fine-tuned by DDO."""

    @functools.cached_property
    def role(self) -> str:
        """``config.ddo.role`` (checked)."""
        role = self.config.ddo.role
        if role not in ROLES:
            raise ValueError(f"config.ddo.role must be one of {ROLES}, got {role!r}")
        return role

    @functools.cached_property
    def objective(self) -> str:
        """``config.ddo.objective`` of the ``ddo`` stage (checked; default ``"ddo"``)."""
        objective = self.config.ddo.get("objective", "ddo")
        if objective not in OBJECTIVES:
            raise ValueError(f"config.ddo.objective must be one of {OBJECTIVES}, got "
                             f"{objective!r}")
        return objective

    @functools.cached_property
    def pretrained(self):
        """The final parameters of the pretraining run (stage ``ddo.from_stage`` or a workdir)."""
        cfg = self.config.ddo
        workdir = resolve_workdir(self.config, cfg.from_stage, cfg.workdir)
        if not workdir:
            raise ValueError("config.ddo.from_stage or config.ddo.workdir must name the "
                             "pretrained run of a 'ddo' role")
        batch = data_lib.batch_at_step(self.dataset.train, self.config.batch_size,
                                       self.config.seed, 0)
        template = jax.eval_shape(super().init_params, jax.random.key(0), batch)
        return jax.tree.map(jnp.asarray, stage_params(workdir, template, optim=self.config.optim,
                                                      total_steps=cfg.pretrain_steps))

    def init_params(self, key, batch):
        """MLE: a fresh flow; DDO: the pretrained one."""
        if self.role == "pretrain":
            return super().init_params(key, batch)
        return self.pretrained

    def init_extra(self, key, batch, params):
        """DDO: the frozen reference, initially the pretrained parameters."""
        return {"reference": params} if self.role == "ddo" else {}

    def loss_fn(self, params, batch, key, step):
        """MLE's NLL, or DDO's loss per (data, reference sample) pair."""
        if self.role == "pretrain" or self.objective == "mle":
            return super().loss_fn(params, batch, key, step)
        cfg, reference = self.config.ddo, batch["extra"]["reference"]
        v = batch["x"]
        fake = jax.lax.stop_gradient(self.flow.sample(reference, key, v.shape[0]))
        both = jnp.concatenate([v, fake])
        log_p = self.per_example_log_prob(params, both)
        log_ref = self.per_example_log_prob(reference, both)
        n = v.shape[0]
        loss = ddo.ddo_loss(log_p[:n], log_ref[:n], log_p[n:], log_ref[n:], beta=cfg.beta,
                            alpha=cfg.alpha)
        logit = ddo.implicit_logit(log_p, log_ref, beta=cfg.beta)
        return loss, {"d_data": jax.nn.sigmoid(logit[:n]), "d_ref": jax.nn.sigmoid(logit[n:])}

    def update_extra(self, extra, params, batch, key, step):
        """Self-play: every ``ddo.round_steps`` steps the model becomes the reference."""
        if self.role != "ddo":
            return extra
        new_round = (step + 1) % self.config.ddo.round_steps == 0
        return {"reference": jax.tree.map(lambda p, r: jnp.where(new_round, p, r), params,
                                          extra["reference"])}

    @functools.cached_property
    def features(self) -> sample_quality.ImageFeatures:
        """A small classifier of the training digits, for the Frechet distance."""
        return sample_quality.ImageFeatures.of_split(self.dataset.train, self.num_levels,
                                                     seed=self.config.seed)

    def model_metrics(self, params, key):
        """``fd``: Frechet distance of ``ddo.num_eval_samples`` samples to the test digits."""
        num = int(self.config.ddo.num_eval_samples)
        if num < 2:
            return {}
        samples = np.asarray(self.to_data_space(self.flow.sample(params, key, num)))
        samples = np.clip(samples.reshape(num, -1), 0.0, 1.0)
        reference = sample_quality.to_unit_interval(self.dataset.test["x"], self.num_levels)
        return {"fd": self.features.frechet_distance(samples, reference)}


EXPERIMENT = DDOFlow
