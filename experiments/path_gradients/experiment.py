"""Fast path gradients [P004]: flows trained by reverse KL (and ML) with path-gradient estimators.

Vaitl, Winkler, Richter & Kessel (2024), "Fast and Unified Path Gradient Estimators for
Normalizing Flows", ICLR 2024 (arXiv:2403.15881).

A RealNVP-style flow (``likelihood_jax.flows``: ActNorm + affine couplings with alternating
masks for vectors, checkerboard masks for lattices) is trained against an unnormalized target
(``config.target``, :mod:`likelihood_jax.data.synthetic.targets`): the 2D multimodal Gaussian
mixture
(``gmm``) or ``phi^4`` on an ``L x L`` periodic lattice (``phi4``). ``config.objective`` picks
the per-example surrogate of :mod:`likelihood_jax.flows.path_gradients` whose gradient the loop
follows:

* ``reverse_standard``: reparameterized reverse KL, score term included;
* ``reverse_path``: the paper's fast path gradient (recursive ``grad_x log q``);
* ``reverse_path_slow``: the same estimator through a stop-gradient copy of ``log q``;
* ``forward_ml``: maximum likelihood on exact target samples (``gmm`` only);
* ``forward_path``: the paper's path gradient for ML with the target energy (``gmm`` only).

Reverse-KL objectives draw fresh ``z ~ N(0, I)`` in every step (the batch only sets the batch
size); there is no dataset. The experiment derives one (``make_dataset``): for ``gmm`` the
train split holds exact target samples (the registered dataset ``grid_gaussian_mixture``,
used by the forward objectives and as the reference in the samples plot), for ``phi4`` a
dummy array of zeros; the test split holds fixed base draws ``z`` (and, for ``gmm``, exact
target samples ``x``).

Evaluation:

* per test example (``eval_fn``): ``neg_log_weight = log q(T(z)) - log p~(T(z))``, whose mean is
  ``KL(q||p) - log Z`` (for ``gmm``, ``log Z = 0``: the reverse KL itself); for ``gmm`` also
  ``nll = -log q(x)`` of exact target samples (forward KL up to the target's entropy);
* for the model (``model_metrics``): ``ess``, the normalized effective sample size
  ``(sum w)^2 / (N sum w^2)`` of ``w = p~/q`` on ``config.eval.num_ess_samples`` flow samples (the
  headline); the total variance (trace of the covariance) of the per-example gradient of the
  standard and of the path estimator at the current parameters on ``num_grad_samples`` fresh
  samples (``grad_var_standard``, ``grad_var_path``) and the squared norm of their mean
  (``grad_sq_norm``); for the forward objectives the same for ML and its path version
  (``grad_var_ml``, ``grad_var_ml_path``); for ``phi4`` the importance-reweighted
  ``abs_magnetization`` ``<|sum_x phi(x)| / V>`` and the fraction of flow samples with positive
  magnetization (``positive_magnetization_fraction``: about 0.5 when the flow covers both
  ``phi -> -phi`` modes, which the ESS cannot see).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax import flows
from likelihood_jax.data.synthetic import targets
from likelihood_jax.flows import path_gradients
from likelihood_jax.train import Experiment

OBJECTIVES = {
    "reverse_standard": path_gradients.reverse_kl_standard,
    "reverse_path": path_gradients.reverse_kl_path_fast,
    "reverse_path_slow": path_gradients.reverse_kl_path_slow,
    "forward_ml": path_gradients.forward_kl_standard,
    "forward_path": path_gradients.forward_kl_path_fast,
}

#: Names of the targets.
TARGETS = ("gmm", "phi4")

#: Seeds of the derived dataset: target samples (train, test) and test base draws.
DATA_SEEDS = (11, 12, 13)


def make_target(config) -> targets.GaussianMixture | targets.Phi4:
    """The target named by ``config.name`` (``gmm`` or ``phi4``) with its fields."""
    if config.name == "gmm":
        return targets.grid_gaussian_mixture(config.dim, config.modes_per_axis, config.loc,
                                             config.std)
    if config.name == "phi4":
        return targets.Phi4((config.lattice, config.lattice), config.kappa, config.lam)
    raise ValueError(f"Unknown target {config.name!r}; expected 'gmm' or 'phi4'.")


def make_bijector(dim: int, model, lattice: int | None = None) -> flows.Chain:
    """ActNorm + affine couplings; checkerboard masks on a lattice, alternating otherwise."""
    layers = []
    for i in range(model.num_layers):
        if model.get("actnorm", True):
            layers.append(flows.ActNorm())
        if lattice is not None:
            mask = flows.checkerboard_mask(lattice, lattice, parity=i % 2)
        else:
            mask = flows.alternating_mask(dim, parity=i % 2)
        layers.append(flows.AffineCoupling(mask, tuple(model.hidden_dims),
                                           model.get("scale_fn", "tanh")))
    return flows.Chain(layers)


def build_dataset(config) -> data_lib.Dataset:
    """Train: exact target samples (GMM) or zeros (phi4); test: base draws ``z`` (+ samples).

    The GMM's samples are the registered dataset ``grid_gaussian_mixture``
    (:func:`likelihood_jax.data.synthetic.targets.load_grid_gaussian_mixture`, seeds
    ``DATA_SEEDS[:2]``); the fixed base draws ``z ~ N(0, I)`` of the evaluation (seed
    ``DATA_SEEDS[2]``) are added to the test split.
    """
    t, num_test = config.target, int(config.eval.num_test)
    if t.name == "gmm":
        dim = int(t.dim)
        samples = data_lib.load_dataset(
            "grid_gaussian_mixture", dim=dim, modes_per_axis=int(t.modes_per_axis),
            loc=float(t.loc), std=float(t.std), num_train=int(config.num_train),
            num_test=num_test, train_seed=DATA_SEEDS[0], test_seed=DATA_SEEDS[1])
        train, test = dict(samples.train), dict(samples.test)
    else:
        dim = int(t.lattice) ** 2
        train, test = {"x": np.zeros((int(config.batch_size), dim), np.float32)}, {}
    z_test = np.random.default_rng(DATA_SEEDS[2]).normal(size=(num_test, dim))
    test = {"z": z_test.astype(np.float32), **test}
    info = data_lib.DatasetInfo(kind="continuous", event_shape=(dim,),
                                description=f"derived: target {t.name}")
    return data_lib.Dataset(t.name, train, test, info)


class PathGradients(Experiment):
    """A flow trained against an unnormalized target with the estimator ``config.objective``.

    Construction only checks the config; the target, the dataset (:func:`build_dataset`, draws
    of the target) and the flow are built when first used.
    """

    headline_metric = "ess"

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {config.objective!r}; expected one of "
                             f"{sorted(OBJECTIVES)}.")
        if config.target.name not in TARGETS:
            raise ValueError(f"Unknown target {config.target.name!r}; expected one of "
                             f"{TARGETS}.")
        if config.objective.startswith("forward") and config.target.name != "gmm":
            raise ValueError(f"objective {config.objective!r} needs exact target samples; "
                             f"target {config.target.name!r} has none (use a reverse_* objective).")
        super().__init__(config, dataset)
        self.forward = config.objective.startswith("forward")
        self.objective = OBJECTIVES[config.objective]
        self.lattice = config.target.lattice if config.target.name == "phi4" else None

    @functools.cached_property
    def target(self) -> targets.GaussianMixture | targets.Phi4:
        """The unnormalized target density (``config.target``)."""
        return make_target(self.config.target)

    @property
    def has_samples(self) -> bool:
        """Whether the target has an exact sampler (the Gaussian mixture)."""
        return self.config.target.name == "gmm"

    @functools.cached_property
    def dim(self) -> int:
        """The flow's dimension D (the target's event size)."""
        return self.target.event_shape[0]

    def make_dataset(self, config) -> data_lib.Dataset:
        """The target's samples and the evaluation's base draws (:func:`build_dataset`)."""
        return build_dataset(config)

    def make_model(self, config, info) -> flows.Flow:
        """ActNorm + affine couplings on ``(D,)`` (:func:`make_bijector`)."""
        del info
        return flows.Flow(make_bijector(self.dim, config.model, self.lattice), (self.dim,))

    @property
    def flow(self) -> flows.Flow:
        """The run's flow (:attr:`model`)."""
        return self.model

    @property
    def bijector(self) -> flows.Chain:
        """The flow's bijector (data -> latent)."""
        return self.model.bijector

    @functools.cached_property
    def _model_metrics(self):
        return jax.jit(self._model_metrics_impl)

    @property
    def log_prob_fn(self):
        """The flow's ``log q`` of a batch, for the 2D density plot (None unless D = 2)."""
        return self._log_prob if self.dim == 2 else None

    # -- pieces --------------------------------------------------------------------------------

    def per_example(self, fn, params, inputs):
        """``fn(bijector, params, input, target.log_prob)`` over a batch ``[B, D] -> [B]``."""
        return jax.vmap(lambda v: fn(self.bijector, params, v, self.target.log_prob))(inputs)

    def samples_and_log_weights(self, params, z):
        """``x = T(z)`` and ``log w = log p~(x) - log q(x)`` for base draws ``z [B, D]``."""
        x, log_det = jax.vmap(self.bijector.inverse_and_log_det, in_axes=(None, 0))(params, z)
        log_q = jax.vmap(flows.standard_normal_log_prob)(z) - log_det
        return x, jax.vmap(self.target.log_prob)(x) - log_q

    def log_weights(self, params, z):
        """``log w = log p~(T(z)) - log q(T(z))`` for base draws ``z [B, D]``."""
        return self.samples_and_log_weights(params, z)[1]

    def _log_prob(self, params, x):
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0))(params, x)

    # -- Experiment interface -----------------------------------------------------------------

    def init_params(self, key, batch):
        """Data-dependent ActNorm init on base draws ``N(0, I)``: the flow starts near identity."""
        data_key, init_key = jax.random.split(key)
        z = jax.random.normal(data_key, (batch["x"].shape[0], self.dim), jnp.float32)
        return self.flow.init(init_key, z)

    def loss_fn(self, params, batch, key, step):
        """The objective's per-example surrogate (fresh base draws for reverse objectives)."""
        if self.forward:
            return self.per_example(self.objective, params, batch["x"]), {}
        z = jax.random.normal(key, (batch["x"].shape[0], self.dim), jnp.float32)
        loss = self.per_example(self.objective, params, z)
        return loss, {"train_ess": path_gradients.effective_sample_size(
            -jax.lax.stop_gradient(loss))}

    def eval_fn(self, params, batch, key):
        """``neg_log_weight`` on the test base draws, and ``nll`` of exact target samples."""
        out = {"neg_log_weight": -self.log_weights(params, batch["z"])}
        if self.has_samples:
            out["nll"] = -self._log_prob(params, batch["x"])
        return out

    def _model_metrics_impl(self, params, key):
        e = self.config.eval
        ess_key, grad_key, data_key = jax.random.split(key, 3)
        z = jax.random.normal(ess_key, (int(e.num_ess_samples), self.dim), jnp.float32)
        x, log_w = self.samples_and_log_weights(params, z)
        out = {"ess": path_gradients.effective_sample_size(log_w)}
        if self.lattice is not None:
            m = jax.vmap(self.target.magnetization)(x)
            w = jax.nn.softmax(log_w)
            out["abs_magnetization"] = jnp.sum(w * jnp.abs(m))
            out["positive_magnetization_fraction"] = jnp.mean(m > 0)
        z = jax.random.normal(grad_key, (int(e.num_grad_samples), self.dim), jnp.float32)
        pairs = [("standard", path_gradients.reverse_kl_standard, z),
                 ("path", path_gradients.reverse_kl_path_fast, z)]
        if self.forward:
            x = self.target.sample(data_key, int(e.num_grad_samples))
            pairs += [("ml", path_gradients.forward_kl_standard, x),
                      ("ml_path", path_gradients.forward_kl_path_fast, x)]
        for name, fn, inputs in pairs:
            stats = path_gradients.gradient_statistics(
                lambda p, v, fn=fn: fn(self.bijector, p, v, self.target.log_prob), params,
                inputs, chunk_size=int(e.grad_chunk))
            out[f"grad_var_{name}"] = stats["total_variance"]
            if name == "path":
                out["grad_sq_norm"] = stats["mean_sq_norm"]
        return out

    def model_metrics(self, params, key):
        """ESS and the per-example gradient variances of the estimators (see module doc)."""
        return {k: float(v) for k, v in self._model_metrics(params, key).items()}

    def sample_fn(self, params, key, num_samples):
        """Flow samples; lattice fields as ``(N, L, L)`` images."""
        x = self.flow.sample(params, key, num_samples)
        if self.lattice is not None:
            return x.reshape((num_samples, self.lattice, self.lattice))
        return x


EXPERIMENT = PathGradients
