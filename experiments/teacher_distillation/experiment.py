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

Synthetic instruction data (:func:`instruction_data`): a sequence is
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
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import make_model
from likelihood_jax.train import Experiment
from likelihood_jax.train.stages import resolve_workdir, stage_params

TASKS = ("copy", "reverse", "sort", "shift", "cumsum")
ROLES = ("teacher", "expert", "student")
OBJECTIVES = ("ce", "kd", "dae")


# -- Synthetic instruction data -------------------------------------------------------------


def task_response(task: str, prompts: np.ndarray, vocab_size: int) -> np.ndarray:
    """The clean response ``f(p)`` of ``task`` to prompts ``[N, m]`` over ``0..V-1``."""
    if task == "copy":
        return prompts.copy()
    if task == "reverse":
        return prompts[:, ::-1].copy()
    if task == "sort":
        return np.sort(prompts, axis=1)
    if task == "shift":
        return (prompts + 1) % vocab_size
    if task == "cumsum":
        return np.cumsum(prompts, axis=1) % vocab_size
    raise ValueError(f"unknown task {task!r}; choose from {TASKS}")


def instruction_data(tasks: tuple[str, ...], num: int, *, vocab_size: int, prompt_len: int,
                     noise: float, seed: int) -> dict[str, np.ndarray]:
    """``num`` instruction sequences ``[TAG, prompt, SEP, noisy response]``, tasks uniform.

    Token ids: content ``0..V-1``, task tags ``V + TASKS.index(task)``, SEP
    ``V + len(TASKS)``.

    Returns:
      ``{"x": [num, 2m + 2] int32, "clean": [num, m] int32 (the noise-free
      response), "task": [num] int32 (index in TASKS)}``.

    Raises:
      ValueError: on an unknown task or ``noise`` outside ``[0, 1]``.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must lie in [0, 1], got {noise}")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown tasks {unknown or tasks!r}; choose from {TASKS}")
    rng = np.random.default_rng(seed)
    task = rng.choice([TASKS.index(t) for t in tasks], size=num)
    prompts = rng.integers(0, vocab_size, (num, prompt_len))
    clean = np.zeros_like(prompts)
    for i, name in enumerate(TASKS):
        rows = task == i
        if rows.any():
            clean[rows] = task_response(name, prompts[rows], vocab_size)
    flip = rng.random(clean.shape) < noise
    response = np.where(flip, rng.integers(0, vocab_size, clean.shape), clean)
    tag = (vocab_size + task)[:, None]
    sep = np.full((num, 1), vocab_size + len(TASKS))
    x = np.concatenate([tag, prompts, sep, response], 1)
    return {"x": x.astype(np.int32), "clean": clean.astype(np.int32),
            "task": task.astype(np.int32)}


def true_response_log_probs(clean: jax.Array, vocab_size: int, noise: float) -> jax.Array:
    """``[..., m, V]`` log of the true response law ``(1 - noise) 1[v = f(p)_t] + noise / V``."""
    one_hot = jax.nn.one_hot(clean, vocab_size)
    return jnp.log((1.0 - noise) * one_hot + noise / vocab_size)


def split_names(names) -> tuple[str, ...]:
    """``"copy,reverse"`` or a sequence -> a tuple of task names."""
    if isinstance(names, str):
        return tuple(n.strip() for n in names.split(",") if n.strip())
    return tuple(names)


# -- The experiment ---------------------------------------------------------------------------


class InstructionDistillation(Experiment):
    """Teacher / domain expert / student (CE, KD, DAE) on synthetic instruction data."""

    headline_metric = "resp_kl"

    def __init__(self, config, dataset=None):
        self.role = config.get("role", "student")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose one of {ROLES}")
        obj = config.objective
        self.objective = obj.name if self.role == "student" else "ce"
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {obj.name!r}; choose one of {OBJECTIVES}")
        self.alpha = float(obj.alpha)
        self.temperature = float(obj.temperature)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"objective.alpha must lie in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"objective.temperature must be positive, got {self.temperature}")
        opts = config.instructions
        self.vocab_size, self.prompt_len = int(opts.vocab_size), int(opts.prompt_len)
        self.noise = float(opts.noise)
        self.general_tasks = split_names(opts.tasks)
        self.domain_task = str(opts.domain_task)
        if self.domain_task in self.general_tasks:
            raise ValueError(f"instructions.domain_task {self.domain_task!r} is also a general "
                             "task")
        make = dict(vocab_size=self.vocab_size, prompt_len=self.prompt_len, noise=self.noise)
        general = instruction_data(self.general_tasks, opts.teacher_num_train,
                                   seed=opts.data_seed, **make)
        domain = instruction_data((self.domain_task,), opts.teacher_num_train,
                                  seed=opts.data_seed + 1, **make)
        self.test_sets = {
            "general": instruction_data(self.general_tasks, opts.num_test,
                                        seed=opts.data_seed + 2, **make),
            "domain": instruction_data((self.domain_task,), opts.num_test,
                                       seed=opts.data_seed + 3, **make)}
        if self.role == "teacher":
            train = general
        elif self.role == "expert":
            train = domain
        else:
            train = {k: v[:opts.num_train] for k, v in general.items()}
        self.domain_train = {k: v[:opts.num_domain_train] for k, v in domain.items()}
        test = self.test_sets["domain" if self.role == "expert" else "general"]
        if dataset is None:
            info = data_lib.DatasetInfo(
                kind="text", event_shape=(2 * self.prompt_len + 2,),
                vocab=tuple(str(i) for i in range(self.vocab_size)),
                description=f"synthetic instructions {opts.to_dict()}")
            dataset = data_lib.Dataset("instructions", train, test, info)
        if self.role != "student":
            config = copy.deepcopy(config)
            config.model = config.teacher.model
        super().__init__(config, dataset)
        self.input_vocab = self.vocab_size + len(TASKS) + 1
        self.model = make_model(config.model, self.input_vocab, self.vocab_size)
        self.entropy = self._true_entropy()
        self._metrics_jit = jax.jit(lambda p, x, c: self.response_metrics(self.model, p, x, c))
        self.teacher_params = self.expert_params = self.pretrained = None
        if self.objective in ("kd", "dae"):
            self.teacher_model = make_model(config.teacher.model, self.input_vocab,
                                            self.vocab_size)
            self.teacher_params = self._load(config, "teacher", "from_stage", "workdir",
                                             self.teacher_model)
        if self.role == "student" and (self.objective == "dae" or obj.get("init_from", "")
                                       or obj.get("init_from_stage", "")):
            self.pretrained = self._load(config, "objective", "init_from_stage", "init_from",
                                         self.model)
        if self.objective == "dae":
            self.expert_params = self._load(config, "teacher", "expert_from_stage",
                                            "expert_workdir", self.teacher_model)
            self.domain_fraction = float(obj.domain_fraction)
            if not 0.0 < self.domain_fraction < 1.0:
                raise ValueError(f"objective.domain_fraction must lie in (0, 1), got "
                                 f"{self.domain_fraction}")

    def _true_entropy(self) -> float:
        """Entropy (nats) of the true distribution of one response token."""
        hit = 1.0 - self.noise + self.noise / self.vocab_size
        miss = self.noise / self.vocab_size
        out = -hit * math.log(hit)
        if miss > 0:
            out -= (self.vocab_size - 1) * miss * math.log(miss)
        return out

    def _load(self, config, group, stage_field, workdir_field, model):
        """Final parameters of ``model`` from another run.

        The run is the stage ``config.<group>.<stage_field>`` of this chain, else the
        finished run in ``config.<group>.<workdir_field>``.
        """
        fields = config[group]
        workdir = resolve_workdir(config, fields.get(stage_field, ""),
                                  fields.get(workdir_field, ""))
        if not workdir:
            raise ValueError(f"objective.name={self.objective!r} needs {group}.{workdir_field} "
                             f"(a finished run's workdir) or {group}.{stage_field} (a stage "
                             "of this chain)")
        inputs = jnp.asarray(self.dataset.train["x"][:1, :-1])
        template = jax.jit(model.init)(jax.random.key(0), inputs)["params"]
        return stage_params(workdir, template, optim=config.optim,
                            total_steps=config.total_steps)

    # -- model --------------------------------------------------------------------------------

    def init_params(self, key, batch):
        """Fresh parameters, or those of the finished run ``objective.init_from`` (DAE)."""
        if self.pretrained is not None:
            return jax.tree.map(jnp.asarray, self.pretrained)
        return self.model.init(key, jnp.asarray(batch["x"][:1, :-1]))["params"]

    def response_logits(self, model, params, x: jax.Array) -> jax.Array:
        """Logits ``[B, m, V]`` of the ``m`` response tokens of sequences ``x [B, 2m+2]``."""
        m = self.prompt_len
        logits = model.apply({"params": params}, x[:, :-1])
        return logits[:, m + 1:2 * m + 1]

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
        logits = self.response_logits(self.model, params, x)
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

    def response_metrics(self, model, params, x, clean) -> dict[str, jax.Array]:
        """Exact per-example response metrics of ``model`` (nats per response token).

        ``resp_ce``: ``-sum_v p(v) log q(v | prefix)`` with the true ``p`` (exact given
        the noisy test prefix, since ``p`` does not depend on it); ``resp_kl`` = ``resp_ce``
        minus the true entropy; ``resp_nll``: NLL of the noisy test response (Monte
        Carlo); ``token_acc`` / ``exact_match``: argmax on the clean response prefix
        equals ``f(p)`` per token / at every token (= greedy decoding's exact match).
        """
        log_q = jax.nn.log_softmax(self.response_logits(model, params, x), -1)
        log_p = true_response_log_probs(clean, self.vocab_size, self.noise)
        ce = -jnp.sum(jnp.exp(log_p) * log_q, -1).mean(-1)
        targets = x[:, self.prompt_len + 2:]
        nll = -jnp.take_along_axis(log_q, targets[..., None], -1)[..., 0].mean(-1)
        x_clean = x.at[:, self.prompt_len + 2:].set(clean)
        pred = jnp.argmax(self.response_logits(model, params, x_clean), -1)
        correct = (pred == clean).astype(jnp.float32)
        return {"resp_ce": ce, "resp_kl": ce - self.entropy, "resp_nll": nll,
                "token_acc": correct.mean(-1), "exact_match": correct.min(-1)}

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
            metrics = jax.device_get(self._metrics_jit(params, jnp.asarray(data["x"]),
                                                       jnp.asarray(data["clean"])))
            for i, name in enumerate(TASKS):
                rows = data["task"] == i
                if rows.any():
                    out[f"em_{name}"] = float(np.mean(metrics["exact_match"][rows]))
                    out[f"kl_{name}"] = float(np.mean(metrics["resp_kl"][rows]))
            out[f"em_{split}"] = float(np.mean(metrics["exact_match"]))
            out[f"kl_{split}"] = float(np.mean(metrics["resp_kl"]))
        return out


EXPERIMENT = InstructionDistillation
