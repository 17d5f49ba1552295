"""Regular-constrained CRF [P126]: constrained training vs constraining only at decoding.

Paper: Papay, Klinger and Padó 2022, "Constraining Linear-chain CRFs to Regular Languages".
Task ``one_span``: BIO tags of two span types, exactly one span of type A per sequence (a
global arity rule no linear-chain CRF can represent), the type shown only by noisy cue
tokens. ``--config.training=unconstrained`` trains the plain CRF and reports both free and
constrained (in ``L``) Viterbi decoding; ``--config.training=constrained`` trains the
RegCCRF on ``P(y | x, L)``. Headline: ``exact_match_constrained``; also violation rates
and the Bayes-optimal decoder's exact match.
Modes: ``runlocal`` (the tests), default (the README numbers), ``full``.
Measured (README, 3 seeds): exact match 0.732 (constrained training), 0.728 (constrained
decoding only), 0.394 (free decoding, 50% violations), Bayes-optimal 0.729.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("regular_crf", dataset="one_span")
    config.dataset = ml_collections.ConfigDict({
        "name": "one_span", "length": 24, "max_spans": 4, "max_span_length": 8,
        "cue_prob": 0.2, "flip_prob": 0.25, "num_train": 2000, "num_test": 2000,
        "data_seed": 0})
    config.training = "constrained"
    config.model = ml_collections.ConfigDict({"window": 0})
    config.prior_variance = 10.0  # sigma^2 of the Gaussian prior (the L2 penalty)
    config.optim.lr = 0.05
    config.batch_size = 64
    config.eval_batch_size = 500
    config.total_steps = 1500
    config.log_every = 100
    config.checkpoint_every = 1500
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"dataset.num_train": 256, "dataset.num_test": 64},
                             eval_batch_size=64),
        "full": {"dataset.num_train": 20000, "dataset.num_test": 5000, "total_steps": 10000,
                 "checkpoint_every": 10000},
    })
    return config
