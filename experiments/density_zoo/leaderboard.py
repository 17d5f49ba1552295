r"""The zoo's leaderboard: one table and one grid of samples from the runs of every model.

Train each model (3 seeds; a killed sweep resumes with the same command)::

    for f in realnvp spline maf glow transformer cnf diffusion_ode vdm; do
      python -m likelihood_jax.main --config experiments/density_zoo/configs/digits.py \\
        --workdir runs/zoo/digits/$f --seeds 3 --config.model.family=$f
    done

then build the table (``leaderboard.md``) and the grid (``samples.png``)::

    python -m experiments.density_zoo.leaderboard --config digits --root runs/zoo/digits

The table: test headline (mean and 95% interval over the seeds,
``metrics.format_interval``), exact or bound, parameters, training steps/s (20 jitted steps of
the shared loop's train step after compilation) and samples/s (one jitted batch of 64 after
compilation), both measured on this machine for seed 0. This module times code: it is run by
hand, never by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np

from experiments.density_zoo import experiment as zoo
from likelihood_jax import main as cli
from likelihood_jax import metrics
from likelihood_jax.train import loop
from likelihood_jax.train.checkpoints import load_final_params
from likelihood_jax.train.workdir import read_record
from likelihood_jax.train.writers import read_metrics

HERE = os.path.dirname(os.path.abspath(__file__))


def seed_results(family_dir: str) -> tuple[list[float], dict, str]:
    """The final test headline of every ``seed<s>/`` run, the zoo.json and the metric name."""
    values, summary, headline = [], {}, ""
    for name in sorted(os.listdir(family_dir)):
        run = os.path.join(family_dir, name)
        if not (name.startswith("seed") and os.path.isfile(os.path.join(run, "zoo.json"))):
            continue
        test = [m for m in read_metrics(run) if m.get("split") == "test"][-1]
        headline = "bits_per_dim" if "bits_per_dim" in test else "nll"
        values.append(float(test[headline]))
        with open(os.path.join(run, "zoo.json")) as f:
            summary = json.load(f)
    return values, summary, headline


def speed(config_path: str, family: str, num_steps: int = 20, num_samples: int = 64
          ) -> tuple[float, float]:
    """Training steps/s and samples/s of a fresh model of ``family`` (after compilation)."""
    config = cli.load_config(config_path)
    config.model.family = family
    experiment = zoo.DensityZoo(config)
    run = loop.make_run(experiment)
    state = loop.init_state(run)
    step = loop.make_train_step(run)
    batches = loop.prefetched_batches(run, 0)
    state, out = step(state, next(batches))
    jax.block_until_ready(out)
    started = time.perf_counter()
    for _ in range(num_steps):
        state, out = step(state, next(batches))
    jax.block_until_ready(out)
    steps_per_s = num_steps / (time.perf_counter() - started)
    batches.close()
    sample = jax.jit(experiment.sample_fn, static_argnums=2)
    jax.block_until_ready(sample(state.params, jax.random.key(1), num_samples))
    started = time.perf_counter()
    jax.block_until_ready(sample(state.params, jax.random.key(2), num_samples))
    return steps_per_s, num_samples / (time.perf_counter() - started)


def plot_grid(path: str, rows: dict[str, np.ndarray]) -> None:
    """One row (images) or one panel (2D points) of samples per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    images = next(iter(rows.values())).ndim == 4
    if images:
        cols = 8
        fig, axes = plt.subplots(len(names), cols, figsize=(cols, 1.1 * len(names)),
                                 squeeze=False)
        for r, name in enumerate(names):
            for c in range(cols):
                axes[r, c].imshow(rows[name][c, ..., 0], cmap="gray", vmin=0, vmax=1)
                axes[r, c].set_xticks([])
                axes[r, c].set_yticks([])
            axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    else:
        fig, axes = plt.subplots(1, len(names), figsize=(2.5 * len(names), 2.6), squeeze=False)
        for c, name in enumerate(names):
            x = rows[name]
            axes[0, c].scatter(x[:, 0], x[:, 1], s=1, alpha=0.3)
            axes[0, c].set_title(name, fontsize=9)
            axes[0, c].set_xlim(-4.5, 4.5)
            axes[0, c].set_ylim(-4.5, 4.5)
            axes[0, c].set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def leaderboard(config: str, root: str, families: list[str], out_dir: str) -> str:
    """Writes ``<config>_leaderboard.md`` and ``<config>_samples.png`` into ``out_dir``."""
    config_path = os.path.join(HERE, "configs", f"{config}.py")
    lines = ["| model | objective | test metric (mean ± 95% CI, seeds) | likelihood | "
             "parameters | train steps/s | samples/s |", "|---|---|---|---|---|---|---|"]
    grid = {}
    for family in families:
        values, summary, headline = seed_results(os.path.join(root, family))
        if not values:
            continue
        steps_per_s, samples_per_s = speed(config_path, family)
        grid[family] = np.asarray(zoo_samples(os.path.join(root, family, "seed0"),
                                              config_path))
        lines.append(
            f"| {family} | {summary['objective']} | {headline} "
            f"{metrics.format_interval(values, digits=3)} | "
            f"{summary['likelihood']} | {summary['num_params']:,} | {steps_per_s:.1f} | "
            f"{samples_per_s:.1f} |")
    table = "\n".join(lines) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{config}_leaderboard.md"), "w") as f:
        f.write(table)
    plot_grid(os.path.join(out_dir, f"{config}_samples.png"), grid)
    return table


def zoo_samples(run: str, config_path: str) -> np.ndarray:
    """The samples the run drew at its end (``samples.npy``, written by the experiment).

    A run that predates ``samples.npy`` (or its 2000 samples of a 2D toy) gets it now: its
    final parameters restored from its checkpoint (its ``config.json`` over the current
    ``config_path``), then the experiment's ``write_artifacts``.
    """
    path = os.path.join(run, "samples.npy")
    config = cli.load_config(config_path)
    config.update_from_flattened_dict(_flatten(read_record(run) or {}))
    experiment = zoo.DensityZoo(config)
    if not os.path.isfile(path) or len(np.load(path)) < experiment.num_grid_samples:
        template = loop.init_state(loop.make_run(experiment)).params
        params = load_final_params(run, template, config.optim, config.total_steps)
        experiment.write_artifacts(params, run)
    return np.load(path)


def _flatten(tree: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}} -> {"a.b": 1}``, lists as tuples."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--config``, ``--root`` (and ``--families``, ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="digits, mnist5k or toy2d")
    parser.add_argument("--root", required=True, help="folder of the <family>/seed<s> runs")
    parser.add_argument("--families", default=",".join(zoo.FAMILIES))
    parser.add_argument("--out", default=os.path.join(HERE, "figures"))
    args = parser.parse_args(argv)
    families = [f for f in args.families.split(",")
                if os.path.isdir(os.path.join(args.root, f))]
    print(leaderboard(args.config, args.root, families, args.out))


if __name__ == "__main__":
    main()
