"""TarFlow [P008] against RealNVP and a diagonal Gaussian, one dequantization for all.

The flows family's maximum-likelihood base (:class:`likelihood_jax.flows.experiment.MLEFlow`:
uniform dequantization ``y = (x + u) / L``, RealNVP's logit map, test bits/dim of the
discrete data by ``metrics.dequantized_bits_per_dim``) with the body chosen by
``config.model.kind``:

* ``"tarflow"``: :func:`likelihood_jax.flows.transformer_autoregressive_flow`
  (``model.tarflow``: patches, blocks of alternating order, each a causal transformer)
  [P008];
* ``"realnvp"``: the RealNVP of ``experiments/mle_flow`` (``model.num_layers``,
  ``model.hidden_dims``), sized in the configs to TarFlow's parameter count;
* ``"diag_gaussian"``: one ActNorm under the standard normal, i.e. a diagonal Gaussian in
  logit space (the baseline of the catalog's check).

Every evaluation also logs ``num_params`` (the model's parameter count) so that the
comparison at equal size can be read from ``metrics.jsonl``.
"""

from __future__ import annotations

import math

from likelihood_jax import flows
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.models.transformer import num_params

KINDS = ("tarflow", "realnvp", "diag_gaussian")


class TarFlowExperiment(MLEFlow):
    """:class:`MLEFlow` whose flow is TarFlow, RealNVP or a diagonal Gaussian."""

    def make_model(self, config, info) -> flows.Flow:
        """``Flow(body)`` on the flattened model-space input; ``body`` by ``model.kind``."""
        kind = config.model.get("kind", "tarflow")
        if kind not in KINDS:
            raise ValueError(f"config.model.kind must be one of {KINDS}, got {kind!r}.")
        if kind == "realnvp":
            return super().make_model(config, info)
        num_dims = math.prod(info.event_shape)
        if kind == "diag_gaussian":
            return flows.Flow(flows.Chain((flows.ActNorm(),)), (num_dims,))
        t = config.model.tarflow
        body = flows.transformer_autoregressive_flow(
            tuple(info.event_shape), patch_size=t.patch_size, num_blocks=t.num_blocks,
            width=t.width, num_layers=t.num_layers, num_heads=t.num_heads,
            mlp_ratio=t.mlp_ratio)
        return flows.Flow(body, (num_dims,))

    def model_metrics(self, params, key):
        """``num_params``: scalars in the model's parameters."""
        del key
        return {"num_params": float(num_params(params))}


EXPERIMENT = TarFlowExperiment
