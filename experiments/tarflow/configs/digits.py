"""TarFlow [P008] by maximum likelihood on scikit-learn's 8x8 digits (17 levels).

Paper: Gu et al. 2025, "STARFlow: Scaling Latent Normalizing Flows for High-resolution
Image Synthesis" (its TARFlow core: affine autoregressive flow blocks whose conditioner is
a causal transformer over patches, block order alternating). Reproduces, at small scale,
the comparison the issue asks for: test bits/dim of TarFlow against the RealNVP of
``experiments/mle_flow`` at about equal parameter count and against a diagonal Gaussian,
all under the same uniform dequantization and logit map (``flows.experiment.MLEFlow``).
``--config.model.kind=realnvp`` / ``diag_gaussian`` selects the baselines; the RealNVP's
``hidden_dims`` here are chosen so that its parameter count matches TarFlow's.
Modes: ``runlocal`` (the end-to-end test), default (the README numbers), ``full``.
Measured numbers: experiments/tarflow/README.md.
"""

import ml_collections

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("tarflow", dataset="digits")
    # TarFlow: 2x2 patches (16 positions of 4 values), 4 blocks of alternating order, each
    # a one-layer causal transformer of width 32. RealNVP: 8 couplings of width 46, about
    # the same number of parameters (54,944 and 54,784; `num_params` in metrics.jsonl).
    config.model = presets.realnvp_model((8, 8, 1), num_layers=8, hidden_dims=(46, 46),
                                         logit_alpha=0.05)
    config.model.kind = "tarflow"
    config.model.tarflow = ml_collections.ConfigDict({
        "patch_size": 2, "num_blocks": 4, "width": 32, "num_layers": 1, "num_heads": 2,
        "mlp_ratio": 4})
    set_fields(config, {"optim.lr": 1e-3, "optim.schedule": "cosine", "batch_size": 128,
                        "num_plot_samples": 64, "total_steps": 1000, "log_every": 100,
                        "eval_every": 250, "checkpoint_every": 500})
    apply_mode(config, arg, {
        "runlocal": runlocal(30, {"optim.lr": 3e-3, "model.tarflow.num_blocks": 1,
                                  "model.tarflow.width": 16, "model.tarflow.patch_size": 4,
                                  "model.tarflow.mlp_ratio": 2}, batch_size=64,
                             num_plot_samples=16),
        "full": {"total_steps": 20000, "model.tarflow.num_blocks": 8,
                 "model.tarflow.width": 128, "model.tarflow.num_layers": 2,
                 "model.hidden_dims": (256, 256), "log_every": 500, "eval_every": 2000,
                 "checkpoint_every": 5000},
    })
    return config
