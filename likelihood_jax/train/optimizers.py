"""Optimizer and learning-rate schedule from the ``config.optim`` group.

Fields (all optional but ``lr``)::

    optim.name            "adam" | "adamw" | "sgd"              (default "adam")
    optim.lr              peak learning rate
    optim.schedule        "constant" | "cosine" | "warmup_cosine" (default "constant")
    optim.warmup_steps    linear warm-up length for "warmup_cosine" (default 0)
    optim.weight_decay    for "adamw" (default 0.)
    optim.grad_clip_norm  global-norm clipping, 0 disables (default 0.)
    optim.b1, optim.b2    Adam moments (defaults 0.9, 0.999)

Optimizer groups (several players, e.g. a GAN's generator and discriminator)::

    optim.groups          {group: {field: value}}: one optimizer per group, each the
                          fields above overridden by the group's own (e.g. its ``lr``)
    optim.group_update    "simultaneous" (every group's gradient at the step's starting
                          parameters) | "alternating" (each group in turn sees the
                          parameters the previous groups just updated); default
                          "simultaneous"
    optim.group_order     the order of the groups in an alternating step (default: the
                          group names sorted)

With groups, ``make_optimizer`` returns ``{group: transformation}`` and the
parameters are a dict with the same keys (see ``Experiment.group_loss_fn``).
"""

from __future__ import annotations

import ml_collections
import optax

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
GROUP_UPDATES = ("simultaneous", "alternating")
_GROUP_FIELDS = ("groups", "group_update", "group_order")


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


def group_names(optim: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The optimizer groups in update order (``()`` without ``optim.groups``).

    Raises:
      ValueError: an unknown ``optim.group_update`` or a ``group_order`` that is not a
        permutation of the groups.
    """
    groups = optim.get("groups", None)
    if not groups:
        return ()
    update = optim.get("group_update", "simultaneous")
    if update not in GROUP_UPDATES:
        raise ValueError(f"unknown optim.group_update {update!r}; choose one of {GROUP_UPDATES}")
    order = tuple(optim.get("group_order", None) or sorted(groups))
    if sorted(order) != sorted(groups):
        raise ValueError(f"optim.group_order {order} must list each of the groups "
                         f"{sorted(groups)} once")
    return order


def group_config(optim: ml_collections.ConfigDict, group: str) -> ml_collections.ConfigDict:
    """The optimizer fields of ``group``: the shared ones overridden by the group's own."""
    fields = {k: v for k, v in optim.items() if k not in _GROUP_FIELDS}
    own = optim.groups[group]
    fields.update(own.to_dict() if isinstance(own, ml_collections.ConfigDict) else dict(own))
    return ml_collections.ConfigDict(fields)


def make_optimizer(optim: ml_collections.ConfigDict, total_steps: int
                   ) -> optax.GradientTransformation | dict[str, optax.GradientTransformation]:
    """The optax transformation described by ``config.optim`` (one per group with groups)."""
    groups = group_names(optim)
    if groups:
        return {g: make_optimizer(group_config(optim, g), total_steps) for g in groups}
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
