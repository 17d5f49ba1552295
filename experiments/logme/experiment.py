"""LogME ranks feature extractors of ``digits`` against linear-probe accuracy [P204].

Bassignana, Müller-Eberstein, Zhang & Plank (2022), "Evidence > Intuition: Transferability
Estimation for Encoder Selection" (arXiv:2210.11255), using LogME (You et al. 2021,
arXiv:2102.11005), :func:`likelihood_jax.metrics.logme`.

A :class:`~likelihood_jax.train.procedure.Procedure`. For each of ``study.num_seeds`` seeds
the training split of ``digits`` (pixels / 16) is shuffled into three disjoint parts: an
``encoder`` part (``study.num_encoder`` rows: the "pre-training" data the extractors are
fitted on), a ``probe`` part (``study.num_probe`` rows: the target task's training set) and
a ``validation`` part (the rest). Each extractor of ``study.extractors`` maps images to
features:

* ``raw``: the 64 pixels;  ``pca<k>``: the top ``k`` principal components of the encoder
  part;  ``random<k>``: a Gaussian random projection to ``k`` dimensions;
* ``mlp<h>``: the ReLU hidden layer (width ``h``) of a classifier trained on the encoder
  part (full-batch AdamW, ``study.mlp_steps`` steps).

On the probe part each extractor gets its LogME, its H-score (Bao et al. 2019, the
baseline) and its dimension (the "more features is better" intuition); its linear-probe
accuracy is that of scikit-learn's ``LogisticRegression`` (standardized features, ``C`` of
``study.probe_c_grid`` chosen on the validation part, refitted on the probe part) on the
test split. Per seed: Kendall's tau and Spearman's rho (scipy) between each score and the
test accuracy over the extractors, and the regret of LogME's top pick (best accuracy minus
the accuracy of the extractor LogME ranks first). Writes ``ranking.json`` and
``ranking.md``; the headline ``kendall_tau`` is LogME's tau, averaged over seeds.

    python -m likelihood_jax.main --config experiments/logme/configs/digits.py --workdir runs/logme
"""

from __future__ import annotations

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from likelihood_jax import metrics
from likelihood_jax.train.procedure import Procedure
from likelihood_jax.variational import transferability as tr

SCORES = ("logme", "h_score", "dimension")
_EXTRACTOR = re.compile(r"^(raw|pca|random|mlp)(\d*)$")


def parse_extractor(name: str) -> tuple[str, int]:
    """``"pca8" -> ("pca", 8)``; ``"raw" -> ("raw", 0)``; anything else is a ValueError."""
    match = _EXTRACTOR.match(name)
    if match is None or (match[1] == "raw") != (match[2] == ""):
        raise ValueError(f"study.extractors: {name!r} is not raw, pca<k>, random<k> or mlp<h>")
    return match[1], int(match[2] or 0)


def extract(name: str, key, encoder: tuple[np.ndarray, np.ndarray], splits, study
            ) -> list[np.ndarray]:
    """The features of each of ``splits`` (``(N, 64)`` arrays) under extractor ``name``."""
    kind, size = parse_extractor(name)
    x_enc, y_enc = encoder
    if kind == "raw":
        out = splits
    elif kind == "pca":
        out = [tr.pca_features(x_enc, x, size) for x in splits]
    elif kind == "random":
        out = [tr.random_projection_features(key, x, size) for x in splits]
    else:
        params = tr.fit_mlp(key, x_enc, y_enc, num_classes=10, hidden=size,
                            num_steps=study.mlp_steps, learning_rate=study.mlp_lr)
        out = [tr.mlp_hidden_features(params, x) for x in splits]
    return [np.asarray(f, np.float32) for f in out]


def pad_columns(features: np.ndarray, width: int) -> np.ndarray:
    """``features`` with zero columns appended up to ``width`` (LogME and H-score unchanged)."""
    return np.pad(features, ((0, 0), (0, width - features.shape[1])))


def probe_accuracy(train, val, test, c_grid) -> float:
    """Test accuracy of logistic regression with ``C`` chosen on validation accuracy."""
    scaler = StandardScaler().fit(train[0])
    fit = [LogisticRegression(C=c, max_iter=500).fit(scaler.transform(train[0]), train[1])
           for c in c_grid]
    best = max(fit, key=lambda m: m.score(scaler.transform(val[0]), val[1]))
    return float(best.score(scaler.transform(test[0]), test[1]))


def rank_agreement(score: np.ndarray, accuracy: np.ndarray) -> dict[str, float]:
    """Kendall's tau and Spearman's rho of ``score`` against ``accuracy`` (scipy)."""
    return {"kendall_tau": float(stats.kendalltau(score, accuracy).statistic),
            "spearman": float(stats.spearmanr(score, accuracy).statistic)}


def _interval(values) -> str:
    """``format_interval`` for several seeds, the plain value for one."""
    values = list(values)
    return metrics.format_interval(values) if len(values) > 1 else f"{values[0]:.3f} (n=1)"


class LogMERanking(Procedure):
    """Scores and linear-probe accuracies of every extractor (see the module docstring)."""

    headline_metric = "kendall_tau"

    def run_seed(self, seed: int, score_fns) -> dict[str, np.ndarray]:
        """One seed's scores and test accuracies, each ``(num_extractors,)``."""
        study = self.config.study
        scale = 1.0 / 16.0
        x = np.asarray(self.dataset.train["x"], np.float32).reshape(-1, 64) * scale
        y = np.asarray(self.dataset.train["label"], np.int32)
        x_test = np.asarray(self.dataset.test["x"], np.float32).reshape(-1, 64) * scale
        y_test = np.asarray(self.dataset.test["label"], np.int32)
        perm = np.random.default_rng(seed).permutation(len(y))
        enc, probe = perm[:study.num_encoder], perm[study.num_encoder:][:study.num_probe]
        val = perm[study.num_encoder + study.num_probe:]
        out = {k: [] for k in SCORES + ("accuracy",)}
        for i, name in enumerate(study.extractors):
            key = jax.random.fold_in(jax.random.key(seed), i)
            f_probe, f_val, f_test = extract(name, key, (x[enc], y[enc]),
                                             [x[probe], x[val], x_test], study)
            padded = jnp.asarray(pad_columns(f_probe, study.pad_width))
            out["logme"].append(float(score_fns["logme"](padded, y[probe])))
            out["h_score"].append(float(score_fns["h_score"](padded, y[probe])))
            out["dimension"].append(float(f_probe.shape[1]))
            out["accuracy"].append(probe_accuracy((f_probe, y[probe]), (f_val, y[val]),
                                                  (f_test, y_test), study.probe_c_grid))
        return {k: np.asarray(v) for k, v in out.items()}

    def run(self, workdir: str) -> dict[str, float]:
        """Every seed; writes ranking.json and ranking.md; returns the mean agreements."""
        study = self.config.study
        score_fns = {
            "logme": jax.jit(lambda f, y: metrics.logme(f, y, num_classes=10)),
            "h_score": jax.jit(lambda f, y: tr.h_score(f, y, 10)),
        }
        seeds = [self.config.seed + s for s in range(study.num_seeds)]
        runs = [self.run_seed(seed, score_fns) for seed in seeds]
        agreement = {score: [rank_agreement(r[score], r["accuracy"]) for r in runs]
                     for score in SCORES}
        regret = [float(r["accuracy"].max() - r["accuracy"][np.argmax(r["logme"])])
                  for r in runs]
        names = list(study.extractors)
        rows = ["| extractor | dim | LogME | H-score | probe test accuracy |",
                "|---|---|---|---|---|"]
        rows += [f"| {name} | {int(runs[0]['dimension'][i])} | "
                 + " | ".join(_interval([r[k][i] for r in runs])
                              for k in ("logme", "h_score", "accuracy")) + " |"
                 for i, name in enumerate(names)]
        rows += ["", "| score | Kendall tau | Spearman rho |", "|---|---|---|"]
        rows += [f"| {score} | " + " | ".join(_interval([a[m] for a in agreement[score]])
                                             for m in ("kendall_tau", "spearman")) + " |"
                 for score in SCORES]
        rows += ["", f"LogME top-1 regret (accuracy): {_interval(regret)}"]
        with open(os.path.join(workdir, "ranking.json"), "w") as f:
            json.dump({"extractors": names, "seeds": seeds, "regret": regret,
                       "per_seed": [{k: v.tolist() for k, v in r.items()} for r in runs],
                       "agreement": agreement}, f, indent=2)
        with open(os.path.join(workdir, "ranking.md"), "w") as f:
            f.write("\n".join(rows) + "\n")
        print("\n".join(rows), flush=True)
        result = {"top1_regret": float(np.mean(regret))}
        for score in SCORES:
            prefix = "" if score == "logme" else f"{score}_"
            for m in ("kendall_tau", "spearman"):
                result[prefix + m] = float(np.mean([a[m] for a in agreement[score]]))
        return result


EXPERIMENT = LogMERanking
