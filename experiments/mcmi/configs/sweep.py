"""The MCMI table [P034] in one command: every teacher and student over seeds.

The runs are those of :mod:`digits` (the same modes; any ``--config.<field>`` flag
reaches every run); ``sweep`` picks the table: seeds, the MCMI weights ``lambda`` of the
teachers trained from scratch (MLE, ``lambda = 0``, always), the weights of teachers
fine-tuned from the MLE teacher (``finetune_cmi_weights``, ``finetune_steps`` more
steps), the transfer settings (``full``, ``fewshot``, ``omit``) and the omitted class.
Default: the README's two tables (``--config.sweep.finetune_cmi_weights="()"`` leaves out
the fine-tuned teachers). Run by
:class:`experiments.mcmi.sweep.MCMISweep`; numbers: experiments/mcmi/README.md.
"""

import ml_collections

from experiments.mcmi.configs import digits
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = digits.get_config(arg)
    config.experiment = "mcmi:MCMISweep"
    del config["stages"]  # the sweep names every run's teacher itself
    config.sweep = ml_collections.ConfigDict({
        "seeds": (0, 1, 2), "cmi_weights": (1.0, 3.0), "finetune_cmi_weights": (0.0, 1.0, 3.0),
        "finetune_steps": 500, "settings": ("omit", "fewshot", "full"), "omit_class": 3,
    })
    apply_mode(config, arg, {
        "runlocal": {"sweep.seeds": (0,), "sweep.cmi_weights": (), "sweep.finetune_cmi_weights": (),
                     "sweep.settings": ("fewshot",)},
    })
    return config
