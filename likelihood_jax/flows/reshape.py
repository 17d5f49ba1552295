"""Shape-changing bijectors with unit Jacobian: Reshape and Flatten.

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

A reshape only relabels coordinates, so ``z = reshape(x)``, ``log|det dz/dx| = 0``
(independent of x). ``Flatten(event_shape)`` turns an image event ``(H, W, C)`` into a vector
``(H * W * C,)`` in row-major order, so vector layers such as RealNVP's affine coupling (Dinh
et al. 2017) with a :func:`~likelihood_jax.flows.checkerboard_mask` can follow it.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params


def _check_shape(x: jax.Array, expected: tuple[int, ...], name: str) -> None:
    if x.shape != expected:
        raise ValueError(f"{name} expects one example of shape {expected}, got {x.shape}.")


@dataclasses.dataclass(frozen=True)
class Reshape(Bijector):
    """``z = x.reshape(new_shape)`` for events of shape ``event_shape``; log-det 0.

    Attributes:
        event_shape: the input (data-side) event shape.
        new_shape: the output (latent-side) event shape, with the same number of elements.
    """

    event_shape: tuple[int, ...]
    new_shape: tuple[int, ...]
    log_det_depends_on_x = False

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        object.__setattr__(self, "new_shape", tuple(int(d) for d in self.new_shape))
        if math.prod(self.event_shape) != math.prod(self.new_shape):
            raise ValueError(f"Cannot reshape {self.event_shape} into {self.new_shape}.")

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = x.reshape(new_shape)``, log-det 0."""
        del params
        _check_shape(x, self.event_shape, "Reshape.forward")
        return x.reshape(self.new_shape), jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = z.reshape(event_shape)``, log-det 0."""
        del params
        _check_shape(z, self.new_shape, "Reshape.inverse")
        return z.reshape(self.event_shape), jnp.zeros((), z.dtype)


@dataclasses.dataclass(frozen=True)
class Flatten(Bijector):
    """``z = x.reshape(-1)`` for events of shape ``event_shape``; log-det 0.

    Attributes:
        event_shape: the input (data-side) event shape, e.g. ``(H, W, C)``.
    """

    event_shape: tuple[int, ...]
    log_det_depends_on_x = False

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = x.reshape(-1)``, log-det 0."""
        del params
        _check_shape(x, self.event_shape, "Flatten.forward")
        return x.reshape(-1), jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = z.reshape(event_shape)``, log-det 0."""
        del params
        _check_shape(z, (math.prod(self.event_shape),), "Flatten.inverse")
        return z.reshape(self.event_shape), jnp.zeros((), z.dtype)
