"""Unlikelihood training [P055] on character-level Shakespeare (``shakespeare_char``).

Welleck et al. (2019), "Neural text generation with unlikelihood training", and
Lagutin et al. (2021), "Implicit unlikelihood training" (P055): a small causal
transformer trained with MLE (``objective.alpha=0``) or token-level unlikelihood
(``alpha=1``), then fine-tuned from such a run (``objective.init_from=<workdir>``, or
``objective.from_stage`` in the chain of ``shakespeare_table.py``)
with sequence-level unlikelihood on greedy continuations (``seq_rate=0.5``) and
optionally policy-gradient updates with reward ``1 - seq_rep_4`` (``pg_rate``).
The variants of the README table differ only in ``--config.objective.*`` and
``--config.total_steps``. Reports bits/char and repetition (next-character
``rep16``/``wrep16``; ``seq_rep_4`` of greedy and sampled continuations).
Modes: ``runlocal`` (tests), default (the README table, minutes on 2 CPU cores),
``full``. Numbers: experiments/unlikelihood/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("unlikelihood", dataset="shakespeare_char")
    config.update(presets.shakespeare_lm())
    config.objective = ml_collections.ConfigDict({
        "alpha": 0.0, "window": None, "seq_rate": 0.0, "pg_rate": 0.0, "prefix_len": 16,
        "continuation_len": 48, "ngram": 4, "from_stage": "", "init_from": "",
    })
    apply_mode(config, arg, presets.shakespeare_lm_modes(), {
        "runlocal": runlocal(30, {"objective.prefix_len": 8, "objective.continuation_len": 16,
                                  "objective.alpha": 1.0, "objective.seq_rate": 0.25,
                                  "objective.pg_rate": 0.25}),
        "full": {"objective.prefix_len": 64, "objective.continuation_len": 160,
                 "eval.prefix_len": 64, "eval.continuation_len": 160},
    })
    return config
