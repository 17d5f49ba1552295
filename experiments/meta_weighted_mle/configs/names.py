"""Meta-weighted token MLE [P021] (FewGen) against MLE tuning, few-shot names classification.

Meng et al. (2023), "Tuning Language Models as Training Data Generators for
Augmentation-Enhanced Few-Shot Learning": a causal transformer LM pretrained on
unlabeled first names (1000 steps), then prompt-tuned for 200 steps on
``k_shot`` = 16 labelled names per class (female / male, census first names) as
a label-conditioned generator (one learned offset vector per label, the
analogue of the paper's prefix-tuning), by plain MLE
(``--config.generator.objective=mle``) or by meta-weighted MLE (``meta``, the
default). The few-shot classifier (character n-gram logistic regression)
is trained without augmentation and with 500 generated names per class;
balanced test accuracy is reported. Modes: ``runlocal`` (tests), default (the
README table, a few minutes per run on 2 CPU cores), ``full``. Numbers:
experiments/meta_weighted_mle/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("meta_weighted_mle", dataset="names")
    config.dataset.subset = "first"
    config.task = ml_collections.ConfigDict({"k_shot": 16, "few_shot_seed": 0})
    config.model = ml_collections.ConfigDict({"num_layers": 2, "width": 64, "num_heads": 4})
    config.generator = ml_collections.ConfigDict({"objective": "meta", "tune": "prompt",
                                                  "prompt_scale": 10.0, "pretrain_steps": 1000})
    config.meta = ml_collections.ConfigDict({"hidden": 16, "inner_lr": 0.5,
                                             "weight_lr_scale": 30.0})
    config.eval = ml_collections.ConfigDict({
        "num_generated": 500, "num_draws": 3, "temperature": 1.0, "synthetic_weight": 1.0,
        "classifier_c": 1.0,
    })
    config.optim.lr = 1e-3
    config.batch_size = 64
    config.eval_batch_size = 527
    apply_mode(config, arg, {
        # Tests: a transformer without blocks (a bigram LM whose label prompt sets the first
        # letter): compiling the meta-gradient step through blocks dominates a short run.
        "runlocal": runlocal(50, {"model.num_layers": 0, "model.width": 32,
                                  "model.num_heads": 2, "task.k_shot": 4,
                                  "generator.pretrain_steps": 30, "eval.num_generated": 20,
                                  "eval.num_draws": 1}),
        "default": {"total_steps": 1200, "log_every": 50, "checkpoint_every": 1200},
        "full": {"model.num_layers": 4, "model.width": 128, "generator.pretrain_steps": 10000,
                 "eval.num_generated": 2000, "eval.num_draws": 5, "total_steps": 10200,
                 "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000},
    })
    return config
