"""HMM of the training dynamics of the maximum-likelihood RealNVP on digits [P209].

Paper: Hu, Chen, Saphra & Cho (2023), "Latent State Models of Training Dynamics"
(arXiv:2308.09543). Reproduces, at small scale, the paper's pipeline: several seeds of a
real training run (here ``experiments/mle_flow/configs/digits.py`` at its ``runlocal`` model
size, through the command line's path), their logged ``loss`` and ``log grad_norm`` z-scored
per run, Gaussian HMMs (diagonal covariances, EM with restarts) for K = 1..max_states, K
chosen by BIC on held-out runs, the Viterbi states of every run plotted over training steps
(``states.png``) and the per-state means of the raw metrics (``hmm.json``). Modes:
``runlocal`` (one 30-step run of the 2D-toy flow, K <= 2, BIC on that run: the
end-to-end test), default (the README numbers),
``full`` (more seeds and steps). Default mode reached: K = 4 by held-out BIC (-1.7, against
67.3 for K = 3 and 8.5 for K = 5), a left-to-right chain of states visited by all ten seeds
(experiments/training_dynamics_hmm/README.md).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("training_dynamics_hmm", dataset="digits")
    config.total_steps = 0
    config.dynamics = ml_collections.ConfigDict({
        "source": "experiments/mle_flow/configs/digits.py:runlocal",
        "source_overrides": {"total_steps": 600, "log_every": 10, "checkpoint_every": 600,
                             "num_plot_samples": 16},
        "seeds": tuple(range(10)),
        "metrics": ("loss", "log_grad_norm"),
        "test_fraction": 0.2, "max_states": 6, "restarts": 4, "em_iters": 60,
        "reg_covar": 1e-3,
    })
    apply_mode(config, arg, {
        # One 30-step run of the 2D-toy flow (its compilation dominates), BIC on that run.
        "runlocal": {"dynamics.source": "experiments/mle_flow/configs/toy2d.py:runlocal",
                     "dynamics.source_overrides": {"total_steps": 30, "log_every": 1,
                                                   "checkpoint_every": 30,
                                                   "num_plot_samples": 16},
                     "dynamics.seeds": (0,), "dynamics.max_states": 2,
                     "dynamics.restarts": 1, "dynamics.em_iters": 10},
        "full": {"dynamics.source_overrides": {"total_steps": 5000, "log_every": 25,
                                               "checkpoint_every": 5000,
                                               "num_plot_samples": 16},
                 "dynamics.seeds": tuple(range(40)), "dynamics.max_states": 10,
                 "dynamics.restarts": 8, "dynamics.em_iters": 100},
    })
    return config
