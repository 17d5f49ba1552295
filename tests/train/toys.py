"""Tiny experiments and procedures for the trainer's tests, and a way to run them by name.

:func:`register` puts this module in ``sys.modules`` as ``experiments.<name>.experiment``
so that ``likelihood_jax.main`` finds its classes by ``config.experiment``
(``"<name>"`` is :data:`EXPERIMENT`, ``"<name>:Attr"`` any class here).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from likelihood_jax import data
from likelihood_jax.train import config as config_lib
from likelihood_jax.train import loop
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.experiment import Experiment
from likelihood_jax.train.procedure import Procedure
from likelihood_jax.train.stages import stage_params, workdir_of

NAME = "toys_for_tests"


def base(total_steps: int = 12, **fields) -> ml_collections.ConfigDict:
    """A fast config on ``moons`` (2-D), checkpointing every 4 steps."""
    config = config_lib.base_config(NAME, dataset="moons")
    config.total_steps, config.batch_size, config.checkpoint_every = total_steps, 16, 4
    config.log_every, config.num_plot_samples = 4, 0
    config.optim.lr = 0.1
    config.teacher = ml_collections.ConfigDict({"from_stage": ""})
    config.update(fields)
    return config


class MeanFit(Experiment):
    """``w`` regressed onto the data mean; ``extra`` counts steps and averages the loss.

    With ``teacher.from_stage`` set, ``w`` starts from that stage's final ``w``.
    """

    def make_model(self, config, info):
        """The "model" is the starting ``w``: the ``teacher.from_stage`` run's, or None."""
        del info
        source = config.teacher.from_stage
        if not source:
            return None
        return stage_params(workdir_of(config, source), {"w": np.zeros(2, np.float32)})["w"]

    def init_params(self, key, batch):
        del batch
        if self.model is not None:
            return {"w": jnp.asarray(self.model)}
        return {"w": 0.1 * jax.random.normal(key, (2,))}

    def loss_fn(self, params, batch, key, step):
        del key, step
        loss = jnp.sum((batch["x"] - params["w"]) ** 2, axis=-1)
        return loss, {}

    def init_extra(self, key, batch, params):
        del key, batch, params
        return {"count": jnp.zeros((), jnp.int32), "mean_x": jnp.zeros(2)}

    def update_extra(self, extra, params, batch, key, step):
        del params, key, step
        count = extra["count"] + 1
        mean = extra["mean_x"] + (jnp.mean(batch["x"], 0) - extra["mean_x"]) / count
        return {"count": count, "mean_x": mean}

    def model_metrics(self, params, key):
        del key
        out = {"w0": float(params["w"][0]), "w1": float(params["w"][1])}
        if self.model is not None:
            out["start_w0"] = float(self.model[0])
        return out


class PersistentChains(Experiment):
    """1-D energy model ``E(x) = (x - mu)^2 / 2`` fit by persistent contrastive divergence.

    ``TrainState.extra["chains"]`` holds persistent Langevin chains; ``loss_fn`` reads
    them as ``batch["extra"]["chains"]`` (the negative phase), so the gradient in ``mu``
    is ``mean(chains) - mean(x)``, and ``update_extra`` moves them by ``langevin_steps``
    unadjusted Langevin steps at the new ``mu``. The logged ``chain_mean`` is the mean
    of the chains the loss saw.
    """

    num_chains, step_size, langevin_steps = 64, 0.2, 4

    def init_params(self, key, batch):
        del key, batch
        return {"mu": jnp.zeros(())}

    def energy(self, params, x):
        return 0.5 * jnp.sum((x - params["mu"]) ** 2, axis=-1)

    def init_extra(self, key, batch, params):
        del params
        return {"chains": jax.random.normal(key, (self.num_chains,) + batch["x"].shape[1:])}

    def loss_fn(self, params, batch, key, step):
        del key, step
        negatives = jax.lax.stop_gradient(batch["extra"]["chains"])
        loss = self.energy(params, batch["x"]) - jnp.mean(self.energy(params, negatives))
        chain_mean = jnp.full(batch["x"].shape[:1], jnp.mean(negatives))
        return loss, {"chain_mean": chain_mean}

    def update_extra(self, extra, params, batch, key, step):
        del batch, step
        grad_energy = jax.grad(lambda x: jnp.sum(self.energy(params, x)))

        def langevin(i, x):
            noise = jax.random.normal(jax.random.fold_in(key, i), x.shape)
            return x - self.step_size * grad_energy(x) + jnp.sqrt(2 * self.step_size) * noise

        return {"chains": jax.lax.fori_loop(0, self.langevin_steps, langevin, extra["chains"])}

    def model_metrics(self, params, key):
        del key
        return {"mu": float(params["mu"])}


def gaussian_1d(mean: float = 2.0, num_train: int = 512, num_test: int = 128, seed: int = 0):
    """A 1-D Gaussian dataset ``N(mean, 1)`` (examples of shape ``[1]``)."""
    rng = np.random.default_rng(seed)
    train = (mean + rng.standard_normal((num_train, 1))).astype(np.float32)
    test = (mean + rng.standard_normal((num_test, 1))).astype(np.float32)
    return data.Dataset("gaussian_1d", {"x": train}, {"x": test},
                        data.DatasetInfo(kind="continuous", event_shape=(1,)))


class QuadraticGame(Experiment):
    """Two players on a regularized bilinear game; equilibrium ``((c - d)/2, (c + d)/2)``.

    ``x`` minimizes ``0.5 (x - c)^2 + x y``; ``y`` minimizes ``0.5 (y - d)^2 - x y``
    (maximizes ``x y - 0.5 (y - d)^2``).
    """

    c, d = 1.0, 3.0

    def init_params(self, key, batch):
        del key, batch
        return {"x": jnp.zeros(()), "y": jnp.zeros(())}

    def group_loss_fn(self, group, params, batch, key, step):
        del key, step
        x, y = params["x"], params["y"]
        if group == "x":
            loss = 0.5 * (x - self.c) ** 2 + x * y
        else:
            loss = 0.5 * (y - self.d) ** 2 - x * y
        return jnp.full(batch["x"].shape[:1], loss), {"value": jnp.full(batch["x"].shape[:1], x)}

    def model_metrics(self, params, key):
        del key
        return {"x": float(params["x"]), "y": float(params["y"])}


class GaussianFit(Procedure):
    """Closed-form maximum-likelihood diagonal Gaussian; test NLL per example (nats)."""

    headline_metric = "nll"

    def run(self, workdir):
        train, test = self.dataset.train["x"], self.dataset.test["x"]
        mean, var = train.mean(0), train.var(0)
        nll = 0.5 * np.sum((test - mean) ** 2 / var + np.log(2 * np.pi * var), -1)
        with open(os.path.join(workdir, "fit.txt"), "w") as f:
            f.write(f"{mean.tolist()} {var.tolist()}\n")
        return {"nll": float(nll.mean()), "mean0": float(mean[0])}


class Report(Procedure):
    """A last stage: reads the ``teacher.from_stage`` run's parameters, reports them."""

    headline_metric = "w0"

    def run(self, workdir):
        del workdir
        params = stage_params(workdir_of(self.config, self.config.teacher.from_stage),
                              {"w": np.zeros(2, np.float32)})
        return {"w0": float(params["w"][0]), "w1": float(params["w"][1])}


EXPERIMENT = MeanFit


def register(monkeypatch) -> None:
    """Makes ``experiments.<NAME>.experiment`` this module (for ``likelihood_jax.main``)."""
    package = types.ModuleType(f"experiments.{NAME}")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, f"experiments.{NAME}", package)
    monkeypatch.setitem(sys.modules, f"experiments.{NAME}.experiment", sys.modules[__name__])


def write_config(path, body: str) -> str:
    """A config file whose ``get_config`` returns ``body`` evaluated with this module."""
    with open(path, "w") as f:
        f.write("from tests.train import toys\nfrom likelihood_jax.train.stages import "
                "stages_config\n\n\ndef get_config(arg=None):\n    del arg\n"
                f"    return {body}\n")
    return str(path)


def final_state(experiment, workdir):
    run = loop.make_run(experiment)
    checkpoints = Checkpoints(os.path.join(workdir, loop.CHECKPOINT_DIR))
    try:
        return jax.device_get(checkpoints.restore_latest(loop.init_state(run)))
    finally:
        checkpoints.close()


class StopAfter(list):
    """A stop-request list that turns true (SIGTERM) after ``n`` checks of the loop."""

    def __init__(self, n):
        super().__init__()
        self.left = n

    def __bool__(self):
        self.left -= 1
        return self.left < 0

    def __getitem__(self, i):
        return signal.SIGTERM


def stop_after(monkeypatch, n: int) -> None:
    """Makes the loop see SIGTERM after ``n`` checks (its stop handling, without a signal)."""
    monkeypatch.setattr(loop, "_stop_requests", lambda: contextlib.nullcontext(StopAfter(n)))
