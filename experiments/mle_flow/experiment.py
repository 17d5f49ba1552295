"""Maximum-likelihood flows: the RealNVP baseline and the neural spline flow of the main job.

RealNVP is the baseline of EBFlow, data mollification and others.
The experiment is the flows family's base, :class:`likelihood_jax.flows.experiment.MLEFlow`
(its docstring has the dequantization and the metrics), with the body chosen by
``config.model.kind``:

* ``"realnvp"`` (default): :func:`likelihood_jax.flows.realnvp` (Dinh et al. 2017);
* ``"spline_coupling"``: :func:`likelihood_jax.flows.spline_coupling_flow`, rational-quadratic
  spline couplings (Durkan et al. 2019, RQ-NSF (C));
* ``"maf"``: :func:`likelihood_jax.flows.masked_autoregressive_flow` (Papamakarios et al.
  2017) with ``model.transform`` ``"affine"`` or ``"spline"`` (RQ-NSF (AR)).

On a dataset of known entropy (the checkerboard: uniform on 8 squares of area 4, so
``H = log 32`` nats) it also writes ``nll.png``: train and test NLL by step with the entropy
(the expected NLL of the data's own density, which no model beats in expectation) as a line.
On a toy with known modes (``8gaussians``, ``data.toys.mixture_modes``) ``model_metrics`` reports
the GAN's sample metrics (``experiments/gan``): modes hit, high-quality fraction, mode-share
total variation (``metrics.mode_coverage``) and the squared MMD to held-out data.
"""

import math
import os

from likelihood_jax import flows, metrics
from likelihood_jax.data.toys import mixture_modes
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.train import plots
from likelihood_jax.train.writers import read_metrics

# Differential entropies (nats) of the toy datasets whose density is known in closed form.
KNOWN_ENTROPY = {"checkerboard": math.log(32.0)}


class MLEFlowExperiment(MLEFlow):
    """:class:`MLEFlow` with the flow's body chosen by ``config.model.kind``."""

    def make_model(self, config, info) -> flows.Flow:
        """``Flow(body)`` on the flattened model-space input; ``body`` by ``model.kind``."""
        m = config.model
        kind = m.get("kind", "realnvp")
        if kind == "realnvp":
            return super().make_model(config, info)
        num_dims = math.prod(info.event_shape)
        common = {"num_layers": m.num_layers, "hidden_dims": tuple(m.hidden_dims),
                  "num_bins": m.num_bins, "bound": m.bound, "actnorm": m.get("actnorm", True)}
        if kind == "spline_coupling":
            body = flows.spline_coupling_flow(num_dims, **common)
        elif kind == "maf":
            body = flows.masked_autoregressive_flow(num_dims, transform=m.transform, **common)
        else:
            raise ValueError(f"config.model.kind must be 'realnvp', 'spline_coupling' or "
                             f"'maf', got {kind!r}.")
        return flows.Flow(body, (num_dims,))

    def model_metrics(self, params, key) -> dict[str, float]:
        """On a toy with known modes: mode coverage and squared MMD of 2000 samples."""
        modes = mixture_modes(self.config.dataset.name)
        if modes is None:
            return {}
        reference = self.dataset.test["x"][:2000]
        samples = self.sample_fn(params, key, len(reference))
        return {"mmd2": float(metrics.mmd_squared(samples, reference, bandwidth=0.5)),
                **metrics.mode_coverage_summary(samples, modes[0], std=modes[1])}

    def write_artifacts(self, params, workdir: str) -> None:
        """``nll.png`` (train and test NLL by step, the entropy as a line) on a known toy."""
        del params
        entropy = KNOWN_ENTROPY.get(self.config.dataset.name)
        if entropy is not None:
            plots.plot_train_and_test(os.path.join(workdir, "nll.png"), read_metrics(workdir),
                                      "loss", "nll", entropy, "data entropy", "NLL (nats)")


EXPERIMENT = MLEFlowExperiment
