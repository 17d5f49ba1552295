"""likelihood_jax.types: one definition of each callable type, used by the core modules."""

import typing

from likelihood_jax import estimators, ode, score_matching, sde, types
from likelihood_jax.continuous_time import diffusion, flow_matching


def test_time_first_types_take_two_arrays_and_plain_ones_take_one():
    assert typing.get_args(types.TimeField)[0] == [types.Array, types.Array]
    assert typing.get_args(types.TimeScoreFn)[0] == [types.Array, types.Array]
    for plain in (types.VectorField, types.ScoreFn, types.LogProbFn):
        assert typing.get_args(plain)[0] == [types.Array]


def test_modules_use_the_shared_definitions():
    assert estimators.VectorField is types.VectorField
    assert score_matching.ScoreFn is types.ScoreFn
    assert score_matching.LogProbFn is types.LogProbFn
    for module in (sde, diffusion):
        assert module.TimeScoreFn is types.TimeScoreFn
    for module in (ode, flow_matching):
        assert module.TimeField is types.TimeField
