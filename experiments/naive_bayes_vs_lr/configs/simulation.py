"""Naive Bayes vs logistic regression on class-conditional Gaussians [P094].

Paper: Zheng, Wu, Bao, Cao, Li & Zhu (ICML 2023), "Revisiting Discriminative vs. Generative
Classifiers: Theory and Implications" (arXiv:2302.02334). Reproduces the simulation: test
error of Gaussian naive Bayes (MLE) and logistic regression against the number of training
samples ``n`` on the registered ``gaussian_classes`` source (2 classes, 20 features; set
``--config.dataset.correlation=0.5`` to break the naive Bayes independence assumption).
Mean +- 95% interval over ``study.num_seeds`` subsets per ``n``; hyperparameters chosen on
a 500-row validation split. Numbers reached: experiments/naive_bayes_vs_lr/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def study_config(**fields) -> ml_collections.ConfigDict:
    """The learning-curve settings shared by both configs (``fields`` override)."""
    study = ml_collections.ConfigDict({
        "sizes": (4, 8, 16, 32, 64, 128, 256, 512, 1024),
        "num_seeds": 5, "num_validation": 500, "feature_scale": 1.0,
        "var_smoothing_grid": (1e-9, 1e-3, 1e-2, 1e-1),
        "l2_grid": (1e-4, 1e-3, 1e-2, 1e-1), "lbfgs_steps": 100,
    })
    study.update(fields)
    return study


def get_config(arg=None):
    config = base_config("naive_bayes_vs_lr", dataset="gaussian_classes")
    config.dataset.update({"num_classes": 2, "dim": 20, "separation": 3.0, "correlation": 0.0,
                           "num_train": 2000, "num_test": 5000})
    config.total_steps = 0
    config.study = study_config()
    apply_mode(config, arg, {
        # The end-to-end test: 3 sizes, 2 seeds, one grid point each, 20 L-BFGS steps.
        "runlocal": {"study.sizes": (4, 16, 64), "study.num_seeds": 2,
                     "study.var_smoothing_grid": (1e-9,), "study.l2_grid": (1e-2,),
                     "study.lbfgs_steps": 20, "dataset.num_test": 500},
        "full": {"study.num_seeds": 20, "study.lbfgs_steps": 300, "dataset.dim": 100,
                 "dataset.num_train": 10000},
    })
    return config
