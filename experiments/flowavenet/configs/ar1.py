"""FloWaveNet [P026] on the synthetic conditional AR(1) source (exact log-likelihood known).

Paper: Kim et al. 2019, "FloWaveNet: A Generative Flow for Raw Audio" (ICML). What this
reproduces: the catalog's check that on synthetic conditional "audio" the flow's test NLL
approaches the analytic Gaussian log-likelihood. x_t = phi_f x_{t-1} + sigma_f e_t with
per-frame (phi_f, log sigma_f) as the conditioning (likelihood_jax.data.speech.conditional_ar1).
Modes: ``runlocal`` (the test suite), default (README numbers), ``full`` (longer, paper-sized
blocks). Numbers reached: see experiments/flowavenet/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("flowavenet", dataset="ar1")
    config.dataset.length = 512
    config.dataset.num_train = 4000
    config.dataset.num_test = 500
    config.model = ml_collections.ConfigDict({
        "upsample_factors": (4, 4), "num_blocks": 3, "num_flows": 4, "num_layers": 2,
        "hidden": 24, "blocks_per_split": 2,
    })
    config.audio = ml_collections.ConfigDict({"sample_rate": 16000})
    config.sample_temperature = 1.0
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 10.0
    config.batch_size = 16
    config.eval_batch_size = 100
    if mode == "runlocal":
        config.dataset.length = 256
        config.dataset.num_train = 256
        config.dataset.num_test = 64
        config.model.upsample_factors = (4,)
        config.model.num_blocks = 2
        config.model.num_flows = 2
        config.model.hidden = 16
        config.model.blocks_per_split = 1
        config.total_steps = 60
        config.log_every = 10
        config.checkpoint_every = 60
        config.eval_batch_size = 64
    elif mode == "default":
        config.total_steps = 400
        config.log_every = 50
        config.eval_every = 100
        config.checkpoint_every = 200
    else:
        config.dataset.length = 4096
        config.dataset.num_train = 20000
        config.model.num_blocks = 6
        config.model.num_flows = 6
        config.model.hidden = 128
        config.model.blocks_per_split = 3
        config.total_steps = 50000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
