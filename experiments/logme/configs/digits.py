"""LogME ranking of ``digits`` feature extractors against linear-probe accuracy [P204].

Paper: Bassignana, Müller-Eberstein, Zhang & Plank (2022), "Evidence > Intuition:
Transferability Estimation for Encoder Selection" (arXiv:2210.11255), with LogME of You,
Liu, Wang & Long (2021, arXiv:2102.11005). The paper ranks pretrained language models on
NLP tasks; here the "encoders" are raw pixels, PCA, random projections and the hidden
layers of small MLPs trained on a disjoint 500-image split of ``digits``, the target task
is 10-class digit recognition on 700 other images (300 for choosing the probe's ``C``,
the 297-image test split for accuracy). Reproduces: LogME's ranking correlates positively
with linear-probe accuracy (Kendall's tau over extractors, 5 seeds). Numbers reached:
experiments/logme/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("logme", dataset="digits")
    config.total_steps = 0
    config.study = ml_collections.ConfigDict({
        "num_seeds": 5, "num_encoder": 500, "num_probe": 700,
        "extractors": ("raw", "pca2", "pca4", "pca8", "pca16", "pca32", "random4", "random8",
                       "random16", "random32", "mlp8", "mlp32", "mlp128"),
        "pad_width": 128, "mlp_steps": 300, "mlp_lr": 1e-2,
        "probe_c_grid": (0.01, 0.1, 1.0, 10.0),
    })
    apply_mode(config, arg, {
        # The end-to-end test: 2 seeds, 4 extractors, a short MLP fit, one probe C.
        "runlocal": {"study.num_seeds": 2, "study.extractors": ("raw", "pca4", "random8",
                                                                "mlp16"),
                     "study.pad_width": 64, "study.mlp_steps": 30, "study.probe_c_grid": (1.0,)},
        "full": {"study.num_seeds": 20, "study.mlp_steps": 1000,
                 "study.extractors": ("raw", "pca2", "pca4", "pca8", "pca16", "pca32", "pca64",
                                      "random4", "random8", "random16", "random32", "random64",
                                      "random256", "mlp8", "mlp16", "mlp32", "mlp128",
                                      "mlp512")},
    })
    return config
