"""Latent bootstrapping vs MLM [P185] on a mixture of two synthetic Markov sources.

Samuel (2023), "Mean BERTs make erratic language teachers": the same encoder and budget
trained with ``objective.mlm_weight * MLM + objective.bootstrap_weight * bootstrapping``
(student predictions at masked positions regressed, smooth-L1, onto the LayerNorm-ed
final hidden states of a stop-gradient mean teacher, an EMA of the student with decay
``objective.teacher_decay``, reading the unmasked input). Compare ``(1, 0)`` (MLM),
``(1, 1)`` (the paper's combination) and ``(0, 1)`` by the linear probe for the mixture
component and the embedding variance (collapse). Modes: ``runlocal`` (tests), default (the
README table, a few minutes per run on the shared 2-core CPU), ``full``. Default mode
reached probe accuracies 0.956 (MLM), 0.969 (MLM + bootstrapping, EMA teacher), 0.843
(bootstrapping alone, drifting towards collapse: embedding variance 0.151 vs 0.66).
Details: experiments/latent_bootstrapping/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("latent_bootstrapping", dataset="markov_mixture")
    config.update(presets.masked_lm())
    config.objective = ml_collections.ConfigDict({"mlm_weight": 1.0, "bootstrap_weight": 1.0,
                                                  "beta": 1.0, "teacher_decay": 0.999})
    config.eval = ml_collections.ConfigDict({"probe_train": 2000})
    apply_mode(config, arg, presets.masked_lm_modes(), {
        # Tests: the family's tiny model and source; the probe trains on as many sequences as
        # the test split holds (one compilation of the pooled features for both).
        "runlocal": runlocal(60, {"eval.probe_train": 128}),
        "full": {"eval.probe_train": 10000},
    })
    return config
