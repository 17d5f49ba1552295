"""The config every dataset of the density zoo shares: one model group for every family."""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, set_fields


def zoo_config(arg, dataset: str, *, fields: dict, modes: dict) -> ml_collections.ConfigDict:
    """A density-zoo config on ``dataset``; ``--config.model.family`` picks the model.

    Every family reads the fields it needs from the one ``model`` group (the flows
    ``num_layers``, ``hidden_dims``, ``num_bins``, ``bound``, ``transform``; the
    continuous-time models ``hidden_dims`` and the solver ``solver``, ``num_steps`` (0:
    adaptive with ``tol``), ``hutchinson``, ``gamma_min``; the transformer
    ``transformer_layers``, ``width``, ``num_heads``; TarFlow ``num_layers`` (blocks),
    ``patch_size`` and the transformer's fields; PixelCNN++ ``num_filters``, ``num_resnet``,
    ``num_scales``, ``num_mixtures``, ``dropout``; TraDE ``num_components``, ``mmd_weight``
    and the transformer's fields). ``objective`` is ``"auto"`` (the model's own first
    objective) or ``ml``, ``score_matching``, ``flow_matching``, ``penalized_ml``.

    Args:
      arg: the mode (``runlocal``, default, ``full``).
      dataset: the registered dataset.
      fields: dotted-key settings of the default mode.
      modes: per-mode overrides (``apply_mode``).
    """
    config = base_config("density_zoo", dataset=dataset)
    config.objective = "auto"
    config.model = ml_collections.ConfigDict({
        "family": "realnvp", "num_layers": 4, "hidden_dims": (64, 64), "num_bins": 8,
        "bound": 3.0, "transform": "affine", "transformer_layers": 2, "width": 64,
        "num_heads": 4, "hutchinson": False, "solver": "tsit5", "num_steps": 0,
        "tol": 1e-4, "gamma_min": -7.9, "patch_size": 2, "num_filters": 32, "num_resnet": 1,
        "num_scales": 2, "num_mixtures": 5, "dropout": 0.2, "num_components": 8,
        "mmd_weight": 0.1,
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.optim.grad_clip_norm = 10.0
    set_fields(config, fields)
    apply_mode(config, arg, modes)
    return config
