"""EBFlow on the paper's 2D toys (sine, swirl, checkerboard), one objective per run.

Paper: Chao et al. 2023, "Training Energy-Based Normalizing Flow with Score-Matching Objectives"
(EBFlow [P001]), Sec. 5.1: a Glow-style flow ([Dense, affine coupling, ActNorm] blocks and a
final Dense) fitted to Gaussian-smoothed toys (sigma = 0.375) by ML, SML, SSM, DSM or FD-SSM.
Reproduces: test NLL (nats), KL and Fisher divergence to the smoothed toy per
``config.objective``. Modes: ``runlocal`` (tests), default (4000 steps, 1-8 minutes on the
shared 2-core CPU under load), ``full`` (the paper's 10 blocks, batch 2048, Adam 1e-4, 50k
steps). Select the toy and objective with ``--config.dataset.name=swirl
--config.objective=dsm``. Numbers reached by the default mode (test KL in nats, ml / ssm / dsm):
sine 0.004 / 0.017 / 0.004, checkerboard 0.040 / 0.158 / 0.154, swirl 0.127 / 1.197 / 1.079; all
objectives in experiments/ebflow/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("ebflow", dataset="sine")
    config.objective = "ssm"  # ml | sml | sm | ssm | dsm | fdssm
    config.data_noise_std = 0.375  # the paper's Gaussian smoothing of the toys
    config.oracle_reference_size = 20000
    config.match_after_preprocessing = True  # no preprocessing layer on toys: no effect
    config.energy_reg = 0.0
    config.num_slices = 1
    config.ssm_probe = "rademacher"
    config.ssm_variance_reduction = True
    config.dsm_sigma = 0.375  # on toys DSM uses data_noise_std (the smoothing kernel)
    config.fdssm_eps = 0.1
    config.model = ml_collections.ConfigDict({
        "event_shape": (2,), "arch": "glow", "num_blocks": 6, "hidden_dims": (64, 64),
        "scale_fn": "tanh", "dense_init": "orthogonal",
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.optim.grad_clip_norm = 1.0
    config.ema_decay = 0.99
    config.batch_size = 512
    config.eval_batch_size = 5000
    config.total_steps = 4000
    config.log_every = 100
    config.eval_every = 2000
    config.checkpoint_every = 2000
    apply_mode(config, arg, {
        # The end-to-end test: the paper's FC architecture (ActNorm, Dense, SmoothLeakyReLU,
        # Dense: no coupling network, the smallest graphs to compile; the glow body is
        # covered by the default mode), 100 steps at a larger learning rate, KL and Fisher
        # divergence on 1000 test points against a 2000-point oracle.
        "runlocal": runlocal(100, {
            "model": {"event_shape": (2,), "arch": "fc", "num_layers": 2, "actnorm": True},
            "optim.lr": 3e-3,
            "oracle_reference_size": 2000, "ema_decay": 0.0,
        }, batch_size=256, eval_batch_size=1000),
        "full": {
            "total_steps": 50000, "model.num_blocks": 10, "batch_size": 2048,
            "optim.lr": 1e-4, "optim.schedule": "constant", "ema_decay": 0.999,
            "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000,
        },
    })
    return config
