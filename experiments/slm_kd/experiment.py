"""Small-LM-assisted training (SALT) [P153]: a weaker, smaller teacher's soft labels early on.

Rawat et al. (2024), "A Little Help Goes a Long Way: Efficient LLM Training by
Leveraging Small LMs" (arXiv:2410.18779). SALT trains the large model in two
stages: for the first ``n_KD`` steps it minimizes, per token,

    (1 - w) CE(y, p_theta) + w KL(p_SLM^tau || p_theta^tau) tau^2

with the small LM (SLM) as teacher, then plain next-token CE for the rest of
training (the "step" transition; ``objective.transition="linear"`` decays ``w``
linearly to 0 at ``n_KD`` instead). ``SALT_DS`` additionally uses the SLM to pick
the "challenging yet learnable" training sequences that the KD stage trains on
(:func:`salt_sequence_scores`, :func:`select_top_fraction`); stage 2 uses all data.

``config.role = "teacher"`` trains the SLM (``config.teacher.model``, the smaller
model) by MLE. ``role = "student"`` trains ``config.model``, reading the SLM's final
parameters (:func:`likelihood_jax.train.stages.stage_params`) from the stage
``teacher.from_stage`` of the chain (the config runs the SLM, then the student, as one
command) or from the finished run ``teacher.workdir``, with ``objective.name`` in

* ``"ce"``: hard labels alone (the baseline; no teacher needed);
* ``"kd"``: KD with constant weight ``w`` throughout training;
* ``"salt"``: KD for the first ``objective.kd_steps`` steps, then CE;
* ``"salt_ds"``: as ``"salt"``, with the KD stage's batches drawn from the SLM-selected
  subset (``objective.select_fraction`` of the training sequences, scored with
  ``objective.select_top_k``).

The per-token loss is :func:`likelihood_jax.sequence.distillation.knowledge_distillation`
with ``alpha = w(step)``; ``w = 0`` is exactly the CE baseline. Evaluation is
:class:`~likelihood_jax.sequence.experiment.LanguageModelExperiment`'s on a synthetic
Markov source; the headline is the held-out NLL per token ``fwd_ce``.
"""

from __future__ import annotations

import copy
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import (
    LanguageModelExperiment,
    make_model,
    run_params,
    teacher_student_fields,
)

OBJECTIVES = ("ce", "kd", "salt", "salt_ds")
ROLES = ("teacher", "student")
TRANSITIONS = ("step", "linear")


# -- SALT's schedule and selection rule (paper-specific, pure) --------------------------------


def kd_weight(step, *, objective: str, weight: float, kd_steps: int,
              transition: str = "step") -> jax.Array:
    """The KD weight ``w(step)`` of SALT's first stage.

    ``"ce"``: 0. ``"kd"``: ``weight`` at every step. ``"salt"``/``"salt_ds"``:
    ``weight`` for ``step < kd_steps`` and 0 after (``transition="step"``, the
    paper's two-stage recipe), or ``weight (1 - step / kd_steps)`` clipped at 0
    (``"linear"``).

    Args:
      step: training step (int or traced int32 scalar), counted from 0.
      objective: one of ``OBJECTIVES``.
      weight: ``w`` in ``[0, 1]`` during the KD stage.
      kd_steps: ``n_KD``, the length of the KD stage.
      transition: ``"step"`` or ``"linear"``.

    Returns:
      A float32 scalar.

    Raises:
      ValueError: on an unknown objective or transition.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    if transition not in TRANSITIONS:
        raise ValueError(f"unknown transition {transition!r}; choose one of {TRANSITIONS}")
    step = jnp.asarray(step, jnp.float32)
    if objective == "ce":
        return jnp.zeros((), jnp.float32)
    if objective == "kd":
        return jnp.full((), weight, jnp.float32)
    if transition == "step":
        return jnp.where(step < kd_steps, weight, 0.0).astype(jnp.float32)
    return (weight * jnp.clip(1.0 - step / kd_steps, 0.0, 1.0)).astype(jnp.float32)


def salt_sequence_scores(teacher_log_probs: jax.Array, targets: jax.Array,
                         top_k: int) -> jax.Array:
    """SLM score of each training sequence for SALT_DS: "challenging yet learnable".

    For every token the SLM's loss ``l_t = -log p_SLM(y_t | y_<t)`` measures
    difficulty; the token counts as *learnable* when the true token is among the
    SLM's ``top_k`` most likely tokens (its rank, the number of strictly more
    likely tokens, is below ``top_k``). The sequence's score is the median of
    ``l_t`` over its learnable tokens (``-inf`` if it has none), so that sequences
    whose difficulty comes from tokens the SLM cannot even rank (noise) are not
    preferred. Higher is selected first (:func:`select_top_fraction`).

    Args:
      teacher_log_probs: ``[N, T, V]`` SLM log-probabilities.
      targets: ``[N, T]`` the sequences' tokens.
      top_k: rank cut-off of a learnable token (``>= 1``).

    Returns:
      ``[N]`` scores.

    Raises:
      ValueError: on ``top_k < 1`` or mismatched shapes.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if teacher_log_probs.shape[:-1] != targets.shape:
        raise ValueError(f"teacher_log_probs {teacher_log_probs.shape} do not match targets "
                         f"{targets.shape}")
    true = jnp.take_along_axis(teacher_log_probs, targets[..., None], -1)
    rank = jnp.sum(teacher_log_probs > true, -1)
    learnable = rank < top_k
    loss = jnp.where(learnable, -true[..., 0], jnp.nan)
    score = jnp.nanmedian(loss, axis=-1)
    return jnp.where(jnp.any(learnable, -1), score, -jnp.inf)


def select_top_fraction(scores, fraction: float) -> np.ndarray:
    """Indices of the ``ceil(fraction N)`` highest scores (ties: lower index first).

    Raises:
      ValueError: if ``fraction`` is not in ``(0, 1]``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"select_fraction must lie in (0, 1], got {fraction}")
    scores = np.asarray(scores)
    count = math.ceil(fraction * len(scores))
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:count])


def steps_to_target(eval_lines: list[dict], metric: str, target: float) -> int | None:
    """First evaluated step at which ``metric <= target`` (None if never)."""
    for line in sorted(eval_lines, key=lambda m: m["step"]):
        if metric in line and line[metric] <= target:
            return int(line["step"])
    return None


# -- The experiment ---------------------------------------------------------------------------


class SmallLMAssisted(LanguageModelExperiment):
    """The SLM (teacher role) or the large student trained by CE / KD / SALT / SALT_DS."""

    headline = "fwd_ce"

    def __init__(self, config, dataset=None):
        self.role, self.objective, self.weight, self.temperature = teacher_student_fields(
            config, ROLES, OBJECTIVES, "weight")
        obj = config.objective
        self.kd_steps = int(obj.kd_steps)
        self.transition = obj.get("transition", "step")
        if self.transition not in TRANSITIONS:
            raise ValueError(f"unknown objective.transition {self.transition!r}; choose one "
                             f"of {TRANSITIONS}")
        if self.objective in ("salt", "salt_ds") and self.kd_steps < 1:
            raise ValueError(f"objective.kd_steps must be >= 1, got {self.kd_steps}")
        if self.role == "teacher":
            config = copy.deepcopy(config)
            config.model = config.teacher.model
        super().__init__(config, dataset)
        if not self.synthetic:
            raise ValueError("the SALT experiment needs a synthetic source (markov or hmm)")
        self.headline_metric = self.headline

    # -- the SLM and SALT_DS's selection, built when first used ------------------------------

    @functools.cached_property
    def teacher_model(self):
        """The SLM's architecture (``config.teacher.model``)."""
        return make_model(self.config.teacher.model, self.vocab_size + 1, self.vocab_size)

    @functools.cached_property
    def teacher_params(self):
        """The SLM's final parameters (None for the CE objective, which needs no teacher)."""
        if self.objective == "ce":
            return None
        inputs, _ = self.inputs_and_targets(jnp.asarray(self.dataset.train["x"][:1]))
        return run_params(self.config, "teacher", "from_stage", "workdir", self.teacher_model,
                          inputs, f"objective.name={self.objective!r}")

    def teacher_log_probs(self, inputs: jax.Array, temperature: float | None = None
                          ) -> jax.Array:
        """The SLM's tempered log-probabilities ``[B, T, V]`` (no gradient).

        ``temperature``: None for ``objective.temperature``.
        """
        params = jax.tree.map(jnp.asarray, self.teacher_params)
        logits = self.teacher_model.apply({"params": params}, inputs)
        temperature = self.temperature if temperature is None else temperature
        return jax.lax.stop_gradient(kd.tempered_log_softmax(logits, temperature))

    @functools.cached_property
    def selected_index(self) -> np.ndarray | None:
        """SALT_DS: indices of the training sequences the SLM selects (else None).

        Every training sequence is scored with the untempered SLM
        (:func:`salt_sequence_scores`) and the top ``objective.select_fraction`` kept.
        """
        if self.objective != "salt_ds":
            return None
        obj = self.config.objective
        top_k = int(obj.select_top_k)
        x = np.asarray(self.dataset.train["x"])

        @jax.jit
        def scores(chunk):
            inputs, targets = self.inputs_and_targets(chunk)
            return salt_sequence_scores(self.teacher_log_probs(inputs, 1.0), targets, top_k)

        with jax.ensure_compile_time_eval():  # concrete even if first read in a trace
            all_scores = np.concatenate([np.asarray(scores(jnp.asarray(x[i:i + 1000])))
                                         for i in range(0, len(x), 1000)])
        return select_top_fraction(all_scores, float(obj.select_fraction))

    @property
    def selected(self) -> np.ndarray | None:
        """SALT_DS: the selected training sequences (else None)."""
        index = self.selected_index
        return None if index is None else np.asarray(self.dataset.train["x"])[index]

    def loss_fn(self, params, batch, key, step):
        """Per-example mean of ``(1 - w) CE + w tau^2 KL(p_SLM || q)`` with ``w = w(step)``.

        Logs the student's NLL of the targets, ``kd_weight`` and (with a teacher)
        ``soft_kl``, the KL from the SLM's tempered distribution.
        """
        x = batch["x"]
        if self.selected is not None:  # SALT_DS: the KD stage trains on the selected subset
            idx = jax.random.randint(key, (x.shape[0],), 0, len(self.selected))
            x = jnp.where(step < self.kd_steps, jnp.asarray(self.selected)[idx], x)
        inputs, targets = self.inputs_and_targets(x)
        logits = self.logits(params, inputs, train=True, key=key)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        w = kd_weight(step, objective=self.objective, weight=self.weight,
                      kd_steps=self.kd_steps, transition=self.transition)
        if self.objective == "ce":
            return nll, {"nll": nll, "kd_weight": w}
        teacher = self.teacher_log_probs(inputs)
        loss = jnp.mean(kd.knowledge_distillation(logits, teacher, targets,
                                                  temperature=self.temperature, alpha=w), -1)
        soft = jnp.mean(kd.soft_cross_entropy(logits, teacher, temperature=self.temperature), -1)
        return loss, {"nll": nll, "soft_kl": soft, "kd_weight": w}


EXPERIMENT = SmallLMAssisted
