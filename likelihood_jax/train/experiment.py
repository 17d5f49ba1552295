"""The ``Experiment`` base class: what a paper supplies, and nothing more.

A paper's experiment subclasses :class:`Experiment` and writes, where the defaults
do not fit,

* ``make_dataset(config) -> Dataset`` and ``make_model(config, info) -> model``,
  called when the loop first reads ``experiment.dataset`` / ``experiment.model``
  (construction itself does no work);

and

* ``init_params(key, batch) -> params``;
* ``loss_fn(params, batch, key, step) -> (per_example_loss [B], metrics)`` where
  ``metrics`` maps names to per-example ``[B]`` arrays or scalars and ``step``
  is the training step as a traced int32 scalar (for curricula and annealed
  weights; most losses ignore it);

and optionally

* ``preprocess(batch, key) -> batch``: data to model space (e.g. dequantize
  images), applied by the loop before ``loss_fn`` and ``eval_fn``;
* ``eval_fn(params, batch, key) -> {name: [B] array}`` (default: the loss),
  whose key ``headline_metric`` is the number the experiment reports;
* ``sample_fn(params, key, num_samples) -> samples`` for the samples plot;
* ``model_metrics(params, key) -> {name: float}``: metrics of the model as a
  whole rather than per test example (e.g. the 2-Wasserstein distance between
  samples and test data), computed at every evaluation and logged beside the
  per-example means;
* ``log_prob_fn(params, x [B, ...]) -> [B]`` for the 2D density heatmap;
* ``write_artifacts(params, workdir)``: experiment-specific files written beside
  the plots (e.g. a WAV of generated audio).

State beyond the parameters (counters, running means, a replay buffer) lives in
``TrainState.extra``:

* ``init_extra(key, batch, params) -> pytree`` (default ``{}``) makes it at step 0;
* ``update_extra(extra, params, batch, key, step) -> pytree`` (default: unchanged)
  steps it inside the jitted step, after the optimizer update (``params`` are the
  new parameters, ``batch`` the preprocessed one); it is checkpointed, restored and
  resumed with the rest of the state;
* the losses read it: when ``extra`` has leaves, the batch given to ``loss_fn`` /
  ``group_loss_fn``, ``update_extra`` and ``eval_fn`` carries it, as it was before
  the step, as ``batch["extra"]`` (an empty ``extra`` leaves the batch untouched).

Persistent contrastive divergence (PCD) sketch: chains that persist across steps
give the negative phase of an energy model ``p(x) = exp(-E(x)) / Z``, whose NLL gradient
is ``E'(x_data) - E_model[E'(x)]``::

    class PCD(Experiment):
        def init_extra(self, key, batch, params):
            return {"chains": jax.random.normal(key, batch["x"].shape)}

        def loss_fn(self, params, batch, key, step):
            negatives = jax.lax.stop_gradient(batch["extra"]["chains"])
            energy = lambda x: self.energy(params, x)  # [B]
            return energy(batch["x"]) - jnp.mean(energy(negatives)), {}

        def update_extra(self, extra, params, batch, key, step):
            x, eps = extra["chains"], 0.1  # one Langevin step at the new params
            grad = jax.grad(lambda x: jnp.sum(self.energy(params, x)))(x)
            noise = jax.random.normal(key, x.shape)
            return {"chains": x - eps * grad + jnp.sqrt(2 * eps) * noise}

Several players (a GAN's generator and discriminator, a critic and an actor) are
*optimizer groups*: ``config.optim.groups`` names them and gives each its own
optimizer fields (:mod:`likelihood_jax.train.optimizers`), ``init_params`` returns a
dict keyed by group, and the experiment writes ``group_loss_fn(group, params, batch,
key, step)`` instead of ``loss_fn``: each group moves by the gradient of its own
loss with respect to its own parameters only, with its own optimizer; the groups
update simultaneously or in turn (``optim.group_update``). A GAN-shaped sketch::

    class GAN(Experiment):
        # config.optim.groups = {"generator": {"lr": 2e-4},
        #                        "discriminator": {"lr": 2e-4, "b1": 0.5}}
        # config.optim.group_update = "alternating"
        # config.optim.group_order = ("discriminator", "generator")

        def init_params(self, key, batch):
            kg, kd = jax.random.split(key)
            return {"generator": self.gen.init(kg, z0)["params"],
                    "discriminator": self.disc.init(kd, batch["x"])["params"]}

        def group_loss_fn(self, group, params, batch, key, step):
            fake = self.gen.apply({"params": params["generator"]},
                                  jax.random.normal(key, (len(batch["x"]), 16)))
            d = lambda x: self.disc.apply({"params": params["discriminator"]}, x)
            if group == "discriminator":
                loss = softplus(-d(batch["x"])) + softplus(d(fake))
            else:  # non-saturating generator loss
                loss = softplus(-d(fake))
            return loss, {}

Every group's loss is logged as ``loss_<group>`` (and ``grad_norm_<group>``, its
metrics as ``<group>_<name>``); ``loss`` is their sum. The loop keeps owning the
checkpoints, EMA (of the whole params dict), resume and the NaN stop. Rules that are
not gradients stay in ``after_update`` (parameters) and ``update_extra`` (other state).

The shared loop (:mod:`likelihood_jax.train.loop`) owns the data, the optimizer,
the sharding, the jitted step, EMA, evaluation, checkpoints, logging and plots.
Losses are reduced in exactly one place: the loop takes the mean of
``per_example_loss`` over the global batch.

A study that trains nothing (a closed-form fit, post-hoc scores, a sweep) is a
:class:`likelihood_jax.train.procedure.Procedure` instead; several runs in a chain
(teacher, then student) are the stages of one config (:mod:`likelihood_jax.train.stages`),
and a run reads another run's final parameters (a teacher, a pretrained model) with
:func:`likelihood_jax.train.stages.stage_params` only. It works eagerly even when first
called inside a traced function, so a ``functools.cached_property`` that loads a teacher
may be read first in ``loss_fn``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from likelihood_jax import data as data_lib
from likelihood_jax.train import optimizers

Batch = dict[str, jax.Array]


class Experiment:
    """Base class of every experiment module.

    Construction does no work: the dataset and the model are built by
    :meth:`make_dataset` and :meth:`make_model` when first used, so an experiment is
    cheap to construct and to unit-test (``experiment.loss_fn`` on a hand-made batch
    needs no dataset unless it reads one).

    Args:
      config: the run's config (fields: :mod:`likelihood_jax.train.config`).
      dataset: an already loaded dataset, used instead of :meth:`make_dataset`.
    """

    headline_metric: str = "loss"

    def __init__(self, config: ml_collections.ConfigDict,
                 dataset: data_lib.Dataset | None = None):
        self.config = config
        self._dataset = dataset
        self._model = None
        self._checked = False

    # -- Built when first used: construction does no work ---------------------------

    def make_dataset(self, config: ml_collections.ConfigDict) -> data_lib.Dataset:
        """The run's data (default: ``config.dataset.name`` with the group's options).

        Called once, when the loop (or a test) first reads :attr:`dataset`. Override
        it for data that is not a registered dataset, e.g. one drawn from a source
        the experiment also needs for its metrics.
        """
        return load_config_dataset(config)

    def make_model(self, config: ml_collections.ConfigDict, info: data_lib.DatasetInfo) -> Any:
        """The run's model (a flax module, a flow, a tuple of them...), given the data's info.

        Called once, when :attr:`model` is first read. Default: None (an experiment
        that builds its model elsewhere needs nothing here).
        """
        del config, info
        return None

    @property
    def dataset(self) -> data_lib.Dataset:
        """The run's dataset: the one passed in, else :meth:`make_dataset` (checked once)."""
        if self._dataset is None:
            # Built eagerly even when first read inside a jitted function (a loader that
            # computes with jax would otherwise return tracers and leak them into the cache).
            with jax.ensure_compile_time_eval():
                self._dataset = self.make_dataset(self.config)
        if not self._checked:
            self._checked = True
            self.check_data(self._dataset.info)
        return self._dataset

    @dataset.setter
    def dataset(self, value: data_lib.Dataset) -> None:
        self._dataset, self._checked = value, False

    @functools.cached_property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one example, ``dataset.info.event_shape``."""
        return tuple(self.dataset.info.event_shape)

    @functools.cached_property
    def num_dims(self) -> int:
        """``D``, the number of dimensions of one (flattened) example."""
        return math.prod(self.event_shape)

    @property
    def model(self) -> Any:
        """The run's model: :meth:`make_model` of the config and the dataset's info."""
        if self._model is None:
            info = self.dataset.info
            with jax.ensure_compile_time_eval():
                self._model = self.make_model(self.config, info)
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    # -- What a paper supplies ------------------------------------------------

    def init_params(self, key: jax.Array, batch: Batch) -> Any:
        """Initial parameters, given a training batch (host arrays)."""
        raise NotImplementedError

    def loss_fn(self, params: Any, batch: Batch, key: jax.Array, step: jax.Array
                ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Per-example training loss ``[B]`` and metrics to log at training ``step``.

        When ``TrainState.extra`` has leaves, ``batch["extra"]`` holds it (as it was
        before this step), e.g. persistent chains for the negative phase.
        """
        raise NotImplementedError

    def group_loss_fn(self, group: str, params: Any, batch: Batch, key: jax.Array,
                      step: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """With optimizer groups: the per-example loss ``[B]`` and metrics of ``group``.

        ``params`` is the dict of every group's parameters; the loop differentiates
        only with respect to ``params[group]``. ``key`` differs between groups.
        """
        raise NotImplementedError(
            f"{type(self).__name__} uses optimizer groups (config.optim.groups) and must "
            f"define group_loss_fn(group, params, batch, key, step)")

    def init_extra(self, key: jax.Array, batch: Batch, params: Any) -> Any:
        """The initial non-parameter state ``TrainState.extra`` (default: ``{}``).

        Called once under jit with a key of its own, a training batch and the
        initial parameters.
        """
        del key, batch, params
        return {}

    def update_extra(self, extra: Any, params: Any, batch: Batch, key: jax.Array,
                     step: jax.Array) -> Any:
        """Steps ``TrainState.extra`` inside the jitted step (default: unchanged).

        Args:
          extra: the current non-parameter state.
          params: the parameters after this step's update (and ``after_update``).
          batch: the step's preprocessed training batch (carrying ``extra`` as
            ``batch["extra"]`` when it has leaves, as ``loss_fn`` saw it).
          key: a key of its own (the loss's keys are unchanged by this hook).
          step: the step that is being taken (traced int32, from 0).
        """
        del params, batch, key, step
        return extra

    def preprocess(self, batch: Batch, key: jax.Array) -> Batch:
        """Maps a data batch to the model's continuous input space (default: identity).

        The loop calls it inside the jitted step, before ``loss_fn`` and
        ``eval_fn``; ``key`` is fresh every step (e.g. for dequantization noise).
        """
        return batch

    def after_update(self, params: Any, step: jax.Array) -> Any:
        """Maps the parameters after each optimizer update (default: identity).

        Called inside the jitted training step with the new parameters and the step
        that produced them. For parameters that follow a rule instead of a gradient,
        e.g. an EMA ("mean") teacher kept as a subtree of ``params``: its loss terms
        sit behind ``stop_gradient``, so its gradient is zero and an optimizer without
        weight decay leaves it unchanged, and this hook moves it towards the student.
        """
        del step
        return params

    def eval_fn(self, params: Any, batch: Batch, key: jax.Array) -> dict[str, jax.Array]:
        """Per-example evaluation metrics ``{name: [B]}``; defaults to the loss.

        The default evaluates ``loss_fn`` as it stands at the end of training
        (``step = config.total_steps``).
        """
        step = jnp.asarray(self.config.get("total_steps", 0), jnp.int32)
        groups = optimizers.group_names(self.config.optim) if "optim" in self.config else ()
        if groups:  # every group's loss, as the training step logs it
            out = {}
            for i, group in enumerate(groups):
                loss, metrics = self.group_loss_fn(group, params, batch,
                                                   jax.random.fold_in(key, i), step)
                out.update({f"{group}_{k}": v for k, v in metrics.items()
                            if getattr(v, "ndim", 0) == 1})
                out[f"loss_{group}"] = loss
            return out
        loss, metrics = self.loss_fn(params, batch, key, step)
        out = {k: v for k, v in metrics.items() if getattr(v, "ndim", 0) == 1}
        out["loss"] = loss
        return out

    def sample_fn(self, params: Any, key: jax.Array, num_samples: int) -> jax.Array | None:
        """Samples for the samples plot, or None if the model cannot sample."""
        return None

    def model_metrics(self, params: Any, key: jax.Array) -> dict[str, float]:
        """Set-level evaluation metrics (default: none)."""
        return {}

    def write_artifacts(self, params: Any, workdir: str) -> None:
        """Writes experiment-specific files (e.g. generated audio) into ``workdir``.

        Called by the loop with the evaluation parameters wherever it writes its plots
        (process 0 only). Default: nothing.
        """
        del params, workdir

    log_prob_fn = None
    """Optional ``log_prob_fn(params, x [B, ...]) -> [B]``, used for the 2D density plot."""

    # -- Shared checks ---------------------------------------------------------

    def check_data(self, info: data_lib.DatasetInfo) -> None:
        """Raises a one-line error when the data does not fit the model.

        The default compares ``config.model.event_shape`` (when the config has
        it) with the dataset's example shape.
        """
        model = self.config.get("model", None)
        expected = model.get("event_shape", None) if model is not None else None
        if expected is not None and tuple(expected) != tuple(info.event_shape):
            raise ValueError(
                f"dataset {self.config.dataset.name!r} gives examples of shape "
                f"{tuple(info.event_shape)} but the model expects {tuple(expected)} "
                f"(config.model.event_shape)")


def load_config_dataset(config: ml_collections.ConfigDict) -> data_lib.Dataset:
    """Loads ``config.dataset.name`` with the group's other fields as options.

    ``config.dataset.validation_fraction`` (when present and positive) is not a loader
    option: that share of the train rows becomes the validation split
    (:func:`likelihood_jax.data.hold_out_validation`), which the loop evaluates during
    training instead of the test split.
    """
    skip = ("name", "data_dir", "validation_fraction")
    options = {k: v for k, v in config.dataset.items() if k not in skip}
    dataset = data_lib.load_dataset(config.dataset.name,
                                    data_dir=config.dataset.get("data_dir", None), **options)
    fraction = config.dataset.get("validation_fraction", 0.0) or 0.0
    if fraction:
        dataset = data_lib.hold_out_validation(dataset, fraction)
    return dataset
