"""EBFlow's cost claim: training-step time of ML versus score matching on a dense flow.

Chao et al. 2023 ("Training Energy-Based Normalizing Flow with Score-Matching Objectives",
EBFlow [P001]): with unconstrained dense layers a maximum-likelihood step needs every
layer's ``slogdet`` and its gradient (O(D^3) per layer per step), while score-matching
objectives on the energy never touch a determinant (O(D^2) per layer per example), so the
SM/ML step-time ratio falls as D grows.

Run by hand (not part of the tests)::

    python benchmarks/ebflow_cost.py                          # D in 64 256 784 3072 12288
    python benchmarks/ebflow_cost.py --sizes 64 256 784       # a subset
    python benchmarks/ebflow_cost.py --layers 3 --batch 100

For the FC-based flow of the paper (``--layers`` Dense layers of size D with a
SmoothLeakyReLU between consecutive ones; weights ``I + 0.01 N(0, 1/D)``) and a batch of 100
standard-normal examples, it times one training step, ``jax.jit(jax.value_and_grad(loss))``
with respect to all parameters (compiled ahead of time, ``block_until_ready``, median of
repeats), of each objective side by side in one process:

* ``ml``: mean exact NLL (``Flow.log_prob``: ``slogdet`` of every Dense, once per batch);
* ``ssm``: sliced score matching of the energy (Rademacher, variance-reduced, one slice);
* ``dsm``: denoising score matching of the energy (sigma 0.1);
* ``fdssm``: finite-difference sliced score matching of the energy (eps 0.1, one slice).

It also checks that the compiled score-matching steps contain no LU factorization (the
x-independent slogdet is not on their path) and that the ML step does. A size whose dense
weights would exceed ``--max-weight-mb`` is skipped (and reported as such); repeats stop once
``--budget`` seconds are spent for one (size, objective) cell (at least one timed call).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import flows
from likelihood_jax.losses import ebflow as ebflow_losses

OBJECTIVES = ("ml", "ssm", "dsm", "fdssm")


def make_flow(dim: int, layers: int) -> flows.Flow:
    body = []
    for i in range(layers):
        body.append(flows.Dense())
        if i + 1 < layers:
            body.append(flows.SmoothLeakyReLU(0.3))
    return flows.Flow(flows.Chain(tuple(body)), (dim,))


def make_params(flow: flows.Flow, dim: int, seed: int = 0):
    """Near-identity dense weights (no O(D^3) orthogonal init), zero biases."""
    params = []
    for i, layer in enumerate(flow.bijector.layers):
        if isinstance(layer, flows.Dense):
            noise = jax.random.normal(jax.random.key(seed + i), (dim, dim)) * (0.01 / dim**0.5)
            params.append({"w": jnp.eye(dim) + noise, "b": jnp.zeros((dim,))})
        else:
            params.append({})
    return tuple(params)


def make_loss(flow: flows.Flow, objective: str):
    def loss(params, x, key):
        keys = jax.random.split(key, x.shape[0])
        if objective == "ml":
            return -jnp.mean(jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x))
        energy_fn = functools.partial(flow.energy, params)
        per_example = jax.vmap(lambda v, k: ebflow_losses.flow_score_matching_loss(
            objective, energy_fn, v, k, sigma=0.1, eps=0.1))(x, keys)
        return jnp.mean(per_example)
    return loss


def has_lu(compiled_text: str) -> bool:
    return "getrf" in compiled_text or "lu_pivots" in compiled_text


def time_compiled(fn, args, repeats: int, budget_s: float) -> tuple[float, int]:
    """Median wall time (s) of ``fn(*args)`` after one warm-up call, and the repeat count."""
    jax.block_until_ready(fn(*args))
    times = []
    start_all = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
        if time.perf_counter() - start_all > budget_s:
            break
    return statistics.median(times), len(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 784, 3072, 12288])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of timed calls per (size, objective) before stopping")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    parser.add_argument("--max-weight-mb", type=float, default=4096.0,
                        help="skip sizes whose dense weights exceed this many MB")
    args = parser.parse_args()

    print(f"devices: {jax.devices()}; {args.layers} Dense layers, batch {args.batch}, "
          f"float32; step = jit(value_and_grad(loss)); median of up to {args.repeats}")
    rows = []
    for dim in args.sizes:
        weight_mb = args.layers * dim * dim * 4 / 2**20
        if weight_mb > args.max_weight_mb:
            print(f"D={dim}: skipped ({weight_mb:.0f} MB of weights > --max-weight-mb)")
            continue
        flow = make_flow(dim, args.layers)
        params = make_params(flow, dim)
        x = jax.random.normal(jax.random.key(1), (args.batch, dim))
        key = jax.random.key(2)
        row = {"D": dim}
        for objective in args.objectives:
            step = jax.jit(jax.value_and_grad(make_loss(flow, objective)))
            t0 = time.perf_counter()
            compiled = step.lower(params, x, key).compile()
            compile_s = time.perf_counter() - t0
            lu = has_lu(compiled.as_text())
            if (objective == "ml") != lu:
                raise AssertionError(f"D={dim} {objective}: LU in the compiled step is {lu}")
            seconds, n = time_compiled(compiled, (params, x, key), args.repeats, args.budget)
            row[objective] = seconds
            print(f"D={dim:6d} {objective:6s} {1e3 * seconds:10.1f} ms/step  (n={n}, "
                  f"compile {compile_s:.1f} s, LU in step: {lu})", flush=True)
        rows.append(row)

    print()
    others = [o for o in args.objectives if o != "ml"]
    header = "| D | " + " | ".join(f"{o} ms" for o in args.objectives)
    if "ml" in args.objectives:
        header += " | " + " | ".join(f"{o}/ml" for o in others)
    print(header + " |")
    print("|" + "---|" * (header.count("|")))
    for row in rows:
        cells = [str(row["D"])] + [f"{1e3 * row[o]:.1f}" for o in args.objectives]
        if "ml" in args.objectives:
            cells += [f"{row[o] / row['ml']:.3f}" for o in others]
        print("| " + " | ".join(cells) + " |")
    if "ml" in args.objectives and "ssm" in args.objectives and len(rows) > 1:
        ratios = np.array([row["ssm"] / row["ml"] for row in rows])
        sizes = [row["D"] for row in rows]
        below = [d for d, r in zip(sizes, ratios) if r < 1]
        print(f"\nssm/ml by D: {dict(zip(sizes, np.round(ratios, 3).tolist()))}; "
              f"first D with ssm/ml < 1: {below[0] if below else 'none'}")


if __name__ == "__main__":
    main()
