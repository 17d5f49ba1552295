"""How much of the bare step rate the shared loop keeps.

For each config, the same jitted ``train_step`` (same model, optimizer and
batch size) runs

* bare: a Python loop over one batch already on the device, nothing else;
* shared loop: ``train_and_evaluate`` with the config's logging cadence,
  checkpoints at its default cadence, the progress bar or log lines, and a fresh
  batch from ``data.batch_at_step`` every step.

Start-up, compilation and the final evaluation/plots are the same for a run of N
and a run of 2N steps, so each rate is measured differentially:
``N / (time(2N) - time(N))``. The bare and shared measurements alternate,
``--repeats`` times, and the median rate of each is reported, so that a change
in the machine's load affects both alike. Usage::

    python benchmarks/loop_overhead.py [--steps 2000] [--repeats 3] [--configs toy2d mnist5k]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from experiments.mle_flow.experiment import MLEFlow  # noqa: E402
from likelihood_jax import data  # noqa: E402
from likelihood_jax.main import load_config  # noqa: E402
from likelihood_jax.train import loop, parallel  # noqa: E402


def mle_flow_config(name: str):
    return load_config(os.path.join(REPO, "experiments", "mle_flow", "configs", f"{name}.py"))


def bare_seconds(experiment, steps: int) -> float:
    run = loop.make_run(experiment)
    state = loop.init_state(run)
    train_step = loop.make_train_step(run)
    cfg = experiment.config
    batch = parallel.global_batch(
        loop.local_batch(experiment.dataset, cfg.batch_size, cfg.seed, 0), run.mesh)
    state, m = train_step(state, batch)  # compile
    jax.block_until_ready(m)
    start = time.perf_counter()
    for _ in range(steps):
        state, m = train_step(state, batch)
    jax.block_until_ready((state, m))
    return time.perf_counter() - start


def loop_seconds(experiment, steps: int) -> float:
    experiment.config.total_steps = steps
    with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        loop.train_and_evaluate(experiment, workdir)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=["toy2d", "mnist5k"])
    args = parser.parse_args()
    print(f"devices: {jax.devices()}  steps: N={args.steps} vs 2N")
    print("| config | bare steps/s | shared loop steps/s | loop / bare |")
    print("|---|---|---|---|")
    for name in args.configs:
        config = mle_flow_config(name)
        # The schedule depends on total_steps; fix the decay horizon so N and 2N match.
        config.optim.schedule = "constant"
        config.eval_every = 0
        dataset = data.load_dataset(config.dataset.name)
        experiment = MLEFlow(config, dataset=dataset)
        n = args.steps
        bare_rates, shared_rates = [], []
        for _ in range(args.repeats):
            bare_rates.append(n / (bare_seconds(experiment, 2 * n) - bare_seconds(experiment, n)))
            shared_rates.append(
                n / (loop_seconds(experiment, 2 * n) - loop_seconds(experiment, n)))
        bare, shared = float(np.median(bare_rates)), float(np.median(shared_rates))
        print(f"| {name} (default mode, log_every={config.log_every}, "
              f"checkpoint_every={config.checkpoint_every}) | {bare:.1f} | {shared:.1f} | "
              f"{shared / bare:.3f} |", flush=True)


if __name__ == "__main__":
    main()
