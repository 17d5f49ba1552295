"""Marginal evaluation: one pass of a marginalization model vs summing autoregressive terms [P033].

The setting of the paper's speed claim: ``log p(x_S)`` of a batch of binary vectors
(``D = 64``, half the positions observed). A marginalization model
(:mod:`likelihood_jax.flows.marginalization`) answers with two passes of its marginal MLP
(``f(x_S) - f(empty)``); an any-order autoregressive model of the same width
(:func:`likelihood_jax.flows.any_order.order_log_likelihood` over the observed positions put
first) needs ``|S|`` sequential passes of its conditional MLP. Both untrained (the cost does
not depend on the weights), one jitted function each, compilation excluded, median of
``--repeats`` interleaved timings. Prints the load average: ratios within one run are the
meaningful numbers on a shared machine.

Command: ``python benchmarks/marginalization.py --batch 256 --repeats 5``.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows import any_order
from likelihood_jax.flows import marginalization as mam
from likelihood_jax.models.marginal_mlp import MarginalizationMLP

D, K = 64, 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    net = MarginalizationMLP(D, K, (args.hidden, args.hidden))
    params = net.init(jax.random.key(0), jnp.full((D,), K, jnp.int32))
    x = jax.random.bernoulli(jax.random.key(1), 0.5, (args.batch, D)).astype(jnp.int32)
    observed = jnp.arange(D) < D // 2  # the first half observed: |S| = 32
    marginal = lambda t: net.apply(params, t, method=net.marginal)  # noqa: E731
    conditional = lambda t: net.apply(params, t, method=net.conditional)  # noqa: E731

    @jax.jit
    def mam_marginals(x):
        return jax.vmap(lambda xi: mam.marginal_log_prob(marginal, xi, observed, K))(x)

    @jax.jit
    def ar_marginals(x):
        # log p(x_S) = the first |S| terms of the order that puts S first (here 0..31).
        def one(xi):
            def step(total, k):
                tokens = any_order.mask_unobserved(xi, jnp.arange(D) < k, K)
                return total + conditional(tokens)[k, xi[k]], None
            return jax.lax.scan(step, 0.0, jnp.arange(D // 2))[0]
        return jax.vmap(one)(x)

    timings = {"mam": [], "ar": []}
    for fn in (mam_marginals, ar_marginals):
        fn(x).block_until_ready()
    for _ in range(args.repeats):
        for name, fn in (("mam", mam_marginals), ("ar", ar_marginals)):
            start = time.perf_counter()
            fn(x).block_until_ready()
            timings[name].append(time.perf_counter() - start)
    mam_s, ar_s = np.median(timings["mam"]), np.median(timings["ar"])
    print(f"load average {os.getloadavg()[0]:.1f}; batch {args.batch}, D={D}, |S|={D // 2}, "
          f"hidden {args.hidden}x2; jax {jax.__version__} on {jax.devices()[0].platform}")
    print(f"MaM one-pass marginals: {1e3 * mam_s:.2f} ms; AR sum of {D // 2} conditionals: "
          f"{1e3 * ar_s:.2f} ms; speedup x{ar_s / mam_s:.1f}")


if __name__ == "__main__":
    main()
