"""Generative marginalization models on an enumerable Ising model and binarized digits [P033].

Liu, Ramadge & Adams (ICML 2024), "Generative Marginalization Models", arXiv:2310.12920.

The network (:class:`~likelihood_jax.models.marginal_mlp.MarginalizationMLP`) has a
marginal head ``log p_theta(x_S)`` and a conditional head ``log p_phi(x_i | x_S)`` over
``{0, 1}^D`` with mask token 2 (:mod:`likelihood_jax.flows.marginalization`).

``config.objective``:

* ``mle``: the conditionals by the any-order objective on data, the marginals by the
  self-consistency penalty ``D r^2 + (log p_theta(empty))^2`` against the (stop-gradient)
  conditionals, weight ``config.consistency_weight``;
* ``kl`` (energy-based, Ising only, no data): REINFORCE on ``KL(p_theta || pi)`` with
  samples of the conditionals, plus the penalty on those samples.

``config.order = "raster"`` trains only the conditional head in the fixed raster order: an
ordinary autoregressive model of the same width, the baseline (its exact NLL takes ``D``
passes). Data: ``dataset.name = "ising"`` draws exact samples of ``config.target`` each
step (enumeration, ``D <= 12``); ``"digits"`` reads the 8x8 digits binarized at level 8.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.synthetic import ising
from likelihood_jax.flows import any_order
from likelihood_jax.flows import marginalization as mam
from likelihood_jax.models.marginal_mlp import MarginalizationMLP
from likelihood_jax.train import Experiment

K = 2  # binary values; the mask token is K
OBJECTIVES = ("mle", "kl")
ORDERS = ("random", "raster")


class MarginalizationModels(Experiment):
    """MaM (or its raster autoregressive baseline) by maximum likelihood or reverse KL."""

    headline_metric = "nll"

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {config.objective!r}; choose one of {OBJECTIVES}")
        if config.order not in ORDERS:
            raise ValueError(f"unknown order {config.order!r}; choose one of {ORDERS}")
        if config.objective == "kl" and config.dataset.name != "ising":
            raise ValueError("objective 'kl' needs a target: use dataset.name='ising'")
        super().__init__(config, dataset=dataset)

    @property
    def is_ising(self) -> bool:
        """Whether the data are exact samples of ``config.target``."""
        return self.config.dataset.name == "ising"

    @functools.cached_property
    def target(self) -> ising.Ising:
        """The Ising model of ``config.target``."""
        t = self.config.target
        return ising.Ising(tuple(t.shape), t.beta, t.coupling, t.field)

    @property
    def num_dims(self) -> int:
        """``D``: Ising sites or 64 pixels."""
        return self.target.num_sites if self.is_ising else 64

    @functools.cached_property
    def states(self) -> np.ndarray:
        """All ``2^D`` Ising configurations as tokens ``{0, 1}``."""
        with jax.ensure_compile_time_eval():
            return np.asarray((ising.all_states(self.num_dims) + 1) // 2, np.int32)

    @functools.cached_property
    def exact_log_probs(self) -> np.ndarray:
        """``log pi(s)`` of every state (normalized by enumeration)."""
        with jax.ensure_compile_time_eval():
            log_p = jax.jit(jax.vmap(self.log_target))(self.states)
            return np.asarray(log_p - jax.nn.logsumexp(log_p))

    def log_target(self, tokens):
        """``log pi~`` of one token configuration."""
        return self.target.log_prob_unnormalized(ising.tokens_to_spins(tokens))

    def make_model(self, config, info):
        """The two-head MLP over ``D`` binary positions."""
        del info
        return MarginalizationMLP(self.num_dims, K, tuple(config.model.hidden_dims))

    def heads(self, params):
        """``(log_marginal_fn, log_cond_fn)`` on one example ``(D,)``."""
        return (lambda t: self.model.apply(params, t, method=self.model.marginal),
                lambda t: self.model.apply(params, t, method=self.model.conditional))

    @property
    def fixed_order(self):
        """The raster order of the baseline, or None."""
        return jnp.arange(self.num_dims) if self.config.order == "raster" else None

    def data(self, batch, key):
        """Tokens ``[B, D]``: exact Ising samples, or the binarized digits of the batch."""
        num = batch["x"].shape[0]
        if self.is_ising:
            idx = jax.random.categorical(key, self.exact_log_probs, shape=(num,))
            return jnp.asarray(self.states)[idx]
        return (batch["x"].reshape(num, -1) >= 8).astype(jnp.int32)

    def init_params(self, key, batch):
        """Network parameters."""
        return self.model.init(key, jnp.full((self.num_dims,), K, jnp.int32))

    def draw(self, params, key, num):
        """``num`` samples of the conditionals (random orders, or raster)."""
        _, log_cond = self.heads(params)
        return jax.vmap(lambda k: mam.sample(log_cond, k, self.num_dims, K, self.fixed_order))(
            jax.random.split(key, num))

    def loss_fn(self, params, batch, key, step):
        """Per-example loss of ``config.objective`` (see the module docstring)."""
        data_key, loss_key, sample_key = jax.random.split(key, 3)
        log_marginal, log_cond = self.heads(params)
        if self.config.objective == "kl":
            x = self.draw(jax.lax.stop_gradient(params), sample_key, batch["x"].shape[0])
            log_p = jax.vmap(lambda xi: mam.log_prob(log_marginal, xi, K))(x)
            fit = mam.reinforce_kl_surrogate(log_p, jax.vmap(self.log_target)(x))
            sg_cond = log_cond  # the penalty also moves the conditionals toward the marginals
        else:
            x = self.data(batch, data_key)
            if self.fixed_order is not None:
                fit = -jax.vmap(lambda xi, k: any_order.order_log_likelihood_estimate(
                    log_cond, xi, self.fixed_order, k, K))(x, jax.random.split(loss_key, len(x)))
                return fit, {}
            fit = -jax.vmap(lambda xi, k: any_order.any_order_log_likelihood_estimate(
                log_cond, xi, k, K))(x, jax.random.split(loss_key, len(x)))
            frozen = jax.lax.stop_gradient(params)
            sg_cond = self.heads(frozen)[1]
        penalty, r = jax.vmap(lambda xi, k: mam.self_consistency_loss(
            log_marginal, sg_cond, xi, k, K))(x, jax.random.split(jax.random.fold_in(
                loss_key, 1), len(x)))
        loss = fit + self.config.consistency_weight * penalty
        return loss, {"fit": fit, "residual_sq": r ** 2}

    def eval_fn(self, params, batch, key):
        """Test NLL (MaM: one pass of the marginal head; baseline: exact raster AR, D passes)."""
        x = self.data(batch, key)
        log_marginal, log_cond = self.heads(params)
        ar_nll = -jax.vmap(lambda xi: any_order.order_log_likelihood(
            log_cond, xi, jnp.arange(self.num_dims), K))(x)
        if self.fixed_order is not None:
            return {"nll": ar_nll}
        nll = -jax.vmap(lambda xi: mam.log_prob(log_marginal, xi, K))(x)
        return {"nll": nll, "ao_raster_nll": ar_nll}

    def sample_fn(self, params, key, num_samples):
        """Samples of the conditionals (digits: images ``[N, 8, 8, 1]``)."""
        x = self.draw(params, key, num_samples).astype(jnp.float32)
        return x if self.is_ising else x.reshape(num_samples, 8, 8, 1)

    @functools.partial(jax.jit, static_argnums=0)
    def exact_comparison(self, params, key):
        """Against enumeration (Ising): KL/TV of p_theta, marginal and conditional errors."""
        log_marginal, log_cond = self.heads(params)
        states = jnp.asarray(self.states)
        log_p = jax.vmap(lambda s: mam.log_prob(log_marginal, s, K))(states)
        p = jnp.exp(self.exact_log_probs)
        renormalized = log_p - jax.nn.logsumexp(log_p)
        out = {"kl_exact_model": jnp.sum(p * (self.exact_log_probs - log_p)),
               "kl_exact_model_renormalized": jnp.sum(p * (self.exact_log_probs - renormalized)),
               "exact_entropy": -jnp.sum(p * self.exact_log_probs),
               "tv_joint": 0.5 * jnp.sum(jnp.abs(p - jnp.exp(log_p))),
               "model_mass": jnp.sum(jnp.exp(log_p))}
        # Random (state ~ pi, subset) pairs: marginals and conditionals against enumeration.
        num = 256
        k1, k2, k3 = jax.random.split(key, 3)
        x = states[jax.random.categorical(k1, self.exact_log_probs, shape=(num,))]
        observed = jax.random.bernoulli(k2, 0.5, (num, self.num_dims))
        position = jax.random.randint(k3, (num,), 0, self.num_dims)
        observed = observed.at[jnp.arange(num), position].set(False)

        def exact_marginal(xi, obs):
            consistent = jnp.all((states == xi) | ~obs, axis=1)
            return jax.nn.logsumexp(jnp.where(consistent, self.exact_log_probs, -jnp.inf))

        exact_m = jax.vmap(exact_marginal)(x, observed)
        model_m = jax.vmap(lambda xi, o: mam.marginal_log_prob(log_marginal, xi, o, K))(
            x, observed)
        with_i = observed.at[jnp.arange(num), position].set(True)
        exact_c = jnp.exp(jax.vmap(exact_marginal)(x, with_i) - exact_m)
        model_c = jnp.exp(jax.vmap(lambda xi, o, i: log_cond(any_order.mask_unobserved(
            xi, o, K))[i, xi[i]])(x, observed, position))
        marg_c = jnp.exp(jax.vmap(lambda xi, o, i: mam.conditional_from_marginals(
            log_marginal, xi, o, i, K)[xi[i]])(x, observed, position))
        orders = jax.vmap(lambda k: jax.random.permutation(k, self.num_dims))(
            jax.random.split(k3, num))
        steps = jax.random.randint(k1, (num,), 0, self.num_dims)
        r = jax.vmap(lambda xi, o, d: mam.self_consistency_residual(
            log_marginal, log_cond, xi, o, d, K))(x, orders, steps)
        out.update({"marginal_abs_error": jnp.mean(jnp.abs(model_m - exact_m)),
                    "conditional_tv": jnp.mean(jnp.abs(model_c - exact_c)),
                    "marginal_conditional_tv": jnp.mean(jnp.abs(marg_c - exact_c)),
                    "residual_abs": jnp.mean(jnp.abs(r))})
        return out

    def model_metrics(self, params, key):
        """Exact comparisons (Ising only)."""
        if not self.is_ising:
            return {}
        return {k: float(v) for k, v in self.exact_comparison(params, key).items()}


EXPERIMENT = MarginalizationModels
