"""OT-CFM [P011]: conditional flow matching with minibatch optimal transport couplings.

Tong, Fatras, Malkin, Huguet, Zhang, Rector-Brooks, Wolf & Bengio (2023), "Improving and
generalizing flow-based generative models with minibatch optimal transport" (TMLR).

A vector field ``v_theta(t, x)`` (:class:`likelihood_jax.models.time_mlp.TimeMLP`) is
regressed onto conditional velocities
(:func:`likelihood_jax.continuous_time.flow_matching.flow_matching_loss`) for pairs ``(x0, x1)``
of a source sample (``config.source``: ``"normal"`` or a 2D toy such as
``"8gaussians"``; :mod:`likelihood_jax.data.synthetic.source_pairs` draws the held-out
ones) and a target sample (``config.dataset``), coupled per minibatch
by ``config.cfm.variant`` in {icfm, otcfm, otcfm_sinkhorn, sbcfm, target} with path
noise ``config.cfm.sigma``.

Evaluation on ``config.eval.num_examples`` held-out pairs (one batch), with the adaptive
solver of ``config.eval`` (dopri5, rtol = atol = 1e-4 as in the paper):

* ``w2``: 2-Wasserstein distance between the model's samples (the held-out sources
  pushed through the flow) and the held-out targets, by exact OT on the two
  equal-size samples (``w2_sq`` per example: the squared distance of each sample to
  its OT partner; their mean is ``W2^2``); ``w2_data`` is the same distance between two
  independent samples of the target data, the floor a perfect model would reach;
* ``path_energy``: ``integral_0^1 |v(t, x_t)|^2 dt`` along each sampled trajectory,
  and ``npe = |mean path_energy - W2^2(q0, q1)| / W2^2(q0, q1)``, the paper's
  normalized path energy, with ``W2^2(q0, q1)`` the exact OT cost between the held-out
  sources and targets (``source_target_w2_sq``); a flow along straight OT paths has
  ``npe = 0``;
* ``nfe``: vector-field evaluations of the adaptive sampler;
* ``nll`` (source ``"normal"`` only): the test NLL by the CNF change of variables
  (exact divergence, or Hutchinson's unbiased estimate with ``eval.divergence =
  "hutchinson"``), and its ``nll_nfe``.

The vector field is ``config.model.arch``: ``"mlp"`` (:class:`TimeMLP` on the flat
vector) or, for images, ``"unet"`` (:class:`likelihood_jax.models.unet.UNet` on the
image; the ODE state stays flat).

The headline metric is ``w2``. Images (``digits``) are flattened and uniformly
dequantized into ``[-1, 1)`` (``z = 2 (k + u) / L - 1``) with a standard-normal source;
their headline metric is ``bits_per_dim``, the dequantized CNF likelihood in bits per
dimension of the discrete data (:func:`likelihood_jax.metrics.dequantized_bits_per_dim`
with ``scale = 2 / L``), and W2/path energy are measured in that ``[-1, 1)`` space.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax import metrics, ode, transport
from likelihood_jax.continuous_time import flow_matching
from likelihood_jax.data.synthetic import source_pairs
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.models.unet import UNet
from likelihood_jax.train import Experiment, load_config_dataset

ARCHS = ("mlp", "unet")
DIVERGENCES = ("exact", "hutchinson")

def w2_squared_terms(samples: jax.Array, reference: jax.Array) -> jax.Array:
    """Per-example squared distances of the exact OT matching; their mean is ``W2^2``.

    Exact OT between two equal-size uniform empirical measures is a permutation
    (:func:`likelihood_jax.transport.exact_ot_pairing`).
    """
    perm = transport.exact_ot_pairing(samples, reference)
    diff = samples - reference[perm]
    return jnp.sum(diff * diff, axis=-1)


class OTCFM(Experiment):
    """Conditional flow matching with the coupling/path of ``config.cfm.variant``."""

    def __init__(self, config, dataset=None):
        """``dataset``, if given, is the *target* (held-out sources are added to it lazily)."""
        self.source = config.source
        if self.source != "normal" and self.source not in data_lib.TOY_NAMES:
            raise ValueError(f"Unknown source {self.source!r}; expected 'normal' or one of "
                             f"{data_lib.TOY_NAMES}.")
        self.coupling, self.path = flow_matching.variant_parts(config.cfm.variant)
        if self.path == "target" and self.source != "normal":
            raise ValueError(f"cfm.variant='target' (Lipman et al.) needs source='normal', "
                             f"got {self.source!r}.")
        num_eval = int(config.eval.num_examples)
        if int(config.eval_batch_size) < num_eval:
            raise ValueError(f"eval_batch_size={config.eval_batch_size} must be >= "
                             f"eval.num_examples={num_eval}: W2 and the path energy are "
                             f"computed on one batch.")
        self.arch = config.model.get("arch", "mlp")
        if self.arch not in ARCHS:
            raise ValueError(f"Unknown model.arch {self.arch!r}; expected one of {ARCHS}.")
        self.divergence = config.eval.get("divergence", "exact")
        if self.divergence not in DIVERGENCES:
            raise ValueError(f"Unknown eval.divergence {self.divergence!r}; expected one of "
                             f"{DIVERGENCES}.")
        super().__init__(config)
        self._target = dataset
        if self.source == "normal":
            self.log_prob_fn = self._log_prob

    def make_dataset(self, config):
        """The target (``config.dataset``) with held-out source samples (``x0``, ``x_ref``)."""
        target = self._target if self._target is not None else load_config_dataset(config)
        return source_pairs.pair_with_source(target, config.source,
                                             int(config.eval.num_examples))

    def make_model(self, config, info):
        """The vector field: a :class:`TimeMLP` or, for images, a :class:`UNet`."""
        m = config.model
        if self.arch == "mlp":
            return TimeMLP(hidden_dims=tuple(m.hidden_dims), activation=m.activation,
                           time_embedding=m.time_embedding)
        if info.kind != "image":
            raise ValueError(f"model.arch='unet' needs image data, got "
                             f"{config.dataset.name!r}.")
        return UNet(base_channels=int(m.base_channels), channel_mults=tuple(m.channel_mults),
                    num_res_blocks=int(m.num_res_blocks))

    # -- derived from the data (computed on first use) -----------------------------------

    @property
    def headline_metric(self) -> str:
        """``bits_per_dim`` for images, else ``w2``."""
        return "bits_per_dim" if self.num_levels else "w2"

    @functools.cached_property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one target example."""
        return tuple(self.dataset.train["x"].shape[1:])

    @functools.cached_property
    def dim(self) -> int:
        """Size of a flattened example."""
        return int(np.prod(self.event_shape))

    @functools.cached_property
    def num_levels(self) -> int | None:
        """Pixel levels of image data; None for vectors."""
        info = self.dataset.info
        return info.num_levels if info.kind == "image" else None

    @property
    def source_pool(self) -> np.ndarray | None:
        """Training source samples of a toy source (None for a normal source)."""
        return self.dataset.train.get("x0")

    # -- pieces ------------------------------------------------------------------------

    def model_inputs(self, x: jax.Array, key: jax.Array) -> jax.Array:
        """Flat continuous inputs ``(B, D)``: the data, or images dequantized into [-1, 1).

        Images with ``L`` levels: ``z = 2 (k + u) / L - 1``, ``u ~ U[0, 1)^D``, an affine
        map with slope ``2/L`` per level (``metrics.dequantized_bits_per_dim`` with
        ``scale=2/L``).
        """
        if self.num_levels:
            y = metrics.uniform_dequantize(key, x, num_levels=self.num_levels)
            return (2.0 * y - 1.0).reshape(x.shape[0], -1)
        return x.astype(jnp.float32)

    def vector_field(self, params):
        """``v(t, x)`` for one flat example ``x`` (``(D,)``; the U-Net sees it as an image)."""
        if self.arch == "unet":
            return lambda t, x: self.model.apply(
                params, t, x.reshape(self.event_shape)).reshape(x.shape)
        return lambda t, x: self.model.apply(params, t, x)

    def _solver_options(self) -> dict:
        """``config.eval``'s solver: adaptive, or ``eval.num_steps`` fixed steps when set."""
        e = self.config.eval
        num_steps = e.get("num_steps", None)
        return {"solver": e.solver, "rtol": e.rtol, "atol": e.atol,
                "max_steps": int(e.get("max_steps", 4096)),
                "num_steps": None if num_steps is None else int(num_steps)}

    def sample_source(self, key, n: int) -> jax.Array:
        """``n`` fresh source points (a toy source resamples its training pool)."""
        if self.source == "normal":
            return jax.random.normal(key, (n, self.dim), jnp.float32)
        idx = jax.random.randint(key, (n,), 0, len(self.source_pool))
        return jnp.asarray(self.source_pool)[idx]

    def flow_metrics(self, vector_field, x0: jax.Array, x1: jax.Array, nll: bool = True,
                     x_ref: jax.Array | None = None, nll_key: jax.Array | None = None
                     ) -> dict[str, jax.Array]:
        """Per-example evaluation metrics of a flow from held-out ``x0`` to held-out ``x1``.

        Args:
          vector_field: ``v(t, x)`` for one example.
          x0: held-out sources ``(B, D)``.
          x1: held-out targets ``(B, D)``.
          nll: also compute the CNF test NLL of ``x1`` (standard normal source only).
          x_ref: another sample of the target, same size: ``w2_data`` is the W2 between
            it and ``x1``, the value a perfect model would get on samples of this size.
          nll_key: ``None`` for the exact divergence in the NLL, else the key of
            Hutchinson probes (one Rademacher probe per example, fixed along its
            trajectory: an unbiased estimate of the same log-density).

        Returns:
          ``{name: [B]}``: ``w2_sq``, ``w2`` (batch value, broadcast), ``path_energy``,
          ``source_target_w2_sq``, ``npe`` (broadcast), ``nfe``; with ``nll``, ``nll``
          and ``nll_nfe``; with ``x_ref``, ``w2_data`` (broadcast).
        """
        options = self._solver_options()
        samples, stats = jax.vmap(lambda z: ode.cnf_sample(
            vector_field, z, path_energy=True, **options))(x0)
        w2_sq = w2_squared_terms(samples, x1)
        coupling_cost = w2_squared_terms(x0, x1)
        ones = jnp.ones_like(w2_sq)
        w2_ref = jnp.mean(coupling_cost)
        out = {
            "w2_sq": w2_sq,
            "w2": jnp.sqrt(jnp.mean(w2_sq)) * ones,
            "path_energy": stats["path_energy"],
            "source_target_w2_sq": coupling_cost,
            "npe": jnp.abs(jnp.mean(stats["path_energy"]) - w2_ref) / w2_ref * ones,
            "nfe": stats["nfe"].astype(jnp.float32),
        }
        if x_ref is not None:
            out["w2_data"] = jnp.sqrt(jnp.mean(w2_squared_terms(x_ref, x1))) * ones
        if nll:
            if nll_key is None:
                log_prob, nll_stats = jax.vmap(lambda x: ode.cnf_log_prob(
                    vector_field, x, **options))(x1)
            else:
                keys = jax.random.split(nll_key, x1.shape[0])
                log_prob, nll_stats = jax.vmap(lambda x, k: ode.cnf_log_prob(
                    vector_field, x, key=k, **options))(x1, keys)
            out["nll"] = -log_prob
            out["nll_nfe"] = nll_stats["nfe"].astype(jnp.float32)
        return out

    # -- Experiment interface -------------------------------------------------------------

    def init_params(self, key, batch):
        """Initializes the vector field on one example."""
        x = self.model_inputs(jnp.asarray(batch["x"])[:1], key)[0]
        if self.arch == "unet":
            x = x.reshape(self.event_shape)
        return self.model.init(key, jnp.zeros((), x.dtype), x)

    def loss_fn(self, params, batch, key, step):
        """Per-example CFM loss of the configured variant (pairing per minibatch)."""
        source_key, loss_key, data_key = jax.random.split(key, 3)
        x1 = self.model_inputs(batch["x"], data_key)
        if self.source == "normal":
            x0 = jax.random.normal(source_key, x1.shape, x1.dtype)
        else:
            x0 = batch["x0"]
        cfm = self.config.cfm
        loss = flow_matching.flow_matching_loss(
            self.vector_field(params), x0, x1, loss_key, variant=cfm.variant,
            sigma=float(cfm.sigma), sinkhorn_epsilon=float(cfm.get("sinkhorn_epsilon", 0.05)),
            sinkhorn_threshold=float(cfm.get("sinkhorn_threshold", 1e-2)),
            sinkhorn_max_iterations=int(cfm.get("sinkhorn_max_iterations", 1000)))
        return loss, {}

    def eval_fn(self, params, batch, key):
        """W2, path energy, NFE (and NLL for a normal source) on the held-out pairs."""
        key_x, key_ref, key_nll = jax.random.split(key, 3)
        out = self.flow_metrics(self.vector_field(params), batch["x0"],
                                self.model_inputs(batch["x"], key_x),
                                nll=self.source == "normal" and self.config.eval.nll,
                                x_ref=self.model_inputs(batch["x_ref"], key_ref),
                                nll_key=key_nll if self.divergence == "hutchinson" else None)
        if self.num_levels and "nll" in out:
            out["bits_per_dim"] = metrics.dequantized_bits_per_dim(
                -out["nll"], self.dim, num_levels=self.num_levels,
                scale=2.0 / self.num_levels)
        return out

    def sample_fn(self, params, key, num_samples):
        """Fresh source points pushed through the flow to ``t = 1``."""
        if self.num_levels:
            num_samples = min(num_samples, 64)
        z = self.sample_source(key, num_samples)
        options = self._solver_options()
        x = jax.vmap(lambda v: ode.cnf_sample(self.vector_field(params), v, **options)[0])(z)
        return x.reshape((num_samples,) + self.event_shape)

    def _log_prob(self, params, x):
        """Model log-density of continuous ``x`` by the CNF change of variables."""
        options = self._solver_options()
        return jax.vmap(lambda y: ode.cnf_log_prob(self.vector_field(params), y,
                                                   **options)[0])(x)


EXPERIMENT = OTCFM
