"""Speed of the divergence estimators and score-matching losses on an MLP vector field.

Run by hand (not part of the tests)::

    python benchmarks/estimators.py                      # D in 16 64 256 1024 4096
    python benchmarks/estimators.py --sizes 16 64 256    # a subset
    python benchmarks/estimators.py --max-exact-dim 256  # skip exact methods above D=256

For an MLP ``f: R^D -> R^D`` (2 hidden layers of width 256, tanh) and a batch of 128
examples (``jax.vmap``, ``jax.jit``, ``block_until_ready``, one warm-up call, median of
repeats) it reports the time **per example** of: the forward pass alone, the forward pass
plus one ``jax.jvp``, one Hutchinson divergence (jvp and vjp modes), the exact divergence,
and one sliced vs exact score-matching loss with its parameter gradient (the MLP used as
the score). Exact methods need ``D`` products per example and ``O(D^2)`` memory; above
``--max-exact-dim`` they are skipped, and where the whole batch would not fit the memory
budget they run in chunks of the batch (``lax.map``), which the table marks with ``*``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import estimators, score_matching


def init_mlp(key, dim, width=256, depth=2):
    sizes = [dim] + [width] * depth + [dim]
    params = []
    for k, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1),
                                    zip(sizes[:-1], sizes[1:])):
        params.append((jax.random.normal(k, (fan_in, fan_out)) / np.sqrt(fan_in),
                       jnp.zeros((fan_out,))))
    return params


def apply_mlp(params, x):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def time_call(fn, *args, repeats, budget_s, min_repeat_s=0.05):
    """Median wall time (s) of ``fn(*args)`` after one warm-up (compilation) call.

    Each repeat runs the call often enough to last ``min_repeat_s``; repeats stop
    early once ``budget_s`` is spent (at least two are always taken).
    """
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))  # compile
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    inner = max(1, int(min_repeat_s / max(first, 1e-9)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            out = fn(*args)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / inner)
        if sum(times) * inner > budget_s and len(times) >= 2:
            break
    return statistics.median(times)


def per_example_map(fn, xs, keys, chunk):
    """``vmap`` over the batch, or ``lax.map`` over chunks of it when ``chunk`` is smaller."""
    if chunk >= xs.shape[0]:
        return jax.vmap(fn)(xs, keys)
    return jax.lax.map(lambda a: fn(*a), (xs, keys), batch_size=chunk)


def benchmark_dim(dim, batch, repeats, budget_s, max_exact_dim, memory_budget_bytes):
    key_params, key_x, key_probe = jax.random.split(jax.random.key(dim), 3)
    params = init_mlp(key_params, dim)
    xs = jax.random.normal(key_x, (batch, dim))
    keys = jax.random.split(key_probe, batch)
    tangents = jax.random.rademacher(key_probe, (batch, dim), dtype=jnp.float32)
    # Exact methods hold a D x D Jacobian per example (and its residuals for the gradient).
    chunk = int(max(1, min(batch, memory_budget_bytes // (4 * dim * dim * 4))))

    def field(p):
        return functools.partial(apply_mlp, p)

    forward = jax.jit(lambda p, x: jax.vmap(field(p))(x))
    forward_jvp = jax.jit(lambda p, x, v: jax.vmap(
        lambda xi, vi: jax.jvp(field(p), (xi,), (vi,)))(x, v))
    hutch = {mode: jax.jit(lambda p, x, k, m=mode: jax.vmap(
        lambda xi, ki: estimators.hutchinson_divergence(field(p), xi, ki, mode=m))(x, k))
        for mode in ("jvp", "vjp")}
    exact_div = jax.jit(lambda p, x, k: per_example_map(
        lambda xi, ki: estimators.exact_divergence(field(p), xi), x, k, chunk))

    def sm_loss(p, x, k, exact):
        if exact:
            per_example = lambda xi, ki: score_matching.exact_score_matching(field(p), xi)  # noqa: E731
            return jnp.mean(per_example_map(per_example, x, k, chunk))
        return jnp.mean(jax.vmap(lambda xi, ki: score_matching.sliced_score_matching(
            field(p), xi, ki))(x, k))

    ssm_grad = jax.jit(jax.value_and_grad(functools.partial(sm_loss, exact=False)))
    esm_grad = jax.jit(jax.value_and_grad(functools.partial(sm_loss, exact=True)))

    timing = functools.partial(time_call, repeats=repeats, budget_s=budget_s)
    row = {
        "forward": timing(forward, params, xs),
        "forward+jvp": timing(forward_jvp, params, xs, tangents),
        "hutchinson (jvp)": timing(hutch["jvp"], params, xs, keys),
        "hutchinson (vjp)": timing(hutch["vjp"], params, xs, keys),
        "SSM loss+grad": timing(ssm_grad, params, xs, keys),
    }
    if dim <= max_exact_dim:
        row["exact divergence"] = timing(exact_div, params, xs, keys)
        row["exact SM loss+grad"] = timing(esm_grad, params, xs, keys)
    return {name: seconds / batch for name, seconds in row.items()}, chunk < batch


COLUMNS = ("forward", "forward+jvp", "hutchinson (jvp)", "hutchinson (vjp)", "exact divergence",
           "SSM loss+grad", "exact SM loss+grad")


def format_us(seconds):
    return "skipped" if seconds is None else f"{seconds * 1e6:,.1f}"


def format_ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256, 1024, 4096])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget-s", type=float, default=10.0,
                        help="stop repeating one measurement after this many seconds")
    parser.add_argument("--max-exact-dim", type=int, default=1024,
                        help="skip the exact divergence and exact SM above this D")
    parser.add_argument("--memory-gb", type=float, default=2.0,
                        help="memory budget for the exact methods; larger batches are chunked")
    args = parser.parse_args()

    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"batch {args.batch}, MLP 2x256 tanh, float32; microseconds per example "
          f"(median of up to {args.repeats} repeats)\n")
    header = ["D"] + list(COLUMNS) + ["hutch/(fwd+jvp)", "exact/hutch", "exact SM/SSM"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    notes = []
    for dim in args.sizes:
        row, chunked = benchmark_dim(dim, args.batch, args.repeats, args.budget_s,
                                     args.max_exact_dim, int(args.memory_gb * 2**30))
        cells = [str(dim) + ("*" if chunked and dim <= args.max_exact_dim else "")]
        cells += [format_us(row.get(name)) for name in COLUMNS]
        cells += [format_ratio(row["hutchinson (jvp)"], row["forward+jvp"]),
                  format_ratio(row.get("exact divergence"), row["hutchinson (jvp)"]),
                  format_ratio(row.get("exact SM loss+grad"), row["SSM loss+grad"])]
        print("| " + " | ".join(cells) + " |", flush=True)
        if dim > args.max_exact_dim:
            notes.append(f"D={dim}: exact methods skipped (--max-exact-dim {args.max_exact_dim})")
        elif chunked:
            notes.append(f"D={dim}*: exact methods run in chunks of the batch (lax.map) to fit "
                         f"--memory-gb {args.memory_gb}")
    for note in notes:
        print("\n" + note)


if __name__ == "__main__":
    main()
