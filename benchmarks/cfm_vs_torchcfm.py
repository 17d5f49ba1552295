"""Training speed of I-CFM and OT-CFM: likelihood_jax (JAX) vs torchcfm (PyTorch), same CPU.

Run by hand (not part of the tests; needs the ``bench`` extra: torch, torchcfm and POT)::

    pip install torch==2.13.0          # the CPU wheel
    pip install torchcfm --no-deps && pip install pot
    python benchmarks/cfm_vs_torchcfm.py --steps 1000

The setting is torchcfm's README toy (8 Gaussians -> two moons): the vector field is an
MLP ``[x, t] -> 64 -> 64 -> 64 -> x`` with SELU (torchcfm's ``models.MLP``;
:class:`likelihood_jax.models.time_mlp.TimeMLP` here), batch 256, Adam at ``1e-3``,
``sigma = 0.1``. One training step = draw a source and a target batch (random rows of
pre-sampled pools of 20000 points, on both sides), pair them (I-CFM: as drawn; OT-CFM:
exact minibatch OT, scipy's ``linear_sum_assignment`` through ``jax.pure_callback`` here,
POT's ``emd`` in torchcfm), sample ``t`` and ``x_t``, regress, take an Adam step. The JAX
step is one ``jax.jit``-compiled function; the PyTorch step is eager, as in torchcfm's
examples, with ``--torch-threads`` intra-op threads (default 1). Reported: steps/s after a
warm-up (compilation excluded), median of repeats, and the load average, since on a shared
machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from likelihood_jax import data
from likelihood_jax.continuous_time import flow_matching
from likelihood_jax.models.time_mlp import TimeMLP

BATCH = 256
SIGMA = 0.1
POOL = 20000


def pools():
    return data.sample_toy("8gaussians", POOL, 101), data.sample_toy("moons", POOL, 0)


def jax_steps_per_second(variant: str, steps: int, repeats: int) -> float:
    source, target = (jnp.asarray(p) for p in pools())
    model = TimeMLP(hidden_dims=(64, 64, 64), activation="selu")
    params = model.init(jax.random.key(0), 0.0, source[0])
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, key):
        key, k0, k1, k2 = jax.random.split(key, 4)  # the next key stays on device
        x0 = source[jax.random.randint(k0, (BATCH,), 0, POOL)]
        x1 = target[jax.random.randint(k1, (BATCH,), 0, POOL)]

        def loss_fn(p):
            field = lambda t, x: model.apply(p, t, x)  # noqa: E731
            return jnp.mean(flow_matching.flow_matching_loss(field, x0, x1, k2,
                                                             variant=variant, sigma=SIGMA))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key, loss

    key = jax.random.key(1)
    jax.block_until_ready(step(params, opt_state, key))  # compile
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            params, opt_state, key, loss = step(params, opt_state, key)
        jax.block_until_ready(loss)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def torch_steps_per_second(variant: str, steps: int, repeats: int) -> float:
    import torch
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP

    source, target = (torch.from_numpy(np.asarray(p)) for p in pools())
    torch.manual_seed(0)
    model = MLP(dim=2, time_varying=True, w=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    matcher = (ExactOptimalTransportConditionalFlowMatcher(sigma=SIGMA) if variant == "otcfm"
               else ConditionalFlowMatcher(sigma=SIGMA))

    def step():
        optimizer.zero_grad()
        x0 = source[torch.randint(POOL, (BATCH,))]
        x1 = target[torch.randint(POOL, (BATCH,))]
        t, xt, ut = matcher.sample_location_and_conditional_flow(x0, x1)
        vt = model(torch.cat([xt, t[:, None]], dim=-1))
        loss = torch.mean((vt - ut) ** 2)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(10):
        step()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (on a busy shared CPU, 2 OpenMP threads "
                             "made torch ~25x slower than 1)")
    args = parser.parse_args()
    try:
        import torch
        import torchcfm
        torch.set_num_threads(args.torch_threads)
        torch_info = f"torch {torch.__version__} ({torch.get_num_threads()} threads), " \
                     f"torchcfm {getattr(torchcfm, '__version__', '?')}"
    except ImportError as err:
        torch_info = None
        print(f"torchcfm unavailable ({err}); timing the JAX side only.")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {torch_info}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"batch {BATCH}, MLP 3x64 SELU, Adam 1e-3, sigma {SIGMA}, {args.steps} steps x "
          f"{args.repeats} repeats (median)")
    print(f"{'variant':>8} {'likelihood_jax steps/s':>23} {'torchcfm steps/s':>17}")
    for variant in ["icfm", "otcfm"]:
        ours = jax_steps_per_second(variant, args.steps, args.repeats)
        theirs = (torch_steps_per_second(variant, args.steps, args.repeats)
                  if torch_info else float("nan"))
        print(f"{variant:>8} {ours:>23.0f} {theirs:>17.0f}", flush=True)


if __name__ == "__main__":
    main()
