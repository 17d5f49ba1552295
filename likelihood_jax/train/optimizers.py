"""Optimizer and learning-rate schedule from the ``config.optim`` group.

Fields (all optional but ``lr``)::

    optim.name            "adam" | "adamw" | "sgd"              (default "adam")
    optim.lr              peak learning rate
    optim.schedule        "constant" | "cosine" | "warmup_cosine" (default "constant")
    optim.warmup_steps    linear warm-up length for "warmup_cosine" (default 0)
    optim.weight_decay    for "adamw" (default 0.)
    optim.weight_decay_mask  which parameters "adamw" decays: "all" (default, optax's
                          own choice and what every existing config ran with) or
                          "matrices" (only leaves named ``kernel`` with ndim >= 2: the
                          weights of Dense / DenseGeneral / Conv layers; never biases,
                          LayerNorm scales and biases, or embeddings); see
                          :func:`weight_decay_mask`
    optim.grad_clip_norm  global-norm clipping, 0 disables (default 0.)
    optim.b1, optim.b2    Adam moments (defaults 0.9, 0.999)
    optim.microbatches    gradient accumulation (default 1): the training step splits the
                          global batch into this many micro-batches, averages their
                          gradients and applies one update (:func:`microbatch_count`;
                          the loop's ``make_train_step``)

Optimizer groups (several players, e.g. a GAN's generator and discriminator)::

    optim.groups          {group: {field: value}}: one optimizer per group, each the
                          fields above overridden by the group's own (e.g. its ``lr``)
    optim.group_update    "simultaneous" (every group's gradient at the step's starting
                          parameters) | "alternating" (each group in turn sees the
                          parameters the previous groups just updated); default
                          "simultaneous"
    optim.group_order     the order of the groups in an alternating step (default: the
                          group names sorted)
    optim.groups.<g>.updates_per_step
                          gradient updates group ``g`` takes in each training step
                          (default 1): a WGAN's ``n_critic = 5`` is
                          ``optim.groups.critic.updates_per_step = 5``. The updates run in
                          a ``lax.scan`` on the step's batch, each with a fresh key (fresh
                          generator noise), and each sees the group's parameters as its
                          previous update left them (:func:`group_updates_per_step`)

With groups, ``make_optimizer`` returns ``{group: transformation}`` and the
parameters are a dict with the same keys (see ``Experiment.group_loss_fn``).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import jax
import ml_collections
import optax

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
GROUP_UPDATES = ("simultaneous", "alternating")
WEIGHT_DECAY_MASKS = ("all", "matrices")
_GROUP_FIELDS = ("groups", "group_update", "group_order")
_PER_GROUP_FIELDS = ("updates_per_step",)


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


def _leaf_name(path: tuple[Any, ...]) -> str:
    """The name of a params-tree leaf: its last path key (``"kernel"``, ``"bias"``, ...)."""
    last = path[-1] if path else None
    for attr in ("key", "name", "idx"):
        if hasattr(last, attr):
            return str(getattr(last, attr))
    return str(last)


def decays_matrix(path: tuple[Any, ...], leaf: Any) -> bool:
    """Whether the "matrices" mask decays this leaf: named ``kernel`` and at least 2-D.

    Flax names the weights of ``Dense``, ``DenseGeneral`` and ``Conv`` ``kernel``; biases
    (``bias``), LayerNorm / RMSNorm parameters (``scale``, ``bias``) and embedding tables
    (``nn.Embed``'s ``embedding``) are left alone, as are 1-D leaves of any name.
    """
    return _leaf_name(path) == "kernel" and getattr(leaf, "ndim", 0) >= 2


def weight_decay_mask(name: str) -> Callable[[Any], Any] | None:
    """The ``mask`` argument of ``optax.adamw`` named by ``optim.weight_decay_mask``.

    AdamW's decoupled decay moves each masked parameter ``p`` by ``-lr * wd * p`` per step
    in addition to the Adam update (Loshchilov & Hutter 2019); unmasked parameters get the
    Adam update only.

    Args:
      name: ``"all"`` (every leaf; returns None, optax's default) or ``"matrices"`` (a
        function of the params pytree giving a same-structured tree of bools,
        :func:`decays_matrix` per leaf).

    Raises:
      ValueError: an unknown name.
    """
    if name == "all":
        return None
    if name == "matrices":
        return lambda params: jax.tree_util.tree_map_with_path(decays_matrix, params)
    raise ValueError(f"unknown optim.weight_decay_mask {name!r}; choose one of "
                     f"{WEIGHT_DECAY_MASKS}")


def microbatch_count(optim: ml_collections.ConfigDict, batch_size: int) -> int:
    """``optim.microbatches`` (default 1), checked against the global batch size.

    Raises:
      ValueError: not an integer >= 1, not a divisor of ``batch_size``, or above 1
        together with optimizer groups (``optim.groups``), which micro-batching does not
        support.
    """
    count = optim.get("microbatches", 1)
    if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 1:
        raise ValueError(f"optim.microbatches must be an integer >= 1, got {count!r}")
    if batch_size % count:
        raise ValueError(f"batch_size {batch_size} is not divisible by optim.microbatches "
                         f"{count}; every micro-batch must have the same size")
    if count > 1 and optim.get("groups", None):
        raise ValueError("optim.microbatches > 1 is not supported with optimizer groups "
                         "(optim.groups); set optim.microbatches = 1 or lower batch_size")
    return count


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


def _own_fields(optim: ml_collections.ConfigDict, group: str) -> dict[str, Any]:
    own = optim.groups[group]
    return own.to_dict() if isinstance(own, ml_collections.ConfigDict) else dict(own)


def group_config(optim: ml_collections.ConfigDict, group: str) -> ml_collections.ConfigDict:
    """The optimizer fields of ``group``: the shared ones overridden by the group's own."""
    fields = {k: v for k, v in optim.items() if k not in _GROUP_FIELDS}
    fields.update({k: v for k, v in _own_fields(optim, group).items()
                   if k not in _PER_GROUP_FIELDS})
    return ml_collections.ConfigDict(fields)


def group_updates_per_step(optim: ml_collections.ConfigDict) -> dict[str, int]:
    """``{group: optim.groups.<group>.updates_per_step}`` (default 1) for every group.

    A GAN's critic trained ``n_critic`` times per generator step (Arjovsky et al. 2017) sets
    its group's ``updates_per_step`` to ``n_critic``.

    Raises:
      ValueError: a value that is not an integer >= 1 (naming the group).
    """
    counts = {}
    for group in group_names(optim):
        count = _own_fields(optim, group).get("updates_per_step", 1)
        if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 1:
            raise ValueError(f"optim.groups.{group}.updates_per_step (a GAN's n_critic) must "
                             f"be an integer >= 1, got {count!r}")
        counts[group] = int(count)
    return counts


def make_optimizer(optim: ml_collections.ConfigDict, total_steps: int
                   ) -> optax.GradientTransformation | dict[str, optax.GradientTransformation]:
    """The optax transformation described by ``config.optim`` (one per group with groups)."""
    groups = group_names(optim)
    if groups:
        return {g: make_optimizer(group_config(optim, g), total_steps) for g in groups}
    name = optim.get("name", "adam")
    schedule = make_schedule(optim, total_steps)
    b1, b2 = optim.get("b1", 0.9), optim.get("b2", 0.999)
    mask = optim.get("weight_decay_mask", "all")
    decay_mask = weight_decay_mask(mask)
    if mask != "all" and name != "adamw":
        raise ValueError(f"optim.weight_decay_mask={mask!r} applies to optim.name='adamw' "
                         f"only (got {name!r})")
    if name == "adam":
        opt = optax.adam(schedule, b1=b1, b2=b2)
    elif name == "adamw":
        opt = optax.adamw(schedule, b1=b1, b2=b2, weight_decay=optim.get("weight_decay", 0.0),
                          mask=decay_mask)
    elif name == "sgd":
        opt = optax.sgd(schedule, momentum=optim.get("momentum", None))
    else:
        raise ValueError(f"unknown optim.name {name!r}; choose one of {OPTIMIZERS}")
    clip = optim.get("grad_clip_norm", 0.0)
    if clip:
        opt = optax.chain(optax.clip_by_global_norm(clip), opt)
    return opt
