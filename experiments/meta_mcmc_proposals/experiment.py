"""Meta-learned MCMC block proposals [P081]: a conjugate Gaussian motif and mixture means.

Wang, Wu, Moore & Russell (NeurIPS 2018), "Meta-Learning MCMC Proposals" (arXiv:1708.06040).
A mixture-density network ``q_phi(x_B | x_MB)`` is trained on draws of a motif from its own
model (``-log q`` of the block given its Markov blanket, fresh draws every step: the data set
is the ``ising`` placeholder rows) and then used, unchanged, as the Metropolis-Hastings block
proposal on unseen instances (:mod:`likelihood_jax.energy.learned_proposals`,
:func:`likelihood_jax.energy.mcmc.metropolis_hastings`). ``config.motif``:

* ``gaussian``: ``mu ~ N(m0, s0^2)``, ``y_1..n ~ N(mu, sigma^2)`` with ``m0, log s0, log sigma``
  drawn per instance; the network reads ``[m0, log s0, log sigma, y]``. The conditional is
  analytic: evaluation reports ``KL(p(mu | y) || q)`` (Monte Carlo under ``p``) and runs one
  random-scan block MH chain on an unseen model made of ``eval.num_blocks`` instances:
  acceptance, and the chain's mean and standard deviation against the analytic ones.
* ``gmm``: an open-universe-style mixture (``K`` of ``K_max`` components active, ``N`` points;
  the assignments summed out); the blocks are the means, the blanket is the points and the
  other means (:func:`~likelihood_jax.energy.learned_proposals.gmm_blanket_features`), read by
  a DeepSets network. Evaluation: ``eval.num_instances`` unseen instances, chains of
  ``eval.num_steps`` block updates from the prior with the learned proposal, single-site
  random-walk MH and the prior as an independent block proposal; the matched error of the
  final means to the generating ones and the log-posterior gap to them.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.energy import learned_proposals as lp
from likelihood_jax.energy import mcmc
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment

MOTIFS = ("gaussian", "gmm")
GMM_SAMPLERS = ("learned", "random_walk", "prior")


class SetMDN(nn.Module):
    """DeepSets ``rho(mean_i phi(f_i), K / K_max) -> raw MDN output`` over per-point features."""

    hidden_dims: tuple[int, ...]
    out_dim: int

    @nn.compact
    def __call__(self, features, num_active):
        """Per-point features ``(N, F)`` and ``K / K_max`` -> the raw MDN output."""
        pooled = jnp.mean(MLP(self.hidden_dims, self.hidden_dims[-1])(features), axis=-2)
        return MLP(self.hidden_dims, self.out_dim)(
            jnp.concatenate([pooled, jnp.atleast_1d(num_active)], axis=-1))


class MetaProposals(Experiment):
    """Trains ``q_phi`` on motif draws; evaluates it as an MH block proposal."""

    headline_metric = "proposal_nll"

    def __init__(self, config, dataset=None):
        if config.motif not in MOTIFS:
            raise ValueError(f"motif must be one of {MOTIFS}, got {config.motif!r}")
        if int(config.mdn.num_components) < 1:
            raise ValueError(f"mdn.num_components must be >= 1, got {config.mdn.num_components}")
        if not config.eval.random_walk_scale > 0:
            raise ValueError(f"eval.random_walk_scale must be > 0, got "
                             f"{config.eval.random_walk_scale}")
        super().__init__(config, dataset)
        self.dim = 1 if config.motif == "gaussian" else 2
        self.out = lp.mdn_output_size(int(config.mdn.num_components), self.dim)

    def make_model(self, config, info):
        """An MLP on the Gaussian motif's features, or :class:`SetMDN`."""
        hidden = tuple(config.model.hidden_dims)
        return MLP(hidden, self.out) if config.motif == "gaussian" else SetMDN(hidden, self.out)

    def mdn(self, params, raw_input):
        """``MDNParams`` from the network's input (features, or (point features, K / K_max))."""
        raw = self.model.apply({"params": params}, *raw_input)
        return lp.mdn_params(raw, int(self.config.mdn.num_components), self.dim)

    def draw(self, key):
        """One motif draw: ``(network input, block value)``."""
        c = self.config
        if c.motif == "gaussian":
            motif = lp.sample_gaussian_motif(key, int(c.gaussian.num_observations))
            return (lp.gaussian_motif_features(motif),), motif.block
        instance_key, block_key = jax.random.split(key)
        inst = self.instance(instance_key)
        j = jax.random.categorical(block_key, jnp.log(inst.active))
        return self.gmm_input(inst.means, j, inst), inst.means[j]

    def instance(self, key):
        """A mixture instance of ``config.gmm``."""
        g = self.config.gmm
        return lp.sample_gmm_instance(key, num_points=int(g.num_points),
                                      max_components=int(g.max_components),
                                      min_components=int(g.min_components),
                                      prior_std=g.prior_std, noise_std=g.noise_std)

    def gmm_input(self, means, j, inst):
        """The network input for mean ``j``: its blanket features and ``K / K_max``."""
        features = lp.gmm_blanket_features(means, j, inst, noise_std=self.config.gmm.noise_std)
        return features, jnp.sum(inst.active) / inst.active.shape[0]

    def init_params(self, key, batch):
        """Network parameters (the batch is a placeholder)."""
        return self.model.init(key, *self.draw(jax.random.key(0))[0])["params"]

    def loss_fn(self, params, batch, key, step):
        """``-log q_phi(x_B | x_MB)`` on ``B`` fresh motif draws (the batch is a placeholder)."""
        del step
        inputs, blocks = jax.vmap(self.draw)(jax.random.split(key, batch["x"].shape[0]))
        nll = -jax.vmap(lambda i, b: lp.mdn_log_prob(self.mdn(params, i), b))(inputs, blocks)
        return nll, {}

    def eval_fn(self, params, batch, key):
        """``-log q`` of fresh motif draws."""
        nll, _ = self.loss_fn(params, batch, key, jnp.int32(0))
        return {"proposal_nll": nll}

    # -- evaluation as an MH proposal ------------------------------------------------------

    def model_metrics(self, params, key):
        """The proposal inside MH chains (see the module docstring)."""
        if self.config.motif == "gaussian":
            return {k: float(v) for k, v in self.gaussian_metrics(params, key).items()}
        return self.gmm_metrics(params, key)

    @functools.partial(jax.jit, static_argnums=0)
    def gaussian_metrics(self, params, key):
        """KL to the analytic conditional; one block MH chain against the analytic posterior."""
        e = self.config.eval
        kl_key, model_key, chain_key = jax.random.split(key, 3)
        n = int(self.config.gaussian.num_observations)
        motifs = jax.vmap(lambda k: lp.sample_gaussian_motif(k, n))(
            jax.random.split(kl_key, int(e.num_instances)))
        post_mean, post_std = jax.vmap(lp.gaussian_motif_posterior)(
            motifs.prior_mean, motifs.prior_log_std, motifs.noise_log_std, motifs.observations)

        def kl(motif, mean, std, k):  # KL(p || q) = E_p[log p - log q], 256 draws of p
            mu = mean + std * jax.random.normal(k, (256, 1))
            q = self.mdn(params, (lp.gaussian_motif_features(motif),))
            log_p = -0.5 * ((mu[:, 0] - mean) / std) ** 2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi)
            return jnp.mean(log_p - jax.vmap(lambda m: lp.mdn_log_prob(q, m))(mu))

        kls = jax.vmap(kl)(motifs, post_mean, post_std,
                           jax.random.split(model_key, int(e.num_instances)))
        # An unseen model: num_blocks independent motifs, one chain over all their blocks.
        j_max = int(e.num_blocks)
        blocks = jax.tree.map(lambda a: a[:j_max], motifs)
        features = jax.vmap(lp.gaussian_motif_features)(blocks)  # the blankets never change
        log_prob = lambda x: jnp.sum(  # noqa: E731
            -0.5 * ((x[:, 0] - post_mean[:j_max]) / post_std[:j_max]) ** 2)
        conditional = lp.mdn_block_conditional(lambda x, j: self.mdn(params, (features[j],)))
        sample, log_q = lp.random_scan_block_proposal(conditional, jnp.full((j_max,), 1 / j_max))
        out = mcmc.metropolis_hastings(log_prob, blocks.prior_mean[:, None], chain_key,
                                       proposal_sample=sample, proposal_log_prob=log_q,
                                       num_steps=int(e.num_steps), return_trace=True)
        trace = out.trace[int(e.num_steps) // 10:, :, 0]
        return {"kl": jnp.mean(kls), "acceptance": out.acceptance_rate,
                "chain_mean_z_error": jnp.max(jnp.abs(trace.mean(0) - post_mean[:j_max])
                                              / post_std[:j_max]),
                "chain_std_ratio_error": jnp.max(jnp.abs(trace.std(0) / post_std[:j_max] - 1))}

    def gmm_chain(self, params, sampler, from_truth, inst, key):
        """One chain of ``eval.num_steps`` block updates from a prior draw or the true means.

        Returns the trace ``(T, K_max, D)``, the acceptance and the final log-posterior gap.
        """
        g, e = self.config.gmm, self.config.eval
        init_key, chain_key = jax.random.split(key)
        x0 = inst.means if from_truth else g.prior_std * jax.random.normal(
            init_key, inst.means.shape)
        if sampler == "learned":
            conditional = lp.mdn_block_conditional(
                lambda x, j: self.mdn(params, self.gmm_input(x, j, inst)))
        elif sampler == "random_walk":
            conditional = lp.random_walk_block_conditional(e.random_walk_scale)
        else:
            conditional = lp.independent_block_conditional(0.0, g.prior_std)
        sample, log_q = lp.random_scan_block_proposal(conditional,
                                                      inst.active / jnp.sum(inst.active))
        log_prob = functools.partial(lp.gmm_log_posterior, instance=inst, prior_std=g.prior_std,
                                     noise_std=g.noise_std)
        out = mcmc.metropolis_hastings(log_prob, x0, chain_key, proposal_sample=sample,
                                       proposal_log_prob=log_q, num_steps=int(e.num_steps),
                                       return_trace=True)
        return out.trace, out.acceptance_rate, log_prob(inst.means) - log_prob(out.state)

    def gmm_metrics(self, params, key):
        """Per sampler: errors from a prior draw, ESS from the true means.

        From a prior draw: the final matched error and log-posterior gap; from the true means
        (near stationarity): the ESS per block update of the active means.
        """
        e = self.config.eval
        inst_key, chain_key = jax.random.split(key)
        num = int(e.num_instances)
        instances = jax.device_get(jax.vmap(self.instance)(jax.random.split(inst_key, num)))
        keys = jax.random.split(chain_key, num)
        out = {}
        for sampler in GMM_SAMPLERS:
            for from_truth in (False, True):
                run = jax.jit(jax.vmap(functools.partial(self.gmm_chain, params, sampler,
                                                         from_truth)))
                trace, rate, gap = jax.device_get(run(instances, keys))
                if from_truth:
                    ess = [lp.effective_sample_size(t[len(t) // 10:])[a > 0].mean()
                           / (len(t) - len(t) // 10)
                           for t, a in zip(trace, instances.active)]
                    out[f"{sampler}_ess_per_step"] = float(np.mean(ess))
                    out[f"{sampler}_acceptance_stationary"] = float(np.mean(rate))
                    continue
                errors = [lp.matched_mean_error(trace[i, -1], instances.means[i],
                                                instances.active[i]) for i in range(num)]
                out.update({f"{sampler}_mean_error": float(np.mean(errors)),
                            f"{sampler}_log_post_gap": float(np.mean(gap)),
                            f"{sampler}_acceptance": float(np.mean(rate))})
        return out


EXPERIMENT = MetaProposals
