"""Fast vs slow path gradients [P004]: training-step time of the reverse-KL estimators.

Vaitl et al. 2024 ("Fast and Unified Path Gradient Estimators for Normalizing Flows") claim
their recursive estimator makes path gradients cost little more than the standard
reparameterized gradient, where the earlier drop-in estimator needs a second pass through the
flow. This times one jitted ``value_and_grad`` step (compiled ahead of time,
``block_until_ready``) of each reverse-KL surrogate of :mod:`likelihood_jax.flows.path_gradients`,
side by side in one process, for the experiment's flows (ActNorm + affine couplings):

* ``standard``: :func:`reverse_kl_standard` (score term included);
* ``fast``: :func:`reverse_kl_path_fast` (the paper's recursion);
* ``slow``: :func:`reverse_kl_path_slow` (stop-gradient copy of ``log q``).

Each repeat runs the three in turn (so load from other processes hits them alike); the table
gives median step times over repeats and the median per-repeat ratios. Run by hand::

    python benchmarks/path_gradients.py                    # gmm (D=2) and phi4 8x8 (D=64)
    python benchmarks/path_gradients.py --repeats 5 --batch 512
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from likelihood_jax import flows
from likelihood_jax.data.synthetic import targets
from likelihood_jax.flows import path_gradients

ESTIMATORS = {
    "standard": path_gradients.reverse_kl_standard,
    "fast": path_gradients.reverse_kl_path_fast,
    "slow": path_gradients.reverse_kl_path_slow,
}


def coupling_flow(dim: int, layers: int, hidden: int, lattice: int | None = None):
    """ActNorm + affine couplings as in experiments/path_gradients (checkerboard on lattices)."""
    chain = []
    for i in range(layers):
        mask = (flows.checkerboard_mask(lattice, lattice, parity=i % 2) if lattice
                else flows.alternating_mask(dim, parity=i % 2))
        chain += [flows.ActNorm(), flows.AffineCoupling(mask, (hidden, hidden))]
    return flows.Chain(chain)


def setups(layers: int, hidden: int):
    yield ("gmm D=2", targets.grid_gaussian_mixture(2, 2, 1.5, 0.5),
           coupling_flow(2, layers, hidden))
    yield ("phi4 8x8 D=64", targets.Phi4((8, 8), 0.3, 0.022),
           coupling_flow(64, layers, hidden, lattice=8))


def time_call(fn, args, min_seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        jax.block_until_ready(fn(*args))
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-repeat-s", type=float, default=1.0)
    args = parser.parse_args()
    print(f"batch {args.batch}, {args.layers} couplings (ActNorm + affine, MLP "
          f"{args.hidden}x2), backend {jax.default_backend()}")
    print(f"{'setup':<16}{'standard ms':>13}{'fast ms':>10}{'slow ms':>10}"
          f"{'fast/std':>10}{'slow/fast':>11}")
    for name, target, bijector in setups(args.layers, args.hidden):
        dim = target.event_shape[0]
        z = jax.random.normal(jax.random.key(0), (args.batch, dim))
        params = jax.jit(bijector.init)(jax.random.key(1), z)
        steps = {}
        for est, fn in ESTIMATORS.items():
            def loss(p, z, fn=fn):
                return jnp.mean(jax.vmap(lambda v: fn(bijector, p, v, target.log_prob))(z))
            steps[est] = jax.jit(jax.value_and_grad(loss)).lower(params, z).compile()
        times = {est: [] for est in ESTIMATORS}
        for _ in range(args.repeats):
            for est, step in steps.items():
                times[est].append(time_call(step, (params, z), args.min_repeat_s))
        med = {est: statistics.median(t) * 1e3 for est, t in times.items()}
        fast_std = statistics.median(f / s for f, s in zip(times["fast"], times["standard"]))
        slow_fast = statistics.median(s / f for s, f in zip(times["slow"], times["fast"]))
        print(f"{name:<16}{med['standard']:>13.2f}{med['fast']:>10.2f}{med['slow']:>10.2f}"
              f"{fast_std:>10.2f}{slow_fast:>11.2f}")


if __name__ == "__main__":
    main()
