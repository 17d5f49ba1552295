"""Optimizer and learning-rate schedule from the ``config.optim`` group.

Fields (all optional but ``lr``)::

    optim.name            "adam" | "adamw" | "sgd"              (default "adam")
    optim.lr              peak learning rate
    optim.schedule        "constant" | "cosine" | "warmup_cosine" (default "constant")
    optim.warmup_steps    linear warm-up length for "warmup_cosine" (default 0)
    optim.weight_decay    for "adamw" (default 0.)
    optim.grad_clip_norm  global-norm clipping, 0 disables (default 0.)
    optim.b1, optim.b2    Adam moments (defaults 0.9, 0.999)
"""

from __future__ import annotations

import ml_collections
import optax

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine")


def make_schedule(optim: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
    """The learning-rate schedule named by ``optim.schedule``."""
    name = optim.get("schedule", "constant")
    lr = optim.lr
    if name == "constant":
        return optax.constant_schedule(lr)
    if name == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=max(total_steps, 1))
    if name == "warmup_cosine":
        warmup = optim.get("warmup_steps", 0)
        return optax.warmup_cosine_decay_schedule(
            0.0, lr, warmup_steps=warmup, decay_steps=max(total_steps, warmup + 1))
    raise ValueError(f"unknown optim.schedule {name!r}; choose one of {SCHEDULES}")


def make_optimizer(optim: ml_collections.ConfigDict,
                   total_steps: int) -> optax.GradientTransformation:
    """The optax transformation described by ``config.optim``."""
    name = optim.get("name", "adam")
    schedule = make_schedule(optim, total_steps)
    b1, b2 = optim.get("b1", 0.9), optim.get("b2", 0.999)
    if name == "adam":
        opt = optax.adam(schedule, b1=b1, b2=b2)
    elif name == "adamw":
        opt = optax.adamw(schedule, b1=b1, b2=b2, weight_decay=optim.get("weight_decay", 0.0))
    elif name == "sgd":
        opt = optax.sgd(schedule, momentum=optim.get("momentum", None))
    else:
        raise ValueError(f"unknown optim.name {name!r}; choose one of {OPTIMIZERS}")
    clip = optim.get("grad_clip_norm", 0.0)
    if clip:
        opt = optax.chain(optax.clip_by_global_norm(clip), opt)
    return opt
