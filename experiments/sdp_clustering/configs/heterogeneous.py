"""iLA-SDP on a well-separated Gaussian mixture with unequal covariances [P101].

Paper: Zhuang, Chen & Yang (ICML 2023), "Likelihood Adjusted Semidefinite Programs for
Clustering Heterogeneous Data" (arXiv:2209.15097). Reproduces: zero mis-clustering of
iLA-SDP where EM from an adversarial start fails, and a (near) block-diagonal SDP solution;
beside the K-means SDP and scikit-learn's GaussianMixture. Numbers reached:
experiments/sdp_clustering/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("sdp_clustering", dataset="heterogeneous_gmm")
    config.dataset.update({"separation": 6.0, "long_std": 2.0, "short_std": 0.2,
                           "num_per_cluster": 40})
    config.total_steps = 0
    config.study = ml_collections.ConfigDict({
        "num_seeds": 5, "rho": 0.3, "admm_steps": 500, "ila_iterations": 4, "em_steps": 100})
    apply_mode(config, arg, {
        "runlocal": {"study.num_seeds": 1, "study.admm_steps": 100, "study.ila_iterations": 1,
                     "study.em_steps": 10, "dataset.num_per_cluster": 10},
        "full": {"study.num_seeds": 20, "dataset.num_per_cluster": 100, "study.admm_steps": 2000},
    })
    return config
