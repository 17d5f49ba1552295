"""FloWaveNet [P026] on the synthetic conditional AR(1) source (exact log-likelihood known).

Paper: Kim et al. 2019, "FloWaveNet: A Generative Flow for Raw Audio" (ICML). What this
reproduces: the catalog's check that on synthetic conditional "audio" the flow's test NLL
approaches the analytic Gaussian log-likelihood. x_t = phi_f x_{t-1} + sigma_f e_t with
per-frame (phi_f, log sigma_f) as the conditioning (likelihood_jax.data.speech.conditional_ar1).
The data is the registered ``conditional_ar1``
(:mod:`likelihood_jax.data.synthetic.conditional_audio`; ``dataset.hop_length`` =
``prod(model.upsample_factors)``). Modes: ``runlocal`` (the test suite), default (README
numbers), ``full`` (longer, paper-sized blocks). Numbers reached: see
experiments/flowavenet/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("flowavenet", dataset="conditional_ar1")
    config.dataset.update({"length": 512, "num_train": 4000, "num_test": 500, "hop_length": 16})
    config.model = ml_collections.ConfigDict({
        "upsample_factors": (4, 4), "num_blocks": 3, "num_flows": 4, "num_layers": 2,
        "hidden": 24, "blocks_per_split": 2,
    })
    config.sample_temperature = 1.0
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 10.0
    config.batch_size = 16
    config.eval_batch_size = 100
    config.total_steps = 400
    config.log_every = 50
    config.eval_every = 100
    config.checkpoint_every = 200
    apply_mode(config, arg, {
        # The end-to-end test: one block of one flow with one WaveNet layer on 128-sample
        # clips (compilation is most of the run), 100 steps at a larger learning rate.
        "runlocal": runlocal(100, {
            "dataset.length": 128, "dataset.num_train": 256, "dataset.num_test": 64,
            "dataset.hop_length": 4, "model.upsample_factors": (4,), "model.num_blocks": 1,
            "model.num_flows": 1, "model.num_layers": 1, "model.hidden": 16,
            "model.blocks_per_split": 1, "optim.lr": 3e-3}, eval_batch_size=64),
        "full": {
            "dataset.length": 4096, "dataset.num_train": 20000, "model.num_blocks": 6,
            "model.num_flows": 6, "model.hidden": 128, "model.blocks_per_split": 3,
            "total_steps": 50000, "log_every": 500, "eval_every": 5000,
            "checkpoint_every": 5000,
        },
    })
    return config
