"""Digits labeled by simulated annotators of known confusion matrices (MaDL [P127]).

Every image of ``digits`` (same train/test split) gets a label from each of ``A`` simulated
annotators, observed with probability ``label_prob`` per (image, annotator) on the train
split (always on the test split). Annotator ``a`` reports ``z ~ P_a(. | y)`` with the
confusion matrix of its kind (:func:`annotator_confusions`), in this order:

* ``experts``: symmetric noise, ``P(z = y) = acc``, the rest uniform over the other labels,
  one per accuracy in ``expert_accuracies``;
* ``flippers``: ``P(z = y) = flip_accuracy``, else ``z = (y + 1) mod C`` (class-specific);
* ``spammers``: ``z`` uniform over the ``C`` labels (accuracy ``1 / C``);
* ``correlated``: ``num_correlated`` annotators that share one symmetric-noise annotator's
  label (accuracy ``correlated_accuracy``) with probability ``copy_prob`` and otherwise draw
  their own from the same confusion matrix, so each has that confusion matrix but their
  errors coincide.

Registered as ``digits_annotators`` (:func:`load_digits_annotators`): ``x`` uint8
``(N, 8, 8, 1)``, ``label`` (the true class, int32), ``annotations`` int32 ``(N, A)`` and
``annotation_mask`` float32 ``(N, A)``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def annotator_confusions(num_classes: int = 10, expert_accuracies=(0.9, 0.75, 0.6),
                         num_flippers: int = 2, flip_accuracy: float = 0.6,
                         num_spammers: int = 2, num_correlated: int = 3,
                         correlated_accuracy: float = 0.4) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(confusions (A, C, C) indexed [a, y, z], kinds (A,))`` of the annotators in order.

    Raises:
      ValueError: an accuracy outside ``[0, 1]`` or a negative count.
    """
    c = int(num_classes)
    for name, acc in [("expert_accuracies", a) for a in expert_accuracies] + [
            ("flip_accuracy", flip_accuracy), ("correlated_accuracy", correlated_accuracy)]:
        if not 0.0 <= acc <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {acc}")
    for name, n in (("num_flippers", num_flippers), ("num_spammers", num_spammers),
                    ("num_correlated", num_correlated)):
        if n < 0:
            raise ValueError(f"{name} must be >= 0, got {n}")

    def symmetric(acc):
        return acc * np.eye(c) + (1.0 - acc) / (c - 1) * (1.0 - np.eye(c))

    flip = flip_accuracy * np.eye(c) + (1.0 - flip_accuracy) * np.roll(np.eye(c), 1, axis=1)
    mats = ([symmetric(a) for a in expert_accuracies] + [flip] * num_flippers
            + [np.full((c, c), 1.0 / c)] * num_spammers
            + [symmetric(correlated_accuracy)] * num_correlated)
    kinds = (("expert",) * len(expert_accuracies) + ("flipper",) * num_flippers
             + ("spammer",) * num_spammers + ("correlated",) * num_correlated)
    return np.stack(mats), kinds


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs (N, C)``."""
    u = rng.uniform(size=(len(probs), 1))
    return np.minimum((np.cumsum(probs, axis=1) < u).sum(1), probs.shape[1] - 1)


def simulate_annotations(labels: np.ndarray, confusions: np.ndarray, kinds, copy_prob: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Annotations ``(N, A)``: column ``a`` drawn from ``confusions[a][label]``.

    The correlated annotators copy one shared draw with probability ``copy_prob``.
    """
    ann = np.stack([_draw(rng, confusions[a][labels]) for a in range(len(kinds))], axis=1)
    corr = [a for a, k in enumerate(kinds) if k == "correlated"]
    if corr:
        shared = _draw(rng, confusions[corr[0]][labels])
        copy = rng.uniform(size=(len(labels), len(corr))) < copy_prob
        ann[:, corr] = np.where(copy, shared[:, None], ann[:, corr])
    return ann.astype(np.int32)


def load_digits_annotators(name: str, data_dir: str | None = None,
                           expert_accuracies=(0.9, 0.75, 0.6), num_flippers: int = 2,
                           flip_accuracy: float = 0.6, num_spammers: int = 2,
                           num_correlated: int = 3, correlated_accuracy: float = 0.4,
                           copy_prob: float = 0.9, label_prob: float = 0.5,
                           seed: int = 0) -> data_lib.Dataset:
    """``digits`` with ``annotations`` and ``annotation_mask`` (see the module docstring)."""
    if not 0.0 < label_prob <= 1.0:
        raise ValueError(f"label_prob must lie in (0, 1], got {label_prob}")
    if not 0.0 <= copy_prob <= 1.0:
        raise ValueError(f"copy_prob must lie in [0, 1], got {copy_prob}")
    digits = data_lib.load_dataset("digits", data_dir=data_dir)
    num_classes = int(digits.info.num_classes)
    confusions, kinds = annotator_confusions(num_classes, tuple(expert_accuracies),
                                             int(num_flippers), float(flip_accuracy),
                                             int(num_spammers), int(num_correlated),
                                             float(correlated_accuracy))
    rng = np.random.default_rng(int(seed))

    def split(arrays, observed_prob):
        labels = np.asarray(arrays["label"])
        ann = simulate_annotations(labels, confusions, kinds, float(copy_prob), rng)
        mask = rng.uniform(size=ann.shape) < observed_prob
        mask[np.arange(len(labels)), rng.integers(0, len(kinds), len(labels))] = True
        return {"x": np.asarray(arrays["x"]), "label": labels.astype(np.int32),
                "annotations": ann, "annotation_mask": mask.astype(np.float32)}

    train = split(digits.train, float(label_prob))
    test = split(digits.test, 1.0)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="image", event_shape=tuple(digits.info.event_shape),
        num_levels=digits.info.num_levels, num_classes=num_classes,
        description=f"digits labeled by {len(kinds)} simulated annotators "
                    f"({', '.join(kinds)}), each label observed with probability {label_prob}"))
