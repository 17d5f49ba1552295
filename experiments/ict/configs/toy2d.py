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

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("ict", dataset="moons")
    config.objective = "ict"
    config.sigma_data = ml_collections.FieldReference(None, field_type=float)
    config.model = presets.fourier_time_mlp((128, 128, 128), max_frequency=4.0,
                                            event_shape=(2,))
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
    apply_mode(config, arg, {
        # as many plotted as evaluated samples: the plot and the headline W2 share a sampler;
        # the curriculum capped at s1 = 160 (161 levels): every step draws each example's
        # level from s1 + 1 probabilities, and s1 = 1280 took half of the run's CPU time
        "runlocal": runlocal(400, {"optim.lr": 1e-3, "eval.num_samples": 256,
                                   "sample.heun_steps": (2, 8), "ict.s1": 160},
                             num_plot_samples=256),
        "default": presets.run_length(8000, 500, 4000, eval_every=4000),
        "full": presets.run_length(40000, 1000, 10000, eval_every=10000),
    })
    return config
