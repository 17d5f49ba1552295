"""Why the unbiased gradient is hard to train with [P139]: its estimator at a trained point.

``python -m experiments.unbiased_dbm.diagnose [STEPS] [KEYS]`` trains the tiny config's
6-8-4 DBM by the exact gradient (Adam 0.05, ``STEPS`` full-batch steps, default 1500), then
draws ``KEYS`` (default 20000) coupled-chain estimates of the negative phase ``E_p[s]`` and
prints the meeting-time quantiles, the capped share, and the largest z-score (per parameter,
against ``grad log Z`` by enumeration) of the estimator and of its first term ``s(X_0)`` alone
(the local-mode start ``pi_0``, what a pair that meets at ``tau = 1`` returns).
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.unbiased_dbm.configs import tiny
from experiments.unbiased_dbm.experiment import UnbiasedDBM
from likelihood_jax.energy import boltzmann as bm


def max_z(draws: dict, exact: dict) -> float:
    """The largest ``|mean - exact| / standard error`` over every parameter's statistic."""
    out = []
    for k in bm.PARAM_NAMES:
        values = np.asarray(draws[k], np.float64).reshape(len(draws[k]), -1)
        se = np.maximum(values.std(0, ddof=1) / np.sqrt(len(values)), 1e-9)
        out.append(np.abs(values.mean(0) - np.asarray(exact[k]).ravel()) / se)
    return float(np.max(np.concatenate(out)))


def main(steps: int = 1500, num_keys: int = 20000) -> None:
    """Prints the diagnosis (module docstring)."""
    config = tiny.get_config()
    experiment = UnbiasedDBM(config)
    visible = experiment.visible(jnp.asarray(experiment.dataset.train["x"]))
    params = experiment.init_params(jax.random.key(0), None)
    opt = optax.adam(0.05)

    @jax.jit
    def update(p, state):
        grad = jax.grad(lambda q: -jnp.mean(bm.log_likelihood(q, visible)))(p)
        updates, state = opt.update(grad, state)
        return optax.apply_updates(p, updates), state

    state = opt.init(params)
    for _ in range(steps):
        params, state = update(params, state)
    print(f"train NLL after {steps} exact steps: "
          f"{float(-jnp.mean(bm.log_likelihood(params, visible))):.4f}")
    cap = int(config.sampler.max_iterations)
    keys = jax.random.split(jax.random.key(1), num_keys)
    out = jax.jit(jax.vmap(lambda k: bm.unbiased_statistics(k, params, max_iterations=cap)))(keys)
    first = jax.jit(jax.vmap(lambda k: bm.sufficient_statistics(
        bm.mode_initialized_state(jax.random.split(k)[0], params))))(keys)
    tau = np.asarray(out.meeting_time)
    exact = jax.grad(bm.log_partition)(params)
    print(f"tau quantiles 50/99/99.9/100%: {np.quantile(tau, [0.5, 0.99, 0.999, 1.0])}, "
          f"share tau > 1: {np.mean(tau > 1):.5f}, capped at {cap}: "
          f"{1 - np.mean(np.asarray(out.met)):.5f}")
    print(f"max |z|: estimator {max_z(out.estimate, exact):.1f}, "
          f"s(X_0) alone {max_z(first, exact):.1f}; largest |estimate| "
          f"{float(np.max(np.abs(np.asarray(out.estimate['bias_v'])))):.0f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
