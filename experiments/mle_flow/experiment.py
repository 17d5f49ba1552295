"""Maximum-likelihood RealNVP: the baseline that EBFlow, mollification and others compare with.

The experiment is the flows family's base, :class:`likelihood_jax.flows.experiment.MLEFlow`
(its docstring has the model, the dequantization and the metrics), run as it is.
"""

from likelihood_jax.flows.experiment import MLEFlow

EXPERIMENT = MLEFlow
