"""Meta-learned MCMC proposals [P081]: the conjugate Gaussian motif (the analytic check).

Paper: Wang, Wu, Moore & Russell (NeurIPS 2018), "Meta-Learning MCMC Proposals"
(arXiv:1708.06040). Reproduces, at small scale: a mixture-density proposal
``q_phi(mu | m0, s0, sigma, y_1..5)`` trained by maximum likelihood on draws of the motif
``mu ~ N(m0, s0^2), y_i ~ N(mu, sigma^2)`` (parameters drawn per instance) matches the analytic
conditional on unseen instances (small ``KL(p || q)``), so as a random-scan block MH proposal on
an unseen model of 8 such motifs it is accepted almost always and the chain's mean and standard
deviation match the analytic posterior. Numbers reached (3 seeds):
experiments/meta_mcmc_proposals/README.md. Modes: ``runlocal`` (tests), default (README),
``full`` (longer, wider).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("meta_mcmc_proposals", dataset="ising")
    config.motif = "gaussian"
    config.gaussian = ml_collections.ConfigDict({"num_observations": 5})
    config.gmm = ml_collections.ConfigDict({
        "num_points": 40, "max_components": 4, "min_components": 2, "prior_std": 3.0,
        "noise_std": 0.5})
    config.mdn = ml_collections.ConfigDict({"num_components": 2})
    config.model.hidden_dims = (64, 64)
    config.eval = ml_collections.ConfigDict({
        "num_instances": 256, "num_blocks": 8, "num_steps": 4000, "random_walk_scale": 0.3})
    config.total_steps = 3000
    config.batch_size = 256
    config.eval_batch_size = 1024
    config.log_every = 500
    config.checkpoint_every = 3000
    config.optim.lr = 3e-3
    config.optim.schedule = "cosine"
    # The proposal reads no data: placeholder rows (one batch per split) sized like the batches.
    config.dataset.num_train = config.get_ref("batch_size")
    config.dataset.num_test = config.get_ref("eval_batch_size")
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"model.hidden_dims": (32,), "eval.num_instances": 16,
                                  "eval.num_blocks": 4, "eval.num_steps": 40},
                             batch_size=64, eval_batch_size=64),
        "full": {"total_steps": 20000, "model.hidden_dims": (128, 128), "checkpoint_every": 5000,
                 "log_every": 1000, "eval.num_steps": 20000},
    })
    return config
