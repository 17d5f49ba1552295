"""Composition of bijectors, with the log-det split that EBFlow needs.

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

For ``f = f_K o ... o f_1`` (``layers = (f_1, ..., f_K)``, applied in that order by
``forward``) the chain rule gives ``log|det df/dx| = sum_k log|det df_k/dh_{k-1}|`` with
``h_0 = x`` and ``h_k = f_k(h_{k-1})`` (Dinh et al. 2017, RealNVP). ``inverse`` applies the
layers' inverses in reverse order.

EBFlow (Chao et al. 2023, "Training Energy-Based Normalizing Flow with Score-Matching
Objectives") splits this sum into the layers whose log-det depends on x (couplings,
nonlinearities) and those whose log-det is constant in x (ActNorm, permutations, dense linear
layers): the constant part is the log normalizing constant of an energy-based model and is
not needed by score matching. ``Chain.forward_and_log_det_parts`` returns the two sums
separately, recursing into nested chains. ``Chain.forward_and_x_dependent_log_det`` (and the
function :func:`forward_and_x_dependent_log_det` for any bijector) returns only the first sum
and never computes the second: this is the pass that EBFlow's energy uses.

Every method takes the optional ``context`` of the bijector contract (``flows.base``) and
hands it to every layer, so a chain of conditional layers (e.g. the label flow of
:func:`~likelihood_jax.flows.conditional_realnvp`) composes like any other.
"""

import dataclasses

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params


@dataclasses.dataclass(frozen=True)
class Chain(Bijector):
    """Composition of bijectors; ``forward`` applies ``layers`` in order, ``inverse`` reversed.

    Params are a tuple with one entry per layer. ``log_det_depends_on_x`` is True when any
    layer's is.

    Attributes:
        layers: the bijectors, data side first (a list is converted to a tuple).
    """

    layers: tuple[Bijector, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def log_det_depends_on_x(self) -> bool:
        """True when any layer's log-det depends on its input."""
        return any(layer.log_det_depends_on_x for layer in self.layers)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Initializes the layers in order, each on the batch transformed by those before it.

        Args:
            key: a ``jax.random.key`` (split into one key per layer).
            x: a batch ``(B,) + event_shape``.
            context: the matching batch of contexts ``(B, ...)``, or None.

        Returns:
            A tuple of the layers' parameters.
        """
        keys = jax.random.split(key, len(self.layers))
        params = []
        for i, (layer, layer_key) in enumerate(zip(self.layers, keys)):
            layer_params = layer.init(layer_key, x, context)
            params.append(layer_params)
            if i + 1 < len(self.layers):
                x = batched_forward(layer, layer_params, x, context)
        return tuple(params)

    def _check(self, params: Params) -> None:
        if len(params) != len(self.layers):
            raise ValueError(f"Chain of {len(self.layers)} layers got {len(params)} params.")

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Applies the layers in order; the log-dets add."""
        self._check(params)
        log_det = jnp.zeros((), x.dtype)
        for layer, layer_params in zip(self.layers, params):
            x, layer_log_det = layer.forward_and_log_det(layer_params, x, context)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Applies the layers' inverses in reverse order; the log-dets add."""
        self._check(params)
        log_det = jnp.zeros((), z.dtype)
        for layer, layer_params in zip(reversed(self.layers), reversed(params)):
            z, layer_log_det = layer.inverse_and_log_det(layer_params, z, context)
            log_det = log_det + layer_log_det
        return z, log_det

    def forward_and_log_det_parts(
        self, params: Params, x: jax.Array, context: Context = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Forward pass with the log-det split by each layer's ``log_det_depends_on_x``.

        Nested chains are split layer by layer rather than by their overall flag.

        Args:
            params: the chain's parameters.
            x: one example.
            context: its context, or None.

        Returns:
            ``(z, log_det_x_dependent, log_det_x_independent)``; the two parts sum to the
            total forward log-det.
        """
        self._check(params)
        dependent = jnp.zeros((), x.dtype)
        independent = jnp.zeros((), x.dtype)
        for layer, layer_params in zip(self.layers, params):
            if isinstance(layer, Chain):
                x, dep, indep = layer.forward_and_log_det_parts(layer_params, x, context)
                dependent, independent = dependent + dep, independent + indep
            elif layer.log_det_depends_on_x:
                x, log_det = layer.forward_and_log_det(layer_params, x, context)
                dependent = dependent + log_det
            else:
                x, log_det = layer.forward_and_log_det(layer_params, x, context)
                independent = independent + log_det
        return x, dependent, independent

    def forward_and_x_dependent_log_det(self, params: Params, x: jax.Array,
                                        context: Context = None
                                        ) -> tuple[jax.Array, jax.Array]:
        """Forward pass with only the x-dependent log-dets; the constant ones are skipped.

        See :func:`forward_and_x_dependent_log_det`.

        Args:
            params: the chain's parameters.
            x: one example.
            context: its context, or None.

        Returns:
            ``(z, log_det_x_dependent)``, equal to the first two outputs of
            :meth:`forward_and_log_det_parts`.
        """
        self._check(params)
        dependent = jnp.zeros((), x.dtype)
        for layer, layer_params in zip(self.layers, params):
            x, log_det = forward_and_x_dependent_log_det(layer, layer_params, x, context)
            dependent = dependent + log_det
        return x, dependent


def forward_and_x_dependent_log_det(bijector: Bijector, params: Params, x: jax.Array,
                                    context: Context = None) -> tuple[jax.Array, jax.Array]:
    """``(f(x), sum of the x-dependent log-dets)`` of any bijector, recursing into chains.

    EBFlow (Chao et al. 2023, Sec. 3) writes a flow's density as an energy-based model,
    ``p(x) = exp(-E(x)) / Z`` with ``E(x) = -log p_u(f(x)) - sum_{i in S_n} log|det J_i(x)|``
    over the layers whose log-det depends on x (``S_n``: couplings, elementwise
    nonlinearities) and ``log Z = -sum_{i in S_l} log|det J_i|`` over those whose log-det is
    constant (``S_l``: dense linear layers, ActNorm, permutations, reshapes). This function
    computes the ``S_n`` part only: a layer with ``log_det_depends_on_x = False`` is applied
    without evaluating its log-det at all (no ``slogdet`` is traced for ``Dense``), so the
    pass costs O(D^2) per dense layer instead of O(D^3).

    Args:
        bijector: any bijector (a :class:`Chain` is split layer by layer, recursively).
        params: its parameters.
        x: one example.
        context: its context, or None.

    Returns:
        ``(z, log_det_x_dependent)``; a bijector whose log-det does not depend on x
        contributes 0.
    """
    if isinstance(bijector, Chain):
        return bijector.forward_and_x_dependent_log_det(params, x, context)
    if bijector.log_det_depends_on_x:
        return bijector.forward_and_log_det(params, x, context)
    return bijector.forward(params, x, context), jnp.zeros((), x.dtype)


def batched_forward(bijector: Bijector, params: Params, x: jax.Array,
                    context: Context = None) -> jax.Array:
    """``bijector.forward`` over a batch ``x (B, ...)`` with its contexts ``(B, ...)`` or None."""
    if context is None:
        return jax.vmap(bijector.forward, in_axes=(None, 0))(params, x)
    return jax.vmap(bijector.forward, in_axes=(None, 0, 0))(params, x, context)
