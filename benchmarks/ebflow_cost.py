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
with respect to all parameters (compiled ahead of time, ``block_until_ready``), of each
objective side by side in one process. Each repeat runs every objective in turn (so a burst of
load from other processes hits them alike) and averages enough calls to last
``--min-repeat-s``; the table gives the median (and the minimum) over repeats and the median of
the per-repeat ratios to ML:

* ``ml``: mean exact NLL (``Flow.log_prob``: ``slogdet`` of every Dense, once per batch);
* ``ssm``: sliced score matching of the energy (Rademacher, variance-reduced, one slice);
* ``dsm``: denoising score matching of the energy (sigma 0.1);
* ``fdssm``: finite-difference sliced score matching of the energy (eps 0.1, one slice).

It also checks that the compiled score-matching steps contain no LU factorization (LAPACK
``getrf``: the x-independent slogdet is not on their path) and reports whether the ML step
does (it does from D = 64 up; XLA expands tiny ones inline). A size whose dense
weights would exceed ``--max-weight-mb`` is skipped (and reported as such); repeats stop once
``--budget`` seconds are spent on one size (at least one repeat). Above ``--ml-max-dim`` the ML
step is not run: one ``slogdet`` per layer is timed instead, a lower bound on the ML step (its
gradient needs a further O(D^3) solve), so the SM/ML ratios there are upper bounds.
"""

from __future__ import annotations

import os

# jaxlib's CPU LAPACK kernels (getrf, used by slogdet) run on scipy's OpenBLAS, whose worker
# threads spin-wait; next to XLA's own thread pool on a small shared CPU that inflated the ML
# step up to 10x and erratically (measured here: D=256 ML step 105 ms with 2 OpenBLAS threads,
# 7.9 ms with 1). One OpenBLAS thread keeps the comparison fair; override by setting it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp

from likelihood_jax import flows
from likelihood_jax.flows import ebflow as ebflow_losses

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


def calibrate(fn, args, min_repeat_s: float) -> int:
    """Calls per repeat so that one repeat lasts about ``min_repeat_s`` (after a warm-up)."""
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return max(1, int(min_repeat_s / max(time.perf_counter() - start, 1e-9)))


def time_once(fn, args, inner: int) -> float:
    """Mean wall time (s) of ``inner`` back-to-back calls, ``block_until_ready`` at the end."""
    start = time.perf_counter()
    for _ in range(inner):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / inner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 784, 3072, 12288])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--min-repeat-s", type=float, default=0.2,
                        help="each repeat averages enough calls to last this long")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds of timed repeats per size before stopping (>= 1 repeat)")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    parser.add_argument("--ml-max-dim", type=int, default=4096,
                        help="above this D the ML step is not run (too slow on a small CPU); "
                             "one slogdet of one weight is timed instead, a lower bound")
    parser.add_argument("--max-weight-mb", type=float, default=4096.0,
                        help="skip sizes whose dense weights exceed this many MB")
    args = parser.parse_args()
    unknown = set(args.objectives) - set(OBJECTIVES)
    if unknown:
        raise ValueError(f"unknown objectives {sorted(unknown)}; choose from {OBJECTIVES}")

    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"devices: {jax.devices()}; {args.layers} Dense layers, batch {args.batch}, "
          f"float32; step = jit(value_and_grad(loss)); objectives interleaved within each "
          f"repeat, median (and min) over up to {args.repeats} repeats")
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
        steps, inner = {}, {}
        objectives = list(args.objectives)
        ml_bound = None
        if dim > args.ml_max_dim and "ml" in objectives:
            objectives.remove("ml")
            slogdet = jax.jit(lambda w: jnp.linalg.slogdet(w)[1]).lower(params[0]["w"]).compile()
            ml_bound = args.layers * time_once(slogdet, (params[0]["w"],), 1)
            print(f"D={dim:6d} ml     not run (D > --ml-max-dim); {args.layers} x one slogdet "
                  f"= {ml_bound:.2f} s, a lower bound on the ML step", flush=True)
        for objective in objectives:
            t0 = time.perf_counter()
            compiled = jax.jit(jax.value_and_grad(make_loss(flow, objective))).lower(
                params, x, key).compile()
            lu = has_lu(compiled.as_text())
            if objective != "ml" and lu:
                raise AssertionError(f"D={dim} {objective}: an LU factorization is on the "
                                     "score-matching path")
            steps[objective] = compiled
            inner[objective] = calibrate(compiled, (params, x, key), args.min_repeat_s)
            print(f"D={dim:6d} {objective:6s} compiled in {time.perf_counter() - t0:.1f} s "
                  f"(LU in step: {lu}), {inner[objective]} call(s) per repeat", flush=True)
        times = {o: [] for o in objectives}
        start_all = time.perf_counter()
        for _ in range(args.repeats):
            for objective in objectives:
                times[objective].append(time_once(steps[objective], (params, x, key),
                                                  inner[objective]))
            if time.perf_counter() - start_all > args.budget:
                break
        row = {"D": dim, "n": len(times[objectives[0]]), "ml_bound": ml_bound}
        for objective in objectives:
            row[objective] = statistics.median(times[objective])
            row[objective + "_min"] = min(times[objective])
            if objective != "ml" and "ml" in times:
                paired = [t / m for t, m in zip(times[objective], times["ml"])]
                row[objective + "/ml"] = statistics.median(paired)
            elif objective != "ml" and ml_bound is not None:
                row[objective + "/ml"] = row[objective] / ml_bound  # an upper bound
        print(f"D={dim:6d} " + "  ".join(
            f"{o} {1e3 * row[o]:.2f} ms (min {1e3 * row[o + '_min']:.2f})"
            for o in objectives) + f"  [{row['n']} repeats]", flush=True)
        rows.append(row)

    print()
    others = [o for o in args.objectives if o != "ml"]
    has_ml = "ml" in args.objectives
    columns = [f"{o} ms" for o in args.objectives] + (
        [f"{o}/ml" for o in others] if has_ml else [])
    print("| D | " + " | ".join(columns) + " | repeats |")
    print("|---" * (len(columns) + 2) + "|")
    for row in rows:
        cells = [str(row["D"])]
        for o in args.objectives:
            if o == "ml" and row["ml_bound"] is not None:
                cells.append(f"> {1e3 * row['ml_bound']:.0f} (not run; {args.layers} slogdets)")
            else:
                cells.append(f"{1e3 * row[o]:.2f} (min {1e3 * row[o + '_min']:.2f})")
        if has_ml:
            mark = "< " if row["ml_bound"] is not None else ""
            cells += [f"{mark}{row[o + '/ml']:.3f}" for o in others]
        print("| " + " | ".join(cells + [str(row["n"])]) + " |")
    if has_ml and "ssm" in args.objectives:
        ratios = {row["D"]: round(row["ssm/ml"], 3) for row in rows if row["ml_bound"] is None}
        below = [d for d, r in ratios.items() if r < 1]
        print(f"\nssm/ml (median of paired per-repeat ratios) by D: {ratios}; "
              f"first D with ssm/ml < 1: {below[0] if below else 'none'}")


if __name__ == "__main__":
    main()
