"""MixCE [P023] on a synthetic sparse Markov source with a known distribution.

Zhang et al. (2023), "MixCE: Training autoregressive language models by mixing
forward and reverse cross-entropies", synthetic setting: a random bigram source
(Dirichlet(0.5) rows, half of each row's transitions set to zero; here the zeros
keep a floor of 1e-3 / V so that the reverse cross-entropy stays finite) and a
model trained with MixCE at mixing ratio ``objective.eta`` (1 = MLE). Sweep
``--config.objective.eta=1.0|0.5|0.1``. Reports forward/reverse CE per token,
exact TV on all length-``eval.enum_length`` sequences and the model's mass on
sequences that use a (near-)zero transition. Modes: ``runlocal`` (tests),
default (the README table, a few minutes on 2 CPU cores), ``full`` (larger
vocabulary and model). Numbers: experiments/mixce/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("mixce", dataset="markov")
    config.update(presets.synthetic_lm())
    config.dataset.num_test = 2000
    config.model.update({"num_layers": 2, "width": 64})
    config.objective = ml_collections.ConfigDict({"eta": 1.0})
    config.eval_batch_size = 2000
    apply_mode(config, arg, presets.synthetic_lm_modes(), {
        "runlocal": runlocal(60, {"dataset.num_train": 2000, "dataset.num_test": 256,
                                  "model.num_layers": 1}, eval_batch_size=256),
        "default": {"total_steps": 3000, "eval_every": 1000, "checkpoint_every": 1000},
    })
    return config
