"""OT-CFM on 2D toys: 8gaussians -> moons (default) or N(0, I) -> moons.

Paper: Tong et al. 2023, "Improving and generalizing flow-based generative models with
minibatch optimal transport" (TMLR) [P011]. Reproduces the 2D claim: OT-CFM learns
straighter flows (lower normalized path energy, fewer solver steps) than I-CFM at equal or
better sample quality (2-Wasserstein to held-out data). Architecture and training as the
torchcfm toy example: MLP 3x64 SELU with t as an input, batch 256, Adam 1e-3, sigma 0.1
(plus an EMA of the weights, decay 0.999, for evaluation; torchcfm's example has none).

Variant and source are fields: ``--config.cfm.variant=icfm`` (icfm, otcfm, otcfm_sinkhorn,
sbcfm, target), ``--config.source=normal``. Modes: ``runlocal`` (the test suite),
default (the README numbers: 10k steps, a few minutes per variant on 2 CPU cores),
``full`` (the paper's 20k steps, 10k evaluation pairs).
Numbers reached (default mode, mean of seeds 0-2; experiments/ot_cfm/README.md has all):
8gaussians -> moons, icfm vs otcfm: W2 0.181 vs 0.205 (floor 0.178), normalized path
energy 1.83 vs 0.04, dopri5 NFE 57.4 vs 29.6; N(0, I) -> moons: W2 0.217 vs 0.228,
NPE 0.88 vs 0.15, NFE 41.7 vs 30.9, test NLL 2.488 vs 2.463 nats.
"""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("ot_cfm", dataset="moons")
    config.source = "8gaussians"
    config.cfm = ml_collections.ConfigDict({
        "variant": "otcfm", "sigma": 0.1, "sinkhorn_epsilon": 0.05,
        "sinkhorn_threshold": 1e-2, "sinkhorn_max_iterations": 1000,
    })
    config.model = ml_collections.ConfigDict({
        "event_shape": (2,), "hidden_dims": (64, 64, 64), "activation": "selu",
        "time_embedding": "concat",
    })
    config.eval = presets.ode_eval(2000, nll=True, num_steps=None)  # None: adaptive
    config.optim.lr = 1e-3
    config.ema_decay = 0.999  # evaluate an average of the last ~1000 iterates
    config.batch_size = 256
    config.num_plot_samples = 1000
    apply_mode(config, arg, {
        # a 0.999 EMA of a few hundred steps still holds the init; a fixed-step midpoint
        # solver (8 steps) instead of dopri5: compilation dominates a short run
        "runlocal": runlocal(150, {"optim.lr": 3e-3, "eval.num_examples": 128,
                                   "eval.solver": "midpoint", "eval.num_steps": 8},
                             batch_size=64, ema_decay=0.0, num_plot_samples=128),
        "default": presets.run_length(10000, 500, 5000, eval_every=5000),
        "full": {**presets.run_length(20000, 1000, 5000), "eval_every": 5000,
                 "eval.num_examples": 5000},
    })
    config.eval_batch_size = config.eval.num_examples  # W2 is computed on one batch
    return config
