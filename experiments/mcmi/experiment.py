"""MCMI teachers for knowledge distillation [P034] on the 8x8 digits.

Ye, Hamidi, Tan & Yang (2024), "Bayes conditional distribution estimation for
knowledge distillation based on conditional mutual information" (ICLR 2024). The
teacher's job in KD is to estimate the Bayes conditional distribution ``P(y | x)``;
instead of maximum likelihood (MLE) the paper trains it with the MCMI objective
``CE - lambda * I(X; Yhat | Y)`` (:func:`likelihood_jax.sequence.distillation.mcmi_loss`;
the CMI is the mean KL of each prediction from its class centroid, computed on the
batch), then distills it into a student with standard KD (Hinton et al., 2015:
``alpha T^2 KL(p_T || q_T) + (1 - alpha) CE``).

``config.role = "teacher"`` trains ``config.teacher.model`` with
``teacher.cmi_weight`` (0: MLE) for ``teacher.total_steps`` steps, from scratch or,
with ``teacher.init_from=W``, starting from the final parameters of the teacher
run in ``W`` (fine-tuning, as the paper's MCMI teachers start from a pretrained
MLE teacher); ``role = "student"`` trains ``config.model`` with
``objective.name`` ``"ce"`` (labels alone) or ``"kd"`` (from the teacher of the
earlier stage ``config.teacher.from_stage``, or of the finished run in
``config.teacher.workdir``). Other runs' parameters are read through
:func:`likelihood_jax.train.stages.stage_params`. The config's stages run the teacher,
then the student, as one command. The student's transfer set can be cut down:
``data.train_fraction`` keeps that fraction of every class (few-shot, e.g. 5%),
``data.omit_class`` removes one class from it entirely (zero-shot for that class;
the teacher saw all classes). Evaluation: test accuracy (headline), NLL, the
test-set CMI of the model's predictions, and in ``model_metrics`` the accuracy on
the omitted class.
"""

from __future__ import annotations

import copy
import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.models.mlp import MLP
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence.objectives import token_cross_entropy
from likelihood_jax.train.experiment import Experiment, load_config_dataset
from likelihood_jax.train.stages import resolve_workdir, stage_params

ROLES = ("teacher", "student")
OBJECTIVES = ("ce", "kd")


def student_subset(dataset: data_lib.Dataset, fraction: float, omit_class: int,
                   seed: int) -> data_lib.Dataset:
    """The student's transfer set: ``fraction`` of every class (at least one), minus a class."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"data.train_fraction must lie in (0, 1], got {fraction}")
    labels = np.asarray(dataset.train["label"])
    num_classes = dataset.info.num_classes
    if omit_class >= num_classes:
        raise ValueError(f"data.omit_class={omit_class} but there are {num_classes} classes")
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(num_classes):
        if c == omit_class:
            continue
        idx = np.flatnonzero(labels == c)
        take = max(1, int(round(fraction * len(idx))))
        keep.append(rng.permutation(idx)[:take])
    keep = np.sort(np.concatenate(keep))
    train = {k: np.asarray(v)[keep] for k, v in dataset.train.items()}
    return data_lib.Dataset(dataset.name, train, dataset.test, dataset.info)


class MCMIDistillation(Experiment):
    """A digits classifier: an MLE/MCMI teacher, or a student trained by CE or KD.

    Construction checks the config only; the data, the model and the teacher's (or
    the pretrained) parameters are built or read when first used.
    """

    headline_metric = "accuracy"

    def __init__(self, config, dataset=None):
        self.role = config.get("role", "student")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose one of {ROLES}")
        self.objective = config.objective.name if self.role == "student" else "mcmi"
        if self.objective not in OBJECTIVES + ("mcmi",):
            raise ValueError(f"unknown objective {config.objective.name!r}; choose one of "
                             f"{OBJECTIVES}")
        self.cmi_weight = float(config.teacher.cmi_weight)
        if self.cmi_weight < 0:
            raise ValueError(f"teacher.cmi_weight must be nonnegative, got {self.cmi_weight}")
        self.alpha = float(config.objective.alpha)
        self.temperature = float(config.objective.temperature)
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError(f"need objective.alpha in [0, 1] and temperature > 0, got "
                             f"{self.alpha}, {self.temperature}")
        self.omit_class = int(config.data.get("omit_class", -1))
        if self.objective == "kd" and not teacher_workdir(config):
            raise ValueError("objective.name='kd' needs teacher.from_stage (a stage of this "
                             "chain) or teacher.workdir (a role=teacher run)")
        if self.role == "teacher":
            config = teacher_config(config)  # the teacher's own step budget
        super().__init__(config, dataset)

    def make_dataset(self, config):
        """Digits; the student's transfer set is cut down by ``config.data``."""
        dataset = load_config_dataset(config)
        if self.role == "teacher":
            return dataset
        if dataset.info.num_classes is None:
            raise ValueError(f"dataset {dataset.name!r} has no labels")
        dataset = student_subset(dataset, float(config.data.train_fraction), self.omit_class,
                                 int(config.data.subset_seed))
        if config.batch_size > len(dataset.train["label"]):
            raise ValueError(f"batch_size {config.batch_size} exceeds the "
                             f"{len(dataset.train['label'])} student training examples")
        return dataset

    def make_model(self, config, info):
        """The MLP of the role (``config.teacher.model`` or ``config.model``)."""
        model = config.teacher.model if self.role == "teacher" else config.model
        return MLP(hidden_dims=tuple(model.hidden_dims), out_dim=info.num_classes)

    @property
    def num_classes(self) -> int:
        """Number of labels of the data."""
        return self.dataset.info.num_classes

    @property
    def num_levels(self) -> int:
        """Pixel levels of the images (1 for unquantized data)."""
        return self.dataset.info.num_levels or 1

    @functools.cached_property
    def teacher_model(self):
        """The teacher's MLP (``config.teacher.model``)."""
        return MLP(hidden_dims=tuple(self.config.teacher.model.hidden_dims),
                   out_dim=self.num_classes)

    def _params_of(self, workdir, model, total_steps):
        x = self.features(jnp.asarray(self.dataset.train["x"][:1]))
        template = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
        return stage_params(workdir, template, optim=self.config.optim,
                            total_steps=int(total_steps))

    @functools.cached_property
    def teacher_params(self):
        """The final parameters of the teacher run (KD students only), on the host."""
        if self.objective != "kd":
            return None
        return self._params_of(teacher_workdir(self.config), self.teacher_model,
                               self.config.teacher.total_steps)

    @functools.cached_property
    def pretrained(self):
        """A fine-tuning teacher's start: ``teacher.init_from``'s final parameters (or None)."""
        init_from = str(self.config.teacher.get("init_from", "") or "")
        if self.role != "teacher" or not init_from:
            return None
        return self._params_of(init_from, self.model,
                               self.config.teacher.get("init_steps", self.config.total_steps))

    def check_data(self, info):
        """Digits-like data: labelled images."""
        if info.kind != "image":
            raise ValueError(f"the MCMI experiment needs labelled images, got {info.kind!r}")
        if info.num_classes is None:
            raise ValueError("the MCMI experiment needs labelled images; the data has no labels")

    def features(self, x):
        """Pixels scaled to [0, 1] and flattened."""
        x = jnp.asarray(x, jnp.float32) / (self.num_levels - 1)
        return x.reshape(x.shape[0], -1)

    def logits(self, params, x):
        """The model's ``[B, C]`` logits of images ``x``."""
        return self.model.apply({"params": params}, self.features(x))

    def init_params(self, key, batch):
        """The MLP's parameters (teacher or student model, by role; or ``teacher.init_from``'s)."""
        if self.pretrained is not None:
            return jax.tree.map(jnp.asarray, self.pretrained)
        return self.model.init(key, self.features(batch["x"]))["params"]

    def teacher_log_probs(self, x):
        """The teacher's log-probabilities at the distillation temperature (stop-gradient)."""
        params = jax.tree.map(jnp.asarray, self.teacher_params)
        logits = self.teacher_model.apply({"params": params}, self.features(x))
        return jax.lax.stop_gradient(kd.tempered_log_softmax(logits, self.temperature))

    def loss_fn(self, params, batch, key, step):
        """Teacher: ``CE - lambda KL(p || centroid)``; student: CE or Hinton KD."""
        labels = batch["label"].astype(jnp.int32)
        logits = self.logits(params, batch["x"])
        nll = token_cross_entropy(logits, labels)
        acc = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
        metrics = {"nll": nll, "accuracy": acc}
        if self.role == "teacher":
            cmi = kd.conditional_mutual_information(logits, labels, self.num_classes)
            return nll - self.cmi_weight * cmi, {**metrics, "cmi": cmi}
        if self.objective == "ce":
            return nll, metrics
        teacher = self.teacher_log_probs(batch["x"])
        loss = kd.knowledge_distillation(logits, teacher, labels, temperature=self.temperature,
                                         alpha=self.alpha)
        soft = kd.soft_cross_entropy(logits, teacher, temperature=self.temperature)
        return loss, {**metrics, "soft_kl": soft}

    def eval_fn(self, params, batch, key):
        """Accuracy, NLL and the per-example CMI terms (centroids over this test batch)."""
        labels = batch["label"].astype(jnp.int32)
        logits = self.logits(params, batch["x"])
        mask = batch.get("mask", None)
        return {"accuracy": (jnp.argmax(logits, -1) == labels).astype(jnp.float32),
                "nll": token_cross_entropy(logits, labels),
                "cmi": kd.conditional_mutual_information(logits, labels, self.num_classes,
                                                         mask)}

    def model_metrics(self, params, key):
        """Test accuracy on the omitted class (when one is omitted)."""
        if self.omit_class < 0:
            return {}
        test = self.dataset.test
        sel = np.asarray(test["label"]) == self.omit_class
        logits = jax.jit(self.logits)(params, jnp.asarray(test["x"][sel]))
        pred = np.asarray(jnp.argmax(logits, -1))
        return {"accuracy_omitted": float(np.mean(pred == self.omit_class))}


def teacher_workdir(config) -> str:
    """The KD teacher's workdir: the stage ``teacher.from_stage``, else ``teacher.workdir``."""
    return resolve_workdir(config, config.teacher.get("from_stage", ""),
                           config.teacher.get("workdir", ""))


def teacher_config(config):
    """A copy of ``config`` that trains the teacher (role and ``config.teacher.total_steps``)."""
    config = copy.deepcopy(config)
    config.role = "teacher"
    config.total_steps = int(config.teacher.total_steps)
    return config


EXPERIMENT = MCMIDistillation

# The whole table as one command (configs/sweep.py names "mcmi:MCMISweep").
from experiments.mcmi.sweep import MCMISweep  # noqa: E402, F401 (re-exported)
