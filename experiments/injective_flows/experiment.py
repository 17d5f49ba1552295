"""Free-form injective flows [P009]: an encoder/decoder pair trained by manifold MLE.

Sorrenson et al. 2024, "Lifting Architectural Constraints of Injective Flows". The loss is
:func:`likelihood_jax.flows.injective.injective_flow_loss` (``-log N(f(x))`` + the
Hutchinson surrogate of ``1/2 log det(J_g^T J_g)`` + ``beta |x - g(f(x))|^2``) with the
paper's stabilised objective by default (``config.fif.jacobian_at = "data"``; the naive
one is ``"reconstruction"``). Encoder ``f: R^D -> R^d`` and decoder ``g: R^d -> R^D`` are
MLPs (:class:`likelihood_jax.models.mlp.MLP`; ``model.hidden_dims = ()`` makes both linear,
the PPCA check).

Data: ``ppca``, ``circle_manifold``, ``sphere_manifold``, ``swissroll_surface``
(:mod:`likelihood_jax.data.synthetic.manifolds`) or ``digits`` (flattened, uniformly
dequantized to ``[0, 1)`` and centred: ``v = (k + u) / 17 - 0.5``).

Evaluation: ``reconstruction`` (|x - g(f(x))|^2 per example, the headline) and
``manifold_nll`` (``-log p`` of the projection on the learned manifold, exact:
:func:`~likelihood_jax.flows.injective.manifold_log_prob`). Model metrics:
``max_principal_angle`` (degrees) between the decoder's column span and the true PPCA
loading (linear models on ``ppca``), and ``sample_radius_error`` (mean ``| |x| - 1 |`` of
decoded samples) on the circle and the sphere.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.synthetic import manifolds
from likelihood_jax.flows import injective
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment


class InjectiveFlowExperiment(Experiment):
    """FIF on one dataset (config groups ``model`` and ``fif``)."""

    headline_metric = "reconstruction"

    def make_model(self, config, info):
        """``(encoder, decoder)`` MLPs; the latent size is ``model.latent_dim``."""
        m, dim = config.model, math.prod(info.event_shape)
        return (MLP(tuple(m.hidden_dims), m.latent_dim), MLP(tuple(m.hidden_dims), dim))

    def preprocess(self, batch, key):
        """Digits: flatten and dequantize to ``[0, 1) - 0.5``; vectors pass through."""
        x = batch["x"]
        if self.dataset.info.kind == "image":
            levels = self.dataset.info.num_levels
            u = jax.random.uniform(key, x.shape)
            x = ((x.astype(jnp.float32) + u) / levels - 0.5).reshape(x.shape[0], -1)
        return {**batch, "x": x}

    def _maps(self, params):
        encoder, decoder = self.model
        return (lambda x: encoder.apply({"params": params["encoder"]}, x),
                lambda z: decoder.apply({"params": params["decoder"]}, z))

    def init_params(self, key, batch):
        """``{"encoder", "decoder"}`` parameters."""
        encoder, decoder = self.model
        x = self.preprocess(batch, key)["x"][:1]
        ke, kd = jax.random.split(key)
        return {"encoder": encoder.init(ke, x)["params"],
                "decoder": decoder.init(kd, jnp.zeros((1, self.config.model.latent_dim)))[
                    "params"]}

    def loss_fn(self, params, batch, key, step):
        """FIF loss per example (one probe key per example)."""
        encode, decode = self._maps(params)
        f = self.config.fif
        keys = jax.random.split(key, batch["x"].shape[0])
        loss, m = jax.vmap(lambda x, k: injective.injective_flow_loss(
            encode, decode, x, k, beta=f.beta, num_probes=f.num_probes,
            jacobian_at=f.jacobian_at))(batch["x"], keys)
        return loss, m

    def eval_fn(self, params, batch, key):
        """Reconstruction error and the exact manifold NLL per example."""
        encode, decode = self._maps(params)
        x = batch["x"]
        x_hat = decode(encode(x))
        nll = -jax.vmap(lambda v: injective.manifold_log_prob(encode, decode, v))(x)
        return {"reconstruction": jnp.sum((x - x_hat) ** 2, -1), "manifold_nll": nll}

    def sample_fn(self, params, key, num_samples):
        """Decoded ``z ~ N(0, I)`` (images in data space for digits)."""
        _, decode = self._maps(params)
        x = decode(jax.random.normal(key, (num_samples, self.config.model.latent_dim)))
        if self.dataset.info.kind == "image":
            x = (x + 0.5).reshape((num_samples,) + tuple(self.dataset.info.event_shape))
        return x

    def model_metrics(self, params, key):
        """PPCA: the largest principal angle; circle/sphere: the samples' radius error."""
        ds, out = self.config.dataset, {}
        if ds.name == "ppca" and not self.config.model.hidden_dims:
            w = manifolds.ppca_loading(ds.dim, ds.latent_dim, ds.seed)
            kernel = params["decoder"]["output"]["kernel"].T  # (D, d)
            out["max_principal_angle"] = float(
                np.degrees(injective.principal_angles(jnp.asarray(w, jnp.float32),
                                                      kernel)[-1]))
        if ds.name in ("circle_manifold", "sphere_manifold"):
            x = self.sample_fn(params, key, 2000)
            out["sample_radius_error"] = float(jnp.mean(jnp.abs(
                jnp.linalg.norm(x, axis=-1) - 1.0)))
        return out


EXPERIMENT = InjectiveFlowExperiment
