"""Improved consistency training (iCT) [P233], against an EDM diffusion model on the same net.

Song & Dhariwal (2023), "Improved Techniques for Training Consistency Models" (ICLR 2024).
``config.objective = "ict"`` trains a consistency function ``f(x, sigma)`` from data alone
(no distillation, no EMA teacher) with the pseudo-Huber metric, the lognormal noise-level
schedule and the doubling discretization curriculum
(:func:`likelihood_jax.continuous_time.consistency.consistency_training_loss`, whose ``N(k)`` comes
from the training ``step`` the loop passes to ``loss_fn``); it samples in one network
evaluation (``f(sigma_max z, sigma_max)``) or two (re-noise to ``config.sample.two_step_sigma``
and apply ``f`` again). ``config.objective = "edm"`` trains the same network as an EDM
denoiser (:func:`likelihood_jax.continuous_time.edm.denoising_loss`), the diffusion model iCT is
measured
against, sampled with Heun's method (``2N - 1`` evaluations for ``N`` levels).

Data: 2D toys as they are (``sigma_data`` = the training data's standard deviation), or
images uniformly dequantized to ``[-1, 1)`` and flattened (``sigma_data = 0.5``, as for
CIFAR-10 in the paper). Sample quality (``model_metrics``, every evaluation): the exact
2-Wasserstein distance between samples and as many test points
(:func:`likelihood_jax.transport.empirical_wasserstein2`; images in ``[0, 1]``), and for
images the classifier-feature Fréchet distance of
:class:`likelihood_jax.metrics.sample_quality.ImageFeatures` (FID-like).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics, transport
from likelihood_jax.continuous_time import consistency, edm
from likelihood_jax.metrics import sample_quality
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.train import Experiment

OBJECTIVES = ("ict", "edm")


class ConsistencyTraining(Experiment):
    """iCT or its EDM baseline on vectors or flattened images (see the module docstring)."""

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown config.objective {config.objective!r}; choose one of "
                             f"{OBJECTIVES}")
        super().__init__(config, dataset)
        self.objective = config.objective
        self.headline_metric = "w2_1step" if self.objective == "ict" else (
            f"w2_heun{config.sample.heun_steps[-1]}")
        self._samplers = {}

    def make_model(self, config, info):
        """A :class:`TimeMLP` with Fourier time features on the flattened example."""
        m = config.model
        return TimeMLP(tuple(m.hidden_dims), out_dim=math.prod(info.event_shape),
                       activation=m.activation, time_embedding="fourier",
                       num_frequencies=m.num_frequencies, max_frequency=m.max_frequency)

    # -- derived from the config and the data (computed on first use) ------------------------

    @functools.cached_property
    def num_levels(self) -> int | None:
        """Pixel levels of an image dataset; None for vectors."""
        info = self.dataset.info
        return info.num_levels if info.kind == "image" else None

    @functools.cached_property
    def sigma_data(self) -> float:
        """``config.sigma_data``, else 0.5 for images, else the training data's std."""
        if self.config.sigma_data is not None:
            return float(self.config.sigma_data)
        if self.num_levels:
            return 0.5
        return float(np.std(self.dataset.train["x"]))

    @functools.cached_property
    def num_eval_samples(self) -> int:
        """Samples per sampler for the sample-quality metrics (at most the test size)."""
        return min(int(self.config.eval.num_samples), len(self.dataset.test["x"]))

    @functools.cached_property
    def features(self) -> sample_quality.ImageFeatures:
        """Features of a small classifier of the training images (the Frechet distance)."""
        return sample_quality.ImageFeatures.of_split(self.dataset.train, self.num_levels,
                                                     seed=self.config.seed)

    # -- model -----------------------------------------------------------------------------

    def net_fn(self, params):
        """``F(c_noise, x_in)`` of one flattened example (noise level first)."""
        return functools.partial(self.model.apply, params)

    def preprocess(self, batch, key):
        """Images: uniform dequantization to ``[-1, 1)``, flattened; vectors unchanged."""
        x = batch["x"]
        if self.num_levels:
            x = 2.0 * metrics.uniform_dequantize(key, x, num_levels=self.num_levels) - 1.0
        return dict(batch, x=x.reshape(len(x), self.num_dims))

    def init_params(self, key, batch):
        """The network's parameters (its input size is the flattened example)."""
        return self.model.init(key, jnp.zeros(()), jnp.zeros((self.num_dims,)))

    def loss_fn(self, params, batch, key, step):
        """Per-example loss: iCT with ``N(step)`` levels, or EDM denoising."""
        x = batch["x"]
        keys = jax.random.split(key, len(x))
        c, s = self.config.ict, self.config.noise
        if self.objective == "edm":
            loss = jax.vmap(lambda xi, ki: edm.denoising_loss(
                self.net_fn(params), xi, ki, sigma_data=self.sigma_data,
                p_mean=self.config.edm.p_mean, p_std=self.config.edm.p_std))(x, keys)
            return loss, {}
        levels = consistency.num_noise_levels(step, self.config.total_steps, c.s0, c.s1)
        loss = jax.vmap(lambda xi, ki: consistency.consistency_training_loss(
            self.net_fn(params), xi, ki, levels, sigma_data=self.sigma_data,
            sigma_min=s.sigma_min, sigma_max=s.sigma_max, rho=s.rho, p_mean=c.p_mean,
            p_std=c.p_std, huber_c=c.huber_c, max_levels=c.s1 + 1))(x, keys)
        return loss, {"num_levels": levels}

    # -- sampling and sample quality ---------------------------------------------------------

    def samplers(self) -> dict[str, callable]:
        """``{metric suffix: sample(params, key, n) -> (n, dim)}`` for this objective."""
        s = self.config.noise
        if self.objective == "ict":
            plans = {"1step": (s.sigma_max,),
                     "2step": (s.sigma_max, self.config.sample.two_step_sigma)}

            def make(levels):
                def sample(params, key, n):
                    noise_key, step_key = jax.random.split(key)
                    noise = jax.random.normal(noise_key, (n, self.num_dims))
                    return jax.vmap(lambda z, k: consistency.multistep_sample(
                        self.net_fn(params), z, k, levels, sigma_data=self.sigma_data,
                        sigma_min=s.sigma_min))(noise, jax.random.split(step_key, n))
                return sample
            return {name: make(levels) for name, levels in plans.items()}

        def make_heun(num_steps):
            def sample(params, key, n):
                noise = jax.random.normal(key, (n, self.num_dims))
                return jax.vmap(lambda z: edm.heun_sample(
                    self.net_fn(params), z, num_steps=num_steps, sigma_data=self.sigma_data,
                    sigma_min=s.sigma_min, sigma_max=s.sigma_max, rho=s.rho))(noise)
            return sample
        return {f"heun{n}": make_heun(n) for n in self.config.sample.heun_steps}

    def to_data_space(self, samples):
        """Images back to ``(n, H, W, C)`` in ``[0, 1]``; vectors unchanged."""
        if not self.num_levels:
            return samples
        return jnp.clip((samples + 1.0) / 2.0, 0.0, 1.0).reshape((-1,) + self.event_shape)

    def _headline_samples(self, params, key, num_samples):
        name = self.headline_metric.removeprefix("w2_")
        return self.to_data_space(self.samplers()[name](params, key, num_samples))

    @functools.cached_property
    def sample_fn(self):
        """``sample_fn(params, key, n)``: the headline sampler's samples, in data space.

        The headline sampler is one-step for iCT, the most steps for EDM. One function
        object per experiment, so that ``jax.jit`` of it compiles once for the plot and
        :meth:`model_metrics` when both draw as many samples.
        """
        return functools.partial(ConsistencyTraining._headline_samples, self)

    def model_metrics(self, params, key):
        """W2 (and for images the feature Fréchet distance) of every sampler's samples."""
        n = self.num_eval_samples
        test = self.dataset.test["x"][:n]
        reference = (sample_quality.to_unit_interval(test, self.num_levels)
                     if self.num_levels else test)
        out = {}
        headline = self.headline_metric.removeprefix("w2_")
        for name, sample in self.samplers().items():
            if name == headline:  # the plot's compiled sampler
                samples = jax.jit(self.sample_fn, static_argnums=2)(params, key, n)
            else:
                if name not in self._samplers:
                    self._samplers[name] = jax.jit(functools.partial(sample, n=n))
                samples = self.to_data_space(self._samplers[name](params, key))
            samples = np.asarray(samples)
            samples = samples.reshape(n, -1)
            if not np.all(np.isfinite(samples)):  # a diverged sampler scores NaN, not a crash
                out[f"w2_{name}"] = float("nan")
                continue
            out[f"w2_{name}"] = float(transport.empirical_wasserstein2(samples, reference))
            if self.num_levels:
                out[f"frechet_{name}"] = self.features.frechet_distance(samples, reference)
        return out


EXPERIMENT = ConsistencyTraining
