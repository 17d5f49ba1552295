"""Label learning flows (LLF): a conditional flow p(y | x) trained inside weak constraints.

The constraint set is the one that weak signals define; training is "inverse" (z -> y).

Lu, Song, Arachie & Huang, "Weakly Supervised Label Learning Flows" (Neural Networks 2025,
arXiv:2302.09649). The math lives in :mod:`likelihood_jax.flows.weak_supervision` (constraint set,
penalty, majority vote) and :mod:`likelihood_jax.flows.conditional` (the conditional flow:
:func:`~likelihood_jax.flows.conditional_realnvp` under a :class:`~likelihood_jax.flows.Flow`,
the context being the features x).

Data: the registered dataset ``digits_weak_signals``
(:mod:`likelihood_jax.data.synthetic.weak_signals`; options in ``config.dataset``): the
digits training split is divided into a small labelled set (``dataset.num_labeled``
examples, drawn with ``dataset.seed``) and the unlabelled rest. The labelled set only builds
the weak signals: one logistic-regression classifier per image region (``dataset.regions``:
top/bottom rows, left/right columns, central rows), each seeing only its region's pixels;
their class probabilities on every example are the weak signals ``q_m(x)``, and their error
bounds ``b_mk`` (the dataset's ``error_bounds``) are the 5-fold cross-validated expected
errors on the labelled set (plus ``dataset.bound_slack``). LLF then trains on the unlabelled
examples with their signals only; true labels are used for evaluation alone.

Training (one step, batch of x): ``z ~ N(0, I_K)``, ``y = f^{-1}(z; x)``,
``loss = -log p(y | x) + lambda * penalty(y)`` (:func:`weak_supervision.llf_loss`). Predict:
draw ``config.model.num_eval_samples`` labelings per x, average, argmax.

Baselines, computed once when first needed and logged by ``model_metrics``: the majority vote
of the weak signals, and a supervised logistic regression on all pixels trained on the
majority-vote labels of the unlabelled set.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LogisticRegression

from likelihood_jax import flows
from likelihood_jax.flows import weak_supervision as ws
from likelihood_jax.train import Experiment


class LabelFlows(Experiment):
    """LLF on a weak-signal dataset (config: ``dataset`` options, ``model``)."""

    headline_metric = "accuracy"

    @functools.cached_property
    def num_classes(self) -> int:
        """K, the number of classes (the length of a labeling y)."""
        return self.dataset.info.num_classes

    @functools.cached_property
    def bounds(self) -> np.ndarray:
        """The weak signals' error bounds ``(M, K)`` (the dataset's ``error_bounds``).

        A host array, so that first reading it inside a jitted function caches no tracer.
        """
        bounds = getattr(self.dataset, "error_bounds", None)
        if bounds is None:
            raise ValueError(f"label_flows needs a weak-signal dataset with error bounds "
                             f"(e.g. 'digits_weak_signals'), got {self.dataset.name!r}")
        return np.asarray(bounds, np.float32)

    def make_model(self, config, info) -> flows.Flow:
        """``p(y | x)``: a conditional RealNVP on labelings ``y (K,)``, context x."""
        if info.num_classes is None:
            raise ValueError("label_flows needs a dataset with labels (info.num_classes)")
        k, m = info.num_classes, config.model
        return flows.Flow(flows.conditional_realnvp(k, m.num_layers, tuple(m.hidden_dims),
                                                    log_scale_bound=m.log_scale_bound), (k,))

    @property
    def flow(self) -> flows.Flow:
        """The run's conditional flow (:attr:`model`)."""
        return self.model

    @functools.cached_property
    def baselines(self) -> dict[str, float]:
        """Majority vote of the signals, logistic regressions on its labels and on the labelled set.

        ``labeled_logreg_test_accuracy`` is the supervised baseline that skips the weak
        signals: a logistic regression on the ``dataset.num_labeled`` labelled images the
        signals were built from.
        """
        train, test = self.dataset.train, self.dataset.test

        @jax.jit  # one compilation instead of one per primitive
        def votes(train_signals, test_signals):
            mv_train, _ = ws.majority_vote(train_signals)
            mv_test, _ = ws.majority_vote(test_signals)
            onehot = jax.nn.one_hot(mv_train, self.num_classes)
            return mv_train, mv_test, jnp.max(ws.constraint_violations(
                train_signals, onehot, self.bounds))

        mv_train, mv_test, violation = jax.device_get(votes(train["signals"], test["signals"]))
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(train["x"], mv_train)
        labeled = self.dataset.labeled
        supervised = LogisticRegression(C=1.0, max_iter=2000).fit(labeled["x"], labeled["label"])
        return {
            "labeled_logreg_test_accuracy": float(np.mean(supervised.predict(test["x"]) ==
                                                          test["label"])),
            "majority_vote_train_accuracy": float(np.mean(mv_train == train["label"])),
            "majority_vote_test_accuracy": float(np.mean(mv_test == test["label"])),
            "weak_label_logreg_test_accuracy": float(np.mean(clf.predict(test["x"]) ==
                                                            test["label"])),
            "majority_vote_max_violation": float(violation),
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

    @functools.cached_property
    def _train_set_metrics(self):
        """Jitted (one compilation): accuracy, max bound and simplex violations of predict."""
        def metrics(params, key, x, signals, labels):
            mean, pred = self.predict(params, key, x)
            viol = ws.constraint_violations(signals, mean, self.bounds)
            return (jnp.mean(pred == labels), jnp.max(viol),
                    jnp.max(ws.simplex_violations(mean)))
        return jax.jit(metrics)

    def model_metrics(self, params, key):
        """On the unlabelled training set: accuracy, constraint violations of the prediction."""
        train = self.dataset.train
        accuracy, viol, simplex = jax.device_get(self._train_set_metrics(
            params, key, train["x"], train["signals"], train["label"]))
        out = {"train_accuracy_unlabeled": float(accuracy),
               "prediction_max_bound_violation": float(viol),
               "prediction_max_simplex_violation": float(simplex)}
        out.update(self.baselines)
        return out


EXPERIMENT = LabelFlows
