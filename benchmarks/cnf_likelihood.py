"""Throughput of CNF test-set likelihood evaluation: exact vs Hutchinson divergence.

Run by hand (not part of the tests)::

    python benchmarks/cnf_likelihood.py                    # D in 2 16 64 256
    python benchmarks/cnf_likelihood.py --dims 2 64 --batch 512

For a time-conditioned MLP vector field (:class:`likelihood_jax.models.time_mlp.TimeMLP`,
3 hidden layers of width 256, SiLU, random init) it measures how many test examples per
second :func:`likelihood_jax.ode.cnf_log_prob` evaluates (``jax.jit`` of a ``jax.vmap``
over a batch, ``block_until_ready``, one warm-up call, median of repeats), with the
divergence

* exact: ``D`` Jacobian-vector products per field evaluation;
* Hutchinson: one Rademacher probe (one JVP) per field evaluation, probes fixed along
  each trajectory.

Two solver settings: a fixed grid (Tsit5, 8 steps, 49 evaluations; isolates the cost of
one evaluation) and adaptive Tsit5 at ``rtol = atol = 1e-5`` (its mean NFE is reported;
the Hutchinson trace's noise enters the error control, so its NFE can differ).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from likelihood_jax import ode
from likelihood_jax.models.time_mlp import TimeMLP


def time_call(fn, *args, repeats=3):
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 16, 64, 256])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; batch {args.batch}, "
          f"MLP 3x{args.width} SiLU")
    print(f"{'D':>5} {'solver':>14} {'divergence':>11} {'examples/s':>11} {'mean NFE':>9}")
    for dim in args.dims:
        model = TimeMLP(hidden_dims=(args.width,) * 3, activation="silu")
        x = jax.random.normal(jax.random.key(0), (args.batch, dim))
        params = model.init(jax.random.key(1), 0.0, x[0])
        keys = jax.random.split(jax.random.key(2), args.batch)

        def field(t, y, params=params, model=model):
            return model.apply(params, t, y)

        for solver_name, options in [("tsit5 8 steps", {"num_steps": 8}),
                                     ("tsit5 adaptive", {"rtol": 1e-5, "atol": 1e-5})]:
            for divergence in ["exact", "hutchinson"]:
                def evaluate(xs, ks, divergence=divergence, options=options):
                    def one(v, k):
                        key = None if divergence == "exact" else k
                        log_prob, stats = ode.cnf_log_prob(field, v, key=key, **options)
                        return log_prob, stats["nfe"]
                    return jax.vmap(one)(xs, ks)

                fn = jax.jit(evaluate)
                seconds = time_call(fn, x, keys, repeats=args.repeats)
                nfe = float(jnp.mean(fn(x, keys)[1]))
                print(f"{dim:>5} {solver_name:>14} {divergence:>11} "
                      f"{args.batch / seconds:>11.0f} {nfe:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
