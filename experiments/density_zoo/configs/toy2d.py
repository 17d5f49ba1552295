"""The density zoo on a 2D toy (default: checkerboard, entropy log 32 = 3.466 nats).

Every model of the library that has a likelihood, trained under the same budget (2000 steps
of batch 256, Adam 1e-3 with a cosine decay) and scored by its test NLL in nats; the model is
``--config.model.family=<realnvp|spline|maf|trade|cnf|diffusion_ode|vdm>``, the objective
``--config.objective=<auto|ml|score_matching|flow_matching|penalized_ml>``. Modes: ``runlocal`` (the
end-to-end test), default (the README's leaderboard), ``full`` (longer, wider). Numbers
measured: see experiments/density_zoo/README.md.
"""

from experiments.density_zoo.configs.common import zoo_config
from likelihood_jax.train.config import runlocal


def get_config(arg=None):
    return zoo_config(arg, "checkerboard", fields={
        "batch_size": 256, "total_steps": 2000, "log_every": 100, "eval_every": 0,
        "checkpoint_every": 2000, "eval_batch_size": 1000, "model.num_layers": 6,
    }, modes={
        "runlocal": runlocal(150, {"optim.lr": 3e-3, "model.num_layers": 4,
                                   "model.hidden_dims": (32,), "model.solver": "midpoint",
                                   "model.num_steps": 8, "model.width": 16,
                                   "model.transformer_layers": 1, "model.num_components": 4},
                            eval_batch_size=500),
        "full": {"total_steps": 20000, "model.num_layers": 10, "model.hidden_dims": (256, 256),
                 "checkpoint_every": 5000},
    })
