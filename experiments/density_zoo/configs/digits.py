"""The density zoo on scikit-learn's 8x8 digits (17 levels, 1500 train / 297 test images).

Every density model of the library under one convention: uniform dequantization into
[0, 1) for training, test bits/dim of the discrete images by
``likelihood_jax.density.bits_per_dim`` (uniform dequantization, ``metrics``), the same budget
(1000 steps of batch 128, Adam 1e-3 with a cosine decay). The model is
``--config.model.family=<realnvp|spline|maf|glow|tarflow|pixelcnn|trade|cnf|diffusion_ode|vdm|
transformer>``, the objective
``--config.objective=<auto|ml|score_matching|flow_matching|penalized_ml>``. Modes:
``runlocal``, default (the README's leaderboard), ``full``. Numbers measured: see
experiments/density_zoo/README.md.
"""

from experiments.density_zoo.configs.common import zoo_config
from likelihood_jax.train.config import runlocal


def get_config(arg=None):
    return zoo_config(arg, "digits", fields={
        "batch_size": 128, "total_steps": 1000, "log_every": 100, "eval_every": 0,
        "checkpoint_every": 1000, "eval_batch_size": 300, "num_plot_samples": 64,
        "model.hidden_dims": (256, 256),
    }, modes={
        "runlocal": runlocal(60, {"optim.lr": 3e-3, "model.num_layers": 2,
                                  "model.hidden_dims": (32,), "model.width": 32,
                                  "model.transformer_layers": 1, "model.solver": "midpoint",
                                  "model.num_steps": 8, "model.num_filters": 8,
                                  "model.num_resnet": 0, "model.num_scales": 1,
                                  "model.num_mixtures": 2, "model.dropout": 0.0,
                                  "model.num_components": 2}, eval_batch_size=64),
        "full": {"total_steps": 20000, "model.num_layers": 8, "model.hidden_dims": (1024, 1024),
                 "model.width": 256, "model.transformer_layers": 6},
    })
