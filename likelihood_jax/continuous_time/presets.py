"""Config blocks shared by the continuous-time experiments (functions returning ConfigDicts).

Each function returns a fresh :class:`ml_collections.ConfigDict` (or, for mode overrides,
a plain dict for :func:`likelihood_jax.train.config.apply_mode`), so configs can change
the block they get without touching another config. Imports only ``ml_collections``.

* :func:`vp_sde`: the VP SDE of Song et al. (2021), ``beta`` from 0.1 to 20, and the
  smallest time of training and sampling;
* :func:`fourier_time_mlp`: a time-conditioned MLP (``TimeMLP``) with Fourier time
  features on flat examples;
* :func:`unet`: the small U-Net (``likelihood_jax.models.unet.UNet``) on images;
* :func:`ode_eval`: adaptive ODE solves for likelihoods and samples (dopri5, rtol = atol =
  1e-4, as in the CNF/flow-matching papers);
* :data:`IMAGE_EVENT_SHAPES` and :func:`image_model`: the example shape of the image
  datasets the family trains on (digits, mnist5k);
* :func:`run_length`: the step/logging/checkpoint fields of a mode.
"""

from __future__ import annotations

from typing import Any

import ml_collections

#: Example shape ``(H, W, C)`` of the image datasets of the family's experiments.
IMAGE_EVENT_SHAPES = {"digits": (8, 8, 1), "mnist5k": (28, 28, 1)}


def vp_sde(beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3,
           **extra: Any) -> ml_collections.ConfigDict:
    """``{beta_min, beta_max, t_min, **extra}`` of a VP SDE (``likelihood_jax.sde.VPSDE``)."""
    return ml_collections.ConfigDict({"beta_min": beta_min, "beta_max": beta_max,
                                      "t_min": t_min, **extra})


def fourier_time_mlp(hidden_dims: tuple[int, ...], max_frequency: float, *,
                     activation: str = "silu", num_frequencies: int = 8,
                     **extra: Any) -> ml_collections.ConfigDict:
    """A ``TimeMLP`` with ``num_frequencies`` Fourier features of ``t`` up to ``max_frequency``."""
    return ml_collections.ConfigDict({
        "hidden_dims": tuple(hidden_dims), "activation": activation,
        "num_frequencies": num_frequencies, "max_frequency": max_frequency, **extra})


def unet(base_channels: int = 16, channel_mults: tuple[int, ...] = (1, 2),
         num_res_blocks: int = 1) -> dict[str, Any]:
    """The U-Net fields ``{base_channels, channel_mults, num_res_blocks}`` (a dict to merge).

    A dict rather than a group: the experiments keep these fields in ``config.model``
    beside the other architecture's (``model.arch`` picks one).
    """
    return {"base_channels": base_channels, "channel_mults": tuple(channel_mults),
            "num_res_blocks": num_res_blocks}


def image_model(dataset: str, **fields: Any) -> ml_collections.ConfigDict:
    """``config.model`` of an image dataset: its ``event_shape`` and ``fields``.

    Raises:
      ValueError: ``dataset`` is not in :data:`IMAGE_EVENT_SHAPES`.
    """
    if dataset not in IMAGE_EVENT_SHAPES:
        raise ValueError(f"unknown image dataset {dataset!r}; choose one of "
                         f"{sorted(IMAGE_EVENT_SHAPES)}")
    return ml_collections.ConfigDict({"event_shape": IMAGE_EVENT_SHAPES[dataset], **fields})


def ode_eval(num_examples: int, *, solver: str = "dopri5", rtol: float = 1e-4,
             atol: float = 1e-4, max_steps: int = 4096,
             **extra: Any) -> ml_collections.ConfigDict:
    """``config.eval`` of an adaptive ODE evaluation on ``num_examples`` test examples."""
    return ml_collections.ConfigDict({
        "num_examples": num_examples, "solver": solver, "rtol": rtol, "atol": atol,
        "max_steps": max_steps, **extra})


def run_length(total_steps: int, log_every: int, checkpoint_every: int | None = None,
               **extra: Any) -> dict[str, Any]:
    """Mode overrides ``{total_steps, log_every, checkpoint_every, **extra}``.

    ``checkpoint_every`` defaults to ``total_steps`` (one checkpoint, at the end).
    """
    return {"total_steps": total_steps, "log_every": log_every,
            "checkpoint_every": total_steps if checkpoint_every is None else checkpoint_every,
            **extra}
