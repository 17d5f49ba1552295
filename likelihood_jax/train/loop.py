"""The shared training loop: one jitted step, evaluation, checkpoints, logging.

``train_and_evaluate(experiment, workdir)`` runs ``config.total_steps`` steps
of the experiment's loss, resuming from the newest checkpoint in ``workdir``
that restores cleanly. The batch of step ``s`` and its PRNG key are functions
of (seed, s) alone, so a resumed run continues exactly as the uninterrupted run
would have.

One jitted step (:func:`make_train_step`) does, in order: ``preprocess``; the
gradient update (one optimizer on ``loss_fn``, or with ``config.optim.groups`` one
optimizer per group on ``group_loss_fn``, simultaneously or in turn);
``after_update`` on the new parameters; the EMA; ``update_extra`` on the
non-parameter state ``TrainState.extra``. The state (parameters, optimizer state,
EMA, ``extra``) is checkpointed as one pytree and restored on resume.

When ``extra`` has leaves, the losses read it: the batch handed to ``loss_fn`` /
``group_loss_fn``, ``update_extra`` and ``eval_fn`` carries the state as it was
before the step as ``batch["extra"]`` (:func:`with_extra`). Runs whose ``extra`` is
empty see exactly the batch of the data.

Metrics stay on the device until a ``log_every`` boundary; then the whole
window is fetched at once, checked for non-finite values (the run stops and
names the first bad step and metric, without saving the bad state), averaged
and written.

Runs that train nothing go through :mod:`likelihood_jax.train.procedure`; chains of
runs (``config.stages``) through :mod:`likelihood_jax.train.stages`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from likelihood_jax import data as data_lib
from likelihood_jax.train import parallel, plots
from likelihood_jax.train import workdir as workdir_lib
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.experiment import Experiment
from likelihood_jax.train.optimizers import (
    group_updates_per_step,
    make_optimizer,
    microbatch_count,
)
from likelihood_jax.train.state import TrainState, ema_update
from likelihood_jax.train.writers import MetricWriter, Progress, read_metrics

CHECKPOINT_DIR = "checkpoints"
TIMING_FILE = "timing.json"  # the first step's wall time (compilation included)
EXTRA_KEY = "extra"  # the batch key under which the losses read TrainState.extra
_EXTRA_STREAM = 0x65787472  # fold_in constant of the keys of init_extra / update_extra


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite metric."""


class Interrupted(RuntimeError):
    """SIGTERM or SIGINT arrived; a checkpoint was written before stopping.

    Attributes:
      signum: the signal's number (the command line exits with 128 + signum).
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


@dataclasses.dataclass
class _Run:
    """What the loop builds once per run."""

    experiment: Experiment
    mesh: jax.sharding.Mesh
    optimizer: optax.GradientTransformation | dict[str, optax.GradientTransformation]
    base_key: jax.Array


# -- Building blocks ------------------------------------------------------------


def _keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, base key of the per-step stream) from the seed."""
    init_key, base_key = jax.random.split(jax.random.key(seed))
    return init_key, base_key


def local_batch(dataset: data_lib.Dataset, batch_size: int, seed: int, step: int,
                split: str = "train") -> dict[str, np.ndarray]:
    """This process's share of the global training batch of ``step``."""
    return data_lib.batch_at_step(
        getattr(dataset, split), batch_size, seed, step,
        process_index=jax.process_index(), process_count=jax.process_count())


def prefetched_batches(run: _Run, first_step: int, depth: int = 2
                       ) -> Iterator[dict[str, jax.Array]]:
    """Device batches of steps ``first_step, first_step + 1, ...``, prepared ahead.

    A background thread slices each step's batch (``data.batch_at_step``) and
    transfers it to the mesh while the device runs earlier steps, keeping at most
    ``depth`` batches in flight. The order is the deterministic order of the steps.
    """
    config = run.experiment.config
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item) -> bool:
        """Puts ``item`` in the queue unless the consumer has stopped."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        step = first_step
        try:
            while hand_over(parallel.global_batch(
                    local_batch(run.experiment.dataset, config.batch_size, config.seed, step),
                    run.mesh)):
                step += 1
        except BaseException as err:  # noqa: BLE001 (handed to the consumer)
            hand_over(err)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # Stop and join the producer: a thread still inside the runtime when the
        # interpreter exits aborts the process.
        stop.set()
        thread.join()


def with_extra(batch: dict[str, jax.Array], extra: Any) -> dict[str, jax.Array]:
    """``batch`` with the non-parameter state as ``batch["extra"]`` when it has leaves.

    This is how ``loss_fn``, ``group_loss_fn``, ``update_extra`` and ``eval_fn`` read
    ``TrainState.extra`` (persistent MCMC chains, a replay buffer, EM statistics). An
    ``extra`` without leaves (the default ``{}``) leaves ``batch`` itself unchanged.

    Raises:
      ValueError: the data already has a field named ``"extra"``.
    """
    if not jax.tree.leaves(extra):
        return batch
    if EXTRA_KEY in batch:
        raise ValueError(f"the batch already has a field {EXTRA_KEY!r}, where the loop puts "
                         f"TrainState.extra; rename that data field")
    return {**batch, EXTRA_KEY: extra}


def init_state(run: _Run) -> TrainState:
    """The step-0 state, initialized under jit and replicated over the mesh."""
    config = run.experiment.config
    init_key, _ = _keys(config.seed)
    first = data_lib.batch_at_step(run.experiment.dataset.train, config.batch_size,
                                   config.seed, 0)

    def init(key, batch):
        params = run.experiment.init_params(key, batch)
        extra = run.experiment.init_extra(jax.random.fold_in(key, _EXTRA_STREAM), batch, params)
        return TrainState.create(params, run.optimizer, run.base_key, extra)

    return jax.jit(init, out_shardings=parallel.replicated(run.mesh))(init_key, first)


def _group_update(experiment: Experiment, optimizers: dict[str, optax.GradientTransformation],
                  updates_per_step: dict[str, int], alternating: bool, state: TrainState,
                  batch, key):
    """One training step of every optimizer group, each by the gradient of its own loss.

    Group ``g`` (the ``i``-th of the groups, in update order) takes the gradient of
    ``mean(group_loss_fn(g, params, batch, key_i, step))`` with respect to ``params[g]``
    alone and steps ``params[g]`` with its own optimizer, ``updates_per_step[g] = k`` times
    (a ``lax.scan``; the ``j``-th update uses ``key_i = fold_in(fold_in(key, i), j)``, the
    only update of ``k = 1`` uses ``fold_in(key, i)``). Simultaneous: the other groups'
    parameters are ``state.params``. Alternating: as the groups before ``g`` in this step
    left them.

    Returns:
      ``(params, opt_state, logged)``; ``logged["loss"]`` is the sum of the groups'
      losses; ``loss_<g>``, ``grad_norm_<g>`` and ``<g>_<metric>`` are per group, each the
      mean over the group's ``k`` updates.
    """
    params, opt_state = dict(state.params), dict(state.opt_state)
    losses, logged = [], {}
    for i, (group, count) in enumerate(updates_per_step.items()):
        at = dict(params) if alternating else state.params

        def update(carry, group_key, at=at, group=group):
            own, own_opt = carry

            def objective(own):
                per_example, metrics = experiment.group_loss_fn(
                    group, {**at, group: own}, batch, group_key, state.step)
                return jnp.mean(per_example), metrics

            (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(own)
            updates, own_opt = optimizers[group].update(grads, own_opt, own)
            metrics = {k: jnp.mean(v) for k, v in metrics.items()}
            return ((optax.apply_updates(own, updates), own_opt),
                    (loss, optax.global_norm(grads), metrics))

        group_key = jax.random.fold_in(key, i)
        carry = (at[group], state.opt_state[group])
        if count == 1:
            carry, (loss, grad_norm, metrics) = update(carry, group_key)
        else:
            keys = jax.vmap(lambda j, k=group_key: jax.random.fold_in(k, j))(jnp.arange(count))
            carry, outputs = jax.lax.scan(update, carry, keys)
            loss, grad_norm, metrics = jax.tree.map(jnp.mean, outputs)
        params[group], opt_state[group] = carry
        losses.append(loss)
        logged[f"loss_{group}"] = loss
        logged[f"grad_norm_{group}"] = grad_norm
        logged.update({f"{group}_{k}": v for k, v in metrics.items()})
    return params, opt_state, {"loss": sum(losses), **logged}


def split_microbatches(batch: dict[str, jax.Array], count: int) -> dict[str, jax.Array]:
    """Each array ``[B, ...]`` of ``batch`` as ``[count, B / count, ...]``, strided.

    Micro-batch ``j`` holds rows ``j, j + count, j + 2 count, ...``: a batch sharded
    by rows over the devices keeps each micro-batch spread over all of them (no data
    moves when ``B / count`` is a multiple of the device count).
    """
    def split(x):
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[0] % count:
            raise ValueError(f"a batch array of shape {x.shape} cannot be cut into {count} "
                             f"micro-batches of its rows (optim.microbatches)")
        return jnp.swapaxes(x.reshape((x.shape[0] // count, count) + x.shape[1:]), 0, 1)

    return jax.tree.map(split, batch)


def mean_gradient(objective, params, batch: dict[str, jax.Array], key: jax.Array,
                  microbatches: int = 1):
    """``(loss, metrics), grads`` of ``objective(params, batch, key) -> (loss, metrics)``.

    ``objective`` returns the mean loss over its batch. With one micro-batch this is
    ``jax.value_and_grad(objective, has_aux=True)(params, batch, key)``. With ``k > 1``
    the data of ``batch`` is cut into ``k`` equal micro-batches
    (:func:`split_microbatches`) that a ``lax.scan`` visits in turn, holding the
    activations of one micro-batch at a time: micro-batch ``j`` is evaluated with the key
    ``fold_in(key, j)`` (so its randomness differs from a run with one micro-batch) and
    sees ``batch["extra"]`` whole. The returned gradient, loss and metrics are the means
    over the micro-batches of theirs (each metric first averaged within its micro-batch):
    for a loss that is a mean over examples, the gradient and loss of the whole batch.
    """
    if microbatches == 1:
        return jax.value_and_grad(objective, has_aux=True)(params, batch, key)
    data = {k: v for k, v in batch.items() if k != EXTRA_KEY}
    shared = {k: v for k, v in batch.items() if k == EXTRA_KEY}

    def accumulate(total, inputs):
        micro, j = inputs
        (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(
            params, {**micro, **shared}, jax.random.fold_in(key, j))
        metrics = {name: jnp.mean(value) for name, value in metrics.items()}
        return jax.tree.map(jnp.add, total, grads), (loss, metrics)

    zeros = jax.tree.map(jnp.zeros_like, params)
    total, (losses, metrics) = jax.lax.scan(
        accumulate, zeros, (split_microbatches(data, microbatches), jnp.arange(microbatches)))
    grads = jax.tree.map(lambda g: g / microbatches, total)
    return (jnp.mean(losses), jax.tree.map(jnp.mean, metrics)), grads


def make_train_step(run: _Run):
    """The jitted ``train_step(state, batch) -> (state, metrics)`` (state donated).

    With ``config.optim.microbatches = k > 1`` the gradient is accumulated over ``k``
    micro-batches of the global batch (:func:`mean_gradient`) before the one update.
    """
    experiment, optimizer = run.experiment, run.optimizer
    ema_decay = float(experiment.config.get("ema_decay", 0.0))
    updates_per_step = group_updates_per_step(experiment.config.optim)
    microbatches = microbatch_count(experiment.config.optim, experiment.config.batch_size)
    alternating = experiment.config.optim.get("group_update", "simultaneous") == "alternating"

    def train_step(state: TrainState, batch):
        # Three keys, the middle one unused: it fed the data mollification that now lives in
        # its experiment; the split stays so that every run draws the numbers it always did.
        preprocess_key, _, key = jax.random.split(state.step_key(), 3)
        batch = with_extra(experiment.preprocess(batch, preprocess_key), state.extra)

        if updates_per_step:
            params, opt_state, logged = _group_update(experiment, optimizer, updates_per_step,
                                                      alternating, state, batch, key)
        else:
            def objective(params, batch, key):
                per_example, metrics = experiment.loss_fn(params, batch, key, state.step)
                return jnp.mean(per_example), metrics

            (loss, metrics), grads = mean_gradient(objective, state.params, batch, key,
                                                   microbatches)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            logged = {"loss": loss, "grad_norm": optax.global_norm(grads)}
            logged.update({k: jnp.mean(v) for k, v in metrics.items()})
        params = experiment.after_update(params, state.step)
        # EMA with warm-up (bias-corrected): the weighted average of the params after steps
        # 1..t with weights ema_decay^(t-s); t = step + 1 comes from the state (resume-safe).
        ema = (ema_update(state.ema_params, params, state.step + 1, ema_decay)
               if ema_decay else params)
        extra = experiment.update_extra(state.extra, params, batch,
                                        jax.random.fold_in(key, _EXTRA_STREAM), state.step)
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                                  ema_params=ema, extra=extra)
        return new_state, logged

    replicated = parallel.replicated(run.mesh)
    return jax.jit(train_step, donate_argnums=0,
                   out_shardings=(replicated, replicated))


def make_eval_step(run: _Run):
    """The jitted masked-sum evaluation step over one (padded) test batch."""
    experiment = run.experiment

    def eval_step(params, batch, key, extra=None):
        mask = batch["mask"]
        preprocess_key, key = jax.random.split(key)
        inputs = experiment.preprocess({k: v for k, v in batch.items() if k != "mask"},
                                       preprocess_key)
        inputs = with_extra(inputs, extra)
        metrics = experiment.eval_fn(params, inputs, key)
        sums = {k: jnp.sum(jnp.where(mask, v, 0.0)) for k, v in metrics.items()}
        return sums, jnp.sum(mask)

    return jax.jit(eval_step, out_shardings=parallel.replicated(run.mesh))


def _eval_batches(arrays: dict[str, np.ndarray], batch_size: int
                  ) -> Iterator[dict[str, np.ndarray]]:
    """Test batches in order, the last one padded (``mask`` marks real rows)."""
    n = len(next(iter(arrays.values())))
    for start in range(0, n, batch_size):
        idx = np.arange(start, start + batch_size)
        mask = idx < n
        idx = np.minimum(idx, n - 1)
        batch = {k: v[idx] for k, v in arrays.items()}
        batch["mask"] = mask
        yield batch


def evaluate(run: _Run, params: Any, eval_step=None, extra: Any = None,
             split: str = "test") -> dict[str, float]:
    """Mean of every ``eval_fn`` metric over a split, and ``model_metrics``.

    The whole split (``"test"``, or ``"validation"`` when the dataset holds one out), or
    its first ``config.eval_batches`` batches of ``eval_batch_size`` when that is
    positive (the ``runlocal`` preset evaluates one batch). ``extra`` (the run's
    ``TrainState.extra``) reaches ``eval_fn`` as ``batch["extra"]`` when it has leaves.
    """
    config = run.experiment.config
    eval_step = eval_step or make_eval_step(run)
    arrays = getattr(run.experiment.dataset, split)
    if arrays is None:
        raise ValueError(f"dataset {run.experiment.dataset.name!r} has no {split} split "
                         f"(set config.dataset.validation_fraction)")
    num_test = len(next(iter(arrays.values())))
    batch_size = min(config.get("eval_batch_size", None) or config.batch_size, num_test)
    batch_size = math.ceil(batch_size / run.mesh.size) * run.mesh.size
    share = batch_size // jax.process_count()
    lo = jax.process_index() * share
    key = jax.random.fold_in(run.base_key, np.iinfo(np.int32).max)
    totals, count = {}, 0.0
    batches = _eval_batches(arrays, batch_size)
    max_batches = int(config.get("eval_batches", 0) or 0)
    if max_batches > 0:
        batches = itertools.islice(batches, max_batches)
    for i, batch in enumerate(batches):
        mine = {k: v[lo:lo + share] for k, v in batch.items()}
        sums, n = eval_step(params, parallel.global_batch(mine, run.mesh),
                            jax.random.fold_in(key, i), extra)
        sums, n = jax.device_get((sums, n))
        for k, v in sums.items():
            totals[k] = totals.get(k, 0.0) + float(v)
        count += float(n)
    metrics = {k: v / count for k, v in totals.items()}
    model_key = jax.random.fold_in(run.base_key, np.iinfo(np.int32).max - 2)
    metrics.update({k: float(v) for k, v in
                    run.experiment.model_metrics(params, model_key).items()})
    return metrics


def write_plots(run: _Run, params: Any, workdir: str) -> None:
    """Samples (and the density for 2D data) as PNG files, and the experiment's artifacts.

    ``config.num_plot_samples`` (default 1000) samples are drawn; 0 draws none.
    """
    experiment = run.experiment
    num = int(experiment.config.get("num_plot_samples", 1000))
    key = jax.random.fold_in(run.base_key, np.iinfo(np.int32).max - 1)
    samples = jax.jit(experiment.sample_fn, static_argnums=2)(params, key, num) if num else None
    if jax.process_index() != 0:
        return
    train_x = experiment.dataset.train.get("x")
    is_2d = train_x is not None and train_x.ndim == 2 and train_x.shape[1] == 2
    if samples is not None:
        samples = np.asarray(samples)
        if np.issubdtype(samples.dtype, np.integer) and samples.ndim == 2:
            plots.write_text_samples(os.path.join(workdir, "samples.txt"), samples,
                                     experiment.dataset.info.vocab)
        else:
            is_vector = train_x is not None and train_x.ndim <= 2
            plots.plot_samples(os.path.join(workdir, "samples.png"), samples,
                               reference=train_x[:num] if is_vector else None)
    experiment.write_artifacts(params, workdir)
    if is_2d and experiment.log_prob_fn is not None:
        log_prob = jax.jit(experiment.log_prob_fn)
        plots.plot_density_2d(os.path.join(workdir, "density.png"),
                              lambda g: log_prob(params, g), train_x)


def _record_first_step(progress: Progress, workdir: str, step: int, seconds: float) -> None:
    """Logs the wall time of a run's first step (compilation included) to ``timing.json``."""
    progress.message(f"step {step}: compiled and ran the first step in {seconds:.2f} s")
    if jax.process_index() == 0:
        with open(os.path.join(workdir, TIMING_FILE), "w") as f:
            json.dump({"first_step": step, "first_step_seconds": seconds}, f)


def _check_finite(window: list[tuple[int, dict[str, float]]]) -> None:
    for step, metrics in window:
        for name in sorted(metrics, key=lambda k: k != "loss"):  # name the loss first
            value = metrics[name]
            if not np.isfinite(value):
                raise NonFiniteLossError(
                    f"metric {name!r} became {value} at step {step}; stopping. The last "
                    f"good checkpoint is kept; lower optim.lr or check the data.")


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """Collects SIGTERM/SIGINT instead of dying mid-step (main thread only)."""
    received: list[int] = []
    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda s, _: received.append(s))
    except ValueError:  # not in the main thread: leave the default handlers
        pass
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: The loop's cadence fields and the least value each may take.
_LEAST = {"total_steps": 0, "batch_size": 1, "log_every": 1, "checkpoint_every": 1,
          "eval_every": 0, "num_plot_samples": 0, "checkpoints_to_keep": 1, "eval_batches": 0}


def check_config(config) -> None:
    """Checks the fields the loop counts with: integers, and none below its least value.

    ``total_steps`` >= 0; ``batch_size``, ``log_every``, ``checkpoint_every``,
    ``checkpoints_to_keep`` >= 1; ``eval_every`` (0: only at the end),
    ``num_plot_samples`` and ``eval_batches`` (0: the whole test split) >= 0. Optional
    fields are checked when present.

    Raises:
      ValueError: naming the field, its value and what it must be.
    """
    for name, least in _LEAST.items():
        if name not in config:
            continue
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ValueError(f"config.{name} must be an integer >= {least}; got {value!r}")


def make_run(experiment: Experiment) -> _Run:
    """Mesh, optimizer and keys of a run (after :func:`check_config`)."""
    config = experiment.config
    check_config(config)
    group_updates_per_step(config.optim)
    mesh = parallel.make_mesh()
    parallel.check_batch_size(config.batch_size, mesh)
    _, base_key = _keys(config.seed)
    return _Run(experiment=experiment, mesh=mesh,
                optimizer=make_optimizer(config.optim, config.total_steps), base_key=base_key)


def _eval_params(state: TrainState, config) -> Any:
    """The EMA with warm-up (``TrainState.ema_params``) when ``ema_decay`` > 0, else params."""
    return state.ema_params if config.get("ema_decay", 0.0) else state.params


# -- The loop -------------------------------------------------------------------


def _recorded_evaluation(workdir: str, step: int, split: str = "test"
                         ) -> dict[str, float] | None:
    """The metrics of ``split`` a training run logged at ``step`` (not ``--mode eval``'s)."""
    for line in reversed(read_metrics(workdir)):
        if line.get("split") == split and line.get("step") == step and "mode" not in line:
            metrics = {}
            for name, value in line.items():
                with contextlib.suppress(TypeError, ValueError):  # "nan" is a float too
                    metrics[name] = float(value)
            return {k: v for k, v in metrics.items() if k != "step"}
    return None


def _with_validation(test: dict[str, float], validation: dict[str, float]) -> dict[str, float]:
    """The final metrics: the test split's, and the validation split's as ``validation_<k>``."""
    return {**test, **{f"validation_{k}": v for k, v in validation.items()}}


def train_and_evaluate(experiment: Experiment, workdir: str, *,
                       config_hash: str | None = None) -> dict[str, float]:
    """Trains ``experiment`` to ``config.total_steps``, resuming if possible.

    A resumed run first runs the evaluation due at its step that the stopped run did
    not log (a kill between a checkpoint and its evaluation); a finished run (its final
    evaluation logged) is not evaluated again: its logged metrics are returned.

    Args:
      experiment: the experiment to train.
      workdir: where checkpoints, metrics, TensorBoard files and plots go.
      config_hash: the hash of the run's config written with every checkpoint and
        checked on resume (default: :func:`~likelihood_jax.train.workdir.config_hash` of
        ``experiment.config``).

    With a validation split (``config.dataset.validation_fraction``) the evaluations every
    ``eval_every`` steps run on it (``"split": "validation"`` lines) and the final step
    evaluates both; the test split is then seen once, at the end.

    Returns:
      The final test metrics, and with a validation split its final metrics as
      ``validation_<name>``.

    Raises:
      ValueError: a config field the loop counts with is out of range
        (:func:`check_config`).
      ConfigMismatchError: the checkpoints were written by another config.
      NonFiniteLossError: a training metric became NaN or infinite.
      Interrupted: SIGTERM/SIGINT arrived (a checkpoint was saved first).
    """
    config = experiment.config
    run = make_run(experiment)  # checks the config first (check_config)
    os.makedirs(workdir, exist_ok=True)
    checkpoints = Checkpoints(os.path.join(workdir, CHECKPOINT_DIR),
                              max_to_keep=config.get("checkpoints_to_keep", 3),
                              config_hash=config_hash or workdir_lib.config_hash(config))
    try:
        state = init_state(run)
        restored = checkpoints.restore_latest(state)
    except BaseException:
        checkpoints.close()
        raise
    if restored is not None:
        state = restored
    step = int(jax.device_get(state.step))
    progress = Progress(config.total_steps, step)
    writer = MetricWriter(workdir, resume_step=step, log=progress.message)
    if restored is not None:
        progress.message(f"resuming from the checkpoint at step {step}")
    train_step, eval_step = make_train_step(run), make_eval_step(run)
    log_every, ckpt_every = config.log_every, config.checkpoint_every
    eval_every = config.eval_every
    pending: list[tuple[int, dict[str, jax.Array]]] = []

    def flush() -> None:
        if not pending:
            return
        window = [(s, {k: float(v) for k, v in m.items()})
                  for s, m in jax.device_get(pending)]
        pending.clear()
        _check_finite(window)
        last_step = window[-1][0]
        mean = {k: float(np.mean([m[k] for _, m in window])) for k in window[0][1]}
        writer.write(last_step, mean)
        progress.update(last_step, mean)

    periodic = "validation" if experiment.dataset.validation is not None else "test"

    def run_eval(step: int, split: str, plots: bool = True) -> dict[str, float]:
        params = _eval_params(state, config)
        metrics = evaluate(run, params, eval_step, state.extra, split=split)
        writer.write(step, metrics, split=split)
        headline = experiment.headline_metric
        value = metrics.get(headline, float("nan"))
        progress.message(f"step {step}: {split} {headline} = {value:.4f}")
        if plots:
            write_plots(run, params, workdir)
        return metrics

    def final_eval(step: int) -> dict[str, float]:
        if periodic == "test":
            return run_eval(step, "test")
        validation = run_eval(step, "validation", plots=False)
        return _with_validation(run_eval(step, "test"), validation)

    def recorded_final(step: int) -> dict[str, float] | None:
        test = _recorded_evaluation(workdir, step)
        if test is None or periodic == "test":
            return test
        return _with_validation(test, _recorded_evaluation(workdir, step, "validation") or {})

    test_metrics: dict[str, float] = {}
    last_eval_step = -1
    first_step_seconds = None
    try:
        recorded = recorded_final(step) if restored is not None else None
        if recorded is not None:
            test_metrics, last_eval_step = recorded, step
        elif restored is not None and eval_every and step % eval_every == 0 \
                and step < config.total_steps \
                and _recorded_evaluation(workdir, step, periodic) is None:
            progress.message(f"step {step}: running the evaluation the stopped run did not log")
            test_metrics, last_eval_step = run_eval(step, periodic), step
        with _stop_requests() as stop, \
                contextlib.closing(prefetched_batches(run, step)) as batches:
            while step < config.total_steps:
                started = time.perf_counter() if first_step_seconds is None else None
                state, metrics = train_step(state, next(batches))
                if started is not None:  # compilation and one step, blocked until done
                    jax.block_until_ready(metrics)
                    first_step_seconds = time.perf_counter() - started
                    _record_first_step(progress, workdir, step + 1, first_step_seconds)
                step += 1
                pending.append((step, metrics))
                if step % log_every == 0 or step == config.total_steps:
                    flush()
                if step % ckpt_every == 0 and step < config.total_steps:
                    flush()
                    checkpoints.save(state)
                if eval_every and step % eval_every == 0 and step < config.total_steps:
                    flush()
                    test_metrics, last_eval_step = run_eval(step, periodic), step
                if stop:
                    flush()
                    checkpoints.save(state)
                    raise Interrupted(
                        f"stopped by signal {signal.Signals(stop[0]).name} at step {step}; "
                        f"checkpoint saved. Run the same command again to resume.", stop[0])
            flush()
            checkpoints.save(state)
            if last_eval_step != step:  # periodic evaluations stop before the last step
                test_metrics = final_eval(step)
            if jax.process_index() == 0:
                plots.plot_loss_curve(os.path.join(workdir, "loss.png"), read_metrics(workdir))
    finally:
        progress.close()
        writer.close()
        checkpoints.close()
    return test_metrics


def evaluate_checkpoint(experiment: Experiment, workdir: str, *,
                        config_hash: str | None = None) -> dict[str, float]:
    """Restores the newest good checkpoint in ``workdir`` and evaluates it on the test split.

    The metrics are logged to ``metrics.jsonl`` as a test line marked
    ``"mode": "eval"`` with the ``config_hash`` they were computed under, and returned.
    Nothing is created when ``workdir`` holds no checkpoints.

    Args:
      experiment: the experiment whose run is evaluated.
      workdir: the run's workdir.
      config_hash: the hash the checkpoint must carry (default:
        :func:`~likelihood_jax.train.workdir.config_hash` of ``experiment.config``);
        it ignores the fields that change only the evaluation (``eval_batches``, ...).

    Raises:
      FileNotFoundError: no checkpoint in ``workdir`` restores.
      ConfigMismatchError: the checkpoint was written by another config.
    """
    folder = os.path.join(workdir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no checkpoint to evaluate: {folder} does not exist")
    config_hash = config_hash or workdir_lib.config_hash(experiment.config)
    run = make_run(experiment)
    checkpoints = Checkpoints(folder, config_hash=config_hash)
    try:
        state = checkpoints.restore_latest(init_state(run))
    finally:
        checkpoints.close()
    if state is None:
        raise FileNotFoundError(f"no checkpoint to evaluate in {folder} restores cleanly")
    step = int(jax.device_get(state.step))
    metrics = evaluate(run, _eval_params(state, experiment.config), extra=state.extra)
    writer = MetricWriter(workdir)
    writer.write(step, {"mode": "eval", "config_hash": config_hash, **metrics}, split="test")
    writer.close()
    return metrics
