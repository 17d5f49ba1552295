"""Deterministic in-memory batching: the batch of a step is a function of (seed, step).

The training data order is an endless stream made of epochs. Epoch ``e`` is the
permutation ``np.random.default_rng((seed, e)).permutation(N)`` of the ``N``
examples, and the global batch of step ``s`` is the slice ``[s*B, (s+1)*B)`` of
the concatenated stream, so a batch may straddle two epochs (``B <= N``).
Nothing depends on earlier calls, so a resumed run gets exactly the batches it
would have got without the interruption, and every host of a multi-host job
computes the same global batch and keeps its own contiguous share.
"""

from __future__ import annotations

import functools
import operator
from typing import Mapping

import numpy as np

__all__ = ["batch_at_step", "epoch_permutation", "num_examples"]


@functools.lru_cache(maxsize=8)
def _cached_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    perm = np.random.default_rng((seed, epoch)).permutation(n)
    perm.flags.writeable = False
    return perm


def _check_nonnegative_int(value, what: str) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}.") from None
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}.")
    return value


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the ``n`` examples in epoch ``epoch`` of the stream of ``seed``.

    Args:
      seed: Non-negative integer data seed.
      epoch: Non-negative epoch number.
      n: Number of examples.

    Returns:
      A read-only int64 array, ``np.random.default_rng((seed, epoch)).permutation(n)``.
    """
    seed = _check_nonnegative_int(seed, "seed")
    epoch = _check_nonnegative_int(epoch, "epoch")
    return _cached_permutation(seed, epoch, _check_nonnegative_int(n, "n"))


def num_examples(arrays: Mapping[str, np.ndarray]) -> int:
    """The common leading dimension of ``arrays``.

    Args:
      arrays: A non-empty mapping of arrays that share their first dimension.

    Returns:
      The number of examples ``N``.

    Raises:
      ValueError: If ``arrays`` is empty, holds a scalar, or the leading
        dimensions differ.
    """
    if not arrays:
        raise ValueError("arrays is empty: nothing to batch.")
    sizes = {}
    for key, value in arrays.items():
        shape = np.shape(value)
        if not shape:
            raise ValueError(
                f"arrays[{key!r}] is a scalar; every array needs a leading batch axis."
            )
        sizes[key] = shape[0]
    if len(set(sizes.values())) != 1:
        raise ValueError(f"arrays disagree on the number of examples: {sizes}.")
    return next(iter(sizes.values()))


def batch_at_step(
    arrays: Mapping[str, np.ndarray],
    batch_size: int,
    seed: int,
    step: int,
    *,
    process_index: int = 0,
    process_count: int = 1,
) -> dict[str, np.ndarray]:
    """The batch of training step ``step``, a pure function of ``(seed, step)``.

    The global batch of step ``s`` holds the examples at positions
    ``[s*B, (s+1)*B)`` of the endless stream ``perm_0, perm_1, ...`` where
    ``perm_e = np.random.default_rng((seed, e)).permutation(N)``. Each epoch
    therefore visits every example exactly once, and a batch that crosses an
    epoch boundary takes the end of one permutation and the start of the next.

    With ``process_count > 1`` only this process's contiguous share is
    returned: rows ``[p*B/P, (p+1)*B/P)`` of the global batch, so concatenating
    the shares of processes ``0..P-1`` gives the single-process global batch.
    The gather is one numpy fancy-indexing per array (no per-example Python).

    Args:
      arrays: Mapping from names (``"x"``, ``"label"``, ...) to arrays with a
        common leading dimension ``N``.
      batch_size: The global batch size ``B``, ``0 < B <= N``.
      seed: Non-negative integer data seed.
      step: Non-negative training step.
      process_index: Index ``p`` of this process, ``0 <= p < P``.
      process_count: Number of processes ``P``; must divide ``batch_size``.

    Returns:
      A dict with the same keys as ``arrays`` and arrays of leading dimension
      ``B / P`` (new arrays, not views of the inputs).

    Raises:
      ValueError: If ``batch_size`` is not in ``(0, N]``, ``batch_size`` is not
        divisible by ``process_count``, ``process_index`` is out of range,
        ``seed`` or ``step`` is negative, or the arrays disagree on ``N``.
    """
    n = num_examples(arrays)
    batch_size = operator.index(batch_size)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    if batch_size > n:
        raise ValueError(
            f"batch_size {batch_size} is larger than the number of examples {n}; "
            "use a batch_size <= the dataset size."
        )
    process_count = operator.index(process_count)
    process_index = operator.index(process_index)
    if process_count <= 0:
        raise ValueError(f"process_count must be positive, got {process_count}.")
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in [0, {process_count}), got {process_index}.")
    if batch_size % process_count:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by process_count {process_count}; "
            "every process must get the same number of examples."
        )
    seed = _check_nonnegative_int(seed, "seed")
    step = _check_nonnegative_int(step, "step")

    local = batch_size // process_count
    start = step * batch_size + process_index * local
    stop = start + local
    first_epoch, offset = divmod(start, n)
    last_epoch = (stop - 1) // n
    perm = _cached_permutation(seed, first_epoch, n)
    if last_epoch == first_epoch:
        indices = perm[offset : offset + local]
    else:  # Straddles an epoch boundary (at most one, because local <= B <= N).
        head = perm[offset:]
        tail = _cached_permutation(seed, last_epoch, n)[: local - head.shape[0]]
        indices = np.concatenate([head, tail])
    return {key: np.asarray(value)[indices] for key, value in arrays.items()}
