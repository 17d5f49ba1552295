"""The README table of unlikelihood training [P055] as one chain of stages.

Two pretraining runs (MLE, ``mle``; token-level unlikelihood with ``alpha = 1``,
``token``) from :mod:`shakespeare`'s config, then four fine-tuning runs from them
(``objective.from_stage``) with a constant learning rate of 5e-4: ``ft_mle`` (MLE
control), ``ft_seq`` (UL-seq, rate 0.5), ``ft_token_seq`` (UL-token + UL-seq) and
``ft_iut`` (UL-token + UL-seq 0.25 + policy gradient 0.25). One command::

    C=experiments/unlikelihood/configs/shakespeare_table.py
    python -m likelihood_jax.main --config $C --workdir runs/ul

writes each stage into ``runs/ul/<stage>``. Fine-tuning is 300 steps (default and
``full``) or the pretraining's step count (``runlocal``). Numbers:
experiments/unlikelihood/README.md.
"""

from experiments.unlikelihood.configs import shakespeare
from likelihood_jax.train.stages import stages_config

# Fine-tuning length per mode (runlocal: the pretraining's own fields).
FINE_TUNE_FIELDS = {"runlocal": {}, "default": {"total_steps": 300, "log_every": 50},
                    "full": {"total_steps": 300, "log_every": 50}}


def fine_tune(mode_fields, from_stage, **objective):
    """Overrides of a fine-tuning stage from ``from_stage`` (constant lr 5e-4)."""
    return {**mode_fields, "optim": {"lr": 5e-4, "schedule": "constant"},
            "objective": {"from_stage": from_stage, **objective}}


def get_config(arg=None):
    config = shakespeare.get_config(arg)
    # Every stage sets its own objective (runlocal's update mixture is reset first).
    config.objective.update({"alpha": 0.0, "seq_rate": 0.0, "pg_rate": 0.0})
    fields = FINE_TUNE_FIELDS[arg or "default"]
    config.stages = stages_config(
        ("mle", {}),
        ("token", {"objective": {"alpha": 1.0}}),
        ("ft_mle", fine_tune(fields, "mle")),
        ("ft_seq", fine_tune(fields, "mle", seq_rate=0.5)),
        ("ft_token_seq", fine_tune(fields, "token", alpha=1.0, seq_rate=0.5)),
        ("ft_iut", fine_tune(fields, "token", alpha=1.0, seq_rate=0.25, pg_rate=0.25)),
    )
    return config
