"""The regularized auto-encoder experiment [P029]: its loss at the identity, the analytic score."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.regularized_autoencoders.configs import mixture
from experiments.regularized_autoencoders.experiment import RegularizedAutoencoder
from likelihood_jax import data as data_lib

X = np.array([[-1.2], [0.1], [0.9]], np.float32)
DATA = data_lib.Dataset("grid_gaussian_mixture", {"x": X}, {"x": X},
                        data_lib.DatasetInfo(kind="continuous", event_shape=(1,)))


def _experiment(**rae):
    config = mixture.get_config("runlocal")
    config.rae.update(rae)
    return RegularizedAutoencoder(config, DATA)


def test_identity_loss_and_score_error_against_numpy():
    """At initialization ``r`` is the identity: the contractive loss is ``sigma^2 D / sigma^4``
    per example and the score error is ``|grad log p|^2`` of the 2-mode mixture (numpy)."""
    exp = _experiment(sigma=0.2)
    x = jnp.asarray(X)
    params = exp.init_params(jax.random.key(0), {"x": x})
    out = jax.jit(exp.eval_fn)(params, {"x": x}, jax.random.key(2))
    np.testing.assert_allclose(out["loss"], 1.0 / 0.2 ** 2, rtol=1e-5)
    xs = np.asarray(x)[:, 0]
    resp = np.stack([np.exp(-(xs - c) ** 2 / (2 * 0.3 ** 2)) for c in (-1.0, 1.0)])
    score = (resp * (np.array([[-1.0], [1.0]]) - xs) / 0.3 ** 2).sum(0) / resp.sum(0)
    np.testing.assert_allclose(out["score_error"], score ** 2, rtol=1e-4)
    dae = _experiment(sigma=0.2, criterion="denoising")
    loss, _ = jax.jit(dae.loss_fn)(params, {"x": x}, jax.random.key(1), jnp.int32(0))
    noise = jax.vmap(lambda k: jax.random.normal(k, (1,)))(jax.random.split(jax.random.key(1), 3))
    np.testing.assert_allclose(loss, np.sum(np.asarray(noise) ** 2, -1) / 0.2 ** 2, rtol=1e-5)


@pytest.mark.parametrize("field, value", [("criterion", "sparse"), ("jacobian", "svd"),
                                          ("sigma", 0.0), ("num_probes", 0)])
def test_bad_configs_are_refused(field, value):
    with pytest.raises(ValueError, match=f"rae.{field}"):
        _experiment(**{field: value})
