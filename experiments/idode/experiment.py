"""i-DODE [P013]: maximum-likelihood training and evaluation of diffusion ODEs.

Zheng, Lu, Chen & Zhu (2023), "Improved techniques for maximum likelihood estimation for
diffusion ODEs" (ICML). A variance-preserving diffusion with the linear log-SNR schedule
``gamma(t) = -log SNR(t)`` from ``sde.gamma_min`` to ``sde.gamma_max``
(:class:`likelihood_jax.sde.LogSNRSDE`, ``t in [0, 1]``) on images mapped to
``[-1, 1]``. The network (``model.arch``: a :class:`TimeMLP` on the flat image or a
small :class:`UNet`) is trained with ``config.idode.objective``:

* ``"noise"``: the plain noise-prediction loss ``gamma'(t) / 2 |eps - eps_hat|^2``,
  ``t ~ U(0, 1)`` (the diffusion term of the VDM bound,
  :func:`likelihood_jax.continuous_time.diffusion.vdm_nll_bound`; for the linear schedule
  ``gamma'`` is constant, so it is DDPM's unweighted MSE up to a factor);
* ``"velocity"``: i-DODE's velocity parameterization with the maximum-likelihood weight
  (:func:`~likelihood_jax.continuous_time.diffusion.velocity_matching_loss`), time drawn
  ``uniform`` or by ``importance`` (``config.idode.t_sampling``), and, when
  ``config.idode.second_order_weight > 0``, the error-bounded second-order objective
  (:func:`~likelihood_jax.continuous_time.diffusion.velocity_second_order_loss`), meant for
  fine-tuning a trained velocity model (``config.idode.init_from``: the workdir of the
  run to start from).

Both losses estimate the same quantity, ``integral_0^1 gamma'/2 E|eps - eps_hat|^2 dt``
(nats per example), so their logged values are comparable. The training data
(``config.idode.train_data``) are the uniformly dequantized images ``2 (k + u) / L - 1``
(``"uniform"``, the convention that matches uniform-dequantization evaluation, Song et
al. 2021) or the cell centers ``2 (k + 1/2) / L - 1`` (``"centers"``, as VDM and i-DODE).

Evaluation (``eval_fn``, on the first ``eval.num_examples`` test images): the
probability-flow ODE likelihood (:func:`likelihood_jax.ode.probability_flow_log_prob`,
data at ``t = 0``, prior ``N(0, I)`` at ``t = 1``, ``eval.solver`` with
``eval.rtol``/``eval.atol``, divergence exact or Hutchinson with one Rademacher probe
fixed per trajectory) with **both** dequantizations, in bits/dim of the discrete data:

* ``bpd_uniform``: ``y = 2 (k + u) / L - 1`` and
  :func:`likelihood_jax.metrics.dequantized_bits_per_dim` with ``scale = 2 / L``;
* ``bpd_tn``: i-DODE's training-free truncated-normal dequantization
  ``z = alpha_0 c_k + sigma_0 eps``, ``eps ~ TN(0, I; [-tau, tau])``
  (:func:`likelihood_jax.metrics.truncated_normal_dequantize`) and the bound
  ``E[log q - log p(z)]`` with the closed-form entropy of ``q``
  (:func:`likelihood_jax.metrics.truncated_normal_bits_per_dim`).

``nfe_uniform``/``nfe_tn`` are the adaptive solver's function evaluations;
``bits_per_dim`` (the headline) and ``nfe`` are those of ``eval.dequantization``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax import metrics, ode
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import diffusion
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.models.unet import UNet
from likelihood_jax.train import Experiment, load_config_dataset
from likelihood_jax.train.checkpoints import load_final_params

OBJECTIVES = ("noise", "velocity")
TRAIN_DATA = ("uniform", "centers")
DEQUANTIZATIONS = ("uniform", "truncated_normal")
ARCHS = ("mlp", "unet")
DIVERGENCES = ("exact", "hutchinson")


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {allowed}.")


def eval_subset(dataset: data_lib.Dataset, num: int) -> data_lib.Dataset:
    """``dataset`` with only its first ``num`` test examples (the evaluation subset)."""
    n_test = len(dataset.test["x"])
    if num > n_test:
        raise ValueError(f"eval.num_examples={num} exceeds the {n_test} test examples of "
                         f"{dataset.name!r}.")
    test = {k: np.asarray(v)[:num] for k, v in dataset.test.items()}
    return data_lib.Dataset(dataset.name, dataset.train, test, dataset.info)


class IDODE(Experiment):
    """Diffusion ODE trained by noise prediction or i-DODE's velocity objectives."""

    headline_metric = "bits_per_dim"

    def __init__(self, config, dataset=None):
        """``dataset``, if given, replaces ``config.dataset`` (its test split is cut lazily)."""
        c = config.idode
        _check("idode.objective", c.objective, OBJECTIVES)
        _check("idode.train_data", c.train_data, TRAIN_DATA)
        _check("idode.t_sampling", c.t_sampling, diffusion.VELOCITY_T_SAMPLING)
        _check("eval.dequantization", config.eval.dequantization, DEQUANTIZATIONS)
        _check("eval.divergence", config.eval.divergence, DIVERGENCES)
        _check("model.arch", config.model.arch, ARCHS)
        if c.objective == "noise" and (c.t_sampling != "uniform" or c.second_order_weight):
            raise ValueError("The noise objective uses t ~ U(0, 1) and no second-order term; "
                             "importance sampling and second_order_weight need "
                             "idode.objective='velocity'.")
        super().__init__(config)
        self._base = dataset

    def make_dataset(self, config):
        """The discrete images of ``config.dataset`` with the first ``eval.num_examples`` tests."""
        base = self._base if self._base is not None else load_config_dataset(config)
        if base.info.kind != "image" or not base.info.num_levels:
            raise ValueError(f"i-DODE needs discrete image data, got {base.name!r} "
                             f"({base.info.kind}).")
        return eval_subset(base, int(config.eval.num_examples))

    def make_model(self, config, info):
        """The network: a :class:`TimeMLP` on the flat image or a :class:`UNet`."""
        del info
        m = config.model
        if m.arch == "mlp":
            return TimeMLP(hidden_dims=tuple(m.hidden_dims), activation=m.activation,
                           time_embedding="fourier")
        return UNet(base_channels=int(m.base_channels), channel_mults=tuple(m.channel_mults),
                    num_res_blocks=int(m.num_res_blocks), zero_init_last=False)

    # -- derived from the config and the data (computed on first use) -------------------------

    @functools.cached_property
    def num_levels(self) -> int:
        """Pixel levels."""
        return int(self.dataset.info.num_levels)

    @functools.cached_property
    def gamma(self):
        """The linear log-SNR schedule ``gamma(t)`` from ``sde.gamma_min`` to ``sde.gamma_max``."""
        return functools.partial(sde_lib.linear_log_snr,
                                 gamma_min=float(self.config.sde.gamma_min),
                                 gamma_max=float(self.config.sde.gamma_max))

    @functools.cached_property
    def sde(self) -> sde_lib.LogSNRSDE:
        """The VP diffusion of :attr:`gamma`."""
        return sde_lib.LogSNRSDE(gamma=self.gamma)

    # -- pieces ------------------------------------------------------------------------

    def network(self, params):
        """The raw network ``(t, x flat) -> (D,)``: ``eps_hat`` or the velocity ``F``."""
        if self.config.model.arch == "unet":
            return lambda t, x: self.model.apply(
                params, t, x.reshape(self.event_shape)).reshape(x.shape)
        return lambda t, x: self.model.apply(params, t, x)

    def score_fn(self, params):
        """``s(t, x) = -eps_hat / sigma`` for either parameterization."""
        net = self.network(params)
        if self.config.idode.objective == "velocity":
            return diffusion.velocity_score_fn(self.sde, net)
        return lambda t, x: -net(t, x) / self.sde.marginal(t)[1]

    def training_inputs(self, x, key):
        """Flat model-space training data ``(B, D)`` in ``[-1, 1]``."""
        x = jnp.asarray(x).reshape(x.shape[0], -1)
        if self.config.idode.train_data == "centers":
            return metrics.cell_centers(x, num_levels=self.num_levels)
        return 2.0 * metrics.uniform_dequantize(key, x, num_levels=self.num_levels) - 1.0

    def _solver_options(self):
        """``config.eval``'s solver: adaptive, or ``eval.num_steps`` fixed steps when set."""
        e = self.config.eval
        num_steps = e.get("num_steps", None)
        return {"solver": e.solver, "rtol": float(e.rtol), "atol": float(e.atol),
                "max_steps": int(e.max_steps), "t_min": 0.0,
                "num_steps": None if num_steps is None else int(num_steps)}

    # -- Experiment interface -------------------------------------------------------------

    def _fresh_params(self, key):
        x = jnp.zeros((self.num_dims,), jnp.float32)
        if self.config.model.arch == "unet":
            x = x.reshape(self.event_shape)
        return self.model.init(key, jnp.zeros((), jnp.float32), x)

    @functools.cached_property
    def loaded_params(self):
        """Fine-tuning: the final (EMA) parameters of the run in ``idode.init_from`` (or None).

        Read from disk on first use; eagerly even when that use is inside a traced
        function (the loop initializes the parameters under ``jit``).
        """
        init_from = self.config.idode.get("init_from", "")
        if not init_from:
            return None
        with jax.ensure_compile_time_eval():
            template = jax.jit(self._fresh_params)(jax.random.key(0))
            return load_final_params(init_from, template, self.config.optim,
                                     self.config.total_steps)

    def init_params(self, key, batch):
        """Initializes the network (fine-tuning: :attr:`loaded_params`)."""
        if self.loaded_params is not None:
            return jax.tree.map(jnp.asarray, self.loaded_params)
        return self._fresh_params(key)

    def loss_fn(self, params, batch, key, step):
        """Per-example estimate of ``integral gamma'/2 E|eps - eps_hat|^2 dt`` (nats)."""
        data_key, loss_key = jax.random.split(key)
        x = self.training_inputs(batch["x"], data_key)
        keys = jax.random.split(loss_key, x.shape[0])
        net = self.network(params)
        c = self.config.idode
        if c.objective == "noise":
            _, terms = jax.vmap(lambda xi, k: diffusion.vdm_nll_bound(
                net, xi, k, gamma=self.gamma))(x, keys)
            return terms["diffusion"], {}
        if c.second_order_weight:
            loss, terms = jax.vmap(lambda xi, k: diffusion.velocity_second_order_loss(
                net, xi, k, sde=self.sde, t_sampling=c.t_sampling,
                second_order_weight=float(c.second_order_weight)))(x, keys)
            return loss, {"first_order": terms["first"], "second_order": terms["second"]}
        loss, _ = jax.vmap(lambda xi, k: diffusion.velocity_matching_loss(
            net, xi, k, sde=self.sde, t_sampling=c.t_sampling))(x, keys)
        return loss, {}

    def eval_fn(self, params, batch, key):
        """ODE bits/dim with uniform and with truncated-normal dequantization, and NFE."""
        x = jnp.asarray(batch["x"]).reshape(batch["x"].shape[0], -1)
        n = x.shape[0]
        u_key, tn_key, probe_key = jax.random.split(key, 3)
        probe_keys = jax.random.split(probe_key, n)
        hutchinson = self.config.eval.divergence == "hutchinson"
        score = self.score_fn(params)
        options = self._solver_options()
        L = self.num_levels

        def log_prob(y, k):
            return ode.probability_flow_log_prob(self.sde, score, y,
                                                 key=k if hutchinson else None, **options)

        y = 2.0 * metrics.uniform_dequantize(u_key, x, num_levels=L) - 1.0
        lp_u, stats_u = jax.vmap(log_prob)(y, probe_keys)
        bpd_u = metrics.dequantized_bits_per_dim(lp_u, self.num_dims, num_levels=L, scale=2.0 / L)

        alpha0, sigma0 = self.sde.marginal(jnp.zeros((), jnp.float32))
        z, _ = jax.vmap(lambda xi, k: metrics.truncated_normal_dequantize(
            k, xi, num_levels=L, alpha=alpha0, sigma=sigma0))(x, jax.random.split(tn_key, n))
        lp_tn, stats_tn = jax.vmap(log_prob)(z, probe_keys)
        neg_entropy = -metrics.truncated_normal_entropy(self.num_dims, num_levels=L, alpha=alpha0,
                                                        sigma=sigma0)
        bpd_tn = metrics.truncated_normal_bits_per_dim(lp_tn, neg_entropy, self.num_dims)
        out = {"bpd_uniform": bpd_u, "bpd_tn": bpd_tn,
               "nfe_uniform": stats_u["nfe"].astype(jnp.float32),
               "nfe_tn": stats_tn["nfe"].astype(jnp.float32)}
        which = "tn" if self.config.eval.dequantization == "truncated_normal" else "uniform"
        out["bits_per_dim"] = out[f"bpd_{which}"]
        out["nfe"] = out[f"nfe_{which}"]
        return out

    def sample_fn(self, params, key, num_samples):
        """Prior draws at ``t = 1`` pushed through the probability-flow ODE to ``t = 0``."""
        num_samples = min(num_samples, 64)
        z = self.sde.prior_sample(key, (num_samples, self.num_dims))
        field = ode.probability_flow_vector_field(self.sde, self.score_fn(params))
        options = {k: v for k, v in self._solver_options().items() if k != "t_min"}
        x = jax.vmap(lambda v: ode.cnf_sample(field, v, t_base=1.0, t_data=0.0,
                                              **options)[0])(z)
        return jnp.clip(x, -1.0, 1.0).reshape((num_samples,) + self.event_shape)


EXPERIMENT = IDODE
