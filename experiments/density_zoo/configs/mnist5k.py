"""The density zoo on mnist5k (5000 real MNIST digits, 28x28, 256 levels; one seed).

The same convention as ``digits.py``: uniform dequantization into [0, 1) for training, test
bits/dim of the discrete images by ``likelihood_jax.density.bits_per_dim`` (uniform
dequantization: an upper bound on the discrete bits/dim, exact for the discrete models
``pixelcnn`` and ``transformer``), the same budget for every model (1000 steps of batch 64,
Adam 3e-4, 100 warmup steps, then a cosine decay). The model is
``--config.model.family=<realnvp|spline|maf|glow|tarflow|pixelcnn|trade|cnf|diffusion_ode|vdm|
transformer>``. At 784 dimensions the
continuous-time models use Hutchinson's divergence (one probe; the exact divergence costs 784
vector-Jacobian products per solver step), so their likelihood is an estimate (marked
``bound``); TarFlow uses 4x4 patches (49 positions). One seed is acceptable here (``--seeds
1``): a seed of the slowest models (pixelcnn, transformer: sequential sampling over 784
pixels) takes tens of minutes on a CPU. Modes: ``runlocal`` (a wiring check only: its 10 steps do
not lower the test bits/dim of the flows), default,
``full``. Not measured in this session (see experiments/density_zoo/README.md).
"""

from experiments.density_zoo.configs.common import zoo_config
from likelihood_jax.train.config import runlocal


def get_config(arg=None):
    return zoo_config(arg, "mnist5k", fields={
        "batch_size": 64, "total_steps": 1000, "log_every": 100, "eval_every": 0,
        "checkpoint_every": 500, "eval_batch_size": 250, "num_plot_samples": 16,
        "model.hidden_dims": (256, 256), "model.patch_size": 4, "model.hutchinson": True,
        "model.num_steps": 16, "model.solver": "midpoint", "optim.lr": 3e-4,
        "optim.schedule": "warmup_cosine", "optim.warmup_steps": 100,
    }, modes={
        "runlocal": runlocal(10, {"optim.warmup_steps": 2, "model.num_layers": 2,
                                  "model.hidden_dims": (16,), "model.width": 16,
                                  "model.transformer_layers": 1, "model.num_filters": 8,
                                  "model.num_resnet": 0, "model.num_scales": 1,
                                  "model.num_mixtures": 2, "model.dropout": 0.0,
                                  "model.num_components": 2, "model.num_steps": 4},
                             eval_batch_size=32, num_plot_samples=4),
        "full": {"total_steps": 20000, "model.num_layers": 8, "model.hidden_dims": (1024, 1024),
                 "model.width": 256, "model.transformer_layers": 6, "model.num_filters": 80,
                 "model.num_resnet": 3, "model.num_scales": 3, "model.num_mixtures": 10,
                 "model.num_steps": 0},
    })
