"""Learning from label proportions by belief propagation on digits bags [P231].

Paper: Havaldar et al. (ICLR 2024), "Learning from Label Proportions: Bootstrapping
Supervised Learners via Belief Propagation" (arXiv:2310.08056). Reproduces, at small scale,
the claim that BP pseudo-labels (kNN pairwise factors + bag counting factors) followed by a
supervised learner beat proportion-loss training: instance test accuracy of BP + MLP
against bag-majority labels, DLLP and the supervised ceiling, on digit >= 5 with bags of
8-32 instances, mean and 95% interval over ``llp.num_seeds`` seeds (each its own bags).
Modes: ``runlocal`` (one seed, one round, few steps: the end-to-end test), default (the
README numbers, 5 seeds), ``full`` (more rounds and steps). Default mode reached: test accuracy
BP + MLP 0.980 +- 0.004, DLLP 0.865 +- 0.030, bag majority 0.617 +- 0.050, supervised
0.984 +- 0.005 (n=5; experiments/label_proportions/README.md).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("label_proportions", dataset="digits_label_proportions")
    config.total_steps = 0
    config.dataset.min_bag_size = 8
    config.dataset.max_bag_size = 32
    config.model = ml_collections.ConfigDict({"hidden": 64})
    config.optim.lr = 3e-3
    config.optim.steps = 400
    config.llp = ml_collections.ConfigDict({
        "num_seeds": 5, "rounds": 2, "neighbors": 8, "coupling": 0.5, "damping": 0.5,
        "bp_iters": 100, "bag_weight": 1.0,
    })
    apply_mode(config, arg, {
        "runlocal": {"llp.num_seeds": 1, "llp.rounds": 1, "llp.bp_iters": 20,
                     "optim.steps": 30},
        "full": {"llp.num_seeds": 10, "llp.rounds": 4, "optim.steps": 2000,
                 "llp.bp_iters": 300},
    })
    return config
