"""EBFlow: a normalizing flow trained as an energy-based model by score matching.

Chao, Sun, Hsu, Kira & Lee (2023), "Training Energy-Based Normalizing Flow with
Score-Matching Objectives", NeurIPS. https://arxiv.org/abs/2305.15267

The flow ``u = g(x) = g_L o ... o g_1(x)`` with base ``N(0, I)`` has

    log p(x) = log N(g(x)) + sum_{i in S_n} log|det J_i(x)| + sum_{i in S_l} log|det J_i|
             = -E(x) - log Z,

where ``S_l`` are the layers whose log-det is constant in x (dense linear layers with an
unconstrained weight, ActNorm) and ``S_n`` the others (couplings, elementwise
nonlinearities). ``E`` is ``flows.Flow.energy``; ``Z`` holds every dense determinant. The
objectives "sml", "ssm", "dsm" and "fdssm" (``likelihood_jax.flows.ebflow``) need only ``E``
and its x-derivatives, so training never computes a determinant; "ml" is the exact NLL
(``slogdet`` of every dense layer, the baseline). Evaluation always uses the exact
``log p`` with ``slogdet``.

Paper techniques, behind config switches:

* **Match after preprocessing** (``config.match_after_preprocessing``, MaP, Sec. 4.3): images
  are dequantized to ``y in [0, 1)`` and mapped by the parameter-free logit preprocessing
  ``u = T(y)``. With MaP the score-matching objective is applied to the density of ``u``
  (energy of the flow body only), whose Fisher divergence is zero iff the one of ``y`` is
  (their Proposition); without it, to the density of ``y`` through ``T``, whose derivatives
  blow up near 0 and 1. ML is unaffected (KL is invariant to the bijection ``T``). DSM and
  FD-SSM without MaP are refused: their perturbations push ``y`` out of the logit's domain.
* **EMA** of the parameters for evaluation: ``config.ema_decay`` (the paper uses 0.999).
* **Energy regularization** (their appendix A.2.2, ``lambda`` in the released code):
  ``config.energy_reg * E(x)`` added to the per-example loss (0 disables it).

Data. Toys (2D, continuous): as in the paper, the target is the Gaussian-smoothed toy
``p_sigma = p_toy * N(0, sigma^2 I)`` (``config.data_noise_std``, 0.375 in the paper), so that
its score exists; every training batch is noised afresh, the test set once (fixed seed).
DSM with ``sigma = data_noise_std`` on clean points targets exactly ``p_sigma``, so "dsm" uses
the clean batch and that sigma. Test metrics: exact NLL (nats), the KL divergence
``E_{p_sigma}[log p_sigma - log p_theta]`` and the Fisher divergence
``0.5 E|grad log p_theta - grad log p_sigma|^2`` (the paper's two toy metrics), with
``p_sigma`` and its score from a Gaussian kernel density over the clean training points (an
unbiased estimate of ``p_sigma(x)``). Images: uniform dequantization and bits/dim as in
``experiments/mle_flow`` (``metrics.dequantized_bits_per_dim`` with ``scale = 1/L``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from likelihood_jax import flows, metrics
from likelihood_jax.flows import ebflow as ebflow_losses
from likelihood_jax.train import Experiment
from likelihood_jax.train.experiment import load_config_dataset

DENSE_INITS = ("orthogonal", "identity", "neg_identity")


class EBFlow(Experiment):
    """EBFlow trained with ``config.objective`` in ``flows.ebflow.OBJECTIVES``.

    Construction checks the config only; the (smoothed) dataset, the flow body (the model,
    whose parameters are trained) and the flows built on it come when first used.
    """

    def __init__(self, config, dataset=None):
        objective = config.get("objective", "ssm")
        if objective not in ebflow_losses.OBJECTIVES:
            raise ValueError(f"unknown config.objective {objective!r}; choose one of "
                             f"{ebflow_losses.OBJECTIVES}")
        dense_init = config.model.get("dense_init", "orthogonal")
        if dense_init not in DENSE_INITS:
            raise ValueError(f"unknown model.dense_init {dense_init!r}; choose one of "
                             f"{DENSE_INITS}")
        super().__init__(config, dataset)
        self.objective = objective
        self.match_after_preprocessing = bool(config.get("match_after_preprocessing", True))

    # -- derived from the data's info -----------------------------------------------------

    @functools.cached_property
    def num_levels(self) -> int | None:
        """Integer levels of image data; None for continuous data."""
        return _num_levels(self.dataset.info)

    @functools.cached_property
    def noise_std(self) -> float:
        """The toys' smoothing noise ``sigma`` (``config.data_noise_std``; 0 for images)."""
        return 0.0 if self.num_levels else float(self.config.get("data_noise_std", 0.0))

    @property
    def headline_metric(self) -> str:
        """``bits_per_dim`` for images, ``nll`` (nats) for continuous data."""
        return "bits_per_dim" if self.num_levels else "nll"

    def check_data(self, info) -> None:
        """The base checks, and no DSM/FD-SSM on dequantized images without MaP."""
        super().check_data(info)
        if (_num_levels(info) and self.objective in ("dsm", "fdssm")
                and not self.match_after_preprocessing):
            raise ValueError(
                f"objective {self.objective!r} without match_after_preprocessing perturbs "
                "dequantized images in [0, 1) (noise or finite-difference steps), which leaves "
                "the logit's domain (NaN; the paper's code zeroes those losses). Use "
                "match_after_preprocessing=True.")

    # -- the model ------------------------------------------------------------------------

    def make_model(self, config, info) -> flows.Chain:
        """The flow body (:func:`likelihood_jax.flows.ebflow.build_body`), with the parameters."""
        return ebflow_losses.build_body(config.model, math.prod(info.event_shape))

    @property
    def body(self) -> flows.Chain:
        """The flow body on vectors ``(D,)`` (:attr:`model`)."""
        return self.model

    @functools.cached_property
    def preprocessing(self) -> flows.Chain:
        """The parameter-free preprocessing ``T``: Flatten for images, then the logit."""
        pre: list[flows.Bijector] = []
        if len(self.event_shape) > 1:
            pre.append(flows.Flatten(self.event_shape))
        if self.num_levels:
            pre.append(flows.Logit(alpha=self.config.model.get("logit_alpha", 1e-6)))
        return flows.Chain(tuple(pre))

    @functools.cached_property
    def body_flow(self) -> flows.Flow:
        """The flow of ``u = T(y)``: the body on a standard-normal base."""
        return flows.Flow(self.body, (self.num_dims,))

    @functools.cached_property
    def flow(self) -> flows.Flow:
        """The flow of the data ``y``: preprocessing then body."""
        return flows.Flow(flows.Chain(self.preprocessing.layers + self.body.layers),
                          self.event_shape)

    # -- data -------------------------------------------------------------------------------

    def make_dataset(self, config):
        """The config's dataset; toys with ``data_noise_std > 0`` get a smoothed test set."""
        dataset = load_config_dataset(config)
        noise_std = float(config.get("data_noise_std", 0.0))
        if _num_levels(dataset.info) or noise_std <= 0:
            return dataset
        return ebflow_losses.smoothed_dataset(dataset, config, noise_std)

    def preprocess(self, batch, key):
        """Images: uniform dequantization into ``y in [0, 1)`` (flattened later by the flow).

        Toys pass through unchanged (the smoothing noise is drawn in ``loss_fn``; the test
        set is noised once in ``make_dataset``).
        """
        x = batch["x"]
        if self.num_levels:
            return dict(batch, x=metrics.uniform_dequantize(key, x, num_levels=self.num_levels))
        return dict(batch, x=x.astype(jnp.float32))

    def full_params(self, params):
        """Params of ``self.flow`` (parameter-free preprocessing + body) from body params."""
        return tuple({} for _ in self.preprocessing.layers) + tuple(params)

    def preprocessed(self, y: jax.Array) -> jax.Array:
        """``u = T(y)`` for a batch (flatten, logit)."""
        params = tuple({} for _ in self.preprocessing.layers)
        return jax.vmap(self.preprocessing.forward, in_axes=(None, 0))(params, y)

    # -- Experiment interface -----------------------------------------------------------------

    def init_params(self, key, batch):
        """Layer by layer on the first (preprocessed) batch, with ``model.dense_init``."""
        data_key, noise_key, init_key = jax.random.split(key, 3)
        y = self.preprocess({"x": jnp.asarray(batch["x"])}, data_key)["x"]
        if self.noise_std > 0:
            y = y + self.noise_std * jax.random.normal(noise_key, y.shape, y.dtype)
        h = self.preprocessed(y)
        dense_init = self.config.model.get("dense_init", "orthogonal")
        params = []
        for layer, layer_key in zip(self.body.layers,
                                    jax.random.split(init_key, len(self.body.layers))):
            p = layer.init(layer_key, h)
            if isinstance(layer, flows.Dense) and dense_init != "orthogonal":
                eye = jnp.eye(h.shape[-1], dtype=h.dtype)
                p = ({"w": eye, "b": jnp.zeros_like(p["b"])} if dense_init == "identity" else
                     {"w": -eye, "b": jnp.ones_like(p["b"])})  # the paper's FC init
            params.append(p)
            h = jax.vmap(layer.forward, in_axes=(None, 0))(p, h)
        return tuple(params)

    def loss_fn(self, params, batch, key, step):
        """Per-example EBFlow objective (plus the optional energy regularization)."""
        config = self.config
        noise_key, obj_key, sample_key = jax.random.split(key, 3)
        y = batch["x"]
        if self.objective == "ml":
            log_prob = jax.vmap(self.flow.log_prob, in_axes=(None, 0))(
                self.full_params(params), self._noised(y, noise_key))
            return -log_prob, self._image_metrics(log_prob)
        dsm_sigma = config.get("dsm_sigma", 0.1)
        if self.noise_std > 0:
            if self.objective == "dsm":
                dsm_sigma = self.noise_std  # the smoothing kernel is the DSM corruption
            else:
                y = self._noised(y, noise_key)
        if self.match_after_preprocessing:
            inputs, flow, flow_params = self.preprocessed(y), self.body_flow, params
        else:
            inputs, flow, flow_params = y, self.flow, self.full_params(params)
        energy_fn = functools.partial(flow.energy, flow_params)
        samples = None
        if self.objective == "sml":
            samples = flow.sample(jax.lax.stop_gradient(flow_params), sample_key, y.shape[0])
        options = dict(num_slices=config.get("num_slices", 1),
                       probe=config.get("ssm_probe", "rademacher"),
                       variance_reduction=config.get("ssm_variance_reduction", True),
                       sigma=dsm_sigma, eps=config.get("fdssm_eps", 0.1))

        def per_example(x, k, sample):
            return ebflow_losses.flow_score_matching_loss(
                self.objective, energy_fn, x, k, model_sample=sample, **options)

        keys = jax.random.split(obj_key, y.shape[0])
        if samples is None:
            loss = jax.vmap(lambda x, k: per_example(x, k, None))(inputs, keys)
        else:
            loss = jax.vmap(per_example)(inputs, keys, samples)
        energy_reg = config.get("energy_reg", 0.0)
        if energy_reg:
            loss = loss + energy_reg * jax.vmap(energy_fn)(inputs)
        return loss, {}

    def _noised(self, y, key):
        if self.noise_std > 0:
            return y + self.noise_std * jax.random.normal(key, y.shape, y.dtype)
        return y

    def _image_metrics(self, log_prob):
        if not self.num_levels:
            return {}
        return {"bits_per_dim": metrics.dequantized_bits_per_dim(
            log_prob, self.num_dims, num_levels=self.num_levels, scale=1.0 / self.num_levels)}

    def eval_fn(self, params, batch, key):
        """Exact NLL (slogdet) and bits/dim, or NLL, KL and Fisher divergence on toys."""
        y = batch["x"]
        full = self.full_params(params)
        log_prob = jax.vmap(self.flow.log_prob, in_axes=(None, 0))(full, y)
        out = {"nll": -log_prob, **self._image_metrics(log_prob)}
        if "log_p_true" in batch:
            score = jax.vmap(jax.grad(self.flow.log_prob, argnums=1), in_axes=(None, 0))(full, y)
            out["kl"] = batch["log_p_true"] - log_prob
            out["fisher_divergence"] = 0.5 * jnp.sum(
                jnp.square(score - batch["score_true"]), axis=-1)
        return out

    def sample_fn(self, params, key, num_samples):
        """Samples in data space (images in [0, 1)), through the flow's inverse.

        None for vectors other than 2D (the samples plot draws 2D points or images only).
        """
        if not self.num_levels and self.event_shape != (2,):
            return None
        num = min(num_samples, 64) if self.num_levels else num_samples
        return self.flow.sample(self.full_params(params), key, num)

    def log_prob_fn(self, params, x):
        """Exact model log-density of continuous data, for the 2D density plot."""
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0))(self.full_params(params), x)




def _num_levels(info) -> int | None:
    return info.num_levels if info.kind == "image" else None


EXPERIMENT = EBFlow
