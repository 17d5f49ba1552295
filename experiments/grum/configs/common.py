"""Fields shared by the GruM configs (community_small.py, grid.py)."""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import base_config, runlocal


def grum_config(dataset: str, num_train: int, num_test: int, **options):
    """The shared part of a GruM config for a registered graph dataset.

    ``config.dataset`` is ``{name, num_train, num_test, seed, **options}``, the options of
    :mod:`likelihood_jax.data.synthetic.graphs`'s loader of ``dataset``.
    """
    config = base_config("grum", dataset=dataset)
    config.method = "grum"  # or "diffusion" (the VP-SDE baseline, same network)
    config.dataset = ml_collections.ConfigDict({
        "name": dataset, "num_train": num_train, "num_test": num_test, "seed": 0, **options,
    })
    config.model = ml_collections.ConfigDict({"hidden": 32, "num_layers": 3, "time_dim": 16})
    # GruM's adjacency mixture (configs/sbm.yaml of the paper's code): OU bridges.
    config.grum = ml_collections.ConfigDict({
        "kind": "ou", "sigma_0": 0.4, "sigma_1": 0.2, "drift_coeff": 1.0,
        "weighting": "constant", "t_eps": 2e-3,
    })
    config.diffusion = presets.vp_sde()
    config.sampling = ml_collections.ConfigDict({"num_steps": 100})
    config.eval = ml_collections.ConfigDict({"num_samples": 32, "kernel": "emd"})
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 32
    config.num_plot_samples = 8
    return config


#: The runlocal overrides of both configs (seconds on a CPU: the end-to-end test). One
#: message-passing layer; as many plotted graphs as evaluated ones, so that the plot and
#: the evaluation share one compiled sampler.
RUNLOCAL = runlocal(40, {"model.hidden": 16, "model.num_layers": 1, "sampling.num_steps": 5,
                         "eval.num_samples": 4}, batch_size=8, num_plot_samples=4)

#: The ``full`` overrides of both configs (longer, wider).
FULL = {
    **presets.run_length(20000, 500, 5000), "ema_decay": 0.999, "model.hidden": 64,
    "model.num_layers": 4, "sampling.num_steps": 1000, "eval.num_samples": 200,
}
