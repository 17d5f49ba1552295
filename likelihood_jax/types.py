"""The callable types shared by the core modules and the families, defined once.

Every function that takes a model as a function uses one of these names in its
annotations, so that the argument order is written down in one place. Time-dependent
functions take the time first: ``f(t, x)``, with ``t`` a scalar (or a batch matching
``x``'s leading axis) and ``x`` one example (or a batch, where the function says so).

==================  =====================  ===============================================
name                call                   meaning
==================  =====================  ===============================================
``VectorField``     ``f(x) -> y``          a map ``R^D -> R^D`` (divergence estimators)
``TimeField``       ``f(t, x) -> y``       a time-dependent field: an ODE's velocity
                                           ``dx/dt = f(t, x)``, an SDE's drift, a denoiser
``ScoreFn``         ``s(x) -> y``          ``grad_x log p(x)``, same shape as ``x``
``TimeScoreFn``     ``s(t, x) -> y``       ``grad_x log p_t(x)`` of a diffused density
``LogProbFn``       ``log_p(x) -> ()``     a (possibly unnormalized) log-density
==================  =====================  ===============================================
"""

from __future__ import annotations

from typing import Callable

import jax

Array = jax.Array

VectorField = Callable[[Array], Array]
"""``f(x) -> y``: a vector field on the example space (``y`` has the shape of ``x``)."""

TimeField = Callable[[Array, Array], Array]
"""``f(t, x) -> y``: a time-dependent field, time first (velocity, drift, network output)."""

ScoreFn = Callable[[Array], Array]
"""``s(x) = grad_x log p(x)``, the shape of ``x``."""

TimeScoreFn = Callable[[Array, Array], Array]
"""``s(t, x) = grad_x log p_t(x)``: the score of the density at time ``t``, time first."""

LogProbFn = Callable[[Array], Array]
"""``log p(x)``: a scalar log-density (normalized or not) of one example."""

__all__ = ["Array", "LogProbFn", "ScoreFn", "TimeField", "TimeScoreFn", "VectorField"]
