"""Unbiased contrastive divergence for deep Boltzmann machines [P139].

Taniguchi, Suzuki, Iwasawa & Matsuo (ICML 2023), "End-to-end training of deep Boltzmann
machines by unbiased contrastive divergence with local mode initialization",
arXiv:2305.19684.

A ``V-H1-H2`` DBM (:mod:`likelihood_jax.energy.boltzmann`) is trained end to end (no greedy
pretraining) on binary images. Every method minimizes the per-example surrogate
``E(s_pos) - E(s_neg)`` (:func:`~likelihood_jax.energy.boltzmann.energy_from_statistics`,
stop-gradient statistics), whose gradient is the estimated NLL gradient
``E_{p(h | v)}[grad E] - E_p[grad E]``. ``config.method``:

* ``unbiased`` (the paper): both phases from the lag-1 coupled chains of
  :func:`~likelihood_jax.energy.boltzmann.unbiased_statistics` started one Gibbs step from a
  local mode (``config.sampler.coupling``: ``mh``, the paper's Metropolis-Hastings coupling,
  or ``gibbs``, the unit-wise maximal coupling of Qiu et al. 2020), capped at
  ``sampler.max_iterations`` steps;
* ``cd``: CD-k, the negative phase ``k`` block-Gibbs steps from the positive phase's state
  (``sampler.gibbs_steps``);
* ``pcd``: PCD-k, ``k`` steps of persistent chains kept in ``TrainState.extra``;
* ``exact``: the exact gradient of the enumerated log-likelihood (small ``H1`` only), the
  reference.

``cd`` and ``pcd`` share the unbiased positive phase, so only the negative phase differs.
Evaluation: the exact test NLL in nats (``nll``, enumeration over ``h1``), and in
``model_metrics`` ``log Z`` exactly and by AIS and the test NLL with the AIS ``log Z``
(``nll_ais``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.energy import boltzmann as bm
from likelihood_jax.train.experiment import Experiment

METHODS = ("unbiased", "cd", "pcd", "exact")


class UnbiasedDBM(Experiment):
    """A DBM trained by the unbiased coupled-chain gradient, CD-k, PCD-k or exactly."""

    headline_metric = "nll"

    def __init__(self, config, dataset=None):
        if config.method not in METHODS:
            raise ValueError(f"unknown method {config.method!r}; choose one of {METHODS}")
        if config.sampler.coupling not in bm.COUPLINGS:
            raise ValueError(f"unknown sampler.coupling {config.sampler.coupling!r}; choose one "
                             f"of {bm.COUPLINGS}")
        for field in ("gibbs_steps", "max_iterations"):
            if int(config.sampler[field]) < 1:
                raise ValueError(f"sampler.{field} must be >= 1, got {config.sampler[field]}")
        super().__init__(config, dataset)

    def check_data(self, info):
        """Binary images."""
        if info.num_levels != 2:
            raise ValueError(f"the DBM needs binary data (num_levels=2), got "
                             f"{info.num_levels!r} from {self.config.dataset.name!r}")

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(V, H1, H2)``."""
        return self.num_dims, int(self.config.model.hidden1), int(self.config.model.hidden2)

    def visible(self, x):
        """Images to flat float visible vectors ``(B, V)``."""
        return jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)

    def init_params(self, key, batch):
        """Zero biases, small Gaussian weights (``model.init_scale``)."""
        return bm.init_params(key, *self.sizes, scale=float(self.config.model.init_scale))

    def init_extra(self, key, batch, params):
        """PCD's persistent chains (fair-coin states), one per example; else nothing."""
        if self.config.method != "pcd":
            return {}
        keys = jax.random.split(key, batch["x"].shape[0])
        return {"chains": jax.vmap(lambda k: bm.random_state(k, self.sizes))(keys)}

    def _gibbs(self, key, params, state):
        def step(s, k):
            return bm.block_gibbs_step(k, params, s), None

        keys = jax.random.split(key, int(self.config.sampler.gibbs_steps))
        return jax.lax.scan(step, state, keys)[0]

    def _phase(self, key, params, visible=None):
        sampler = self.config.sampler
        keys = jax.random.split(key, visible.shape[0] if visible is not None
                                else self.config.batch_size)
        run = lambda k, v: bm.unbiased_statistics(  # noqa: E731
            k, params, v, coupling_kind=sampler.coupling,
            max_iterations=int(sampler.max_iterations))
        if visible is None:
            return jax.vmap(lambda k: run(k, None))(keys)
        return jax.vmap(run)(keys, visible)

    def loss_fn(self, params, batch, key, step):
        """``E(s_pos) - E(s_neg)`` per example, or the exact NLL (``method=exact``)."""
        v = self.visible(batch["x"])
        if self.config.method == "exact":
            nll = -bm.log_likelihood(params, v)
            return nll, {"nll": nll}
        frozen = jax.lax.stop_gradient(params)
        key_pos, key_neg = jax.random.split(key)
        pos = self._phase(key_pos, frozen, v)
        metrics = {"pos_meeting_time": pos.meeting_time.astype(jnp.float32)}
        if self.config.method == "unbiased":
            neg = self._phase(key_neg, frozen)
            neg_stats = neg.estimate
            tau = neg.meeting_time.astype(jnp.float32)
            metrics.update(meeting_time=tau, meeting_time_max=jnp.max(tau),
                           capped=1.0 - jnp.mean(neg.met.astype(jnp.float32)))
        else:
            start = pos.state if self.config.method == "cd" else batch["extra"]["chains"]
            keys = jax.random.split(key_neg, v.shape[0])
            chains = jax.vmap(lambda k, s: self._gibbs(k, frozen, s))(keys, start)
            neg_stats = jax.vmap(bm.sufficient_statistics)(chains)
        energy = jax.vmap(bm.energy_from_statistics, (None, 0))
        loss = energy(params, pos.estimate) - energy(params, neg_stats)
        if self.config.model.exact_nll_in_training:
            metrics["nll"] = -bm.log_likelihood(frozen, v)
        return loss, metrics

    def update_extra(self, extra, params, batch, key, step):
        """PCD: ``gibbs_steps`` block-Gibbs steps of the chains at the new parameters."""
        if self.config.method != "pcd":
            return extra
        keys = jax.random.split(key, extra["chains"].v.shape[0])
        return {"chains": jax.vmap(lambda k, s: self._gibbs(k, params, s))(keys, extra["chains"])}

    def eval_fn(self, params, batch, key):
        """The exact test NLL (nats per image)."""
        return {"nll": -bm.log_likelihood(params, self.visible(batch["x"]))}

    def model_metrics(self, params, key):
        """``log Z`` exactly and by AIS, and the test NLL with each."""
        ais = self.config.ais
        log_z = float(jax.jit(bm.log_partition)(params))
        result = jax.jit(lambda p, k: bm.ais_log_partition(
            k, p, num_chains=int(ais.num_chains), num_betas=int(ais.num_betas)))(params, key)
        test = self.visible(jnp.asarray(self.dataset.test["x"]))
        unnormalized = float(jnp.mean(jax.jit(bm.unnormalized_log_marginal)(params, test)))
        return {"log_z": log_z, "log_z_ais": float(result.log_normalizer),
                "ais_ess": float(result.effective_sample_size),
                "nll_exact": log_z - unnormalized,
                "nll_ais": float(result.log_normalizer) - unnormalized}


EXPERIMENT = UnbiasedDBM
