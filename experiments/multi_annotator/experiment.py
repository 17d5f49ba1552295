"""Multi-annotator deep learning (MaDL) on digits with simulated annotators [P127].

Herde, Huseljic & Sick (TMLR 2023), "Multi-annotator Deep Learning: A Probabilistic
Framework for Classification", arXiv:2304.02539. The likelihood is in
:mod:`likelihood_jax.mixtures.annotators`; the data (``digits_annotators``: experts,
class flippers, spammers and a group of correlated annotators of known confusion matrices,
each label observed with probability ``dataset.label_prob``) in
:mod:`likelihood_jax.data.synthetic.annotators`.

:class:`AnnotatorNet`: an MLP ground-truth model ``p(y | x)`` and a class-dependent
annotator-performance model, ``P_a(z | y) = softmax(Dense(e_a) + eta I)`` from a learned
annotator embedding ``e_a`` (``eta = model.diagonal_init`` starts every annotator better
than chance, MaDL's prior). ``config.method``:

* ``madl``: ``-sum_a m_a w_a log sum_y p(y | x) P_a(z_a | y)``, with MaDL's annotator
  weights ``w_a`` from the (stop-gradient) embeddings when ``config.weighted``;
* ``majority_vote``: cross-entropy on the majority-vote label (the baseline);
* ``true_labels``: cross-entropy on the true labels (the ceiling).

Evaluation: test ``accuracy`` against the true labels (headline) and, set-level, the mean
absolute error of the estimated annotator accuracies ``sum_y p(y) P_a(y | y)`` against the
true ones (``annotator_acc_mae``), beside the majority-vote estimate (agreement of each
annotator with the majority vote on the training split, ``mv_annotator_acc_mae``).
``annotators.json`` holds the per-annotator values.
"""

from __future__ import annotations

import functools
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.synthetic import annotators as annotator_data
from likelihood_jax.mixtures import annotators
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment

METHODS = ("madl", "majority_vote", "true_labels")


class AnnotatorNet(nn.Module):
    """``x (B, D) -> (class logits (B, C), confusion logits (A, C, C), embeddings (A, E))``."""

    num_classes: int
    num_annotators: int
    hidden_dims: tuple[int, ...]
    embed_dim: int
    diagonal_init: float

    @nn.compact
    def __call__(self, x):
        """The ground-truth logits and every annotator's confusion logits ``[a, y, z]``."""
        c = self.num_classes
        class_logits = MLP(self.hidden_dims, c)(x)
        emb = self.param("annotator_embeddings", nn.initializers.normal(1.0),
                         (self.num_annotators, self.embed_dim))
        confusion = nn.Dense(c * c, kernel_init=nn.initializers.normal(0.01))(emb)
        confusion = confusion.reshape(-1, c, c) + self.diagonal_init * jnp.eye(c)
        return class_logits, confusion, emb


class MultiAnnotator(Experiment):
    """MaDL, majority vote or true labels on ``digits_annotators`` (module docstring)."""

    headline_metric = "accuracy"

    def __init__(self, config, dataset=None):
        if config.method not in METHODS:
            raise ValueError(f"unknown method {config.method!r}; choose one of {METHODS}")
        super().__init__(config, dataset=dataset)

    @functools.cached_property
    def num_annotators(self) -> int:
        """``A``, the number of simulated annotators."""
        return int(self.dataset.train["annotations"].shape[1])

    def make_model(self, config, info):
        """The :class:`AnnotatorNet` for the dataset's classes and annotators."""
        m = config.model
        return AnnotatorNet(int(info.num_classes), self.num_annotators,
                            tuple(m.hidden_dims), int(m.embed_dim), float(m.diagonal_init))

    def preprocess(self, batch, key):
        """Pixels to ``[0, 1]``, flattened."""
        x = jnp.asarray(batch["x"], jnp.float32)
        return {**batch, "x": x.reshape(x.shape[0], -1) / (self.dataset.info.num_levels - 1)}

    def init_params(self, key, batch):
        """The network's parameters (annotator embeddings included)."""
        x = self.preprocess(batch, key)["x"]
        return self.model.init(key, x[:1])

    def loss_fn(self, params, batch, key, step):
        """The loss of ``config.method`` per example; the true-label accuracy as a metric."""
        class_logits, confusion, emb = self.model.apply(params, batch["x"])
        c = class_logits.shape[-1]
        if self.config.method == "madl":
            weights = None
            if self.config.weighted:
                weights = annotators.annotator_weights(jax.lax.stop_gradient(emb),
                                                       self.config.bandwidth)
            loss = jax.vmap(annotators.multi_annotator_nll, in_axes=(0, None, 0, 0, None))(
                class_logits, confusion, batch["annotations"], batch["annotation_mask"],
                weights)
        else:
            target = (batch["label"] if self.config.method == "true_labels" else
                      annotators.majority_vote(batch["annotations"], batch["annotation_mask"],
                                               c))
            loss = -jnp.take_along_axis(jax.nn.log_softmax(class_logits), target[:, None],
                                        axis=1)[:, 0]
        correct = jnp.argmax(class_logits, axis=-1) == batch["label"]
        return loss, {"accuracy": correct.astype(jnp.float32)}

    # -- annotator accuracies ---------------------------------------------------

    @functools.cached_property
    def true_accuracies(self) -> np.ndarray:
        """``sum_y p(y) P_a(y | y)`` of the simulated annotators (``p`` the train frequencies)."""
        opts = {k: v for k, v in self.config.dataset.items()
                if k in ("expert_accuracies", "num_flippers", "flip_accuracy", "num_spammers",
                         "num_correlated", "correlated_accuracy")}
        confusions, _ = annotator_data.annotator_confusions(int(self.dataset.info.num_classes),
                                                            **opts)
        prior = np.bincount(self.dataset.train["label"], minlength=confusions.shape[1])
        return np.asarray(annotators.annotator_accuracies(confusions, prior / prior.sum()))

    @functools.cached_property
    def majority_vote_accuracies(self) -> np.ndarray:
        """Each annotator's agreement with the majority vote on the training split."""
        train = self.dataset.train
        vote = np.asarray(annotators.majority_vote(train["annotations"],
                                                   train["annotation_mask"],
                                                   int(self.dataset.info.num_classes)))
        agree = (train["annotations"] == vote[:, None]) * train["annotation_mask"]
        return agree.sum(0) / train["annotation_mask"].sum(0)

    def estimated_accuracies(self, params) -> np.ndarray:
        """``sum_y p(y) P_a(y | y)`` of the model, ``p(y)`` the mean predicted test class."""
        x = self.preprocess(dict(self.dataset.test), None)["x"]
        class_logits, confusion, _ = self.model.apply(params, x)
        prior = jnp.mean(jax.nn.softmax(class_logits), axis=0)
        return np.asarray(annotators.annotator_accuracies(jax.nn.softmax(confusion, -1), prior))

    def model_metrics(self, params, key):
        """Mean absolute errors of the estimated annotator accuracies (MaDL, majority vote)."""
        out = {"mv_annotator_acc_mae": float(np.mean(np.abs(
            self.majority_vote_accuracies - self.true_accuracies)))}
        if self.config.method == "madl":
            out["annotator_acc_mae"] = float(np.mean(np.abs(
                self.estimated_accuracies(params) - self.true_accuracies)))
        return out

    def write_artifacts(self, params, workdir):
        """``annotators.json``: per-annotator accuracies, true and estimated."""
        record = {"true": self.true_accuracies.tolist(),
                  "majority_vote": self.majority_vote_accuracies.tolist()}
        if self.config.method == "madl":
            record["madl"] = self.estimated_accuracies(params).tolist()
        with open(os.path.join(workdir, "annotators.json"), "w") as f:
            json.dump(record, f, indent=2)


EXPERIMENT = MultiAnnotator
