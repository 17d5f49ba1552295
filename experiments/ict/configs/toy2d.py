"""iCT [P233] on a 2D toy (moons), and its EDM diffusion baseline on the same network.

Song & Dhariwal (2023), "Improved Techniques for Training Consistency Models". Reproduces,
at toy scale, the claim that consistency training alone (no distillation, no EMA teacher)
gives one- and two-step samples close in quality to a diffusion model sampled with many
steps. ``--config.objective=ict`` (default) or ``edm``. Modes: ``runlocal`` (the tests),
default (the README numbers), ``full`` (longer). The paper's settings are the defaults:
sigma in [0.002, 80], rho 7, P_mean -1.1, P_std 2, s0 10, s1 1280, pseudo-Huber c =
0.00054 sqrt(d). Numbers reached: see experiments/ict/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("ict", dataset="moons")
    config.objective = "ict"
    config.sigma_data = ml_collections.FieldReference(None, field_type=float)
    config.model = ml_collections.ConfigDict({
        "event_shape": (2,), "hidden_dims": (128, 128, 128), "activation": "silu",
        "num_frequencies": 8, "max_frequency": 4.0,
    })
    config.noise = ml_collections.ConfigDict({"sigma_min": 0.002, "sigma_max": 80.0,
                                              "rho": 7.0})
    config.ict = ml_collections.ConfigDict({
        "s0": 10, "s1": 1280, "p_mean": -1.1, "p_std": 2.0,
        "huber_c": ml_collections.FieldReference(None, field_type=float),
    })
    config.edm = ml_collections.ConfigDict({"p_mean": -1.2, "p_std": 1.2})
    config.sample = ml_collections.ConfigDict({"two_step_sigma": 0.821,
                                               "heun_steps": (1, 2, 18)})
    config.eval = ml_collections.ConfigDict({"num_samples": 2000})
    config.optim.lr = 3e-4
    config.batch_size = 256
    config.ema_decay = 0.0  # iCT: no EMA teacher; evaluation also uses the raw weights
    config.num_plot_samples = 1000
    if mode == "runlocal":
        config.optim.lr = 1e-3
        config.total_steps = 400
        config.log_every = 100
        config.eval_every = 0
        config.checkpoint_every = 400
        config.eval.num_samples = 256
        config.num_plot_samples = 256
        config.sample.heun_steps = (2, 8)
    elif mode == "default":
        config.total_steps = 8000
        config.log_every = 500
        config.eval_every = 4000
        config.checkpoint_every = 4000
    else:
        config.total_steps = 40000
        config.log_every = 1000
        config.eval_every = 10000
        config.checkpoint_every = 10000
    return config
