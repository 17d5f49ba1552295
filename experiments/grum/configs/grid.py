"""GruM [P010] vs VP diffusion on small 2D grid graphs (3x3..5x5; 4x4..6x6 in ``full``).

Paper: Jo, Kim & Hwang (ICML 2024), "Graph Generation with Diffusion Mixture". Reproduces,
at CPU scale, the general-graph comparison on grids (the paper's and GraphRNN's grids are
10..20 x 10..20 lattices): MMD^2 of degree, clustering and orbit statistics, GruM
(``--config.method=grum``) against VP-SDE diffusion with the same network
(``--config.method=diffusion``).
Modes: ``runlocal`` (the tests), default (the README numbers), ``full`` (longer, wider).
Numbers reached (default mode, seeds 0 and 1; mean of the degree/clustering/orbit MMD^2 of
32 samples vs the 20 test graphs): GruM 0.152 / 0.226, diffusion 0.197 / 0.231, floor
(train vs test) 0.0003; details in experiments/grum/README.md.
"""

from experiments.grum.configs.common import FULL, RUNLOCAL, grum_config
from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = grum_config("grid", num_train=80, num_test=20, min_side=3, max_side=5)
    apply_mode(config, arg, {
        "runlocal": {**RUNLOCAL, "dataset.max_side": 4},
        "default": {**presets.run_length(400, 50), "batch_size": 16, "ema_decay": 0.99},
        "full": {**FULL, "dataset.min_side": 4, "dataset.max_side": 6},
    })
    return config
