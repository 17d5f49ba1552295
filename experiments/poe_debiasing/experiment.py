"""Product-of-experts debiasing with a frozen weak learner [P069] on digits with a shortcut.

Sanh, Wolf, Belinkov & Rush (ICLR 2021), "Learning from others' mistakes: Avoiding dataset
biases without modeling them". The main model is trained with the cross-entropy of
``log_softmax(log p_weak + log p_main)``
(:func:`likelihood_jax.sequence.debiasing.product_of_experts_loss`), the weak learner frozen;
at test time the main model is used alone. ``config.objective = "ce"`` is the plain
cross-entropy baseline on the same network and data.

Data (the registered dataset ``"shortcut_digits"``,
:mod:`likelihood_jax.data.synthetic.shortcut_digits`; options in ``config.dataset``): 8x8
digits with one planted bright pixel in the empty border (column 0, rows 0-7, and column 7,
rows 0-1: ten positions). In the training split and the
in-distribution test set (``x``) the pixel sits at the position of the true class with
probability ``config.dataset.correlation`` and at one of the nine other positions otherwise;
in the shortcut-free test sets it is at a uniformly random position (``x_random``) or always
at a wrong class's position (``x_flipped``).

The weak learner is trained with plain cross-entropy on the same training data, full-batch for
``config.weak.steps`` Adam steps when the dataset is built, then frozen: a small MLP
(``config.weak.hidden_dims``; ``()`` is a linear classifier). ``config.weak.inputs`` says what
it sees: ``"image"``, the whole image, as in the paper (a limited-capacity model that knows
nothing of the bias; the paper uses TinyBERT), or ``"border"``, only the 16 border pixels
where the shortcut lives: the bias-only model of the known-bias methods the paper compares
with (Clark et al. 2019; He et al. 2019), i.e. PoE with the bias known. Its log-probabilities
on the training set are computed once and stored with the training data
(``weak_log_probs``), so the trainer never touches its parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic.shortcut_digits import BORDER
from likelihood_jax.models.mlp import MLP
from likelihood_jax.sequence import debiasing
from likelihood_jax.train import Experiment
from likelihood_jax.train.experiment import load_config_dataset

OBJECTIVES = ("ce", "poe")
WEAK_INPUTS = ("image", "border")
def _flat(x):
    return jnp.asarray(x, jnp.float32).reshape(len(x), -1) / 16.0


def train_weak_learner(x: np.ndarray, label: np.ndarray, *, hidden_dims, steps: int, lr: float,
                       seed: int = 0):
    """Full-batch Adam on plain cross-entropy; returns ``predict(x) -> log-probs``."""
    model = MLP(tuple(hidden_dims), 10)
    inputs, label = _flat(x), jnp.asarray(label)
    params = model.init(jax.random.key(seed), inputs[:1])
    opt = optax.adam(lr)

    def loss(p):
        return debiasing.cross_entropy(model.apply(p, inputs), label).mean()

    @jax.jit
    def train(params):
        def step(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            updates, s = opt.update(g, s, p)
            return (optax.apply_updates(p, updates), s), None
        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return params

    params = train(params)
    return lambda images: jax.nn.log_softmax(model.apply(params, _flat(images)), axis=-1)


class ProductOfExpertsDebiasing(Experiment):
    """Main MLP classifier trained by plain CE or by PoE with a frozen weak learner."""

    headline_metric = "acc_random"

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown config.objective {config.objective!r}; choose one of "
                             f"{OBJECTIVES}")
        if config.weak.inputs not in WEAK_INPUTS:
            raise ValueError(f"unknown config.weak.inputs {config.weak.inputs!r}; choose one of "
                             f"{WEAK_INPUTS}")
        super().__init__(config)
        self._shortcut_data = dataset  # the raw data; make_dataset adds the weak learner's view
        self._weak_metrics = None

    def make_dataset(self, config):
        """The shortcut digits (``config.dataset``) with the frozen weak learner's log-probs.

        Trains the weak learner (full batch, ``config.weak``) on the training split and
        stores its training log-probabilities as ``weak_log_probs`` and its accuracies
        as :attr:`weak_metrics`.
        """
        dataset = self._shortcut_data or load_config_dataset(config)
        w = config.weak
        mask = np.ones((1, 8, 8, 1), np.uint8)
        if w.inputs == "border":
            mask[:] = 0
            for r, c in BORDER:
                mask[0, r, c, 0] = 1
        weak_on_inputs = train_weak_learner(dataset.train["x"] * mask, dataset.train["label"],
                                            hidden_dims=w.hidden_dims, steps=w.steps, lr=w.lr,
                                            seed=config.seed)

        def weak(images):
            return weak_on_inputs(images * mask)

        train = dict(dataset.train,
                     weak_log_probs=np.asarray(weak(dataset.train["x"]), np.float32))
        test = dataset.test
        self._weak_metrics = {"weak_acc_train": _accuracy(train["weak_log_probs"],
                                                          train["label"])}
        for name in ("x", "x_random", "x_flipped"):
            self._weak_metrics[f"weak_acc_{_suffix(name)}"] = _accuracy(weak(test[name]),
                                                                        test["label"])
        return data_lib.Dataset(dataset.name, train, test, dataset.info)

    def make_model(self, config, info):
        """The main MLP classifier (``config.model.hidden_dims``)."""
        del info
        return MLP(tuple(config.model.hidden_dims), 10)

    @property
    def weak_metrics(self) -> dict[str, float]:
        """The frozen weak learner's accuracies (train, and the three test sets)."""
        if self._weak_metrics is None:
            self.dataset  # noqa: B018 (building the dataset trains the weak learner)
        return self._weak_metrics

    def init_params(self, key, batch):
        """The main classifier's parameters."""
        return self.model.init(key, jnp.zeros((1, 64)))

    def logits(self, params, x):
        """Main-model logits of uint8 images ``(B, 8, 8, 1)``."""
        return self.model.apply(params, _flat(x))

    def loss_fn(self, params, batch, key, step):
        """Plain CE, or the PoE cross-entropy with the stored weak log-probabilities."""
        logits = self.logits(params, batch["x"])
        if self.config.objective == "poe":
            loss = debiasing.product_of_experts_loss(logits, batch["weak_log_probs"],
                                                     batch["label"])
        else:
            loss = debiasing.cross_entropy(logits, batch["label"])
        acc = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
        return loss, {"train_acc": acc}

    def eval_fn(self, params, batch, key):
        """The main model alone: accuracy and NLL on the three test sets."""
        out = {}
        for name in ("x", "x_random", "x_flipped"):
            logits = self.logits(params, batch[name])
            suffix = _suffix(name)
            out[f"acc_{suffix}"] = (jnp.argmax(logits, -1) == batch["label"]).astype(
                jnp.float32)
            out[f"nll_{suffix}"] = debiasing.cross_entropy(logits, batch["label"])
        out["loss"] = out["nll_iid"]
        return out

    def model_metrics(self, params, key):
        """The frozen weak learner's accuracies (constants of the run)."""
        return dict(self.weak_metrics)


def _suffix(name):
    return {"x": "iid", "x_random": "random", "x_flipped": "flipped"}[name]


def _accuracy(log_probs, label):
    return float(np.mean(np.argmax(np.asarray(log_probs), -1) == np.asarray(label)))


EXPERIMENT = ProductOfExpertsDebiasing
