"""Social-Implicit [P015]: conditional IMLE for multimodal trajectory futures, with AMD/AMV.

Mohamed, Zhu, Vu, Elhoseiny & Claudel (ECCV 2022), "Social-Implicit: Rethinking Trajectory
Prediction Evaluation and The Effectiveness of Implicit Maximum Likelihood Estimation",
arXiv:2203.03057.

Data: ``route_trajectories`` (:mod:`likelihood_jax.data.synthetic.trajectories`): agents walk
towards a junction and take one of ``K`` routes with known probabilities; the model sees the
``obs_len`` past positions and predicts the ``pred_len`` future ones.

A generator ``G(c, z)`` (an MLP on the flattened past ``c`` and noise ``z ~ N(0, I)``) maps to a
future trajectory. ``config.objective``:

* ``imle`` (the paper): ``m = config.imle.num_samples`` futures per past; the nearest to the
  ground truth in L1 is selected under ``stop_gradient`` and its mean L1 error is the loss
  (:func:`likelihood_jax.energy.imle.nearest_sample_loss`);
* ``gaussian_nll`` (baseline, the Gaussian output of Social-LSTM/-STGCNN): the same MLP, fed
  ``z = 0``, outputs a mean and a log standard deviation per coordinate and is trained by the
  Gaussian NLL; its samples are ``mean + std * eps``.

Evaluation (``config.eval.num_samples`` samples per test agent): best-of-``num_best_of`` ADE/FDE,
AMD (the headline: Mahalanobis distance of the ground truth to the per-step Gaussian fit of
the samples, averaged over steps and agents), and in ``model_metrics`` AMV (largest eigenvalue
of the mean per-step covariance) and the sample mass per route against the known route
probabilities (``route_tv``: total variation distance).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.synthetic import trajectories
from likelihood_jax.energy import imle
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment

OBJECTIVES = ("imle", "gaussian_nll")


class SocialImplicit(Experiment):
    """Conditional IMLE (or Gaussian-NLL) trajectory generator."""

    headline_metric = "amd"

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {config.objective!r}; choose one of "
                             f"{OBJECTIVES}")
        if int(config.imle.num_samples) < 1:
            raise ValueError(f"imle.num_samples must be >= 1, got {config.imle.num_samples}")
        super().__init__(config, dataset=dataset)

    @property
    def gaussian(self) -> bool:
        """Whether this is the Gaussian-NLL baseline."""
        return self.config.objective == "gaussian_nll"

    @property
    def future_shape(self) -> tuple[int, int]:
        """``(pred_len, 2)``."""
        return tuple(self.dataset.info.event_shape)

    def make_model(self, config, info):
        """MLP ``[past, z] -> future`` (twice the outputs for the Gaussian baseline)."""
        out = int(np.prod(info.event_shape)) * (2 if self.gaussian else 1)
        return MLP(tuple(config.model.hidden_dims), out)

    def init_params(self, key, batch):
        """MLP parameters for inputs ``[past, z]``."""
        return self.model.init(key, self._inputs(batch["past"][:1],
                                                 jnp.zeros((1, self.config.model.noise_dim))))

    def _inputs(self, past, z):
        return jnp.concatenate([jnp.reshape(past, (past.shape[0], -1)), z], axis=-1)

    def samples(self, params, past, key, num):
        """``num`` futures per past: ``[B, num, T, 2]`` (and the Gaussian's mean, log-std)."""
        b, shape = past.shape[0], self.future_shape
        noise_dim = self.config.model.noise_dim
        if self.gaussian:
            out = self.model.apply(params, self._inputs(past, jnp.zeros((b, noise_dim))))
            mean, log_std = jnp.split(jnp.reshape(out, (b, 2) + shape), 2, axis=1)
            eps = jax.random.normal(key, (b, num) + shape)
            return mean + jnp.exp(log_std) * eps, (mean[:, 0], log_std[:, 0])
        z = jax.random.normal(key, (b, num, noise_dim))
        rep = jnp.repeat(past, num, axis=0)
        out = self.model.apply(params, self._inputs(rep, jnp.reshape(z, (b * num, noise_dim))))
        return jnp.reshape(out, (b, num) + shape), None

    def loss_fn(self, params, batch, key, step):
        """IMLE: mean L1 of the nearest of ``m`` futures; baseline: Gaussian NLL per coordinate."""
        y = batch["x"]
        if self.gaussian:
            _, (mean, log_std) = self.samples(params, batch["past"], key, 1)
            nll = log_std + 0.5 * ((y - mean) / jnp.exp(log_std)) ** 2 + 0.5 * jnp.log(2 * jnp.pi)
            return jnp.mean(jnp.reshape(nll, (y.shape[0], -1)), axis=1), {}
        futures, _ = self.samples(params, batch["past"], key, int(self.config.imle.num_samples))
        loss, _ = jax.vmap(lambda s, t: imle.nearest_sample_loss(
            s, t, self.config.imle.metric))(futures, y)
        return loss, {}

    def eval_fn(self, params, batch, key):
        """Per agent: best-of-K ADE/FDE and AMD over ``eval.num_samples`` futures."""
        futures, _ = self.samples(params, batch["past"], key, int(self.config.eval.num_samples))
        k = int(self.config.eval.num_best_of)
        ade, fde = jax.vmap(imle.best_of_k_displacement)(futures[:, :k], batch["x"])
        amd = jax.vmap(imle.average_mahalanobis_distance)(futures, batch["x"])
        return {"amd": amd, "ade": ade, "fde": fde}

    @functools.partial(jax.jit, static_argnums=0)
    def _test_futures(self, params, past, key):
        futures, _ = self.samples(params, past, key, int(self.config.eval.num_samples))
        return futures, imle.average_max_eigenvalue(
            jax.vmap(imle.sample_covariances)(futures))

    @functools.cached_property
    def oracle(self) -> dict[str, float]:
        """AMD and AMV of samples from the true conditional law (the data's own floor)."""
        test, opts = self.dataset.test, self.config.dataset
        n = min(len(test["x"]), int(self.config.eval_batch_size))
        futures = trajectories.conditional_futures(
            np.random.default_rng(0), test["speed"][:n], int(self.config.eval.num_samples),
            route_probs=opts.route_probs, spread=opts.spread, pred_len=self.future_shape[0],
            noise_std=opts.get("noise_std", 0.05))
        futures, y = jnp.asarray(futures), jnp.asarray(test["x"][:n])
        amd = jnp.mean(jax.vmap(imle.average_mahalanobis_distance)(futures, y))
        amv = imle.average_max_eigenvalue(jax.vmap(imle.sample_covariances)(futures))
        return {"oracle_amd": float(amd), "oracle_amv": float(amv)}

    def model_metrics(self, params, key):
        """AMV, the sample mass of each route vs the known route probabilities, the oracle."""
        test = self.dataset.test
        n = min(len(test["x"]), int(self.config.eval_batch_size))
        futures, amv = self._test_futures(params, jnp.asarray(test["past"][:n]), key)
        opts = self.config.dataset
        angles = trajectories.route_angles(len(opts.route_probs), opts.spread)
        routes = trajectories.classify_route(np.asarray(futures), angles)
        mass = np.bincount(routes.reshape(-1), minlength=len(angles)) / routes.size
        out = {"amv": float(amv),
               "route_tv": 0.5 * float(np.abs(mass - np.asarray(opts.route_probs)).sum()),
               **self.oracle}
        out.update({f"route_mass_{r}": float(m) for r, m in enumerate(mass)})
        return out

    def sample_fn(self, params, key, num_samples):
        """Final positions of futures for the first test agents (a 2D scatter)."""
        past = jnp.asarray(self.dataset.test["past"][:8])
        futures, _ = self.samples(params, past, key, max(1, num_samples // 8))
        return jnp.reshape(futures[:, :, -1, :], (-1, 2))


EXPERIMENT = SocialImplicit
