r"""Latent state models of training dynamics [P209]: Gaussian HMMs on logged training metrics.

Hu, Chen, Saphra & Cho (2023), "Latent State Models of Training Dynamics", arXiv:2308.09543;
their code (``michahu/visualizing-training``, ``src/hmm.py``) z-scores every metric column
per run, splits the runs 80/20, fits ``hmmlearn.GaussianHMM(covariance_type="diag")`` for
``K = 1..max_components`` with several restarts, and chooses ``K`` by BIC on the held-out
runs. The HMM code is :mod:`likelihood_jax.structured.hmm`.

Here the training runs are REAL runs of another experiment of this project, launched through
the command line's own path (:func:`likelihood_jax.main.load_config` and
:func:`likelihood_jax.main.run`, nothing of that experiment imported): ``dynamics.source``
names its config (``FILE:MODE``), ``dynamics.source_overrides`` the fields changed (steps,
logging cadence), one run per seed in ``WORKDIR/runs/seed_<s>``. Each run's
``metrics.jsonl`` training lines give the sequence of ``dynamics.metrics`` (``loss``,
``grad_norm``; names starting with ``log_`` are logarithms of the logged metric). The loop
does not log weight norms, so they are not among the features.

Then: z-score per run, hold out ``dynamics.test_fraction`` of the runs, for each ``K`` fit
``dynamics.restarts`` HMMs by EM (:func:`~likelihood_jax.structured.hmm.hmm_fit`, diagonal
covariances), keep the restart with the best held-out log-likelihood, and choose ``K`` by
held-out BIC (with a single run, as in ``runlocal``, on that run).
Writes ``hmm.json`` (BIC and log-likelihoods per ``K``, the chosen model, the
per-state means of the raw metrics, every run's Viterbi states) and ``states.png``
(states over training steps, one row per seed). Headline: ``num_states`` (the chosen ``K``).
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import main as cli
from likelihood_jax.structured import hmm
from likelihood_jax.train.procedure import Procedure

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def source_spec(spec: str) -> str:
    """``FILE:MODE`` with a relative ``FILE`` taken from the repository root."""
    return spec if os.path.isabs(spec) else os.path.join(ROOT, spec)


def read_metric_sequence(workdir: str, metrics: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(steps (T,), values (T, D))`` of the training lines of ``workdir/metrics.jsonl``.

    A metric named ``log_<m>`` is ``log`` of the logged ``<m>``.
    """
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    lines = [r for r in lines if "split" not in r and "loss" in r]
    steps = np.array([r["step"] for r in lines])
    columns = [np.log([r[m[4:]] for r in lines]) if m.startswith("log_")
               else np.array([r[m] for r in lines], float) for m in metrics]
    return steps, np.stack(columns, axis=1)


def collect_runs(config, workdir: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Trains the source config once per seed (through the CLI path); reads the metrics."""
    out = []
    spec = source_spec(config.dynamics.source)
    for seed in config.dynamics.seeds:
        run_config = cli.load_config(spec)
        for field, value in config.dynamics.source_overrides.items():
            cli.apply_override(run_config, field, str(value))
        run_config.seed = int(seed)
        run_dir = os.path.join(workdir, "runs", f"seed_{seed}")
        cli.run(run_config, run_dir, overwrite=True,
                config_path=spec.split(":")[0])
        out.append(read_metric_sequence(run_dir, tuple(config.dynamics.metrics)))
    return out


def zscore(values: np.ndarray) -> np.ndarray:
    """Each column of one run to mean 0 and standard deviation 1 (as [P209]'s code)."""
    return (values - values.mean(0)) / (values.std(0) + 1e-8)


def select_num_states(config, train: np.ndarray, test: np.ndarray) -> dict:
    """EM fits for ``K = 1..max_states`` with restarts; held-out log-likelihood and BIC."""
    cfg = config.dynamics
    fits = {}
    for num_states in range(1, cfg.max_states + 1):

        @jax.jit
        def fit(key, train, test, num_states=num_states):
            start = hmm.hmm_initial_params(key, train, num_states, covariance_type="diag")
            params, curve = hmm.hmm_fit(train, *start, num_iters=cfg.em_iters,
                                        covariance_type="diag", reg_covar=cfg.reg_covar)
            held_out = jax.vmap(hmm.hmm_log_likelihood, in_axes=(0, None, None, None, None))(
                test, *params)
            return params, curve, jnp.sum(held_out)

        best = None
        for restart in range(cfg.restarts):
            params, curve, held_out = fit(jax.random.key(1000 * num_states + restart),
                                          jnp.asarray(train), jnp.asarray(test))
            if best is None or float(held_out) > best[1]:
                best = (params, float(held_out), np.asarray(curve))
        params, held_out, curve = best
        fits[num_states] = {
            "params": params, "test_log_likelihood": held_out,
            "train_log_likelihood": float(curve[-1]),
            "bic": hmm.hmm_bic(held_out, test.shape[0] * test.shape[1], num_states,
                               train.shape[2], "diag")}
    return fits


def plot_states(path: str, steps: list[np.ndarray], states: list[np.ndarray], seeds,
                num_states: int) -> None:
    """One row per seed: the Viterbi state at each logged training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.4 * len(seeds) + 1.2))
    cmap = plt.get_cmap("tab10", num_states)
    for row, (s, z) in enumerate(zip(steps, states)):
        ax.scatter(s, np.full(len(s), row), c=z, cmap=cmap, vmin=-0.5,
                   vmax=num_states - 0.5, marker="s", s=18)
    ax.set_yticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    ax.set_xlabel("training step")
    ax.set_title(f"HMM states of the training metrics (K = {num_states})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class TrainingDynamicsHMM(Procedure):
    """Runs the source experiment per seed, fits HMMs, chooses K by held-out BIC."""

    headline_metric = "num_states"

    def make_dataset(self, config):
        """No dataset of its own: the sequences come from the runs :meth:`run` launches."""
        return None

    def run(self, workdir: str) -> dict[str, float]:
        """Collects the runs, fits the HMMs, writes ``hmm.json`` and ``states.png``."""
        cfg = self.config.dynamics
        runs = collect_runs(self.config, workdir)
        length = min(len(values) for _, values in runs)
        steps = [s[:length] for s, _ in runs]
        raw = np.stack([values[:length] for _, values in runs])
        scaled = np.stack([zscore(v) for v in raw]).astype(np.float32)
        num_test = min(len(runs) - 1, max(1, int(round(cfg.test_fraction * len(runs)))))
        order = np.random.default_rng(self.config.seed).permutation(len(runs))
        test_idx, train_idx = order[:num_test], order[num_test:]
        if num_test == 0:  # a single run (runlocal): the BIC is that of the training run
            test_idx = train_idx
        fits = select_num_states(self.config, scaled[train_idx], scaled[test_idx])
        chosen = min(fits, key=lambda k: fits[k]["bic"])
        params = fits[chosen]["params"]
        states = [np.asarray(hmm.hmm_viterbi(jnp.asarray(x), *params)[0]) for x in scaled]
        flat_states, flat_raw = np.concatenate(states), raw.reshape(-1, raw.shape[-1])
        state_means = {int(k): {m: float(flat_raw[flat_states == k, j].mean())
                                for j, m in enumerate(cfg.metrics)}
                       for k in range(chosen) if np.any(flat_states == k)}
        plot_states(os.path.join(workdir, "states.png"), steps, states, list(cfg.seeds),
                    chosen)
        report = {
            "metrics": list(cfg.metrics), "seeds": list(cfg.seeds),
            "test_seeds": [int(cfg.seeds[i]) for i in test_idx], "chosen_num_states": chosen,
            "per_k": {k: {f: v for f, v in fit.items() if f != "params"}
                      for k, fit in fits.items()},
            "transition": np.asarray(params.transition).round(4).tolist(),
            "state_means_zscored": np.asarray(params.means).round(4).tolist(),
            "state_means_raw": state_means,
            "states": {int(s): z.tolist() for s, z in zip(cfg.seeds, states)},
            "steps": steps[0].tolist()}
        with open(os.path.join(workdir, "hmm.json"), "w") as f:
            json.dump(report, f, indent=2)
        print(json.dumps({k: report[k] for k in ("chosen_num_states", "per_k",
                                                 "state_means_raw")}, indent=2), flush=True)
        return {"num_states": chosen, "test_log_likelihood": fits[chosen]["test_log_likelihood"],
                **{f"bic_k{k}": fit["bic"] for k, fit in fits.items()}}


EXPERIMENT = TrainingDynamicsHMM
