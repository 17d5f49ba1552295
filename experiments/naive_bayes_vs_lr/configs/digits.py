"""Naive Bayes vs logistic regression on the pixel features of ``digits`` [P094].

Paper: Zheng, Wu, Bao, Cao, Li & Zhu (ICML 2023), "Revisiting Discriminative vs. Generative
Classifiers: Theory and Implications" (arXiv:2302.02334). The paper fits both classifiers
on frozen features of pretrained vision models; here the features are the 64 pixels of
scikit-learn's 8x8 digits (scaled to [0, 1]; no pretrained network is available offline).
10 classes; 300 training rows are the validation split, the other 1200 the pool. Numbers
reached: experiments/naive_bayes_vs_lr/README.md.
"""

from experiments.naive_bayes_vs_lr.configs.simulation import study_config
from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("naive_bayes_vs_lr", dataset="digits")
    config.total_steps = 0
    config.study = study_config(sizes=(10, 20, 40, 80, 160, 320, 640, 1200), num_validation=300,
                                feature_scale=1.0 / 16.0)
    apply_mode(config, arg, {
        "runlocal": {"study.sizes": (10, 40), "study.num_seeds": 2,
                     "study.var_smoothing_grid": (1e-2,), "study.l2_grid": (1e-2,),
                     "study.lbfgs_steps": 20},
        "full": {"study.num_seeds": 20, "study.lbfgs_steps": 300},
    })
    return config
