"""Training speed of spline coupling flows and MAFs: likelihood_jax vs flowjax, same machine.

Run by hand (not part of the tests; needs the ``bench`` extra's flowjax, which installs
beside this project's jax without changing it)::

    pip install flowjax
    python benchmarks/flows_vs_flowjax.py --steps 300 --repeats 5

Both sides train the same flows by maximum likelihood: a batch of 256 drawn from a pool of
data on the device, ``-mean log p(x)``, its gradient and an Adam step, all in one jitted
function (flowjax's through ``eqx.partition`` and ``paramax.unwrap``, as its
``fit_to_data`` does). Flows, at equal sizes:

* ``spline_coupling``: 6 rational-quadratic spline couplings with 16 bins on [-3, 3] and
  linear tails (flowjax: ``coupling_flow`` with ``RationalQuadraticSpline(knots=15)``,
  16 bins), conditioners with 2 hidden layers of 64 (SiLU on both sides);
* ``maf_affine`` and ``maf_spline``: 6 MADE layers (2 hidden layers of 64) with an affine or
  the same spline transform (flowjax: ``masked_autoregressive_flow``).

No ActNorm on our side (flowjax's flows have none); flowjax's default density direction
(``invert=True``, one pass for ``log_prob``) is MAF's, as ours. Conditioners differ in
detail (ours is a residual MLP, the same number of dense layers; flowjax reverses or
permutes the dimensions between layers, ours alternate masks or orders), so the parameter
counts are printed beside each rate. Data: the checkerboard (D = 2) and, for D = 8, four
independent checkerboard pairs. Reported: steps/s after a warm-up (compilation excluded),
median over ``--repeats`` interleaved runs of ``--steps`` steps, both per wall-clock second
and per CPU second of this process (all its threads; steadier than wall time when other load
shares the cores), and the load average, since on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from likelihood_jax import data, flows

BATCH = 256
POOL = 20000
LAYERS, WIDTH, DEPTH, BINS, BOUND = 6, 64, 2, 16, 3.0


def pool(dim: int) -> jax.Array:
    """``POOL`` examples: checkerboard pairs, ``dim / 2`` of them side by side."""
    pairs = [data.sample_toy("checkerboard", POOL, seed) for seed in range(dim // 2)]
    return jnp.asarray(np.concatenate(pairs, axis=1), jnp.float32)


def ours(kind: str, dim: int) -> flows.Flow:
    hidden = (WIDTH,) * DEPTH
    if kind == "spline_coupling":
        body = flows.spline_coupling_flow(dim, LAYERS, hidden, BINS, BOUND, actnorm=False)
    else:
        body = flows.masked_autoregressive_flow(dim, LAYERS, hidden, kind.split("_")[1], BINS,
                                                BOUND, actnorm=False)
    return flows.Flow(body, (dim,))


def theirs(kind: str, dim: int):
    from flowjax.bijections import Affine, RationalQuadraticSpline
    from flowjax.distributions import Normal
    from flowjax.flows import coupling_flow, masked_autoregressive_flow

    spline = RationalQuadraticSpline(knots=BINS - 1, interval=BOUND)
    make = coupling_flow if kind == "spline_coupling" else masked_autoregressive_flow
    transformer = Affine() if kind == "maf_affine" else spline
    return make(jax.random.key(0), base_dist=Normal(jnp.zeros(dim)), transformer=transformer,
                flow_layers=LAYERS, nn_width=WIDTH, nn_depth=DEPTH,
                nn_activation=jax.nn.silu)


def _timed(step, state, steps: int) -> tuple[float, float, tuple]:
    """``steps`` steps: ``(steps per wall second, steps per CPU second, state)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        state = step(*state)
    jax.block_until_ready(state)
    return (steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu), state)


def our_step(kind: str, x: jax.Array):
    flow = ours(kind, x.shape[1])
    params = jax.jit(flow.init)(jax.random.key(0), x[:BATCH])
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(params, opt_state, key):
        key, sub = jax.random.split(key)
        batch = x[jax.random.randint(sub, (BATCH,), 0, POOL)]
        loss_fn = lambda p: -jnp.mean(jax.vmap(flow.log_prob, in_axes=(None, 0))(p, batch))  # noqa: E731
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key

    return step, (params, optimizer.init(params), jax.random.key(1)), params


def their_step(kind: str, x: jax.Array):
    import equinox as eqx
    import paramax

    params, static = eqx.partition(theirs(kind, x.shape[1]), eqx.is_inexact_array,
                                   is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(params, opt_state, key):
        key, sub = jax.random.split(key)
        batch = x[jax.random.randint(sub, (BATCH,), 0, POOL)]

        def loss_fn(p):
            return -jnp.mean(paramax.unwrap(eqx.combine(p, static)).log_prob(batch))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, key

    return step, (params, optimizer.init(params), jax.random.key(1)), params


def count(params) -> int:
    return sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params)
               if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact))


def compare(kind: str, dim: int, steps: int, repeats: int) -> dict:
    x = pool(dim)
    sides = {"likelihood_jax": our_step(kind, x), "flowjax": their_step(kind, x)}
    states, rates = {}, {name: ([], []) for name in sides}
    for name, (step, state, _) in sides.items():
        states[name] = jax.block_until_ready(step(*state))  # compile
    for _ in range(repeats):  # interleaved, so that changes of load hit both sides
        for name, (step, _, _) in sides.items():
            wall, cpu, states[name] = _timed(step, states[name], steps)
            rates[name][0].append(wall)
            rates[name][1].append(cpu)
    out = {"kind": kind, "dim": dim}
    for name, (_, _, params) in sides.items():
        out[name] = statistics.median(rates[name][0])
        out[f"{name}_cpu"] = statistics.median(rates[name][1])
        out[f"{name}_params"] = count(params)
    out["ratio"] = out["likelihood_jax"] / out["flowjax"]
    out["cpu_ratio"] = out["likelihood_jax_cpu"] / out["flowjax_cpu"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--kinds", nargs="+",
                        default=["spline_coupling", "maf_affine", "maf_spline"])
    args = parser.parse_args()
    import flowjax
    print(f"jax {jax.__version__}, flowjax {flowjax.__version__}, {jax.devices()[0].platform}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"load average before {os.getloadavg()[0]:.2f}")
    print(f"batch {BATCH}, {LAYERS} layers, conditioners {DEPTH}x{WIDTH}, {BINS} bins on "
          f"[-{BOUND}, {BOUND}]; steps/s (median of {args.repeats} x {args.steps} steps)")
    print("| flow | D | params (ours / flowjax) | steps/s ours | steps/s flowjax | ratio "
          "| steps per CPU-s ours | flowjax | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dim in args.dims:
        for kind in args.kinds:
            r = compare(kind, dim, args.steps, args.repeats)
            print(f"| {kind} | {dim} | {r['likelihood_jax_params']} / {r['flowjax_params']} "
                  f"| {r['likelihood_jax']:.0f} | {r['flowjax']:.0f} | {r['ratio']:.2f} "
                  f"| {r['likelihood_jax_cpu']:.0f} | {r['flowjax_cpu']:.0f} "
                  f"| {r['cpu_ratio']:.2f} |", flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
