"""Config blocks shared by the flows family's experiments (ml_collections only, no jax).

* :func:`realnvp_model`: the ``model`` group of :class:`likelihood_jax.flows.experiment.MLEFlow`
  (RealNVP, Dinh et al. 2017).
* :func:`spline_model`: the ``model`` group of a neural spline flow (Durkan et al. 2019) or a
  masked autoregressive flow (Papamakarios et al. 2017), ``model.kind`` naming which
  (``experiments/mle_flow``).
* :func:`realnvp_toy2d_fields` / :func:`realnvp_toy2d_modes` and
  :func:`realnvp_digits_fields` / :func:`realnvp_digits_modes`: the training settings and the
  per-mode overrides (``train.config.apply_mode``) of the maximum-likelihood RealNVP on the
  2D toys and on the 8x8 digits, shared by ``experiments/mle_flow`` and
  ``experiments/mollification`` [P162].
* :func:`mollify`: the ``mollify`` group of data mollification [P162]
  (:func:`likelihood_jax.flows.mollification.mollify_batch`).
"""

from __future__ import annotations

from typing import Any

import ml_collections


def realnvp_model(event_shape: tuple[int, ...], *, num_layers: int = 8,
                  hidden_dims: tuple[int, ...] = (64, 64),
                  logit_alpha: float | None = None) -> ml_collections.ConfigDict:
    """The RealNVP ``model`` group: ActNorm + tanh-bounded affine couplings.

    Args:
      event_shape: shape of one data example (checked against the dataset).
      num_layers: coupling layers.
      hidden_dims: hidden widths of each coupling's residual MLP.
      logit_alpha: for images, the ``alpha`` of the logit preprocessing (None: no field).
    """
    fields: dict[str, Any] = {
        "event_shape": tuple(event_shape), "num_layers": num_layers,
        "hidden_dims": tuple(hidden_dims), "actnorm": True, "scale_fn": "tanh",
    }
    if logit_alpha is not None:
        fields["logit_alpha"] = logit_alpha
    return ml_collections.ConfigDict(fields)


def spline_model(event_shape: tuple[int, ...], *, kind: str = "spline_coupling",
                 num_layers: int = 6, hidden_dims: tuple[int, ...] = (64, 64),
                 num_bins: int = 16, bound: float = 3.0,
                 transform: str = "spline") -> ml_collections.ConfigDict:
    """The ``model`` group of a spline coupling flow or a MAF: ActNorm before every layer.

    Args:
      event_shape: shape of one data example (checked against the dataset).
      kind: ``"spline_coupling"`` (``flows.spline_coupling_flow``) or ``"maf"``
        (``flows.masked_autoregressive_flow``).
      num_layers: coupling or autoregressive layers.
      hidden_dims: hidden widths of each conditioner (residual MLP or MADE).
      num_bins: bins ``K`` of every spline.
      bound: ``B``: the splines act on ``[-B, B]`` (in standard deviations after ActNorm).
      transform: for a MAF, ``"spline"`` or ``"affine"``.
    """
    return ml_collections.ConfigDict({
        "kind": kind, "event_shape": tuple(event_shape), "num_layers": num_layers,
        "hidden_dims": tuple(hidden_dims), "num_bins": num_bins, "bound": bound,
        "transform": transform, "actnorm": True,
    })


def realnvp_toy2d_fields() -> dict[str, Any]:
    """Training settings (dotted keys) of the RealNVP on a 2D toy, default mode."""
    return {"optim.lr": 1e-3, "optim.schedule": "cosine", "batch_size": 256}


def realnvp_toy2d_modes() -> dict[str, dict[str, Any]]:
    """Per-mode overrides of the RealNVP on a 2D toy.

    ``runlocal`` holds only the model's size (a small, fast-compiling flow); each
    experiment adds the steps, learning rate and the shared ``train.config.runlocal``
    block as its own mode block.
    """
    return {
        "runlocal": {"model.num_layers": 4, "model.hidden_dims": (32,)},
        "default": {"total_steps": 5000, "log_every": 100, "eval_every": 1000,
                    "checkpoint_every": 1000},
        "full": {"total_steps": 50000, "model.num_layers": 16,
                 "model.hidden_dims": (256, 256), "batch_size": 1024, "log_every": 500,
                 "eval_every": 5000, "checkpoint_every": 5000},
    }


def realnvp_digits_fields() -> dict[str, Any]:
    """Training settings (dotted keys) of the RealNVP on the 8x8 digits, default mode."""
    return {"optim.lr": 1e-3, "optim.schedule": "cosine", "batch_size": 128,
            "num_plot_samples": 64}


def realnvp_digits_modes() -> dict[str, dict[str, Any]]:
    """Per-mode overrides of the RealNVP on the 8x8 digits.

    Default: 1500 training images, so longer training or wider couplings overfit (test
    bits/dim rises after ~1000 steps at width 64 and sooner at width 256).
    """
    return {
        "runlocal": {"total_steps": 200, "model.num_layers": 4, "checkpoint_every": 100},
        "default": {"total_steps": 1000, "log_every": 100, "eval_every": 250,
                    "checkpoint_every": 250},
        "full": {"total_steps": 50000, "model.num_layers": 16,
                 "model.hidden_dims": (512, 512), "log_every": 500, "eval_every": 5000,
                 "checkpoint_every": 5000},
    }


def mollify(*, enabled: bool = True, fraction: float = 0.5, start: float = 0.0,
            end: float = 3.0, tau: float = 0.7) -> ml_collections.ConfigDict:
    """The ``mollify`` group of data mollification [P162].

    Args:
      enabled: mollify the training inputs.
      fraction: fraction of ``total_steps`` over which the noise anneals to zero.
      start: the sigmoid schedule's input at the first step (the paper's 0).
      end: its input at the end of the annealing (the paper's 3).
      tau: its temperature (the paper's 0.7).
    """
    return ml_collections.ConfigDict({"enabled": enabled, "fraction": fraction,
                                      "start": start, "end": end, "tau": tau})
