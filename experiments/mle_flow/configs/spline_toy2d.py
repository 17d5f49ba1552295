"""The main job: a neural spline flow by maximum likelihood on a 2D toy (default: checkerboard).

Paper: Durkan, Bekasov, Murray & Papamakarios 2019, "Neural Spline Flows" (RQ-NSF (C)):
six rational-quadratic spline couplings (16 bins on [-3, 3] after ActNorm, linear tails),
each conditioned by a residual MLP of width 64, trained by maximum likelihood.
The checkerboard is uniform on 8 squares of area 4, so its entropy is log 32 = 3.466 nats,
the test NLL of the true density. Modes: ``runlocal`` (150 steps of a small flow, the
end-to-end test), default (the README's main job and its numbers), ``full`` (longer,
wider). Expected numbers: see experiments/mle_flow/README.md.
"""

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("mle_flow", dataset="checkerboard")
    config.model = presets.spline_model((2,))
    set_fields(config, {"optim.lr": 2e-3, "optim.schedule": "cosine", "batch_size": 256,
                        "total_steps": 8000, "log_every": 100, "eval_every": 1000,
                        "checkpoint_every": 2000})
    apply_mode(config, arg, {
        "runlocal": runlocal(150, {"optim.lr": 3e-3, "model.num_layers": 2,
                                   "model.hidden_dims": (32,), "model.num_bins": 8},
                             eval_batch_size=1000),
        "full": {"total_steps": 50000, "model.num_layers": 10,
                 "model.hidden_dims": (256, 256), "batch_size": 1024, "log_every": 500,
                 "eval_every": 5000, "checkpoint_every": 5000},
    })
    return config
