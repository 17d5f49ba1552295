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
``"kd"``, ``"noisy_kd"``, reading the teacher(s) from the checkpoints of the
comma-separated ``config.teacher.workdirs`` (the mechanism of the unlikelihood
experiment's ``objective.init_from``). Training data can be made noisy with
``config.source.train_noise`` (each training token replaced by a uniform token
with that probability, a fixed draw; test data stay clean). Evaluation is
:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`'s: exact and
Monte Carlo divergences to the source, or bits/char on text.
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import (
    LanguageModelExperiment,
    make_model,
    make_source,
    source_dataset,
)
from likelihood_jax.train.checkpoints import load_final_params

OBJECTIVES = ("ce", "kd", "noisy_kd")
ROLES = ("teacher", "student")


def noisy_dataset(dataset, vocab_size: int, rate: float, seed: int):
    """``dataset`` with each training token replaced by a uniform one with probability ``rate``."""
    rng = np.random.default_rng(seed)
    x = np.asarray(dataset.train["x"])
    flip = rng.random(x.shape) < rate
    noisy = np.where(flip, rng.integers(0, vocab_size, x.shape), x).astype(x.dtype)
    return type(dataset)(dataset.name, {**dataset.train, "x": noisy}, dataset.test,
                         dataset.info)


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
        noise = config.get("source", {}).get("train_noise", 0.0) if config.dataset.name in (
            "markov", "hmm") else 0.0
        if noise and dataset is None:
            source = make_source(config.source)
            dataset = noisy_dataset(source_dataset(source, config.source, config.dataset.name),
                                    source.vocab_size, noise, config.source.data_seed + 1000)
        super().__init__(config, dataset)
        noisy = self.objective == "noisy_kd"
        self.teacher_dropout = float(obj.get("teacher_dropout", 0.0)) if noisy else 0.0
        self.replace_rate = float(obj.get("replace_rate", 0.0)) if noisy else 0.0
        self.drop_rate = float(obj.get("drop_rate", 0.0)) if noisy else 0.0
        if self.drop_rate and not self.synthetic:
            raise ValueError("objective.drop_rate needs a synthetic source (BOS is the drop id)")
        self.teacher_params = None
        if self.objective in ("kd", "noisy_kd"):
            self._load_teachers(config)

    def _load_teachers(self, config):
        workdirs = [w.strip() for w in str(config.teacher.get("workdirs", "")).split(",")
                    if w.strip()]
        if not workdirs:
            raise ValueError(f"objective.name={self.objective!r} needs teacher.workdirs "
                             "(comma-separated workdirs of role=teacher runs)")
        input_vocab = self.vocab_size + 1 if self.synthetic else self.vocab_size
        self.teacher_model = make_model(config.teacher.model, input_vocab, self.vocab_size)
        if self.teacher_dropout and config.teacher.model.get("kind", "transformer") != (
                "transformer"):
            raise ValueError("objective.teacher_dropout needs a transformer teacher")
        inputs, _ = self.inputs_and_targets(jnp.asarray(self.dataset.train["x"][:1]))
        template = jax.jit(self.teacher_model.init)(jax.random.key(0), inputs)["params"]
        members = [load_final_params(w, template, config.optim, config.total_steps)
                   for w in workdirs]
        self.teacher_params = jax.tree.map(lambda *p: np.stack(p), *members)
        self.num_teachers = len(members)

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
            logits = self.logits(params, inputs)
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
        logits = self.logits(params, student_inputs)
        loss = jnp.mean(kd.knowledge_distillation(logits, teacher, targets,
                                                  temperature=self.temperature,
                                                  alpha=self.alpha), -1)
        soft = jnp.mean(kd.soft_cross_entropy(logits, teacher, temperature=self.temperature), -1)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        teacher_nll = -jnp.mean(jnp.take_along_axis(
            jax.nn.log_softmax(teacher * self.temperature, -1), targets[..., None], -1), (1, 2))
        return loss, {"nll": nll, "soft_kl": soft, "teacher_nll": teacher_nll}


EXPERIMENT = Distillation
