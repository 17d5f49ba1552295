"""Wall time per point of the incremental GMM [P138, P211]: rank-one vs refactorizing updates.

Run by hand (not part of the tests)::

    python benchmarks/incremental_gmm.py                     # D in 16 64 256
    python benchmarks/incremental_gmm.py --sizes 16 64 --points 200

For each ``D`` it streams ``--points`` points of a 4-cluster Gaussian mixture through
:func:`likelihood_jax.mixtures.incremental.incremental_gmm_fit` (``lax.scan``, ``jax.jit``,
``block_until_ready``, one warm-up call, median of ``--repeats``), with ``--capacity``
component slots, once with ``method="rank_one"`` (precisions and log-determinants by
Sherman-Morrison and the determinant lemma, ``O(K D^2)`` per point) and once with
``method="refactorize"`` (the same recursion on the covariances, then a Cholesky
factorization and inverse per component per point, ``O(K D^3)``), side by side, and prints
the time per point of each and their ratio. Both fits give the same mixture.
"""

from __future__ import annotations

import os

# As in likelihood_jax.main: OpenBLAS's spin-waiting threads make the LAPACK calls inside the
# scan (the refactorizing variant's Cholesky) 10-100x slower on a loaded 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from likelihood_jax.mixtures import incremental  # noqa: E402


def stream(dim: int, points: int, seed: int = 0) -> np.ndarray:
    """``points`` rows of a mixture of 4 well-separated unit Gaussians in ``dim`` dimensions."""
    rng = np.random.default_rng(seed)
    centers = 18.0 * rng.normal(size=(4, dim)) / np.sqrt(dim)
    return (centers[rng.integers(0, 4, points)] + rng.normal(size=(points, dim))).astype(
        np.float32)


def time_fit(xs: np.ndarray, capacity: int, method: str, repeats: int) -> float:
    """Median seconds of one jitted pass over ``xs`` (after a warm-up call)."""
    dim = xs.shape[1]
    variance = jnp.full(dim, 1.0)
    init = incremental.incremental_gmm_init(capacity, dim, method=method)
    fit = jax.jit(lambda x: incremental.incremental_gmm_fit(
        init, x, variance, threshold=incremental.novelty_threshold(dim, 0.01),
        min_count=0.0, min_age=1e9, method=method, recursion="exact"))
    x = jnp.asarray(xs)
    jax.block_until_ready(fit(x))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fit(x))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"devices: {jax.devices()}; {args.points} points, {args.capacity} slots")
    print("| D | rank-one (ms/point) | refactorize (ms/point) | ratio |")
    print("|---|---|---|---|")
    for dim in args.sizes:
        xs = stream(dim, args.points)
        fast = time_fit(xs, args.capacity, "rank_one", args.repeats) / args.points
        slow = time_fit(xs, args.capacity, "refactorize", args.repeats) / args.points
        print(f"| {dim} | {1e3 * fast:.3f} | {1e3 * slow:.3f} | {slow / fast:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
