"""GruM [P010] vs VP diffusion on GraphRNN's community-small (12-20 nodes, 2 communities).

Paper: Jo, Kim & Hwang (ICML 2024), "Graph Generation with Diffusion Mixture". Reproduces,
at CPU scale, the general-graph comparison: MMD^2 of degree, clustering and orbit
statistics between generated and test graphs, GruM (``--config.method=grum``) against a
plain VP-SDE diffusion with the same network (``--config.method=diffusion``).
Modes: ``runlocal`` (the tests), default (the README numbers), ``full`` (longer, wider).
Numbers reached (default mode, seeds 0 and 1; mean of the degree/clustering/orbit MMD^2 of
32 samples vs the 20 test graphs): GruM 0.201 / 0.202, diffusion 0.253 / 0.193, floor
(train vs test) 0.018; details in experiments/grum/README.md.
"""

from experiments.grum.configs.common import FULL, RUNLOCAL, grum_config
from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = grum_config("community_small", num_train=80, num_test=20)
    apply_mode(config, arg, {
        "runlocal": RUNLOCAL,
        "default": {**presets.run_length(500, 50), "ema_decay": 0.99},
        "full": FULL,
    })
    return config
