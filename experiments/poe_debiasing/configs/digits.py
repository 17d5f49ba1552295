"""PoE debiasing [P069]: digits with a planted shortcut pixel, plain CE vs product of experts.

Sanh, Wolf, Belinkov & Rush (ICLR 2021), "Learning from others' mistakes: Avoiding dataset
biases without modeling them". Tests, at small scale, the claim that training the main
model through a product of experts with a frozen limited-capacity weak learner improves
accuracy where the shortcut does not hold, at a small in-distribution cost.
``--config.objective=poe`` (default) or ``ce``; ``--config.weak.inputs=image`` (default: the
paper's weak learner, which knows nothing of the bias) or ``border`` (a bias-only weak
learner). Modes: ``runlocal`` (the tests), default (the README numbers), ``full`` (longer).
Numbers reached (default mode, 3 seeds, accuracy on the random-shortcut test set): plain CE
0.826, PoE with the default whole-image weak learner 0.797 (not the paper's effect), PoE with
the border-only weak learner 0.909. See experiments/poe_debiasing/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("poe_debiasing", dataset="shortcut_digits")
    config.objective = "poe"
    config.dataset.update({"correlation": 0.95, "patch_value": 16, "num_pixels": 1, "seed": 0})
    # The paper's weak learner: limited capacity (linear), trained briefly, sees everything.
    # --config.weak.inputs=border --config.weak.steps=300 --config.weak.lr=0.05: bias-only.
    config.weak = ml_collections.ConfigDict({"inputs": "image", "hidden_dims": (),
                                             "steps": 20, "lr": 1e-2})
    config.model = ml_collections.ConfigDict({"hidden_dims": (256, 256)})
    config.optim.lr = 1e-3
    config.batch_size = 128
    config.eval_batch_size = 297
    apply_mode(config, arg, {
        "runlocal": runlocal(200, {"model.hidden_dims": (64,)}),
        "default": {"total_steps": 2000, "log_every": 200, "eval_every": 500,
                    "checkpoint_every": 2000},
        "full": {"total_steps": 10000, "model.hidden_dims": (512, 512), "log_every": 500,
                 "eval_every": 2000, "checkpoint_every": 10000},
    })
    return config
