"""The density zoo: every density model of the library, one contract, one bits/dim convention.

Each model is a ``TrainableDensity`` of :mod:`likelihood_jax.density`, built by its family's
adapter and trained by the shared loop; ``config.model.family`` picks the model
(:data:`FAMILIES`) and ``config.objective`` its training objective (``"auto"``: the model's
first; ``"ml"``, ``"score_matching"``, ``"flow_matching"`` where the model has it).

* Flows (:mod:`likelihood_jax.flows.density`): ``realnvp``, ``spline``, ``maf``, ``glow``
  and ``tarflow`` [P008] (images only); ``ml`` or EBFlow's ``score_matching`` [P001].
  Autoregressive models of the flows family: ``pixelcnn`` (PixelCNN++ [P070], a discrete
  model, images only; ``ml``) and ``trade`` (TraDE [P027]; ``ml`` or ``penalized_ml``,
  NLL + ``model.mmd_weight`` MMD^2).
* Continuous time (:mod:`likelihood_jax.continuous_time.density`): ``cnf`` (flow matching,
  CNF likelihood by diffrax), ``diffusion_ode`` (denoising, probability-flow ODE likelihood,
  i-DODE [P013]), ``vdm`` (denoising, the VDM ELBO: a bound).
* Sequence (:mod:`likelihood_jax.sequence.density`): ``transformer``, the autoregressive
  transformer over pixel levels (images only).

Data: images (``digits``, ``mnist5k``) are uniformly dequantized into ``[0, 1)`` for
training, every model the same way; the headline ``bits_per_dim`` is
:func:`likelihood_jax.density.bits_per_dim` of the test images (uniform dequantization,
``metrics``' convention; an upper bound on the discrete bits/dim, exact models included).
2D toys: the test NLL in nats. ``write_artifacts`` writes ``zoo.json``: the model's
family, objective, ``likelihood`` (``exact`` or ``bound``) and parameter count, and
``samples.npy``: the leaderboard's grid (:attr:`DensityZoo.num_grid_samples`: 16 images, 2000
points of a 2D toy).

The experiment imports three families by nature, so it declares ``FAMILY`` (the section of
``docs/experiments.md`` it is listed under; ``tests/discovery.py:family_of`` honours it).
"""

from __future__ import annotations

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import density, metrics
from likelihood_jax.continuous_time.density import CNFDensity, DiffusionDensity
from likelihood_jax.flows.density import (
    FLOW_KINDS,
    IMAGE_KINDS,
    flow_density,
    pixelcnn_density,
    trade_density,
)
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.sequence.density import autoregressive_pixels
from likelihood_jax.train import Experiment

FAMILY = "flows"
CONTINUOUS_TIME = ("cnf", "diffusion_ode", "vdm")
FAMILIES = FLOW_KINDS + ("pixelcnn", "trade") + CONTINUOUS_TIME + ("transformer",)
IMAGE_ONLY = IMAGE_KINDS + ("pixelcnn", "transformer")


def build_model(model_config, event_shape: tuple[int, ...], num_levels: int | None
                ) -> density.TrainableDensity:
    """The density model named by ``model_config.family`` for data of ``event_shape``.

    Raises:
      ValueError: an unknown family, or an image-only family on continuous data.
    """
    m = model_config
    family = m.family
    if family not in FAMILIES:
        raise ValueError(f"config.model.family must be one of {FAMILIES}, got {family!r}")
    if family in IMAGE_ONLY and num_levels is None:
        raise ValueError(f"config.model.family={family!r} needs image data")
    hidden = tuple(m.hidden_dims)
    if family in FLOW_KINDS:
        return flow_density(family, event_shape, num_levels=num_levels,
                            num_layers=m.num_layers, hidden_dims=hidden, num_bins=m.num_bins,
                            bound=m.bound, transform=m.transform, patch_size=m.patch_size,
                            width=m.width, transformer_layers=m.transformer_layers,
                            num_heads=m.num_heads)
    if family == "pixelcnn":
        return pixelcnn_density(event_shape, num_levels, num_filters=m.num_filters,
                                num_resnet=m.num_resnet, num_scales=m.num_scales,
                                num_mixtures=m.num_mixtures, dropout=m.dropout)
    if family == "trade":
        return trade_density(event_shape, num_levels=num_levels,
                             num_components=m.num_components,
                             num_layers=m.transformer_layers, width=m.width,
                             num_heads=m.num_heads, mmd_weight=m.mmd_weight)
    if family == "transformer":
        return autoregressive_pixels(event_shape, num_levels, num_layers=m.transformer_layers,
                                     width=m.width, num_heads=m.num_heads)
    network = TimeMLP(hidden_dims=hidden, activation="silu", time_embedding="fourier")
    solver = {"hutchinson": m.hutchinson, "solver": m.solver,
              "num_steps": m.num_steps or None, "rtol": m.tol, "atol": m.tol}
    if family == "cnf":
        return CNFDensity(network, event_shape, num_levels, **solver)
    likelihood = "ode" if family == "diffusion_ode" else "elbo"
    return DiffusionDensity(network, event_shape, num_levels, likelihood=likelihood,
                            gamma_min=m.gamma_min, **solver)


class DensityZoo(Experiment):
    """One model of the zoo (``config.model.family``) trained with ``config.objective``."""

    @functools.cached_property
    def num_levels(self) -> int | None:
        """Pixel levels of image data; None for continuous data."""
        info = self.dataset.info
        return info.num_levels if info.kind == "image" else None

    @property
    def headline_metric(self) -> str:
        """``bits_per_dim`` for images, ``nll`` (nats) for continuous data."""
        return "bits_per_dim" if self.num_levels else "nll"

    def make_model(self, config, info) -> density.TrainableDensity:
        """The adapter of ``config.model.family`` (see :func:`build_model`)."""
        num_levels = info.num_levels if info.kind == "image" else None
        return build_model(config.model, tuple(info.event_shape), num_levels)

    @functools.cached_property
    def objective(self) -> str:
        """``config.objective``, checked against the model's (``"auto"``: its first)."""
        return density.resolve_objective(self.model, self.config.objective)

    def preprocess(self, batch, key):
        """Images: uniform dequantization into ``[0, 1)`` (the levels kept as ``k``)."""
        if not self.num_levels:
            return dict(batch, x=jnp.asarray(batch["x"], jnp.float32))
        y = metrics.uniform_dequantize(key, batch["x"], num_levels=self.num_levels)
        return dict(batch, x=y, k=batch["x"])

    def init_params(self, key, batch):
        """The model's initialization on the first (dequantized) batch."""
        data_key, init_key = jax.random.split(key)
        return self.model.init(init_key, self.preprocess(batch, data_key)["x"])

    def loss_fn(self, params, batch, key, step):
        """The model's per-example loss of :attr:`objective`."""
        return self.model.loss(params, batch["x"], key, self.objective), {}

    def eval_fn(self, params, batch, key):
        """Test NLL (nats; of ``[0, 1)^D`` for images) and, for images, bits/dim."""
        if not self.num_levels:
            return {"nll": -self.model.log_prob(params, batch["x"], key)}
        nll_key, bpd_key = jax.random.split(key)
        return {"nll": -self.model.log_prob(params, batch["x"], nll_key),
                "bits_per_dim": density.bits_per_dim(self.model, params, bpd_key, batch["k"],
                                                     num_levels=self.num_levels)}

    def sample_fn(self, params, key, num_samples):
        """Samples in data space (images in ``[0, 1]``, at most 64)."""
        if not self.num_levels:
            return self.model.sample(params, key, num_samples)
        return jnp.clip(self.model.sample(params, key, min(num_samples, 64)), 0.0, 1.0)

    def log_prob_fn(self, params, x):
        """Model log-density of continuous data, for the 2D density plot."""
        return self.model.log_prob(params, x)

    @property
    def num_grid_samples(self) -> int:
        """Samples kept for the leaderboard's grid: 16 images or 2000 2D points."""
        return 16 if self.num_levels else 2000

    def write_artifacts(self, params, workdir: str) -> None:
        """``zoo.json`` (family, objective, likelihood kind, parameters), ``samples.npy``."""
        summary = {"family": self.config.model.family, "objective": self.objective,
                   "likelihood": density.likelihood_kind(self.model),
                   "num_params": density.num_parameters(params)}
        with open(os.path.join(workdir, "zoo.json"), "w") as f:
            json.dump(summary, f)
        sample = jax.jit(self.sample_fn, static_argnums=2)
        np.save(os.path.join(workdir, "samples.npy"), np.asarray(sample(
            params, jax.random.key(self.config.seed), self.num_grid_samples)))


EXPERIMENT = DensityZoo
