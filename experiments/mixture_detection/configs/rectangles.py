"""D-RMM on synthetic rectangles: a mixture over boxes with the MCM regularizer [P136].

Paper: Yoo, Lee, Seo, Chung & Kwak (ICML 2023), "End-to-End Multi-Object Detection with a
Regularized Mixture Model" (arXiv:2205.08714). Reproduces, at small scale: a dense detector
trained only by the mixture NLL of the ground-truth boxes plus the maximum component
maximization (MCM) loss gives one dominant component per object and a good AP without NMS,
while the NLL alone (``--config.mcm_weight=0``) leaves duplicate components.
Numbers reached: experiments/mixture_detection/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("mixture_detection", dataset="rectangles")
    config.dataset.update({"num_train": 2000, "num_test": 500, "seed": 0})
    config.model = ml_collections.ConfigDict({
        "features": (16, 32, 32), "num_downsamples": 1, "anchor_half": 0.15,
        "offset_scale": 0.25, "scale_bias": -3.0, "min_scale_ratio": 0.05})
    config.family = "cauchy"
    config.mcm_weight = 1.0
    config.count_threshold = 0.1
    config.num_eval_images = 500
    config.optim.lr = 3e-3
    config.batch_size = 32
    config.total_steps = 1500
    config.log_every = 100
    config.eval_batch_size = 250
    config.num_plot_samples = 0
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"model.features": (8, 16), "dataset.num_train": 256,
                                  "dataset.num_test": 64}, num_eval_images=64),
        "full": {"total_steps": 20000, "model.features": (32, 64, 64, 64),
                 "dataset.num_train": 50000},
    })
    return config
