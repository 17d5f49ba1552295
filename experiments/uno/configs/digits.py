"""UNO on digits: forget one class of a maximum-likelihood RealNVP.

Paper: Mandal & Gottwald (2025), "UNO: Unlearning via Orthogonalization in Generative
Models" (arXiv:2506.04712). Two stages, one command: ``pretrain`` trains the library's
RealNVP (MLEFlow) on all digits with the shared loop, then ``unlearn`` (a Procedure)
unlearns ``unlearn.forget_class`` with UNO (single and subspace projections), gradient
ascent and gradient surgery (PCGrad). Reports test bits/dim of the
forget and retain sets, unlearning steps and wall time. Modes: ``runlocal`` (the tests),
default (the README numbers), ``full``. Numbers reached: see experiments/uno/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("uno", dataset="digits")
    config.model = ml_collections.ConfigDict({
        "event_shape": (8, 8, 1), "num_layers": 8, "hidden_dims": (64, 64), "actnorm": True,
        "scale_fn": "tanh", "logit_alpha": 0.05,
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.num_plot_samples = 64
    config.total_steps = 1000
    config.log_every = 100
    config.eval_every = 500
    config.checkpoint_every = 500
    config.unlearn = ml_collections.ConfigDict({
        "from_stage": "",
        "forget_class": 0,
        "methods": ("uno", "uno_subspace", "gradient_ascent", "gradient_surgery"),
        "lr": 2e-5, "batch_size": 64, "retain_weight": 0.0, "target_increase": 1.0,
        "max_steps": 300, "eval_every": 1,
        "gradient_cosine": True,  # also report the forget/retain gradient cosine
    })
    # One command: pretrain the flow (the loop), then unlearn (a Procedure) from its parameters.
    config.stages = stages_config(
        ("pretrain", {}),
        ("unlearn", {"experiment": "uno:Unlearning", "unlearn": {"from_stage": "pretrain"}}),
    )
    apply_mode(config, arg, {
        # The end-to-end test: a 2-coupling flow pretrained for 100 steps, then UNO alone
        # (the other methods compile their own steps) without the gradient cosine, with
        # larger unlearning steps so that the small model forgets within 40 steps.
        "runlocal": runlocal(100, {
            "model.num_layers": 2, "model.hidden_dims": (32,), "optim.lr": 3e-3,
            "unlearn.methods": ("uno",), "unlearn.max_steps": 40, "unlearn.lr": 2e-3,
            "unlearn.target_increase": 0.5, "unlearn.gradient_cosine": False,
        }),
        "full": {
            "total_steps": 50000, "model.num_layers": 16, "model.hidden_dims": (512, 512),
            "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000,
            "unlearn.max_steps": 2000,
        },
    })
    return config
