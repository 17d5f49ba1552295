"""Meta-learned MCMC proposals [P081] for the means of an open-universe-style Gaussian mixture.

Paper: Wang, Wu, Moore & Russell (NeurIPS 2018), "Meta-Learning MCMC Proposals"
(arXiv:1708.06040), Sec. 5.1 (open-universe GMMs), at small scale and simplified: 2D mixtures
with ``K ~ Uniform{2, 3, 4}`` components (``mu_k ~ N(0, 3^2 I)``), 40 points with noise 0.5,
assignments summed out; one block per mean. A DeepSets mixture-density proposal for
``mu_j | x, mu_{-j}`` is trained on draws of the model and used on 64 unseen instances, against
single-site random-walk MH (scale 0.3) and the prior as an independent block proposal, all for
the same budget of 300 block updates from a prior draw. Reports the matched mean error and the
log-posterior gap to the generating means. Numbers reached (3 seeds):
experiments/meta_mcmc_proposals/README.md.
"""

from experiments.meta_mcmc_proposals.configs import gaussian_motif
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = gaussian_motif.get_config(arg)
    config.motif = "gmm"
    config.mdn.num_components = 4
    config.model.hidden_dims = (64, 64)
    config.batch_size = 64
    config.eval.num_instances = 64
    config.eval.num_steps = 300
    apply_mode(config, arg, {
        "runlocal": {"model.hidden_dims": (32,), "eval.num_instances": 4, "eval.num_steps": 20,
                     "batch_size": 16},
        "default": {"eval.num_steps": 300},
    })
    return config
