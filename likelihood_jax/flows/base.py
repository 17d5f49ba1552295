"""The bijector protocol shared by every flow layer.

Direction convention (the one of RealNVP's ``f: X -> Z``, Dinh et al. 2017, and of EBFlow's
``g``, Chao et al. 2023):

* ``forward`` maps **data x -> latent z** (the normalizing direction, used for ``log_prob``);
* ``inverse`` maps **latent z -> data x** (the generative direction, used for ``sample``).

By the change of variables formula a flow ``z = f(x)`` with base density ``p_Z`` has
``log p_X(x) = log p_Z(f(x)) + log|det df/dx|``.

A bijector is a frozen (hence hashable) dataclass holding only static configuration; its
parameters are an explicit pytree of arrays, so a bijector can be closed over or marked static
under ``jax.jit``. Methods act on **one example** of the layer's event shape; callers ``vmap``.

* ``init(key, x, context=None) -> params`` takes a **batch** ``(B,) + event_shape`` (and the
  matching batch of contexts) so that data-dependent layers (ActNorm) can initialize from its
  statistics.
* ``forward_and_log_det(params, x, context=None) -> (z, log|det dz/dx|)``.
* ``inverse_and_log_det(params, z, context=None) -> (x, log|det dx/dz|)``, equal to minus the
  forward log-det at ``x = inverse(z)``.
* ``log_det_depends_on_x``: whether the log-det varies with the input. EBFlow (Chao et al.
  2023) trains the x-dependent part by score matching and never computes the constant part.

**Context (conditional flows).** Every method takes an optional ``context``: the conditioning
of the same example (e.g. the features of an input for a label flow [P134], the mel
spectrogram of a waveform for FloWaveNet [P026]), never transformed. A bijector of
``p(x | c)`` is a bijection in ``x`` for every fixed ``c``, so the log-det is taken in ``x``
alone. Unconditional layers ignore the context; conditional ones (an
:class:`~likelihood_jax.flows.AffineCoupling` with ``conditional=True``, FloWaveNet) need it.
So a :class:`~likelihood_jax.flows.Chain` of conditional and unconditional layers composes like
any other, and :class:`~likelihood_jax.flows.Flow` serves ``p(x)`` and ``p(x | c)`` alike.
"""

import dataclasses
from typing import Any, ClassVar

import jax

Params = Any  # a pytree of arrays
Context = jax.Array | None  # one example's conditioning (a batch of them in ``init``), or None


@dataclasses.dataclass(frozen=True)
class Bijector:
    """Base class of the flow layers; subclasses are frozen dataclasses.

    Subclasses implement ``forward_and_log_det`` and ``inverse_and_log_det``, ``init`` if they
    have parameters (the default returns ``{}``), and set the class attribute
    ``log_det_depends_on_x``. Its default here is True, the safe answer: a layer that does not
    declare its log-det constant has it computed by EBFlow-style objectives.
    """

    log_det_depends_on_x: ClassVar[bool] = True

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Parameters, possibly initialized from the batch ``x`` (B,) + event_shape.

        ``context`` is the matching batch of contexts ``(B, ...)`` (None: unconditional).
        """
        del key, x, context
        return {}

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Maps one data point ``x`` (given its context) to ``(z, log|det dz/dx|)``."""
        raise NotImplementedError

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Maps one latent point ``z`` (given its context) to ``(x, log|det dx/dz|)``."""
        raise NotImplementedError

    def forward(self, params: Params, x: jax.Array, context: Context = None) -> jax.Array:
        """Data ``x`` -> latent ``z`` for one example."""
        return self.forward_and_log_det(params, x, context)[0]

    def inverse(self, params: Params, z: jax.Array, context: Context = None) -> jax.Array:
        """Latent ``z`` -> data ``x`` for one example."""
        return self.inverse_and_log_det(params, z, context)[0]
