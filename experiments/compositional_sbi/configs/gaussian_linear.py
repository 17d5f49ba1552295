"""Compositional score SBI [P131] on a Gaussian-linear simulator with a Gaussian prior.

Paper: Geffner, Papamakarios & Mnih 2023, "Compositional score modeling for
simulation-based inference" (ICML). A 2D parameter, 2D observations ``x = A theta + b +
N(0, 0.8^2 I)`` (``A`` with singular values 1 and 0.7), prior N(0, I): the
single-observation diffused posterior score (DSM, one simulation per pair) is composed
for n in {1, 2, 5, 10, 20} and sampled by annealed Langevin on the paper's bridge;
compared with a DeepSets score trained on sets of 20 observations from the same number of
simulator calls (``sbi.set_simulations``; raise it for the equal-accuracy comparison).
Reported: posterior mean (Mahalanobis) and covariance (relative Frobenius) errors against
the analytic posterior for each n.
Modes: ``runlocal`` (the test suite), default (the README numbers), ``full`` (longer).
Numbers reached: see experiments/compositional_sbi/README.md.
"""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal

#: The fields of config.sbi that define the simulations (options of the dataset).
SIMULATION_FIELDS = ("dim_theta", "dim_x", "noise_std", "simulator_seed", "n_max",
                     "single_simulations", "set_simulations")


def get_config(arg=None):
    config = base_config("compositional_sbi", dataset="gaussian_linear")
    config.sbi = ml_collections.ConfigDict({
        "dim_theta": 2, "dim_x": 2, "noise_std": 0.8, "simulator_seed": 0, "n_max": 20,
        "single_simulations": 2000, "set_simulations": 2000, "prior_correction": "bridge",
    })
    # Likelihood weighting g^2 with importance-sampled t (Song et al. 2021's ML training):
    # the composed Langevin sampler needs the score accurate down to t_min, where the
    # sigma^2-weighted DSM leaves it too stiff (see README).
    config.diffusion = presets.vp_sde(weighting="likelihood", t_sampling="importance")
    config.model = ml_collections.ConfigDict({
        "hidden_dims": (64, 64, 64), "embed_hidden": (64,), "embed_dim": 32,
        "activation": "silu", "time_embedding": "fourier",
    })
    # The last Langevin level is t_end = 0.01 (sigma_t^2 = 0.002): the bridge there differs
    # from the posterior by < 1% in covariance, while the learned score at t < 0.01 is far
    # stiffer than the true one (README).
    config.langevin = ml_collections.ConfigDict({"num_levels": 30, "steps_per_level": 10,
                                                 "eps": 0.3, "data_var": 0.4, "t_end": 0.01})
    config.eval = ml_collections.ConfigDict({
        "ns": (1, 2, 5, 10, 20), "num_problems": 3, "num_samples": 500, "rsde_steps": 500,
        "times": (0.01, 0.1, 0.3, 0.6), "num_test_rows": 50,
    })
    config.optim.lr = 1e-3
    config.batch_size = 8  # sets per step; each row also holds single_simulations / sets pairs
    config.eval_batch_size = 50
    config.num_plot_samples = 500
    # The registered dataset (likelihood_jax.data.synthetic.simulators) with the simulation
    # fields of config.sbi, eval.num_test_rows test rows and the run's seed (references).
    for field in SIMULATION_FIELDS:
        config.dataset[field] = config.sbi.get_ref(field)
    config.dataset.num_test_rows = config.eval.get_ref("num_test_rows")
    config.dataset.seed = config.get_ref("seed")
    apply_mode(config, arg, {
        # One hidden layer and one evaluation time (compilation dominates a short run).
        "runlocal": runlocal(100, {
            "model.hidden_dims": (32,), "model.embed_hidden": (16,), "model.embed_dim": 8,
            "langevin.num_levels": 5, "langevin.steps_per_level": 3, "eval.ns": (3,),
            "eval.num_problems": 1, "eval.num_samples": 100, "eval.rsde_steps": 20,
            "eval.times": (0.3,), "eval.num_test_rows": 8},
            eval_batch_size=8, num_plot_samples=100),
        "default": {**presets.run_length(4000, 500, 2000), "optim.schedule": "cosine"},
        "full": {**presets.run_length(20000, 1000, 10000), "optim.schedule": "cosine",
                 "model.hidden_dims": (128, 128, 128), "langevin.num_levels": 60,
                 "eval.num_samples": 2000},
    })
    return config
