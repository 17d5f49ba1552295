"""Optimizer options: AdamW's weight-decay mask and gradient micro-batching in the train step."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from likelihood_jax.train import loop, parallel
from likelihood_jax.train.experiment import Experiment
from likelihood_jax.train.optimizers import make_optimizer, microbatch_count
from tests.train import toys


class _Net(nn.Module):
    """Every kind of leaf the mask must tell apart: embedding, conv, dense, layer norm."""

    @nn.compact
    def __call__(self, tokens):
        h = nn.Embed(7, 4)(tokens)  # [B, L, 4]
        h = nn.Conv(4, (3,))(h)
        h = nn.LayerNorm()(h)
        return nn.DenseGeneral((2, 3))(nn.Dense(5)(h))


@functools.partial(jax.jit, static_argnums=(0, 2, 3))  # one program each: cheaper than eager
def _adamw_step(mask: str, params, lr=0.1, weight_decay=0.5):
    optim = ml_collections.ConfigDict({"name": "adamw", "lr": lr, "weight_decay": weight_decay,
                                       "weight_decay_mask": mask})
    opt = make_optimizer(optim, total_steps=10)
    zeros = jax.tree.map(jnp.zeros_like, params)
    updates, _ = opt.update(zeros, opt.init(params), params)
    return optax.apply_updates(params, updates)


def test_matrices_mask_decays_exactly_the_kernels_of_dense_and_conv_layers():
    params = jax.jit(_Net().init)(jax.random.key(0), jnp.zeros((2, 5), jnp.int32))["params"]
    flat = {"/".join(str(k.key) for k in path): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(params)}
    # Written out by hand: the three weight matrices, nothing else.
    decayed = {"Conv_0/kernel", "Dense_0/kernel", "DenseGeneral_0/kernel"}
    assert decayed < set(flat) and "Embed_0/embedding" in flat and "LayerNorm_0/scale" in flat
    lr, weight_decay = 0.1, 0.5
    for mask, expected in (("matrices", decayed), ("all", set(flat))):
        after = _adamw_step(mask, params, lr, weight_decay)
        after = {"/".join(str(k.key) for k in path): np.asarray(leaf)
                 for path, leaf in jax.tree_util.tree_leaves_with_path(after)}
        for name, before in flat.items():
            # Zero gradients: Adam's step is 0 and decoupled decay moves p by -lr * wd * p.
            factor = 1 - lr * weight_decay if name in expected else 1.0
            np.testing.assert_allclose(after[name], before * factor, rtol=1e-6, err_msg=name)


def test_weight_decay_mask_errors_name_the_field():
    optim = ml_collections.ConfigDict({"name": "adamw", "lr": 0.1, "weight_decay_mask": "bias"})
    with pytest.raises(ValueError, match="weight_decay_mask 'bias'"):
        make_optimizer(optim, 10)
    optim.name, optim.weight_decay_mask = "adam", "matrices"
    with pytest.raises(ValueError, match="adamw"):
        make_optimizer(optim, 10)


class _Regression(Experiment):
    """A one-hidden-layer net regressing ``sin(3 x)`` on the 1-D Gaussian data; per-example
    squared error (a mean over examples once reduced). Logs a draw of its loss key."""

    def init_params(self, key, batch):
        return self.net.init(key, jnp.asarray(batch["x"]))["params"]

    @property
    def net(self):
        return nn.Sequential([nn.Dense(8), nn.tanh, nn.Dense(1)])

    def loss_fn(self, params, batch, key, step):
        del step
        x = batch["x"]
        loss = jnp.sum((self.net.apply({"params": params}, x) - jnp.sin(3 * x)) ** 2, -1)
        return loss, {"key_draw": jax.random.uniform(key), "x0": x[:, 0]}


def _one_step(experiment_cls, microbatches: int, name: str = "sgd"):
    config = toys.base(batch_size=32)
    config.optim.name, config.optim.microbatches = name, microbatches
    experiment = experiment_cls(config, dataset=toys.gaussian_1d())
    run = loop.make_run(experiment)
    state = loop.init_state(run)
    loss_key = jax.random.split(state.step_key(), 3)[2]  # the loss's key in make_train_step
    batch = loop.local_batch(experiment.dataset, config.batch_size, config.seed, 0)
    new_state, metrics = loop.make_train_step(run)(state, parallel.global_batch(batch, run.mesh))
    return new_state, jax.device_get(metrics), loss_key, batch


@pytest.mark.parametrize("experiment_cls,name", [(_Regression, "sgd"), (toys.MeanFit, "adam")])
def test_four_microbatches_take_the_step_of_the_whole_batch(experiment_cls, name):
    one, metrics_one, loss_key, batch = _one_step(experiment_cls, 1, name)
    four, metrics_four, _, _ = _one_step(experiment_cls, 4, name)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 jax.device_get(one.params), jax.device_get(four.params))
    for field in ("loss", "grad_norm"):
        np.testing.assert_allclose(metrics_four[field], metrics_one[field], rtol=1e-5)
    # MeanFit's update_extra saw the whole batch (its extra is not cut into micro-batches).
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(one.extra),
                 jax.device_get(four.extra))
    if experiment_cls is _Regression:  # micro-batch j draws with fold_in(loss key, j)
        draws = [jax.random.uniform(jax.random.fold_in(loss_key, j)) for j in range(4)]
        np.testing.assert_allclose(metrics_four["key_draw"], np.mean(draws), rtol=1e-6)
        np.testing.assert_allclose(metrics_one["key_draw"], jax.random.uniform(loss_key))
        np.testing.assert_allclose(metrics_four["x0"], batch["x"][:, 0].mean(), rtol=1e-5)


def test_microbatch_count_errors():
    optim = ml_collections.ConfigDict({"microbatches": 3})
    with pytest.raises(ValueError, match="batch_size 32 is not divisible by optim.microbatches 3"):
        microbatch_count(optim, 32)
    optim.microbatches = 0
    with pytest.raises(ValueError, match="microbatches must be an integer >= 1, got 0"):
        microbatch_count(optim, 32)
    with pytest.raises(ValueError, match="microbatches must be an integer >= 1, got 2.0"):
        microbatch_count(ml_collections.ConfigDict({"microbatches": 2.0}), 32)
    optim.microbatches, optim.groups = 2, {"x": {}, "y": {}}
    with pytest.raises(ValueError, match="optimizer groups"):
        microbatch_count(optim, 32)
    assert microbatch_count(ml_collections.ConfigDict(), 32) == 1
    config = toys.base(batch_size=30)
    config.optim.microbatches = 4
    run = loop.make_run(toys.MeanFit(config, dataset=toys.gaussian_1d()))
    with pytest.raises(ValueError, match="not divisible by optim.microbatches 4"):
        loop.make_train_step(run)
