"""Teacher distillation on synthetic instruction data, then domain alignment [P193].

Kothari, Nayak, Shetty, Patil & Garera (2024), "A Teacher Is Worth A Million
Instructions" (arXiv:2406.19112; code github.com/flipkart-incubator/kd-dae). A
small student is trained on instruction data from the token distributions of a
larger teacher: per response token

    (1 - lambda) CE(y, q) + lambda T^2 KL(p_teacher,T || q_T)

with the prompt tokens masked out of the loss (the paper's prediction-layer loss;
its attention-map loss needs a one-to-one layer/head mapping between teacher and
student and is not used here, see the README). A second, post-training phase,
Domain Alignment from Expert (DAE), continues from the distilled student on a mix
of domain and general examples, distilling each domain example from a domain
*expert* and each general example from a general *reference* model, so that the
domain is learnt while general ability is kept.

Synthetic instruction data: the registered dataset ``"instructions"``
(:mod:`likelihood_jax.data.synthetic.instructions`): a sequence is
``[TAG, p_1..p_m, SEP, r_1..r_m]`` over content tokens ``0..V-1``; the tag names a
task (``TASKS``: copy, reverse, sort, shift by one, prefix sums mod ``V``) and the
response is the task's function of the prompt, each token independently replaced
by a uniform token with probability ``noise``. The true response distribution is
therefore known per position, ``(1 - noise) [v = f(p)_t] + noise / V``, whatever the
earlier response tokens, and the evaluation is exact (:meth:`InstructionDistillation.
response_metrics`): the cross-entropy and KL per response token to it, and the
exact match of greedy decoding (a greedy decoder reproduces ``f(p)`` iff the
teacher-forced argmax is right at every position on the clean response).

Roles (``config.role``): ``"teacher"`` trains ``config.teacher.model`` on
``instructions.teacher_num_train`` examples of the general tasks by CE;
``"expert"`` trains the same architecture on the domain task
(``instructions.domain_task``); ``"student"`` trains ``config.model`` on the first
``instructions.num_train`` of the teacher's examples (the small-data regime) with
``objective.name`` = ``"ce"`` (hard labels), ``"kd"`` (from the teacher run in
``teacher.workdir``) or ``"dae"`` (from ``objective.init_from``, a finished KD
student, with the expert in ``teacher.expert_workdir``, on batches with a fraction
``objective.domain_fraction`` of the ``instructions.num_domain_train`` domain
examples). Any student continues from ``objective.init_from`` when it is set (e.g. the
control for DAE: more KD steps on the general data alone).

The config runs teacher, KD student, expert and DAE as the stages of one command; a
stage names the runs it reads by stage (``teacher.from_stage``,
``teacher.expert_from_stage``, ``objective.init_from_stage``) instead of by workdir.
Either way the parameters are read with :func:`likelihood_jax.train.stages.stage_params`.
"""

from __future__ import annotations

import copy
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic.instructions import TASKS, split_names
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import (
    apply_lm,
    make_model,
    run_params,
    teacher_student_fields,
)
from likelihood_jax.train import Experiment

ROLES = ("teacher", "expert", "student")
OBJECTIVES = ("ce", "kd", "dae")
# Seeds of the two data sets, relative to instructions.data_seed (their test splits use +2).
GENERAL_SEED, DOMAIN_SEED = 0, 1


def true_response_log_probs(clean: jax.Array, vocab_size: int, noise: float) -> jax.Array:
    """``[..., m, V]`` log of the true response law ``(1 - noise) 1[v = f(p)_t] + noise / V``."""
    one_hot = jax.nn.one_hot(clean, vocab_size)
    return jnp.log((1.0 - noise) * one_hot + noise / vocab_size)


def response_logits(model, params, x: jax.Array, prompt_len: int, *, train: bool = False,
                    key: jax.Array | None = None) -> jax.Array:
    """Logits ``[B, m, V]`` of the ``m = prompt_len`` response tokens of ``x [B, 2m+2]``.

    ``train=True`` is a training call (dropout on, its rng from ``key``: ``apply_lm``).
    """
    logits = apply_lm(model, params, x[:, :-1], train=train, key=key)
    return logits[:, prompt_len + 1:2 * prompt_len + 1]


def response_metrics(model, params, x: jax.Array, clean: jax.Array, *, prompt_len: int,
                     vocab_size: int, noise: float, entropy: float) -> dict[str, jax.Array]:
    """Exact per-example response metrics of ``model`` (nats per response token).

    ``resp_ce``: ``-sum_v p(v) log q(v | prefix)`` with the true ``p`` (exact given
    the noisy test prefix, since ``p`` does not depend on it); ``resp_kl`` = ``resp_ce``
    minus the true ``entropy`` of one response token; ``resp_nll``: NLL of the noisy test
    response (Monte Carlo); ``token_acc`` / ``exact_match``: argmax on the clean response
    prefix equals ``f(p)`` per token / at every token (= greedy decoding's exact match).
    """
    log_q = jax.nn.log_softmax(response_logits(model, params, x, prompt_len), -1)
    log_p = true_response_log_probs(clean, vocab_size, noise)
    ce = -jnp.sum(jnp.exp(log_p) * log_q, -1).mean(-1)
    targets = x[:, prompt_len + 2:]
    nll = -jnp.take_along_axis(log_q, targets[..., None], -1)[..., 0].mean(-1)
    x_clean = x.at[:, prompt_len + 2:].set(clean)
    pred = jnp.argmax(response_logits(model, params, x_clean, prompt_len), -1)
    correct = (pred == clean).astype(jnp.float32)
    return {"resp_ce": ce, "resp_kl": ce - entropy, "resp_nll": nll,
            "token_acc": correct.mean(-1), "exact_match": correct.min(-1)}


# One compilation per model and shapes, shared by the runs of a chain (the teacher and the
# expert share an architecture, as do the KD student and its DAE continuation).
_response_metrics_jit = jax.jit(
    response_metrics, static_argnums=0,
    static_argnames=("prompt_len", "vocab_size", "noise", "entropy"))


# -- The experiment ---------------------------------------------------------------------------


class InstructionDistillation(Experiment):
    """Teacher / domain expert / student (CE, KD, DAE) on synthetic instruction data."""

    headline_metric = "resp_kl"

    def __init__(self, config, dataset=None):
        self.role, self.objective, self.alpha, self.temperature = teacher_student_fields(
            config, ROLES, OBJECTIVES, "alpha")
        opts = config.instructions
        self.vocab_size, self.prompt_len = int(opts.vocab_size), int(opts.prompt_len)
        self.noise = float(opts.noise)
        self.general_tasks = split_names(opts.tasks)
        self.domain_task = str(opts.domain_task)
        if self.domain_task in self.general_tasks:
            raise ValueError(f"instructions.domain_task {self.domain_task!r} is also a general "
                             "task")
        if self.objective == "dae":
            self.domain_fraction = float(config.objective.domain_fraction)
            if not 0.0 < self.domain_fraction < 1.0:
                raise ValueError(f"objective.domain_fraction must lie in (0, 1), got "
                                 f"{self.domain_fraction}")
        if self.role != "student":
            config = copy.deepcopy(config)
            config.model = config.teacher.model
        super().__init__(config, dataset)
        self.input_vocab = self.vocab_size + len(TASKS) + 1

    # -- data and models, built when first used ----------------------------------------------

    def instructions(self, part: str, num_train: int | None = None) -> data_lib.Dataset:
        """The registered ``"instructions"`` data of the general tasks or the domain task.

        Both draw ``instructions.teacher_num_train`` training sequences and keep the first
        ``num_train`` (None: all); their test splits hold ``instructions.num_test``.
        """
        opts = self.config.instructions
        tasks, offset = ((opts.tasks, GENERAL_SEED) if part == "general"
                         else (self.domain_task, DOMAIN_SEED))
        return data_lib.load_dataset(
            "instructions", tasks=tasks, vocab_size=self.vocab_size, prompt_len=self.prompt_len,
            noise=self.noise, num_drawn=int(opts.teacher_num_train), num_train=num_train,
            num_test=int(opts.num_test), seed=int(opts.data_seed) + offset)

    def make_dataset(self, config):
        """Teacher: all general examples; expert: the domain's; student: the first ``num_train``."""
        if self.role == "expert":
            return self.instructions("domain")
        if self.role == "teacher":
            return self.instructions("general")
        return self.instructions("general", int(config.instructions.num_train))

    def make_model(self, config, info):
        """The transformer of ``config.model`` (the teacher's for the teacher and the expert)."""
        del info
        return make_model(config.model, self.input_vocab, self.vocab_size)

    @functools.cached_property
    def test_sets(self) -> dict[str, dict[str, np.ndarray]]:
        """The general and the domain test sets (for the per-task metrics)."""
        return {part: self.instructions(part).test for part in ("general", "domain")}

    @functools.cached_property
    def domain_train(self) -> dict[str, np.ndarray]:
        """DAE: the first ``instructions.num_domain_train`` domain training examples."""
        return self.instructions("domain", int(self.config.instructions.num_domain_train)).train

    @functools.cached_property
    def entropy(self) -> float:
        """Entropy (nats) of the true distribution of one response token."""
        return self._true_entropy()

    @functools.cached_property
    def teacher_model(self):
        """The teacher architecture (also the domain expert's)."""
        return make_model(self.config.teacher.model, self.input_vocab, self.vocab_size)

    @functools.cached_property
    def teacher_params(self):
        """KD / DAE: the general teacher's final parameters."""
        return self._load("teacher", "from_stage", "workdir", self.teacher_model)

    @functools.cached_property
    def expert_params(self):
        """DAE: the domain expert's final parameters."""
        return self._load("teacher", "expert_from_stage", "expert_workdir", self.teacher_model)

    @functools.cached_property
    def pretrained(self):
        """A student's starting parameters (``objective.init_from[_stage]``; DAE: required)."""
        obj = self.config.objective
        if self.role == "student" and (self.objective == "dae" or obj.get("init_from", "")
                                       or obj.get("init_from_stage", "")):
            return self._load("objective", "init_from_stage", "init_from", self.model)
        return None

    def _true_entropy(self) -> float:
        """Entropy (nats) of the true distribution of one response token."""
        hit = 1.0 - self.noise + self.noise / self.vocab_size
        miss = self.noise / self.vocab_size
        out = -hit * math.log(hit)
        if miss > 0:
            out -= (self.vocab_size - 1) * miss * math.log(miss)
        return out

    def _load(self, group, stage_field, workdir_field, model):
        """Final parameters of ``model`` from the run ``<group>.<stage_field / workdir_field>``.

        Read by :func:`likelihood_jax.sequence.experiment.run_params`.
        """
        inputs = jnp.zeros((1, 2 * self.prompt_len + 1), jnp.int32)
        return run_params(self.config, group, stage_field, workdir_field, model, inputs,
                          f"objective.name={self.objective!r}")

    # -- model --------------------------------------------------------------------------------

    def init_params(self, key, batch):
        """Fresh parameters, or those of the finished run ``objective.init_from`` (DAE)."""
        if self.pretrained is not None:
            return jax.tree.map(jnp.asarray, self.pretrained)
        return self.model.init(key, jnp.asarray(batch["x"][:1, :-1]))["params"]

    def response_logits(self, model, params, x: jax.Array) -> jax.Array:
        """Logits ``[B, m, V]`` of the ``m`` response tokens of sequences ``x [B, 2m+2]``."""
        return response_logits(model, params, x, self.prompt_len)

    def teacher_log_probs(self, params, x: jax.Array) -> jax.Array:
        """A frozen teacher's tempered response log-probabilities ``[B, m, V]``."""
        params = jax.tree.map(jnp.asarray, params)
        logits = self.response_logits(self.teacher_model, params, x)
        return jax.lax.stop_gradient(kd.tempered_log_softmax(logits, self.temperature))

    # -- training -----------------------------------------------------------------------------

    def loss_fn(self, params, batch, key, step):
        """Per-example mean over response tokens of CE or ``(1 - a) CE + a T^2 KL(teacher || q)``.

        ``dae``: the first ``round(domain_fraction * B)`` rows of the batch are replaced by
        random domain examples, distilled from the expert; the others from the reference
        teacher. Logs ``nll`` (the student's NLL of the response tokens) and ``soft_kl``.
        """
        x = batch["x"]
        is_domain = jnp.zeros(x.shape[:1], bool)
        if self.objective == "dae":
            count = max(1, round(self.domain_fraction * x.shape[0]))
            domain_x = jnp.asarray(self.domain_train["x"])
            idx = jax.random.randint(key, (count,), 0, domain_x.shape[0])
            x = x.at[:count].set(domain_x[idx])
            is_domain = is_domain.at[:count].set(True)
        targets = x[:, self.prompt_len + 2:]
        logits = response_logits(self.model, params, x, self.prompt_len, train=True, key=key)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        if self.objective == "ce":
            return nll, {"nll": nll}
        teacher = self.teacher_log_probs(self.teacher_params, x)
        if self.objective == "dae":
            expert = self.teacher_log_probs(self.expert_params, x)
            teacher = jnp.where(is_domain[:, None, None], expert, teacher)
        loss = jnp.mean(kd.knowledge_distillation(logits, teacher, targets,
                                                  temperature=self.temperature,
                                                  alpha=self.alpha), -1)
        soft = jnp.mean(kd.soft_cross_entropy(logits, teacher, temperature=self.temperature), -1)
        return loss, {"nll": nll, "soft_kl": soft}

    # -- evaluation ---------------------------------------------------------------------------

    def metric_options(self) -> dict[str, float | int]:
        """The static arguments of :func:`response_metrics` for this run."""
        return {"prompt_len": self.prompt_len, "vocab_size": self.vocab_size,
                "noise": self.noise, "entropy": self.entropy}

    def response_metrics(self, model, params, x, clean) -> dict[str, jax.Array]:
        """Exact per-example response metrics of ``model`` (:func:`response_metrics`)."""
        return response_metrics(model, params, x, clean, **self.metric_options())

    def eval_fn(self, params, batch, key):
        """Exact response metrics on the test split (see :meth:`response_metrics`)."""
        del key
        return self.response_metrics(self.model, params, batch["x"], batch["clean"])

    def model_metrics(self, params, key):
        """Per-task exact match and KL on the general and domain test sets."""
        del key
        out = {}
        for split in ("general", "domain"):
            data = self.test_sets[split]
            metrics = jax.device_get(_response_metrics_jit(
                self.model, params, jnp.asarray(data["x"]), jnp.asarray(data["clean"]),
                **self.metric_options()))
            for i, name in enumerate(TASKS):
                rows = data["task"] == i
                if rows.any():
                    out[f"em_{name}"] = float(np.mean(metrics["exact_match"][rows]))
                    out[f"kl_{name}"] = float(np.mean(metrics["resp_kl"][rows]))
            out[f"em_{split}"] = float(np.mean(metrics["exact_match"]))
            out[f"kl_{split}"] = float(np.mean(metrics["resp_kl"]))
        return out


EXPERIMENT = InstructionDistillation
