"""Free-form injective flows [P009], the PPCA check: linear f and g on a low-rank Gaussian.

Paper: Sorrenson et al. 2024, "Lifting Architectural Constraints of Injective Flows".
Data ``ppca``: x = W z + 0.05 eps in 8D with a rank-2 loading W. Linear encoder and
decoder (``model.hidden_dims = ()``); the model metric ``max_principal_angle`` (degrees)
between span(decoder) and span(W) should reach ~0. Measured numbers:
experiments/injective_flows/README.md. Modes: ``runlocal``, default, ``full``.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("injective_flows", dataset="ppca")
    config.dataset.dim = 8
    config.dataset.latent_dim = 2
    config.dataset.noise = 0.05
    config.dataset.seed = 0
    config.model = ml_collections.ConfigDict({"latent_dim": 2, "hidden_dims": ()})
    config.fif = ml_collections.ConfigDict(
        {"beta": 100.0, "num_probes": 1, "jacobian_at": "data"})
    config.optim.lr = 1e-2
    config.optim.schedule = "cosine"
    config.batch_size = 256
    config.total_steps = 2000
    config.log_every = 100
    config.checkpoint_every = 1000
    apply_mode(config, arg, {
        "runlocal": runlocal(100, {"optim.lr": 1e-2}, eval_batch_size=1000),
        "full": {"total_steps": 20000},
    })
    return config
