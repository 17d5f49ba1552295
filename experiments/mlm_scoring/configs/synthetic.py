r"""Masked language model scoring [P239] on a synthetic Markov source with known P.

Salazar, Liang, Nguyen & Kirchhoff (2020), "Masked Language Model Scoring" (ACL 2020):
pseudo-log-likelihood ``PLL(W) = sum_t log P_MLM(w_t | W_\t)`` of a small masked LM
(BERT masking, 15 % / 80-10-10), against a causal LM of the same size trained on the same
batches and against the source's true log-probability: ranking source sequences above
corrupted ones, picking the original from a list of noisy candidates, and the correlation
of PLL with log P. Modes: ``runlocal`` (tests), default (the README table, about 3
minutes on the shared 2-core CPU), ``full`` (larger source and models). Default mode
reached: PLL ranks the original above a one-token replacement for 90.9 % of test sequences
(true log P: 91.8 %, causal LM: 91.6 %) and picks the original from 5 candidates 89.5 % of
the time; Pearson r(PLL, log P) = 0.881. Details: experiments/mlm_scoring/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("mlm_scoring", dataset="markov_mixture")
    config.update(presets.masked_lm())
    config.dataset.update({"concentration": 0.3, "num_components": 1, "length": 12})
    config.eval = ml_collections.ConfigDict({"num_candidates": 5, "num_edits": 2,
                                             "num_corr": 500})
    apply_mode(config, arg, presets.masked_lm_modes(), {
        # Tests: the family's tiny models and source, one evaluation batch of 64 sequences.
        "runlocal": runlocal(60, {"dataset.num_test": 64, "eval.num_candidates": 3,
                                  "eval.num_corr": 64}, eval_batch_size=64),
        "full": {"dataset.length": 24},
    })
    return config
