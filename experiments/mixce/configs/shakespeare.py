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

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mixce", dataset="shakespeare_char")
    config.dataset.num_test_windows = 256
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "context": 64, "num_layers": 2, "width": 128, "num_heads": 4,
        "position": "rotary", "max_len": 256,
    })
    config.objective = ml_collections.ConfigDict({"eta": 1.0})
    config.eval = ml_collections.ConfigDict({
        "prefix_len": 16, "continuation_len": 48, "ngram": 4, "rep_windows": (16,),
    })
    config.optim.lr = 2e-3
    config.optim.schedule = "warmup_cosine"
    config.optim.warmup_steps = 100
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 32
    config.eval_batch_size = 256
    if mode == "runlocal":
        config.dataset.num_test_windows = 16
        config.model.update({"context": 32, "num_layers": 1, "width": 32, "num_heads": 2})
        config.eval.update({"prefix_len": 8, "continuation_len": 16})
        config.optim.warmup_steps = 5
        config.total_steps = 40
        config.log_every = 10
        config.checkpoint_every = 40
    elif mode == "default":
        config.total_steps = 1000
        config.log_every = 100
        config.eval_every = 500
        config.checkpoint_every = 500
    else:
        config.dataset.num_test_windows = 1024
        config.model.update({"context": 256, "num_layers": 6, "width": 384, "num_heads": 6,
                             "max_len": 512})
        config.batch_size = 64
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
