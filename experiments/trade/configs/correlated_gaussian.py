"""TraDE [P027] on a correlated Gaussian of known entropy: NLL -> the entropy.

Paper: Fakoor et al. 2020, "TraDE: Transformers for Density Estimation". Data:
``correlated_gaussian`` (D = 8, Sigma_ij = 0.8^|i-j|, entropy 8.8637 nats; see
likelihood_jax.data.tabular). Plain maximum likelihood by default
(``--config.trade.mmd_weight=0.4`` adds the MMD penalty). The headline is the test NLL;
``entropy_gap`` is its excess over the entropy. Measured numbers: experiments/trade/README.md.
Modes: ``runlocal`` (D = 4, the end-to-end test), default, ``full``.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("trade", dataset="correlated_gaussian")
    config.dataset.dim = 8
    config.dataset.rho = 0.8
    config.dataset.heldout = "test"
    config.model = ml_collections.ConfigDict(
        {"num_components": 4, "num_layers": 2, "width": 32, "num_heads": 2})
    config.trade = ml_collections.ConfigDict(
        {"mmd_weight": 0.0, "num_samples": 64, "eval_samples": 1000})
    config.optim.lr = 3e-3
    config.optim.schedule = "cosine"
    config.batch_size = 256
    config.total_steps = 2000
    config.log_every = 100
    config.checkpoint_every = 1000
    config.eval_batch_size = 2000
    apply_mode(config, arg, {
        # Plain MLE (the MMD path is covered by tests/flows/test_trade.py); no samples plot,
        # so the sampler compiles once (inside model_metrics' mmd2).
        "runlocal": runlocal(60, {"dataset.dim": 4, "model.num_layers": 1, "model.width": 16,
                                  "trade.eval_samples": 256},
                             batch_size=64, eval_batch_size=500, num_plot_samples=0),
        "full": {"total_steps": 20000, "model.num_layers": 4, "model.width": 128,
                 "model.num_components": 16},
    })
    return config
