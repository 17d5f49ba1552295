"""EMO [P032] against MLE on a synthetic sparse Markov source with exact metrics.

Ren, Wu & Zhu (2024), "EMO: Earth Mover Distance Optimization for Auto-Regressive
Language Modeling": the same causal transformer trained by MLE
(``--config.objective.weight=0``) and by EMO + MLE as the authors combine them
(``weight=1``), on a random bigram source (20 tokens, half the transitions
zeroed, as in experiments/mixce). Reports exact TV on length-3 sequences,
forward/reverse CE per token and the model's mass on zeroed transitions. Modes:
``runlocal`` (tests), default (the README table, about a minute per run on 2 CPU
cores), ``full``. Numbers: experiments/emo/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("emo", dataset="markov")
    config.update(presets.synthetic_lm())
    config.objective = ml_collections.ConfigDict({"weight": 1.0})
    apply_mode(config, arg, presets.synthetic_lm_modes(), {"runlocal": runlocal(60)})
    return config
