"""Distillation for language models: Hinton KD [P125] and noisy self-distillation [P007].

* Hinton, Vinyals & Dean (2015), "Distilling the knowledge in a neural network"
  [P125]: a teacher (a larger model, or an ensemble whose tempered probabilities
  are averaged) is trained first; the student minimizes
  ``alpha T^2 KL(p_T || q_T) + (1 - alpha) CE(y, q)`` per token
  (:func:`likelihood_jax.sequence.distillation.knowledge_distillation`).
* Liu, Shen & Lapata (2021), "Noisy self-knowledge distillation for text
  summarization" [P007]: the teacher has the student's own size and was trained
  on the same (noisy) data; the student minimizes ``(1 - alpha) NLL(y) + alpha
  KL(p_teacher || q)`` while the teacher predicts with dropout
  (``objective.teacher_dropout``, on its input embeddings) and the student reads
  a perturbed input (``objective.replace_rate`` / ``drop_rate``, token replacement
  and drop; the targets stay as given).

``config.role = "teacher"`` trains the teacher model ``config.teacher.model`` by
MLE (``config.seed`` picks an ensemble member); ``role = "student"`` trains
``config.model`` with ``objective.name`` in ``"ce"`` (hard labels alone),
``"kd"``, ``"noisy_kd"``, reading the teacher(s) through
:func:`likelihood_jax.train.stages.stage_params` from the earlier stages named by
``config.teacher.from_stage`` (comma-separated; the configs' ``teacher`` stage then
``student`` stage run as one command) and/or the workdirs of finished
``role=teacher`` runs in ``config.teacher.workdirs`` (comma-separated). Training
data can be made noisy with the dataset option ``train_noise`` (each training token
replaced by a uniform token with that probability, a fixed draw; test data stay
clean). Evaluation is
:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`'s: exact and
Monte Carlo divergences to the source, or bits/char on text.
"""

from __future__ import annotations

import copy
import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment, make_model
from likelihood_jax.train.stages import stage_params, workdir_of

OBJECTIVES = ("ce", "kd", "noisy_kd")
ROLES = ("teacher", "student")


def _names(text) -> list[str]:
    return [w.strip() for w in str(text or "").split(",") if w.strip()]


def teacher_workdirs(config) -> list[str]:
    """The teachers' workdirs: the stages ``teacher.from_stage``, then ``teacher.workdirs``."""
    stages = [workdir_of(config, name) for name in _names(config.teacher.get("from_stage", ""))]
    return stages + _names(config.teacher.get("workdirs", ""))


class Distillation(LanguageModelExperiment):
    """A teacher trained by MLE, or a student trained by CE / KD / noisy self-KD."""

    def __init__(self, config, dataset=None):
        self.role = config.get("role", "student")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose one of {ROLES}")
        obj = config.objective
        self.objective = obj.name if self.role == "student" else "ce"
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {obj.name!r}; choose one of {OBJECTIVES}")
        self.alpha = float(obj.alpha)
        self.temperature = float(obj.temperature) if self.objective == "kd" else 1.0
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"objective.alpha must lie in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"objective.temperature must be positive, got {self.temperature}")
        if self.role == "teacher":
            config = copy.deepcopy(config)
            config.model = config.teacher.model
        super().__init__(config, dataset)
        noisy = self.objective == "noisy_kd"
        self.teacher_dropout = float(obj.get("teacher_dropout", 0.0)) if noisy else 0.0
        self.replace_rate = float(obj.get("replace_rate", 0.0)) if noisy else 0.0
        self.drop_rate = float(obj.get("drop_rate", 0.0)) if noisy else 0.0
        if self.drop_rate and not self.synthetic:
            raise ValueError("objective.drop_rate needs a synthetic source (BOS is the drop id)")
        self.distills = self.objective in ("kd", "noisy_kd")
        if self.distills and not (_names(config.teacher.get("from_stage", ""))
                                  or _names(config.teacher.get("workdirs", ""))):
            raise ValueError(f"objective.name={self.objective!r} needs teacher.from_stage "
                             "(stages of this chain) or teacher.workdirs (comma-separated "
                             "workdirs of role=teacher runs)")
        if self.teacher_dropout and config.teacher.model.get("kind", "transformer") != (
                "transformer"):
            raise ValueError("objective.teacher_dropout needs a transformer teacher")

    @functools.cached_property
    def teacher_model(self):
        """The teachers' LM (``config.teacher.model``)."""
        input_vocab = self.vocab_size + 1 if self.synthetic else self.vocab_size
        return make_model(self.config.teacher.model, input_vocab, self.vocab_size)

    @functools.cached_property
    def teacher_params(self):
        """The teachers' final parameters stacked on a leading member axis (host arrays)."""
        inputs, _ = self.inputs_and_targets(jnp.asarray(self.dataset.train["x"][:1]))
        template = jax.eval_shape(self.teacher_model.init, jax.random.key(0), inputs)["params"]
        members = [stage_params(w, template, optim=self.config.optim,
                                total_steps=self.config.total_steps)
                   for w in teacher_workdirs(self.config)]
        return jax.tree.map(lambda *p: np.stack(p), *members)

    @property
    def num_teachers(self) -> int:
        """How many teachers the soft targets average over."""
        return len(teacher_workdirs(self.config))

    def teacher_log_probs(self, inputs, key):
        """Tempered teacher log-probabilities ``[B, T, V]`` (ensemble mean in probability)."""
        params = jax.tree.map(jnp.asarray, self.teacher_params)

        def member_logits(p, k):
            if not self.teacher_dropout:
                return self.teacher_model.apply({"params": p}, inputs)
            emb = self.teacher_model.apply({"params": p}, inputs, method="token_embeddings")
            emb = kd.embedding_dropout(k, emb, self.teacher_dropout)
            return self.teacher_model.apply({"params": p}, emb, method="logits_from_embeddings")

        keys = jax.random.split(key, self.num_teachers)
        logits = jax.vmap(member_logits)(params, keys)
        return jax.lax.stop_gradient(kd.ensemble_log_probs(logits, self.temperature))

    def loss_fn(self, params, batch, key, step):
        """Per-example mean of the per-token objective.

        Logs the student's NLL of the targets (on its possibly perturbed inputs),
        ``soft_kl`` (KL from the teacher's tempered distribution) and ``teacher_nll``
        (the teacher's soft targets re-sharpened to temperature 1: its exact NLL for
        one teacher).
        """
        inputs, targets = self.inputs_and_targets(batch["x"])
        if self.objective == "ce":
            logits = self.logits(params, inputs, train=True, key=key)
            nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
            return nll, {"nll": nll}
        teacher_key, noise_key = jax.random.split(key)
        teacher = self.teacher_log_probs(inputs, teacher_key)
        student_inputs = inputs
        if self.replace_rate or self.drop_rate:
            keep = None
            if self.synthetic:
                keep = jnp.zeros(inputs.shape, bool).at[:, 0].set(True)  # never perturb BOS
            student_inputs = kd.perturb_tokens(
                noise_key, inputs, self.vocab_size, replace_rate=self.replace_rate,
                drop_rate=self.drop_rate, drop_id=self.bos if self.synthetic else None,
                keep=keep)
        logits = self.logits(params, student_inputs, train=True, key=key)
        loss = jnp.mean(kd.knowledge_distillation(logits, teacher, targets,
                                                  temperature=self.temperature,
                                                  alpha=self.alpha), -1)
        soft = jnp.mean(kd.soft_cross_entropy(logits, teacher, temperature=self.temperature), -1)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        teacher_nll = -jnp.mean(jnp.take_along_axis(
            jax.nn.log_softmax(teacher * self.temperature, -1), targets[..., None], -1), (1, 2))
        return loss, {"nll": nll, "soft_kl": soft, "teacher_nll": teacher_nll}


EXPERIMENT = Distillation
