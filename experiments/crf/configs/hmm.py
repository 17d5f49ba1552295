"""CRF tagger [P068] on sequences of a known HMM, tags = the hidden states.

Paper: Sutton and McCallum 2012, "An Introduction to Conditional Random Fields". Reproduces,
at small scale, that a linear-chain CRF trained by L2-regularised maximum likelihood on
HMM-generated sequences recovers the tags about as well as the generating HMM itself (its
Viterbi path and its per-position posterior, exact from the true parameters), against
independent per-position softmax classifiers with the same features
(``--config.model.structured=False``), and that the autodiff gradient equals empirical minus
expected feature counts (``grad_check_max_abs_diff``).
Modes: ``runlocal`` (the tests), default (the README numbers), ``full`` (more data).
Measured (README, 3 seeds): tag accuracy 0.625 (CRF Viterbi) vs 0.627 (true HMM Viterbi),
max-marginal 0.639 vs 0.643 (HMM posterior), softmax 0.631; gradient check <= 1.3e-13.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("crf", dataset="hmm_tagging")
    config.dataset = ml_collections.ConfigDict({
        "name": "hmm_tagging", "seed": 0, "num_states": 4, "vocab_size": 20,
        "transition_concentration": 0.5, "emission_concentration": 0.5, "length": 16,
        "num_train": 2000, "num_test": 1000, "data_seed": 1})
    config.model = ml_collections.ConfigDict({"window": 1, "structured": True})
    config.prior_variance = 10.0  # sigma^2 of the Gaussian prior (the L2 penalty)
    config.grad_check_size = 64
    config.optim.lr = 0.05
    config.batch_size = 64
    config.eval_batch_size = 500
    config.total_steps = 1500
    config.log_every = 100
    config.checkpoint_every = 1500
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"dataset.num_train": 256, "dataset.num_test": 64},
                             eval_batch_size=64, grad_check_size=16),
        "full": {"dataset.num_train": 20000, "dataset.num_test": 5000, "total_steps": 10000,
                 "checkpoint_every": 10000},
    })
    return config
