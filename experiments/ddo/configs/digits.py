"""DDO [P084]: RealNVP on the 8x8 digits, MLE-pretrained, then self-play DDO rounds.

Paper: Zheng et al. 2025, "Direct discriminative optimization: your likelihood-based visual
generative model is secretly a GAN discriminator". Reproduces, at small scale, DDO fine-tuning
of a likelihood model as its own discriminator against a frozen reference, in
``ddo.num_rounds`` self-play rounds of ``ddo.round_steps`` steps (the reference is replaced
by the model after each). Stages: ``pretrain`` (experiments/mle_flow's RealNVP by maximum
likelihood, ``ddo.pretrain_steps`` steps) then ``ddo``. Reports test bits/dim and the
Frechet distance (``fd``, classifier features) after pretraining and after every round.
Fields: ``ddo.objective`` (``ddo``, or ``mle``: the baseline that continues maximum
likelihood for the same steps), ``ddo.alpha``, ``ddo.beta`` (the loss), ``ddo.round_steps``,
``ddo.num_rounds``, ``ddo.num_eval_samples``. Measured (3 seeds): see experiments/ddo/README.md.
"""

import ml_collections

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, set_fields
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("ddo", dataset="digits")
    config.model = presets.realnvp_model((8, 8, 1), logit_alpha=0.05)
    set_fields(config, presets.realnvp_digits_fields())
    config.ddo = ml_collections.ConfigDict({
        "role": "pretrain", "from_stage": "", "workdir": "", "pretrain_steps": 600,
        "objective": "ddo", "alpha": 1.0, "beta": 1.0, "round_steps": 100, "num_rounds": 3,
        "lr": 1e-4, "num_eval_samples": 1000})
    config.total_steps = config.ddo.pretrain_steps
    config.eval_every = 0
    apply_mode(config, arg, {
        "runlocal": {"ddo.pretrain_steps": 30, "ddo.round_steps": 10, "ddo.num_rounds": 2,
                     "model.num_layers": 2, "model.hidden_dims": (16,), "eval_batches": 1,
                     "log_every": 5, "checkpoint_every": 30, "checkpoints_to_keep": 1,
                     "num_plot_samples": 16, "ddo.num_eval_samples": 0, "ddo.lr": 1e-3},
        "default": {"log_every": 50, "checkpoint_every": 600},
        "full": {"ddo.pretrain_steps": 20000, "model.num_layers": 16,
                 "model.hidden_dims": (512, 512), "ddo.round_steps": 1000, "log_every": 500,
                 "checkpoint_every": 5000},
    })
    d = config.ddo
    config.total_steps = d.pretrain_steps
    ddo_steps = d.round_steps * d.num_rounds
    config.stages = stages_config(
        ("pretrain", {"ddo": {"role": "pretrain"}}),
        ("ddo", {"ddo": {"role": "ddo", "from_stage": "pretrain"}, "total_steps": ddo_steps,
                 "eval_every": d.round_steps, "checkpoint_every": ddo_steps,
                 "optim": {"lr": d.lr, "schedule": "constant"}}),
    )
    return config
