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

from experiments.grum.configs.common import grum_config
from likelihood_jax.train.config import check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = grum_config("grid", num_train=80, num_test=20,
                         options={"min_side": 3, "max_side": 5})
    if mode == "runlocal":
        config.dataset.options = {"min_side": 3, "max_side": 4}
        config.total_steps = 40
        config.batch_size = 8
        config.model.hidden, config.model.num_layers = 16, 2
        config.sampling.num_steps = 5
        config.eval.num_samples = 4
        config.num_plot_samples = 4
        config.log_every = 10
        config.checkpoint_every = 40
    elif mode == "default":
        config.total_steps = 400
        config.batch_size = 16
        config.ema_decay = 0.99
        config.log_every = 50
        config.checkpoint_every = 400
    else:
        config.dataset.options = {"min_side": 4, "max_side": 6}
        config.total_steps = 20000
        config.ema_decay = 0.999
        config.model.hidden, config.model.num_layers = 64, 4
        config.sampling.num_steps = 1000
        config.eval.num_samples = 200
        config.log_every = 500
        config.checkpoint_every = 5000
    return config
