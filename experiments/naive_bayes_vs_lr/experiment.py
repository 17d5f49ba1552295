"""Naive Bayes vs logistic regression: test error against the number of samples [P094].

Zheng, Wu, Bao, Cao, Li & Zhu (ICML 2023), "Revisiting Discriminative vs. Generative
Classifiers: Theory and Implications", arXiv:2302.02334. The fits are in
:mod:`likelihood_jax.mixtures.naive_bayes`.

A :class:`~likelihood_jax.train.procedure.Procedure` (no training loop). The training split
is cut into a validation set (``study.num_validation`` rows) and a pool; for every seed and
every size ``n`` of ``study.sizes`` a random subset of ``n`` pool rows (one row of each
class first, so that every class is seen) is fitted by

* ``nb``: Gaussian naive Bayes, per-class variances (scikit-learn's ``GaussianNB``);
* ``nb_shared``: Gaussian naive Bayes with one variance per feature (a linear classifier,
  the hypothesis class of logistic regression);
* ``lr``: multinomial logistic regression (L-BFGS, ``study.lbfgs_steps`` steps).

Each method's one hyperparameter (naive Bayes ``var_smoothing``, logistic regression
``l2``) is chosen from its grid by the validation error. All subsets of all seeds are fitted
by one compiled program (``jax.vmap`` over 0/1 example weights). Writes ``curve.json`` and
``curve.md`` (mean +- 95% interval of the test error over seeds, per ``n``) into the workdir;
the headline ``crossover_n`` is the smallest ``n`` from which logistic regression's mean test
error stays below the shared-variance naive Bayes's (0: never within ``study.sizes``).

    python -m likelihood_jax.main --config experiments/naive_bayes_vs_lr/configs/simulation.py \
        --workdir runs/nb_vs_lr
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics
from likelihood_jax.mixtures import naive_bayes as nb
from likelihood_jax.train.procedure import Procedure

METHODS = ("nb", "nb_shared", "lr")


def features(arrays: dict, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x (N, D) float32 * scale, label (N,))`` of a split (images are flattened)."""
    x = np.asarray(arrays["x"], np.float32).reshape(len(arrays["x"]), -1) * scale
    return x, np.asarray(arrays["label"], np.int32)


def subset_masks(labels: np.ndarray, sizes, num_classes: int, seed: int) -> np.ndarray:
    """0/1 masks ``(len(sizes), N)``: the first ``n`` rows of one seeded order per size.

    The order is a permutation of the rows with one row of each class moved to the front,
    so every subset of ``n >= num_classes`` rows holds every class; the subsets are nested.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    _, first = np.unique(labels[order], return_index=True)
    if len(first) != num_classes:
        raise ValueError(f"the pool holds {len(first)} of the {num_classes} classes")
    order = np.concatenate([order[first], np.delete(order, first)])
    masks = np.zeros((len(sizes), len(labels)), np.float32)
    for i, n in enumerate(sizes):
        masks[i, order[:n]] = 1.0
    return masks


def make_fit_all(x_pool, y_pool, x_val, y_val, x_test, y_test, num_classes, study):
    """A jitted ``masks (..., N_pool) -> {method: test error (...)}`` (validation-chosen)."""
    var_grid = jnp.asarray(study.var_smoothing_grid, jnp.float32)
    l2_grid = jnp.asarray(study.l2_grid, jnp.float32)

    def errors_nb(w, shared):
        def one(var_smoothing):
            params = nb.gaussian_naive_bayes_fit(x_pool, y_pool, num_classes, weights=w,
                                                 shared_variance=shared,
                                                 var_smoothing=var_smoothing)
            return jnp.stack([
                nb.classification_error(nb.gaussian_naive_bayes_log_joint(xs, *params), ys)
                for xs, ys in ((x_val, y_val), (x_test, y_test))])
        return jax.vmap(one)(var_grid)  # (grid, 2): validation, test

    def errors_lr(w):
        def one(l2):
            kernel, bias = nb.logistic_regression_fit(x_pool, y_pool, num_classes, weights=w,
                                                      l2=l2, num_steps=study.lbfgs_steps)
            return jnp.stack([nb.classification_error(xs @ kernel + bias, ys)
                              for xs, ys in ((x_val, y_val), (x_test, y_test))])
        return jax.vmap(one)(l2_grid)

    def chosen(errs):  # the test error of the grid point with the lowest validation error
        return errs[jnp.argmin(errs[:, 0]), 1]

    def fit_one(w):
        return {"nb": chosen(errors_nb(w, False)), "nb_shared": chosen(errors_nb(w, True)),
                "lr": chosen(errors_lr(w))}

    return jax.jit(lambda masks: jax.vmap(jax.vmap(fit_one))(masks))


def crossover(nb_means, lr_means, sizes) -> int:
    """The smallest ``n`` from which ``lr_means < nb_means`` at every larger size (0: none)."""
    below = np.asarray(lr_means) < np.asarray(nb_means)
    for i in range(len(sizes)):
        if below[i:].all():
            return int(sizes[i])
    return 0


class NaiveBayesVsLR(Procedure):
    """The learning curves of naive Bayes and logistic regression (see the module docstring)."""

    headline_metric = "crossover_n"

    def run(self, workdir: str) -> dict[str, float]:
        """Fits every subset; writes curve.json and curve.md; returns the per-n mean errors."""
        study = self.config.study
        num_classes = int(self.dataset.info.num_classes)
        x_train, y_train = features(self.dataset.train, study.feature_scale)
        x_test, y_test = features(self.dataset.test, study.feature_scale)
        perm = np.random.default_rng(self.config.seed).permutation(len(y_train))
        val, pool = perm[:study.num_validation], perm[study.num_validation:]
        sizes = tuple(int(n) for n in study.sizes)
        if max(sizes) > len(pool) or min(sizes) < num_classes:
            raise ValueError(f"study.sizes must lie in [{num_classes}, {len(pool)}] (classes, "
                             f"pool rows), got {sizes}")
        masks = np.stack([subset_masks(y_train[pool], sizes, num_classes,
                                       self.config.seed + 1 + s)
                          for s in range(study.num_seeds)])
        fit_all = make_fit_all(x_train[pool], y_train[pool], x_train[val], y_train[val],
                               x_test, y_test, num_classes, study)
        errors = {k: np.asarray(v) for k, v in fit_all(jnp.asarray(masks)).items()}  # (S, M)
        curve = {"sizes": list(sizes), "seeds": int(study.num_seeds),
                 "test_error": {k: v.tolist() for k, v in errors.items()}}
        means = {k: [metrics.mean_confidence_interval(v[:, i])[0] for i in range(len(sizes))]
                 for k, v in errors.items()}
        curve["crossover_n"] = crossover(means["nb_shared"], means["lr"], sizes)
        curve["crossover_n_per_class_nb"] = crossover(means["nb"], means["lr"], sizes)
        rows = ["| n | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
        rows += [f"| {n} | " + " | ".join(metrics.format_interval(errors[k][:, i])
                                          for k in METHODS) + " |"
                 for i, n in enumerate(sizes)]
        with open(os.path.join(workdir, "curve.json"), "w") as f:
            json.dump(curve, f, indent=2)
        with open(os.path.join(workdir, "curve.md"), "w") as f:
            f.write("\n".join(rows) + "\n")
        print("\n".join(rows), flush=True)
        out = {"crossover_n": curve["crossover_n"],
               "crossover_n_per_class_nb": curve["crossover_n_per_class_nb"]}
        for k in METHODS:
            out.update({f"{k}_error_n{n}": means[k][i] for i, n in enumerate(sizes)})
        return out


EXPERIMENT = NaiveBayesVsLR
