"""injective_flows [P009]: the experiment's wiring against the pure functions."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.injective_flows.configs import ppca
from experiments.injective_flows.experiment import InjectiveFlowExperiment
from likelihood_jax.data.synthetic import manifolds
from likelihood_jax.flows import injective


def test_linear_model_at_the_true_loading_has_zero_principal_angle_and_exact_loss():
    config = ppca.get_config("runlocal")
    exp = InjectiveFlowExperiment(config)
    w = manifolds.ppca_loading(8, 2).astype(np.float32)
    batch = {"x": jnp.asarray(exp.dataset.train["x"][:4])}
    params = exp.init_params(jax.random.key(0), batch)
    params["decoder"]["output"] = {"kernel": jnp.asarray(w.T), "bias": jnp.zeros(8)}
    params["encoder"]["output"] = {"kernel": jnp.asarray(np.linalg.pinv(w).T),
                                   "bias": jnp.zeros(2)}
    angle = exp.model_metrics(params, jax.random.key(1))["max_principal_angle"]
    assert angle < 0.1
    loss, _ = jax.jit(exp.loss_fn)(params, batch, jax.random.key(2), 0)
    encode, decode = exp._maps(params)
    keys = jax.random.split(jax.random.key(2), 4)
    expected = [injective.injective_flow_loss(encode, decode, x, k, beta=config.fif.beta)[0]
                for x, k in zip(batch["x"], keys)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    nll = jax.jit(exp.eval_fn)(params, batch, jax.random.key(3))["manifold_nll"]
    half = 0.5 * np.linalg.slogdet(w.T @ w)[1]
    z = batch["x"] @ np.linalg.pinv(w).T
    np.testing.assert_allclose(nll, 0.5 * np.sum(z**2, 1) + np.log(2 * np.pi) + half,
                               rtol=1e-4)
