"""``Procedure``: a study that trains nothing, run like an experiment.

A closed-form fit, post-hoc scores of a finished run, a sweep: work with no
gradient loop, but with the same command line, config, workdir, config record
guard and ``metrics.jsonl`` as a trained experiment::

    class GaussianFit(Procedure):
        headline_metric = "nll"

        def run(self, workdir):
            x = self.dataset.train["x"]
            mean, var = x.mean(0), x.var(0)      # the maximum-likelihood Gaussian
            return {"nll": gaussian_nll(self.dataset.test["x"], mean, var)}

    EXPERIMENT = GaussianFit   # in experiments/<name>/experiment.py

``python -m likelihood_jax.main --config ... --workdir W`` dispatches on the class
of ``EXPERIMENT``: a :class:`Procedure` is run by :func:`run_procedure`, which
writes the returned metrics as the ``"split": "test"`` line of
``W/metrics.jsonl`` (step ``config.get("total_steps", 0)``). A procedure may also
be a stage of a chain (:mod:`likelihood_jax.train.stages`), e.g. the unlearning
that follows a pretraining stage.
"""

from __future__ import annotations

import os

import ml_collections

from likelihood_jax import data as data_lib
from likelihood_jax.train.experiment import load_config_dataset
from likelihood_jax.train.writers import MetricWriter


class Procedure:
    """Base class of a non-gradient study (construction does no work).

    Args:
      config: the run's config (``config.experiment`` names the module; other
        fields are the procedure's).
      dataset: an already loaded dataset, used instead of :meth:`make_dataset`.
    """

    headline_metric: str = "loss"

    def __init__(self, config: ml_collections.ConfigDict,
                 dataset: data_lib.Dataset | None = None):
        self.config = config
        self._dataset = dataset

    def make_dataset(self, config: ml_collections.ConfigDict) -> data_lib.Dataset:
        """The data (default: ``config.dataset.name`` with the group's options)."""
        return load_config_dataset(config)

    @property
    def dataset(self) -> data_lib.Dataset:
        """The dataset passed in, else :meth:`make_dataset` (built on first use)."""
        if self._dataset is None:
            self._dataset = self.make_dataset(self.config)
        return self._dataset

    def run(self, workdir: str) -> dict[str, float]:
        """Does the study; returns its test metrics (with :attr:`headline_metric`).

        ``workdir`` exists; files written there (tables, JSON) stay beside
        ``metrics.jsonl``.
        """
        raise NotImplementedError


def run_procedure(procedure: Procedure, workdir: str) -> dict[str, float]:
    """Runs ``procedure`` in ``workdir`` and logs its metrics as a test line.

    Returns:
      The metrics, as floats.

    Raises:
      ValueError: the metrics are not a dict of numbers or lack the headline metric.
    """
    os.makedirs(workdir, exist_ok=True)
    metrics = procedure.run(workdir)
    if not isinstance(metrics, dict):
        raise ValueError(f"{type(procedure).__name__}.run returned {type(metrics).__name__}, "
                         f"not a dict of metrics")
    try:
        metrics = {str(k): float(v) for k, v in metrics.items()}
    except (TypeError, ValueError) as err:
        raise ValueError(f"{type(procedure).__name__}.run returned a metric that is not a "
                         f"number ({err})") from None
    if procedure.headline_metric not in metrics:
        raise ValueError(f"{type(procedure).__name__}.run returned no {procedure.headline_metric!r}"
                         f" (its headline_metric); got {sorted(metrics)}")
    writer = MetricWriter(workdir)
    try:
        writer.write(int(procedure.config.get("total_steps", 0)), metrics, split="test")
    finally:
        writer.close()
    return metrics
