"""MixCE [P023] on character-level Shakespeare (``shakespeare_char``).

Zhang et al. (2023), "MixCE: Training autoregressive language models by mixing
forward and reverse cross-entropies", real-data setting at character level: a
small causal transformer trained with MixCE at mixing ratio ``objective.eta``
(1 = MLE; sweep ``--config.objective.eta=1.0|0.5|0.1``). Reports test bits/char,
next-character accuracy and repetition (``rep16``/``wrep16``), and the
repetition and distinct-1 of greedy and ancestral-sampled continuations of
16-character prefixes (``seq_rep_4_*``), with the same numbers for the true
text (``*_human``), and the model's bits/char on its own samples
(``sample_bits``). Modes: ``runlocal`` (tests), default (the README table, a few
minutes on 2 CPU cores), ``full``. Numbers: experiments/mixce/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("mixce", dataset="shakespeare_char")
    config.update(presets.shakespeare_lm())
    config.objective = ml_collections.ConfigDict({"eta": 1.0})
    apply_mode(config, arg, presets.shakespeare_lm_modes())
    return config
