"""Product-of-experts debiasing with a frozen weak learner [P069] on digits with a shortcut.

Sanh, Wolf, Belinkov & Rush (ICLR 2021), "Learning from others' mistakes: Avoiding dataset
biases without modeling them". The main model is trained with the cross-entropy of
``log_softmax(log p_weak + log p_main)``
(:func:`likelihood_jax.sequence.debiasing.product_of_experts_loss`), the weak learner frozen;
at test time the main model is used alone. ``config.objective = "ce"`` is the plain
cross-entropy baseline on the same network and data.

Data (:func:`shortcut_digits`): 8x8 digits with one planted bright pixel in the empty border
(column 0, rows 0-7, and column 7, rows 0-1: ten positions). In the training split and the
in-distribution test set (``x``) the pixel sits at the position of the true class with
probability ``config.shortcut.correlation`` and at one of the nine other positions otherwise;
in the shortcut-free test sets it is at a uniformly random position (``x_random``) or always
at a wrong class's position (``x_flipped``).

The weak learner is trained with plain cross-entropy on the same training data, full-batch for
``config.weak.steps`` Adam steps in ``__init__``, then frozen: a small MLP
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
from likelihood_jax.models.mlp import MLP
from likelihood_jax.sequence import debiasing
from likelihood_jax.train import Experiment

OBJECTIVES = ("ce", "poe")
WEAK_INPUTS = ("image", "border")
BORDER = tuple((r, 0) for r in range(8)) + tuple((r, 7) for r in range(8))
"""The 16 pixels of the border columns, nearly always empty in the digits."""


def patch_code(k: int, num_pixels: int) -> tuple[tuple[int, int], ...]:
    """The border pixels lit for class ``k``: ``BORDER[(k + 5 j) % 16]``, ``j < num_pixels``."""
    return tuple(BORDER[(k + 5 * j) % 16] for j in range(num_pixels))


def _patch(x: np.ndarray, codes: np.ndarray, value: int, num_pixels: int) -> np.ndarray:
    x = np.array(x, copy=True)
    for k in range(10):
        for r, c in patch_code(k, num_pixels):
            x[codes == k, r, c, 0] = value
    return x


def _biased_positions(rng, labels, correlation):
    """The label's position with probability ``correlation``, else one of the other nine."""
    other = (labels + rng.integers(1, 10, len(labels))) % 10
    return np.where(rng.random(len(labels)) < correlation, labels, other)


def shortcut_digits(correlation: float = 0.9, patch_value: int = 16, num_pixels: int = 1,
                    seed: int = 0) -> data_lib.Dataset:
    """Digits with a planted shortcut pixel (see the module docstring).

    Returns:
      A dataset with ``train = {x, label}`` and ``test = {x (in-distribution), x_random,
      x_flipped, label}``; images uint8 ``(N, 8, 8, 1)`` in ``0..16``.
    """
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must be in [0, 1], got {correlation}")
    if not 1 <= num_pixels <= 3:
        raise ValueError(f"num_pixels must be 1, 2 or 3, got {num_pixels}")
    raw = data_lib.load_dataset("digits")
    rng = np.random.default_rng(seed)
    train_label, test_label = raw.train["label"], raw.test["label"]
    train = {"x": _patch(raw.train["x"], _biased_positions(rng, train_label, correlation),
                         patch_value, num_pixels), "label": train_label}
    n = len(test_label)
    test = {
        "x": _patch(raw.test["x"], _biased_positions(rng, test_label, correlation),
                    patch_value, num_pixels),
        "x_random": _patch(raw.test["x"], rng.integers(0, 10, n), patch_value, num_pixels),
        "x_flipped": _patch(raw.test["x"], _biased_positions(rng, test_label, 0.0),
                            patch_value, num_pixels),
        "label": test_label,
    }
    info = data_lib.DatasetInfo(
        kind="image", event_shape=(8, 8, 1), num_levels=17, num_classes=10,
        description=f"digits with a shortcut pixel at the label's border position for "
                    f"{correlation:.0%} of the training images")
    return data_lib.Dataset("shortcut_digits", train, test, info)


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
        w = config.weak
        if w.inputs not in WEAK_INPUTS:
            raise ValueError(f"unknown config.weak.inputs {w.inputs!r}; choose one of "
                             f"{WEAK_INPUTS}")
        if dataset is None:
            s = config.shortcut
            dataset = shortcut_digits(s.correlation, s.patch_value, s.num_pixels, s.seed)
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
        dataset = data_lib.Dataset(dataset.name, train, dataset.test, dataset.info)
        super().__init__(config, dataset)
        test = dataset.test
        self.weak_metrics = {"weak_acc_train": _accuracy(train["weak_log_probs"],
                                                         train["label"])}
        for name in ("x", "x_random", "x_flipped"):
            self.weak_metrics[f"weak_acc_{_suffix(name)}"] = _accuracy(weak(test[name]),
                                                                       test["label"])
        self.model = MLP(tuple(config.model.hidden_dims), 10)

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
