"""A validation split held out of the train split.

Model selection (training length, learning rate, early stopping, a stop rule) must not
look at the test split. Datasets whose source has no validation split get one here: a
fixed fraction of the train rows, chosen by a seeded permutation that does not depend
on the run's seed, so every seed of a sweep (``--seeds``) sees the same three splits.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from likelihood_jax.data.loader import Dataset

#: The permutation seed of the held-out rows (fixed: the split is part of the data).
VALIDATION_SEED = 20261207


def hold_out_validation(dataset: Dataset, fraction: float, *,
                        seed: int = VALIDATION_SEED) -> Dataset:
    """``dataset`` with ``round(fraction * N)`` train rows moved to ``validation``.

    The held-out rows are the first ``n_val`` of
    ``np.random.default_rng(seed).permutation(N)``; both splits keep the rows' original
    order. Every array of the train split is split alike (labels follow their examples).

    Args:
      dataset: a dataset without a validation split.
      fraction: the held-out share, in ``(0, 1)``; at least one row must stay on each side.
      seed: the permutation seed (default :data:`VALIDATION_SEED`, independent of runs).

    Raises:
      ValueError: ``fraction`` outside ``(0, 1)``, a split that would be empty, or a
        dataset that already has a validation split.
    """
    if dataset.validation is not None:
        raise ValueError(f"dataset {dataset.name!r} already has a validation split")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {fraction}")
    n = len(next(iter(dataset.train.values())))
    n_val = int(round(float(fraction) * n))
    if not 0 < n_val < n:
        raise ValueError(f"validation_fraction={fraction} of {n} train rows leaves an empty "
                         f"split ({n_val} validation rows)")
    perm = np.random.default_rng(seed).permutation(n)
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    def take(rows):
        out = {}
        for key, value in dataset.train.items():
            part = np.asarray(value)[rows]
            part.flags.writeable = False
            out[key] = part
        return out

    return dataclasses.replace(dataset, train=take(train_rows), validation=take(val_rows))
