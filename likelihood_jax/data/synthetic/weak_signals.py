"""Weak-signal datasets [P134]: region classifiers' class probabilities as weak labels.

The data of label learning flows (Lu, Song, Arachie & Huang, "Weakly Supervised Label
Learning Flows", Neural Networks 2025, arXiv:2302.09649) on an image dataset: its training
split is divided into a small labelled set (``num_labeled`` examples, a permutation drawn
from ``seed``) and the unlabelled rest. The labelled set only builds the weak signals: one
logistic-regression classifier per image region (:data:`REGIONS`: top/bottom rows,
left/right columns, central rows), each seeing only its region's pixels; their class
probabilities on every example are the weak signals ``q_m(x)``, and their error bounds
``b_mk`` are the 5-fold cross-validated expected errors on the labelled set
(:func:`likelihood_jax.flows.weak_supervision`'s estimate, plus ``bound_slack``).

The dataset holds the unlabelled training examples and the test set, each with ``x`` (the
flattened image in [0, 1]), ``signals (M, K)`` and ``label`` (true labels, for evaluation
only); the ``(M, K)`` bounds are the dataset's :attr:`WeakSignalDataset.error_bounds`.
Registered as ``digits_weak_signals`` (:func:`load_digits_weak_signals`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from likelihood_jax.data import loader

__all__ = ["REGIONS", "WeakSignalDataset", "build_weak_signals", "load_digits_weak_signals",
           "weak_signal_dataset"]

REGIONS = {  # (rows, columns) of the 8x8 image each weak classifier sees
    "top": (slice(0, 3), slice(0, 8)),
    "bottom": (slice(5, 8), slice(0, 8)),
    "left": (slice(0, 8), slice(0, 3)),
    "right": (slice(0, 8), slice(5, 8)),
    "center": (slice(3, 5), slice(0, 8)),
}


@dataclasses.dataclass(frozen=True)
class WeakSignalDataset(loader.Dataset):
    """A :class:`~likelihood_jax.data.Dataset` with the weak signals' error bounds.

    Attributes:
      error_bounds: ``(M, K)`` upper bounds of each signal's expected error on each class.
      labeled: the labelled examples the signals were built from (``"x"`` flattened like
        ``train["x"]``, ``"label"``), for the supervised baseline that uses them directly.
    """

    error_bounds: np.ndarray | None = None
    labeled: dict[str, np.ndarray] | None = None


def estimate_error_bounds(signals: np.ndarray, labels_onehot: np.ndarray,
                          slack: float = 0.0) -> np.ndarray:
    """``b_mk = clip(mean_j [q_jmk (1 - y_jk) + (1 - q_jmk) y_jk] + slack, 0, 1)``.

    The expected error of signal ``m`` on class ``k`` under the true labeling of the
    labelled examples (Arachie & Huang's constraint; the same float32 reduction as
    :func:`likelihood_jax.flows.weak_supervision.estimate_error_bounds` without abstentions).

    Args:
      signals: ``(n, M, K)`` signals on the labelled examples.
      labels_onehot: their one-hot labels ``(n, K)``.
      slack: added to every bound.

    Returns:
      ``(M, K)`` float32 bounds.
    """
    import jax
    import jax.numpy as jnp

    with jax.ensure_compile_time_eval():  # concrete even when first loaded under jit
        q = jnp.asarray(signals, jnp.float32)
        y = jnp.asarray(labels_onehot, jnp.float32)[:, None, :]
        cover = jnp.ones(q.shape[:2], q.dtype)
        total = jnp.sum((q * (1.0 - y) + (1.0 - q) * y) * cover[:, :, None], axis=0)
        errors = total / jnp.maximum(jnp.sum(cover, axis=0)[:, None], 1.0)
        return np.asarray(jnp.clip(errors + slack, 0.0, 1.0))


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

    Raises:
        ValueError: an unknown region name.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

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
    bounds = estimate_error_bounds(np.stack(cv_probs, 1).astype(np.float32), onehot, slack)
    return predict, bounds


def weak_signal_dataset(raw: loader.Dataset, *, num_labeled: int, regions: tuple[str, ...],
                        bound_slack: float, seed: int) -> WeakSignalDataset:
    """The weak-signal version of a labelled 8x8 image dataset (see the module docstring).

    Raises:
        ValueError: ``raw`` is not a labelled image dataset, or too few training examples.
    """
    if raw.info.kind != "image" or raw.info.num_classes is None:
        raise ValueError(f"weak signals need a labelled image dataset, got {raw.name!r}")
    if not 0 < num_labeled < len(raw.train["x"]):
        raise ValueError(f"num_labeled must be in (0, {len(raw.train['x'])}), got {num_labeled}")
    k = raw.info.num_classes
    images = raw.train["x"][..., 0].astype(np.float32) / (raw.info.num_levels - 1)
    test_images = raw.test["x"][..., 0].astype(np.float32) / (raw.info.num_levels - 1)
    labels, test_labels = raw.train["label"], raw.test["label"]
    perm = np.random.default_rng(seed).permutation(len(images))
    labeled, unlabeled = perm[:num_labeled], perm[num_labeled:]
    predict, bounds = build_weak_signals(images, labels, labeled, tuple(regions), k,
                                         bound_slack, seed)
    train = {"x": images[unlabeled].reshape(len(unlabeled), -1),
             "signals": predict(images[unlabeled]), "label": labels[unlabeled]}
    test = {"x": test_images.reshape(len(test_images), -1),
            "signals": predict(test_images), "label": test_labels}
    info = loader.DatasetInfo(kind="continuous", event_shape=(train["x"].shape[1],),
                              num_classes=k, description=f"{raw.name} features with weak "
                              f"signals of regions {tuple(regions)}, {num_labeled} labelled "
                              f"examples (seed {seed})")
    labeled_set = {"x": images[labeled].reshape(len(labeled), -1), "label": labels[labeled]}
    return WeakSignalDataset(f"{raw.name}_weak", train, test, info, error_bounds=bounds,
                             labeled=labeled_set)


def load_digits_weak_signals(name: str, data_dir: str, num_labeled: int = 100,
                             regions: tuple[str, ...] = tuple(REGIONS),
                             bound_slack: float = 0.0, seed: int = 0) -> WeakSignalDataset:
    """Loader of ``digits_weak_signals``: :func:`weak_signal_dataset` of ``digits``."""
    del name
    raw = loader.load_dataset("digits", data_dir=data_dir)
    return weak_signal_dataset(raw, num_labeled=num_labeled, regions=tuple(regions),
                               bound_slack=bound_slack, seed=seed)
