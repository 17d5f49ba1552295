"""MaDL on digits labeled by simulated annotators [P127].

Paper: Herde, Huseljic & Sick (TMLR 2023), "Multi-annotator Deep Learning: A Probabilistic
Framework for Classification" (arXiv:2304.02539). Reproduces: a ground-truth model trained
jointly with annotator confusion matrices through ``p(z_a | x) = sum_y p(y | x) P_a(z_a | y)``
recovers the annotators' accuracies (experts 0.9/0.75/0.6, two class flippers, two
spammers, three correlated annotators) and beats training on the majority vote.
``--config.method=majority_vote`` is the baseline, ``true_labels`` the ceiling,
``--config.weighted=False`` drops the annotator weights. Numbers reached:
experiments/multi_annotator/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("multi_annotator", dataset="digits_annotators")
    config.dataset.update({"label_prob": 0.5, "seed": 0})
    config.model = ml_collections.ConfigDict({
        "hidden_dims": (128,), "embed_dim": 8, "diagonal_init": 2.0})
    config.method = "madl"
    config.weighted = True
    config.bandwidth = 1.0
    config.optim.lr = 3e-3
    config.optim.weight_decay = 1e-4
    config.batch_size = 64
    config.total_steps = 1500
    config.log_every = 100
    config.eval_every = 0
    config.num_plot_samples = 0
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"model.hidden_dims": (32,)}),
        "full": {"total_steps": 10000, "model.hidden_dims": (256, 256)},
    })
    return config
