"""Config blocks shared by the sequence experiments (functions returning ConfigDicts).

A config starts from :func:`likelihood_jax.train.config.base_config`, merges one group
preset (``config.update(presets.synthetic_lm())``: nested groups are updated key by key)
and applies the group's modes, merged with its own, through
:func:`likelihood_jax.train.config.apply_mode`::

    config = base_config("emo", dataset="markov")
    config.update(presets.synthetic_lm())
    config.objective = ml_collections.ConfigDict({"weight": 1.0})
    apply_mode(config, arg, presets.synthetic_lm_modes())

The groups:

* :func:`synthetic_lm`: a small causal transformer on the sparse random bigram source of
  MixCE [P023] (``"markov"``, exact metrics; EMO [P032], loss smoothing [P056],
  probability-based objectives [P053]);
* :func:`shakespeare_lm`: a small causal transformer on ``shakespeare_char`` windows,
  bits/char and repetition metrics (MixCE [P023], unlikelihood [P055]);
* :func:`masked_lm`: a transformer read bidirectionally (BERT masking) on the
  ``"markov_mixture"`` source (MLM scoring [P239], MLM vs CLM [P192], latent
  bootstrapping [P185]);
* :func:`teacher_student` (with :func:`teacher_then_student` stages): a student and the
  teacher it distills from (distillation [P125], [P007], SALT [P153], teacher
  distillation [P193]).

Mode overrides are plain ``{mode: {dotted.key: value}}`` dicts; ``apply_mode`` takes the
group's and then the experiment's own (later ones win).
"""

from __future__ import annotations

from typing import Any

import ml_collections

Modes = dict[str, dict[str, Any]]


# -- Dataset groups ---------------------------------------------------------------------------


def markov_source(**overrides: Any) -> ml_collections.ConfigDict:
    """``config.dataset`` for the ``"markov"`` source: MixCE's sparse random bigram chain.

    Dirichlet(0.5) rows over 20 tokens, half of each row's transitions zeroed (never
    the largest), a uniform floor of weight 1e-3 so that every sequence has positive
    probability; 10000 train and 1000 test sequences of 16 tokens.
    """
    group = ml_collections.ConfigDict({
        "name": "markov", "seed": 0, "vocab_size": 20, "order": 1, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 10000,
        "num_test": 1000, "data_seed": 1,
    })
    group.update(overrides)
    return group


def markov_mixture(**overrides: Any) -> ml_collections.ConfigDict:
    """``config.dataset`` for ``"markov_mixture"``: two Dirichlet(1) bigram chains, 10 tokens."""
    group = ml_collections.ConfigDict({
        "name": "markov_mixture", "seed": 0, "vocab_size": 10, "order": 1,
        "concentration": 1.0, "num_components": 2, "length": 16, "num_train": 20000,
        "num_test": 1000, "data_seed": 1,
    })
    group.update(overrides)
    return group


def lm_training_options() -> dict[str, Any]:
    """The transformer's training options, all off (``TransformerLM``'s defaults).

    ``dropout`` (every site), ``tie_embeddings``, ``scaled_residual_init``, ``dtype``
    (``"float32"`` or ``"bfloat16"`` compute), ``remat`` and ``scan_layers``: present in
    every transformer group so that a config or the command line can switch them
    (``--config.model.dropout=0.1``); a GRU reads ``dropout`` only.
    """
    return {"dropout": 0.0, "tie_embeddings": False, "scaled_residual_init": False,
            "dtype": "float32", "remat": False, "scan_layers": False}


def transformer(**overrides: Any) -> ml_collections.ConfigDict:
    """``config.model``: a causal transformer LM with rotary positions, options off."""
    group = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 1, "width": 48, "num_heads": 4,
        "position": "rotary", "max_len": 64, **lm_training_options(),
    })
    group.update(overrides)
    return group


# -- Experiment groups --------------------------------------------------------------------------


def synthetic_lm() -> ml_collections.ConfigDict:
    """A one-layer transformer (width 48) on :func:`markov_source`; exact TV on length 3."""
    return ml_collections.ConfigDict({
        "dataset": markov_source(),
        "model": transformer(),
        "eval": {"enum_length": 3, "rare_threshold": 1e-3},
        "optim": {"lr": 1e-3, "schedule": "cosine"},
        "batch_size": 64,
        "eval_batch_size": 1000,
    })


def synthetic_lm_modes() -> Modes:
    """Modes of :func:`synthetic_lm`: ``runlocal`` (tests), default 1500 steps, ``full``.

    ``runlocal``: 8 tokens, length 8, a one-layer GRU of width 32 (its scan compiles in
    about half the CPU time of the transformer's graphs, and compilation is most of a
    short run) at learning rate 1e-2, 100 steps; experiments set their schedule on top
    with ``likelihood_jax.train.config.runlocal(steps)``.
    """
    return {
        "runlocal": {
            "dataset.vocab_size": 8, "dataset.length": 8, "dataset.num_train": 1000,
            "dataset.num_test": 128, "model.kind": "gru", "model.width": 32,
            "model.num_heads": 2, "optim.lr": 1e-2, "batch_size": 32,
            "total_steps": 100, "log_every": 20, "checkpoint_every": 100,
            "eval_batch_size": 128,
        },
        "default": {"total_steps": 1500, "log_every": 100, "checkpoint_every": 1500},
        "full": {
            "dataset.vocab_size": 50, "dataset.length": 32, "dataset.num_train": 50000,
            "model.num_layers": 4, "model.width": 128, **_full_schedule(),
        },
    }


def shakespeare_lm() -> ml_collections.ConfigDict:
    """A two-layer transformer (width 128) on 65-token windows of ``shakespeare_char``.

    Evaluation: 256 test windows; repetition of greedy and sampled continuations of
    16-character prefixes (48 characters, 4-grams). Off by default:
    ``dataset.random_offsets`` (training windows at every offset, drawn per step) and
    ``eval.stride`` (sliding-window perplexity, ``likelihood_jax.sequence.perplexity``).
    """
    return ml_collections.ConfigDict({
        "dataset": {"name": "shakespeare_char", "num_test_windows": 256, "random_offsets": False},
        "model": transformer(context=64, num_layers=2, width=128, max_len=256),
        "eval": {"prefix_len": 16, "continuation_len": 48, "ngram": 4, "rep_windows": (16,),
                 "stride": 0},
        "optim": {"lr": 2e-3, "schedule": "warmup_cosine", "warmup_steps": 100,
                  "grad_clip_norm": 1.0},
        "batch_size": 32,
        "eval_batch_size": 256,
    })


def shakespeare_lm_modes() -> Modes:
    """Modes of :func:`shakespeare_lm`: ``runlocal`` (tests), default 1000 steps, ``full``.

    ``runlocal``: 32-character windows, a one-layer GRU of width 32 (as in
    :func:`synthetic_lm_modes`) at learning rate 1e-2, 40 steps; experiments set their
    schedule on top with ``likelihood_jax.train.config.runlocal(steps)``.
    """
    return {
        "runlocal": {
            "dataset.num_test_windows": 16, "model.kind": "gru", "model.context": 32,
            "model.num_layers": 1, "model.width": 32, "model.num_heads": 2,
            "eval.prefix_len": 8, "eval.continuation_len": 16, "optim.lr": 1e-2,
            "optim.warmup_steps": 3, "total_steps": 40, "log_every": 10, "checkpoint_every": 40,
        },
        "default": {"total_steps": 1000, "log_every": 100, "eval_every": 500,
                    "checkpoint_every": 500},
        "full": {
            "dataset.num_test_windows": 1024, "model.context": 256, "model.num_layers": 6,
            "model.width": 384, "model.num_heads": 6, "model.max_len": 512, "batch_size": 64,
            **_full_schedule(),
        },
    }


def masked_lm() -> ml_collections.ConfigDict:
    """A two-layer transformer (width 64) on :func:`markov_mixture`; BERT masking (15 %)."""
    return ml_collections.ConfigDict({
        "dataset": markov_mixture(),
        "model": {"num_layers": 2, "width": 64, "num_heads": 4, "position": "rotary",
                  "max_len": 64, **lm_training_options()},
        "masking": {"rate": 0.15, "mask_prob": 0.8, "random_prob": 0.1},
        "optim": {"lr": 1e-3, "schedule": "warmup_cosine", "warmup_steps": 100,
                  "grad_clip_norm": 1.0},
        "batch_size": 64,
        "eval_batch_size": 500,
    })


def masked_lm_modes() -> Modes:
    """Modes of :func:`masked_lm`: ``runlocal`` (tests), default 2000 steps, ``full``."""
    return {
        "runlocal": {
            "dataset.vocab_size": 6, "dataset.length": 8, "dataset.num_train": 1000,
            "dataset.num_test": 128, "model.num_layers": 1, "model.width": 32,
            "model.num_heads": 2, "optim.warmup_steps": 5, "total_steps": 60, "log_every": 10,
            "checkpoint_every": 60, "eval_batch_size": 128,
        },
        "default": {"total_steps": 2000, "log_every": 100, "checkpoint_every": 1000},
        "full": {
            "dataset.vocab_size": 30, "dataset.order": 2, "dataset.length": 32,
            "dataset.num_train": 100000, "dataset.num_test": 2000, "model.num_layers": 4,
            "model.width": 128, **_full_schedule(),
        },
    }


# -- Teacher-student groups (distillation [P125], [P007], SALT [P153], [P193]) -----------------


def exact_eval() -> ml_collections.ConfigDict:
    """``config.eval`` of a synthetic source: exact metrics over all sequences of length 3."""
    return ml_collections.ConfigDict({"enum_length": 3, "rare_threshold": 1e-3})


def teacher_student(model: ml_collections.ConfigDict, teacher_model: ml_collections.ConfigDict,
                    *, teacher_fields: tuple[str, ...], total_steps: int, log_every: int,
                    eval_every: int, eval_batch_size: int) -> ml_collections.ConfigDict:
    """The shared fields of a teacher-then-student config (merge with ``config.update``).

    ``role = "student"``, the student's ``model``, the ``teacher`` group (its ``model`` and
    the ``teacher_fields`` naming the runs a student reads, all ``""``), and the schedule:
    Adam at 1e-3 with cosine decay, batch 32, one checkpoint at the end.
    """
    return ml_collections.ConfigDict({
        "role": "student",
        "model": model,
        "teacher": {**{field: "" for field in teacher_fields}, "model": teacher_model},
        "optim": {"lr": 1e-3, "schedule": "cosine"},
        "batch_size": 32,
        "eval_batch_size": eval_batch_size,
        "total_steps": total_steps,
        "log_every": log_every,
        "eval_every": eval_every,
        "checkpoint_every": total_steps,
    })


def teacher_then_student() -> tuple[tuple[str, dict[str, Any]], ...]:
    """The stages ``teacher`` (``role=teacher``), then ``student`` reading it (``from_stage``).

    Pass them to :func:`likelihood_jax.train.stages.stages_config`.
    """
    return (("teacher", {"role": "teacher"}),
            ("student", {"teacher": {"from_stage": "teacher"}}))


def _full_schedule() -> dict[str, int]:
    """The ``full`` mode's 20000 steps, logged every 500, evaluated every 5000."""
    return {"total_steps": 20000, "log_every": 500, "eval_every": 5000,
            "checkpoint_every": 5000}
