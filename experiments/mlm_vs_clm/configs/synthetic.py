"""MLM vs CLM vs CLM-then-MLM [P192] on a mixture of two synthetic Markov sources.

Gisserot-Boukhlef et al. (2025), "Should We Still Pretrain Encoders with Masked Language
Modeling?": one transformer, one budget of steps (the same batches), objective
``objective.kind`` in ``clm | mlm | clm_then_mlm`` with the switch at
``objective.switch_fraction`` of the steps (same parameters, attention mask and
objective change). Evaluated as an encoder: MLM loss, pseudo-log-likelihood and a
linear probe for the mixture component. Modes: ``runlocal`` (tests), default (the
README table, a few minutes per run on the shared 2-core CPU), ``full``. Default mode
reached probe accuracies 0.969 (MLM), 0.988 (25 % CLM then MLM), 0.971 (50 %), 0.958 (75 %),
0.923 (CLM, read bidirectionally); one seed each. Details: experiments/mlm_vs_clm/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("mlm_vs_clm", dataset="markov_mixture")
    config.update(presets.masked_lm())
    config.objective = ml_collections.ConfigDict({"kind": "clm_then_mlm",
                                                  "switch_fraction": 0.5})
    config.eval = ml_collections.ConfigDict({"probe_train": 2000})
    apply_mode(config, arg, presets.masked_lm_modes(), {
        # Tests: the family's tiny model and source; the probe trains on as many sequences as
        # the test split holds (one compilation of the pooled features for both).
        "runlocal": runlocal(60, {"eval.probe_train": 128}),
        "full": {"eval.probe_train": 10000},
    })
    return config
