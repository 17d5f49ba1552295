"""Label learning flows (LLF): a conditional flow p(y | x) trained inside weak constraints.

The constraint set is the one that weak signals define; training is "inverse" (z -> y).

Lu, Song, Arachie & Huang, "Weakly Supervised Label Learning Flows" (Neural Networks 2025,
arXiv:2302.09649). The math lives in :mod:`likelihood_jax.flows.weak_supervision` (constraint set,
penalty, majority vote) and :mod:`likelihood_jax.flows.conditional` (the conditional flow).

Data (built in ``__init__`` from ``digits``): the training split is divided into a small
labelled set (``config.weak.num_labeled`` examples) and the unlabelled rest. The labelled set
only builds the weak signals: one logistic-regression classifier per image region
(``config.weak.regions``: top/bottom rows, left/right columns, central rows), each seeing
only its region's pixels; their class probabilities on every example are the weak signals
``q_m(x)``, and their error bounds ``b_mk`` are the 5-fold cross-validated expected errors on
the labelled set (plus ``config.weak.bound_slack``). LLF then trains on the unlabelled
examples with their signals only; true labels are used for evaluation alone.

Training (one step, batch of x): ``z ~ N(0, I_K)``, ``y = f^{-1}(z; x)``,
``loss = -log p(y | x) + lambda * penalty(y)`` (:func:`weak_supervision.llf_loss`). Predict:
draw ``config.model.num_eval_samples`` labelings per x, average, argmax.

Baselines, computed once in ``__init__`` and logged by ``model_metrics``: the majority vote
of the weak signals, and a supervised logistic regression on all pixels trained on the
majority-vote labels of the unlabelled set.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from likelihood_jax import data as data_lib
from likelihood_jax import flows
from likelihood_jax.flows import weak_supervision as ws
from likelihood_jax.train import Experiment

REGIONS = {  # (rows, columns) of the 8x8 image each weak classifier sees
    "top": (slice(0, 3), slice(0, 8)),
    "bottom": (slice(5, 8), slice(0, 8)),
    "left": (slice(0, 8), slice(0, 3)),
    "right": (slice(0, 8), slice(5, 8)),
    "center": (slice(3, 5), slice(0, 8)),
}


def build_weak_signals(images: np.ndarray, labels: np.ndarray, labeled: np.ndarray,
                       regions: tuple[str, ...], num_classes: int, slack: float, seed: int):
    """Fits one region classifier per weak signal on the labelled indices.

    Args:
        images: ``(n, 8, 8)`` floats in [0, 1].
        labels: ``(n,)`` true labels (only ``labels[labeled]`` is read).
        labeled: indices of the labelled examples.
        regions: names in :data:`REGIONS`.
        num_classes: K.
        slack: added to the cross-validated error bounds.
        seed: seed of the cross-validation folds' classifiers.

    Returns:
        ``(predict, bounds)``: ``predict(images) -> (n, M, K)`` signals and the ``(M, K)``
        error bounds.
    """
    unknown = [r for r in regions if r not in REGIONS]
    if unknown:
        raise ValueError(f"unknown weak-signal regions {unknown}; choose from {list(REGIONS)}")
    models, cv_probs = [], []
    y_lab = labels[labeled]
    for name in regions:
        rows, cols = REGIONS[name]
        feats = images[labeled][:, rows, cols].reshape(len(labeled), -1)
        clf = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
        cv_probs.append(cross_val_predict(clf, feats, y_lab, cv=5, method="predict_proba"))
        models.append(clf.fit(feats, y_lab))

    def predict(x: np.ndarray) -> np.ndarray:
        out = []
        for name, clf in zip(regions, models):
            rows, cols = REGIONS[name]
            out.append(clf.predict_proba(x[:, rows, cols].reshape(len(x), -1)))
        return np.stack(out, axis=1).astype(np.float32)

    onehot = np.eye(num_classes, dtype=np.float32)[y_lab]
    bounds = ws.estimate_error_bounds(jnp.asarray(np.stack(cv_probs, 1), jnp.float32),
                                      jnp.asarray(onehot), slack=slack)
    return predict, np.asarray(bounds)


class LabelFlows(Experiment):
    """LLF on digits with region-classifier weak signals (config: ``weak``, ``model``)."""

    headline_metric = "accuracy"

    def __init__(self, config, dataset=None):
        raw = dataset if dataset is not None else data_lib.load_dataset(config.dataset.name)
        if raw.info.kind != "image" or raw.info.num_classes is None:
            raise ValueError(f"label_flows needs a labelled image dataset, got {raw.name!r}")
        weak = config.weak
        k = raw.info.num_classes
        images = raw.train["x"][..., 0].astype(np.float32) / (raw.info.num_levels - 1)
        test_images = raw.test["x"][..., 0].astype(np.float32) / (raw.info.num_levels - 1)
        labels, test_labels = raw.train["label"], raw.test["label"]
        perm = np.random.default_rng(config.seed).permutation(len(images))
        labeled, unlabeled = perm[:weak.num_labeled], perm[weak.num_labeled:]
        predict, bounds = build_weak_signals(images, labels, labeled, tuple(weak.regions), k,
                                             weak.bound_slack, config.seed)
        self.bounds = jnp.asarray(bounds)
        train = {"x": images[unlabeled].reshape(len(unlabeled), -1),
                 "signals": predict(images[unlabeled]), "label": labels[unlabeled]}
        test = {"x": test_images.reshape(len(test_images), -1),
                "signals": predict(test_images), "label": test_labels}
        info = data_lib.DatasetInfo(kind="continuous", event_shape=(train["x"].shape[1],),
                                    num_classes=k,
                                    description=f"{raw.name} features with weak signals")
        super().__init__(config, dataset=data_lib.Dataset(f"{raw.name}_weak", train, test, info))
        self.num_classes = k
        m = config.model
        self.flow = flows.ConditionalFlow(
            flows.conditional_realnvp(k, m.num_layers, tuple(m.hidden_dims),
                                      log_scale_bound=m.log_scale_bound), k)
        self.baselines = self._baselines(train, test)

    def _baselines(self, train, test) -> dict[str, float]:
        mv_train, _ = ws.majority_vote(jnp.asarray(train["signals"]))
        mv_test, _ = ws.majority_vote(jnp.asarray(test["signals"]))
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(train["x"], np.asarray(mv_train))
        onehot = jax.nn.one_hot(mv_train, self.num_classes)
        return {
            "majority_vote_train_accuracy": float(np.mean(np.asarray(mv_train) == train["label"])),
            "majority_vote_test_accuracy": float(np.mean(np.asarray(mv_test) == test["label"])),
            "weak_label_logreg_test_accuracy": float(np.mean(clf.predict(test["x"]) ==
                                                            test["label"])),
            "majority_vote_max_violation": float(jnp.max(ws.constraint_violations(
                jnp.asarray(train["signals"]), onehot, self.bounds))),
        }

    # -- the model -----------------------------------------------------------------------

    def sample_labels(self, params, key, x: jax.Array, num_samples: int) -> jax.Array:
        """``(S, B, K)`` labelings ``y = f^{-1}(z; x)`` for a batch of features ``x``."""
        z = jax.random.normal(key, (num_samples, x.shape[0], self.num_classes), x.dtype)
        per_x = jax.vmap(self.flow.bijector.inverse, in_axes=(None, 0, 0))
        return jax.vmap(per_x, in_axes=(None, 0, None))(params, z, x)

    def predict(self, params, key, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """LLF's prediction: mean of sampled labelings and its argmax."""
        samples = self.sample_labels(params, key, x, self.config.model.num_eval_samples)
        return ws.average_prediction(samples)

    # -- Experiment interface ----------------------------------------------------------------

    def init_params(self, key, batch):
        """Identity-initialized couplings; ``y`` for init is a standard-normal draw."""
        x = jnp.asarray(batch["x"])
        y = jax.random.normal(jax.random.fold_in(key, 1), (x.shape[0], self.num_classes))
        return self.flow.init(key, y, x)

    def loss_fn(self, params, batch, key, step):
        """Inverse training: ``-log p(y|x) + lambda * penalty(y)`` at ``y = f^{-1}(z; x)``."""
        x = batch["x"]
        z = jax.random.normal(key, (x.shape[0], self.num_classes), x.dtype)
        y, log_prob = jax.vmap(self.flow.sample_and_log_prob_from_latent,
                               in_axes=(None, 0, 0))(params, z, x)
        loss, metrics = ws.llf_loss(log_prob, y, batch["signals"], self.bounds,
                                    self.config.model.penalty_weight)
        metrics["train_accuracy"] = (jnp.argmax(y, -1) == batch["label"]).astype(jnp.float32)
        return loss, metrics

    def eval_fn(self, params, batch, key):
        """Test accuracy of the sampled prediction and of the majority vote."""
        _, pred = self.predict(params, key, batch["x"])
        mv, _ = ws.majority_vote(batch["signals"])
        return {"accuracy": (pred == batch["label"]).astype(jnp.float32),
                "majority_vote_accuracy": (mv == batch["label"]).astype(jnp.float32)}

    def model_metrics(self, params, key):
        """On the unlabelled training set: accuracy, constraint violations of the prediction."""
        train = self.dataset.train
        x, signals = jnp.asarray(train["x"]), jnp.asarray(train["signals"])
        mean, pred = jax.jit(self.predict)(params, key, x)
        viol = ws.constraint_violations(signals, mean, self.bounds)
        simplex = ws.simplex_violations(mean)
        out = {"train_accuracy_unlabeled": float(jnp.mean(pred == train["label"])),
               "prediction_max_bound_violation": float(jnp.max(viol)),
               "prediction_max_simplex_violation": float(jnp.max(simplex))}
        out.update(self.baselines)
        return out


EXPERIMENT = LabelFlows
