"""Class-conditional incremental GMMs [P138, P211] on digits against batch EM.

Pinto & Engel (2015), "A Fast Incremental Gaussian Mixture Model" [P138], and "Scalable and
Incremental Learning of Gaussian Mixture Models" [P211]. The mixture code is
:mod:`likelihood_jax.mixtures.incremental` (precision matrices and log-determinants kept by
rank-one updates).

A :class:`~likelihood_jax.train.procedure.Procedure`: both methods are closed-form or EM fits,
with no gradient loop. Per seed:

1. ``digits`` pixels (scaled to [0, 1]) are split into fit / validation rows (``data.
   validation_fraction`` of the training split, by the seed), projected on the first
   ``data.pca_dim`` principal components of the fit rows and standardized.
2. **Incremental**: one mixture per class, each fed its class's fit rows once, in a random
   order (the seed), with ``sigma_ini = delta * std`` for each ``delta`` of
   ``incremental.deltas``; the ``delta`` with the best validation accuracy is kept (a fit
   whose covariances became indefinite, NaN log-determinants, is never kept). Once per
   covariance recursion of ``incremental.recursions``: ``"igmn"`` (the papers') and
   ``"exact"`` (metrics ``igmn_*``, ``exact_*``).
3. **Batch EM**: scikit-learn's ``GaussianMixture`` (full covariances, k-means start by the
   seed) per class, ``n_components`` from ``baseline.components`` by validation accuracy.
4. Test accuracy of ``argmax_c log p(c) + log p(x | c)`` and the class-conditional test NLL
   ``-mean log p(x | y)`` (nats, PCA space) of both.

``results.json`` holds the per-seed numbers; the returned metrics are their means (headline:
``igmn_accuracy``, the papers' recursion) and the half-widths of their 95% intervals.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.mixture import GaussianMixture

from likelihood_jax.metrics import format_interval, mean_confidence_interval
from likelihood_jax.mixtures import incremental
from likelihood_jax.train.procedure import Procedure


def pca_features(fit: np.ndarray, others: list[np.ndarray], dim: int) -> list[np.ndarray]:
    """Rows projected on the first ``dim`` principal components of ``fit``, standardized."""
    mean = fit.mean(0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    project = [(a - mean) @ vt[:dim].T for a in [fit, *others]]
    scale = project[0].std(0)
    return [(p / scale).astype(np.float32) for p in project]


def split(dataset, seed: int, validation_fraction: float):
    """``(x_fit, y_fit, x_val, y_val, x_test, y_test)``: pixels in [0, 1], flattened."""
    x = np.asarray(dataset.train["x"], np.float32).reshape(len(dataset.train["x"]), -1) / 16
    y = np.asarray(dataset.train["label"])
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(validation_fraction * len(x)))
    val, fit = perm[:n_val], perm[n_val:]
    x_test = np.asarray(dataset.test["x"], np.float32).reshape(len(dataset.test["x"]), -1) / 16
    return x[fit], y[fit], x[val], y[val], x_test, np.asarray(dataset.test["label"])


def scores_and_nll(log_probs: np.ndarray, log_prior: np.ndarray, labels: np.ndarray):
    """``(accuracy, -mean log p(x | y))`` from ``log p(x | c)`` of shape ``(N, C)``."""
    accuracy = float(np.mean(np.argmax(log_probs + log_prior, 1) == labels))
    return accuracy, float(-np.mean(log_probs[np.arange(len(labels)), labels]))


class IncrementalDigits(Procedure):
    """Incremental GMM classifier vs scikit-learn's batch-EM GMM classifier, over seeds."""

    headline_metric = "igmn_accuracy"

    def incremental_fit(self, x, y, delta, seed, recursion):
        """One single-pass mixture per class (stream order drawn from ``seed``)."""
        cfg = self.config.incremental
        order = np.random.default_rng(seed).permutation(len(x))
        dim = x.shape[1]
        return incremental.class_conditional_fit(
            x[order], y[order], 10, int(cfg.capacity),
            incremental.initial_variance(x, delta),
            threshold=incremental.novelty_threshold(dim, float(cfg.tau)),
            min_count=float(cfg.min_count_per_dim) * dim,
            min_age=float(cfg.min_age_per_dim) * dim, recursion=recursion)

    def run_seed(self, seed: int) -> dict[str, float]:
        """Selection on validation, then test numbers of both methods for one seed."""
        cfg = self.config
        x_fit, y_fit, x_val, y_val, x_test, y_test = split(
            self.dataset, seed, float(cfg.data.validation_fraction))
        x_fit, x_val, x_test = pca_features(x_fit, [x_val, x_test], int(cfg.data.pca_dim))
        log_prior = np.log(np.bincount(y_fit, minlength=10) / len(y_fit))
        score = jax.jit(jax.vmap(incremental.class_conditional_log_probs, (None, 0)))

        out = {}
        for recursion in cfg.incremental.recursions:
            best = None
            for delta in cfg.incremental.deltas:
                states = self.incremental_fit(x_fit, y_fit, float(delta), seed, recursion)
                val = scores_and_nll(np.asarray(score(states, jnp.asarray(x_val))), log_prior,
                                     y_val)
                test = scores_and_nll(np.asarray(score(states, jnp.asarray(x_test))),
                                      log_prior, y_test)
                finite = np.all(np.isfinite(np.asarray(states.log_dets))) and np.isfinite(
                    val[1]) and np.isfinite(test[1])  # no indefinite covariance
                if finite and (best is None or val[0] > best[0]):
                    best = (val[0], float(delta), states, test)
            if best is None:  # every delta gave an indefinite covariance: a failed seed
                out.update({f"{recursion}_{name}": float("nan") for name in
                            ("accuracy", "nll", "delta", "components")})
                out[f"{recursion}_failed"] = 1.0
                continue
            _, delta, states, (acc, nll) = best
            active = np.asarray(states.active)
            out.update({f"{recursion}_accuracy": acc, f"{recursion}_nll": nll,
                        f"{recursion}_delta": delta, f"{recursion}_failed": 0.0,
                        f"{recursion}_components": float(np.mean(np.sum(active, 1)))})

        def sklearn_fit(k):
            return [GaussianMixture(int(k), covariance_type="full",
                                    reg_covar=float(cfg.baseline.reg_covar), random_state=seed)
                    .fit(x_fit[y_fit == c]) for c in range(10)]

        def sklearn_log_probs(models, x):
            return np.stack([m.score_samples(x) for m in models], 1)

        fits = {int(k): sklearn_fit(k) for k in cfg.baseline.components}
        k_best = max(fits, key=lambda k: scores_and_nll(sklearn_log_probs(fits[k], x_val),
                                                        log_prior, y_val)[0])
        em_acc, em_nll = scores_and_nll(sklearn_log_probs(fits[k_best], x_test), log_prior,
                                        y_test)
        return {**out, "batch_em_accuracy": em_acc, "batch_em_nll": em_nll,
                "batch_em_components": float(k_best)}

    def run(self, workdir: str) -> dict[str, float]:
        """Every seed; per-seed numbers in ``results.json``; means and intervals returned."""
        per_seed = [self.run_seed(int(s)) for s in self.config.seeds]
        metrics, table = {}, {}
        for name in per_seed[0]:  # over the seeds where the fit succeeded
            values = [r[name] for r in per_seed if np.isfinite(r[name])]
            if len(values) < 2:  # left out of the metrics (they must be finite)
                table[name] = f"failed on {len(per_seed) - len(values)} seeds"
                continue
            metrics[name], metrics[name + "_interval"] = mean_confidence_interval(values)
            table[name] = format_interval(values)
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"per_seed": per_seed, "summary": table}, f, indent=2)
        print(json.dumps(table, indent=2), flush=True)
        return metrics


EXPERIMENT = IncrementalDigits
