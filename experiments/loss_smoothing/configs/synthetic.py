"""Loss smoothing [P056] against MLE on a synthetic sparse Markov source with exact metrics.

Elbayad, Besacier & Verbeek (2018), "Token-level and sequence-level loss
smoothing for RNN language models": the same causal transformer trained by MLE
(``--config.objective.token_weight=0``), with token-level smoothing
(``token_weight=0.3``, ``token_temperature=0.15``, the default), sequence-level
RAML with the Hamming reward (``token_weight=0 seq_temperature=0.2``: half the
sequences resampled, about 1.8 of 16 tokens edited on average), and both. Source:
a random bigram chain (20 tokens, half the transitions zeroed, as in
experiments/mixce). Reports exact TV on length-3 sequences, forward/reverse CE.
Modes:
``runlocal`` (tests), default (the README table, about a minute per run on 2 CPU
cores), ``full``. Numbers: experiments/loss_smoothing/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("loss_smoothing", dataset="markov")
    config.update(presets.synthetic_lm())
    config.objective = ml_collections.ConfigDict({
        "token_weight": 0.3, "token_temperature": 0.15, "seq_temperature": 0.0, "seq_rate": 0.5,
    })
    apply_mode(config, arg, presets.synthetic_lm_modes(), {"runlocal": runlocal(60)})
    return config
