"""Continuous-time models under the density contract (:mod:`likelihood_jax.density`).

* :class:`CNFDensity`: the continuous normalizing flow of flow matching (Lipman et al. 2023;
  I-CFM of Tong et al. 2023 [P011]): a :class:`~likelihood_jax.models.time_mlp.TimeMLP`
  vector field, noise at ``t = 0`` and data at ``t = 1``, trained by ``"flow_matching"``;
  ``log_prob`` by the instantaneous change of variables solved with diffrax
  (:func:`likelihood_jax.ode.cnf_log_prob`): exact divergence (``exact = True``, up to the
  solver's error) or Hutchinson's estimate (``exact = False``: an unbiased estimate).
* :class:`DiffusionDensity`: a variance-preserving diffusion with VDM's linear log-SNR
  schedule and a noise-prediction network, trained by ``"score_matching"`` (the VDM
  diffusion term ``gamma'(t)/2 |eps - eps_hat|^2``, i.e. weighted denoising score matching);
  its likelihood is either ``"ode"``, the probability-flow ODE density (i-DODE, Zheng et al.
  2023 [P013]; :func:`likelihood_jax.ode.probability_flow_log_prob`, ``exact = True``), or
  ``"elbo"``, the continuous-time VDM bound (Kingma et al. 2021;
  :func:`~likelihood_jax.continuous_time.diffusion.vdm_nll_bound`, ``exact = False``, also
  trainable as ``"ml"``: minimizing the bound itself).

Data space: continuous data as given; discrete data (``num_levels`` set) in ``[0, 1)^D``,
mapped to ``u = 2 y - 1`` in ``[-1, 1)`` with ``log|du/dy| = D log 2`` added to ``log_prob``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax import ode
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import diffusion, flow_matching

LIKELIHOODS = ("ode", "elbo")


@dataclasses.dataclass(frozen=True)
class _ContinuousTime:
    """What the CNF and the diffusion share: the network, the data map and the solver.

    Attributes:
      network: ``f(t, u)`` on a flat example ``(D,)`` (a flax module, e.g. ``TimeMLP``).
      event_shape: shape of one data example.
      num_levels: levels of discrete data (data in ``[0, 1)``), or None.
      hutchinson: Hutchinson's divergence (one Rademacher probe per example, fixed along its
        trajectory) instead of the exact one in ``log_prob``.
      solver: diffrax solver name (:data:`likelihood_jax.ode.SOLVERS`).
      num_steps: fixed steps (None: adaptive with ``rtol``/``atol``).
      rtol: relative tolerance.
      atol: absolute tolerance.
    """

    network: nn.Module
    event_shape: tuple[int, ...]
    num_levels: int | None = None
    hutchinson: bool = False
    solver: str = "tsit5"
    num_steps: int | None = None
    rtol: float = 1e-4
    atol: float = 1e-4

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))

    @property
    def num_dims(self) -> int:
        """``D``, entries of one example."""
        return math.prod(self.event_shape)

    @property
    def solver_options(self) -> dict:
        """Keyword arguments of the diffrax solves."""
        return {"solver": self.solver, "num_steps": self.num_steps, "rtol": self.rtol,
                "atol": self.atol}

    def to_model_space(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(u, log|du/dx|)``: flat ``2 y - 1`` for discrete data, else the flat data."""
        u = jnp.asarray(x, jnp.float32).reshape(x.shape[0], self.num_dims)
        if self.num_levels is None:
            return u, jnp.zeros(x.shape[:1], u.dtype)
        return 2.0 * u - 1.0, jnp.full(x.shape[:1], self.num_dims * math.log(2.0), u.dtype)

    def to_data_space(self, u: jax.Array) -> jax.Array:
        """Model-space samples back to data (discrete data clipped into ``[0, 1]``)."""
        if self.num_levels is not None:
            u = jnp.clip(0.5 * (u + 1.0), 0.0, 1.0)
        return u.reshape((u.shape[0],) + self.event_shape)

    def init(self, key, x):
        """Initializes the network on one model-space example."""
        u, _ = self.to_model_space(x[:1])
        return self.network.init(key, jnp.zeros((), u.dtype), u[0])

    def field(self, params):
        """The network as ``f(t, u)`` on one flat example."""
        return lambda t, u: self.network.apply(params, t, u)

    def _flow_log_prob(self, log_prob_one, x, key):
        """``log_prob_one(u, probe_key) + log|du/dx|`` over the batch."""
        u, log_det = self.to_model_space(x)
        key = jax.random.key(0) if key is None else key
        keys = jax.random.split(key, u.shape[0])
        return jax.vmap(log_prob_one)(u, keys) + log_det

    def _probe(self, key):
        return key if self.hutchinson else None


@dataclasses.dataclass(frozen=True)
class CNFDensity(_ContinuousTime):
    """The flow-matching CNF (noise at 0, data at 1) under the density contract."""

    objectives = ("flow_matching",)

    @property
    def exact(self) -> bool:
        """Exact divergence: the CNF's exact log-density (up to the solver's error)."""
        return not self.hutchinson

    def log_prob(self, params, x, key=None):
        """``log p(x)`` of a batch by the CNF change of variables (probes from ``key``)."""
        def one(u, k):
            return ode.cnf_log_prob(self.field(params), u, key=self._probe(k),
                                    **self.solver_options)[0]
        return self._flow_log_prob(one, x, key)

    def sample(self, params, key, num):
        """Normal draws at ``t = 0`` pushed to ``t = 1``."""
        z = jax.random.normal(key, (num, self.num_dims), jnp.float32)
        u = jax.vmap(lambda zi: ode.cnf_sample(self.field(params), zi,
                                               **self.solver_options)[0])(z)
        return self.to_data_space(u)

    def loss(self, params, x, key, objective):
        """I-CFM: ``|v(t, x_t) - (x_1 - x_0)|^2`` with independent normal ``x_0``."""
        if objective != "flow_matching":
            raise ValueError(f"CNFDensity objective must be one of {self.objectives}, got "
                             f"{objective!r}")
        source_key, loss_key = jax.random.split(key)
        u, _ = self.to_model_space(x)
        x0 = jax.random.normal(source_key, u.shape, u.dtype)
        return flow_matching.flow_matching_loss(self.field(params), x0, u, loss_key,
                                                variant="icfm")


@dataclasses.dataclass(frozen=True)
class DiffusionDensity(_ContinuousTime):
    """A VP diffusion (linear log-SNR) with a noise-prediction network, ODE or ELBO likelihood.

    Attributes (besides :class:`_ContinuousTime`'s):
      likelihood: ``"ode"`` (probability-flow ODE, exact) or ``"elbo"`` (the VDM bound).
      gamma_min: ``-log SNR`` at ``t = 0``.
      gamma_max: ``-log SNR`` at ``t = 1``.
      elbo_samples: ``(t, eps)`` draws averaged in the ELBO's ``log_prob``.
    """

    likelihood: str = "ode"
    gamma_min: float = -7.9
    gamma_max: float = 5.0
    elbo_samples: int = 4

    def __post_init__(self):
        super().__post_init__()
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got "
                             f"{self.likelihood!r}")

    @property
    def exact(self) -> bool:
        """The ODE likelihood with the exact divergence; the ELBO is a bound."""
        return self.likelihood == "ode" and not self.hutchinson

    @property
    def objectives(self) -> tuple[str, ...]:
        """``score_matching`` (denoising), and ``ml`` (the bound itself) for the ELBO."""
        return ("score_matching", "ml") if self.likelihood == "elbo" else ("score_matching",)

    @property
    def gamma(self):
        """The linear schedule ``gamma(t) = -log SNR(t)``."""
        return functools.partial(sde_lib.linear_log_snr, gamma_min=self.gamma_min,
                                 gamma_max=self.gamma_max)

    @property
    def sde(self) -> sde_lib.LogSNRSDE:
        """The VP diffusion of :attr:`gamma`."""
        return sde_lib.LogSNRSDE(gamma=self.gamma)

    def score_fn(self, params):
        """``s(t, u) = -eps_hat(t, u) / sigma(t)``."""
        net = self.field(params)
        return lambda t, u: -net(t, u) / self.sde.marginal(t)[1]

    def _elbo(self, params, u, key, num):
        """Mean of ``num`` draws of the VDM bound on ``-log p(u)``: ``(bound, diffusion)``."""
        bounds, terms = jax.vmap(lambda k: diffusion.vdm_nll_bound(
            self.field(params), u, k, gamma=self.gamma))(jax.random.split(key, num))
        return jnp.mean(bounds), jnp.mean(terms["diffusion"])

    def log_prob(self, params, x, key=None):
        """Probability-flow ODE ``log p(x)``, or minus the VDM bound (``likelihood``)."""
        if self.likelihood == "elbo":
            def one(u, k):
                return -self._elbo(params, u, k, self.elbo_samples)[0]
        else:
            def one(u, k):
                return ode.probability_flow_log_prob(
                    self.sde, self.score_fn(params), u, t_min=0.0, key=self._probe(k),
                    **self.solver_options)[0]
        return self._flow_log_prob(one, x, key)

    def sample(self, params, key, num):
        """Prior draws at ``t = 1`` pushed through the probability-flow ODE to ``t = 0``."""
        z = self.sde.prior_sample(key, (num, self.num_dims))
        field = ode.probability_flow_vector_field(self.sde, self.score_fn(params))
        u = jax.vmap(lambda zi: ode.cnf_sample(field, zi, t_base=1.0, t_data=0.0,
                                               **self.solver_options)[0])(z)
        return self.to_data_space(u)

    def loss(self, params, x, key, objective):
        """``"score_matching"``: the VDM diffusion term; ``"ml"``: the whole bound."""
        if objective not in self.objectives:
            raise ValueError(f"DiffusionDensity({self.likelihood!r}) objective must be one "
                             f"of {self.objectives}, got {objective!r}")
        u, _ = self.to_model_space(x)
        keys = jax.random.split(key, u.shape[0])
        bound, diffusion_term = jax.vmap(lambda ui, k: self._elbo(params, ui, k, 1))(u, keys)
        return bound if objective == "ml" else diffusion_term
