"""The density contract (likelihood_jax.density), one test table over every family's adapter.

Every model: it satisfies the Protocol, its batch log_prob and samples have the contract's
shapes and are finite, its ``exact`` flag is the expected one; on 2D data its density
integrates to one on a grid (an ELBO to at most one); on images its bits/dim is finite.
Independent values: enumeration of every image of a tiny autoregressive model, a uniform
density's bits/dim in closed form, scipy's truncated-normal entropy.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax import density
from likelihood_jax.continuous_time.density import CNFDensity, DiffusionDensity
from likelihood_jax.flows.density import flow_density, pixelcnn_density, trade_density
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.sequence.density import autoregressive_pixels

SOLVE = {"solver": "tsit5", "rtol": 1e-3, "atol": 1e-3}


def _net():
    return TimeMLP(hidden_dims=(16,), activation="tanh", time_embedding="fourier",
                   num_frequencies=2)


# name -> (builder(event_shape, num_levels), exact)
MODELS = {
    "realnvp": (lambda s, n: flow_density("realnvp", s, num_levels=n, num_layers=2,
                                          hidden_dims=(8,)), True),
    "spline": (lambda s, n: flow_density("spline", s, num_levels=n, num_layers=2,
                                         hidden_dims=(8,), num_bins=4), True),
    "maf": (lambda s, n: flow_density("maf", s, num_levels=n, num_layers=2, hidden_dims=(8,)),
            True),
    "glow": (lambda s, n: flow_density("glow", s, num_levels=n, num_layers=1,
                                       hidden_dims=(4,), num_scales=1), True),
    "cnf": (lambda s, n: CNFDensity(_net(), s, n, **SOLVE), True),
    "cnf_hutchinson": (lambda s, n: CNFDensity(_net(), s, n, hutchinson=True, **SOLVE), False),
    # gamma_max = 1 keeps the untrained model's density within the integration grid: with
    # the default 5 the ODE maps the prior back by 1/alpha_1 ~ 12x and most mass leaves it.
    "diffusion_ode": (lambda s, n: DiffusionDensity(_net(), s, n, gamma_min=-2.0,
                                                    gamma_max=1.0, **SOLVE), True),
    "vdm": (lambda s, n: DiffusionDensity(_net(), s, n, likelihood="elbo", gamma_min=-2.0,
                                          gamma_max=1.0, **SOLVE), False),
    "transformer": (lambda s, n: autoregressive_pixels(s, n, num_layers=1, width=8,
                                                       num_heads=2), True),
    "tarflow": (lambda s, n: flow_density("tarflow", s, num_levels=n, num_layers=2, width=8,
                                          transformer_layers=1, num_heads=2, patch_size=2),
                True),
    "pixelcnn": (lambda s, n: pixelcnn_density(s, n, num_filters=4, num_resnet=0,
                                               num_scales=1, num_mixtures=2, dropout=0.1),
                 True),
    "trade": (lambda s, n: trade_density(s, num_levels=n, num_components=2, num_layers=1,
                                         width=8, num_heads=2), True),
}
IMAGE_ONLY = ("glow", "transformer", "tarflow", "pixelcnn")
# The default tier checks a flow (and TraDE's 2D density); the whole table runs nightly
# (compilation of every adapter costs minutes on a shared CPU).
DEFAULT_TIER = ("realnvp",)


def _tiered(names, default=DEFAULT_TIER):
    return [n if n in default else pytest.param(n, marks=pytest.mark.nightly)
            for n in names]
ON_2D = [n for n in MODELS if n not in IMAGE_ONLY]
IMAGE = (4, 4, 1)
LEVELS = 5


@functools.lru_cache(maxsize=None)
def _fitted(name: str, image: bool):
    """(model, params, data batch) of a model at initialization (data-dependent init)."""
    builder, _ = MODELS[name]
    if image:
        k = jax.random.randint(jax.random.key(0), (8,) + IMAGE, 0, LEVELS)
        x = (k + 0.5) / LEVELS
        model = builder(IMAGE, LEVELS)
    else:
        x = jax.random.normal(jax.random.key(0), (64, 2))
        model = builder((2,), None)
    return model, jax.jit(model.init)(jax.random.key(1), x), x


@pytest.mark.parametrize("name", _tiered(MODELS))
def test_contract_shapes_finiteness_and_exactness(name):
    model, params, x = _fitted(name, name in IMAGE_ONLY or name == "realnvp")
    assert isinstance(model, density.TrainableDensity)
    assert model.exact is MODELS[name][1]
    assert density.likelihood_kind(model) == ("exact" if model.exact else "bound")
    log_prob = jax.jit(model.log_prob)(params, x[:3], jax.random.key(2))
    samples = jax.jit(model.sample, static_argnums=2)(params, jax.random.key(3), 2)
    assert log_prob.shape == (3,) and bool(jnp.all(jnp.isfinite(log_prob)))
    assert samples.shape == (2,) + tuple(model.event_shape)
    assert bool(jnp.all(jnp.isfinite(samples)))
    if name in ("pixelcnn", "transformer"):  # discrete models sample cell centers
        np.testing.assert_allclose(samples * LEVELS % 1, 0.5, atol=1e-4)
    loss = model.loss(params, x[:3], jax.random.key(4), model.objectives[0])
    assert loss.shape == (3,) and bool(jnp.all(jnp.isfinite(loss)))
    with pytest.raises(ValueError, match="objective"):
        density.resolve_objective(model, "no_such_objective")


@pytest.mark.parametrize("name", _tiered(ON_2D, DEFAULT_TIER + ("trade",)))
def test_2d_density_integrates_to_one(name):
    """A Riemann sum over [-6, 6]^2 (an ELBO: at most one; Hutchinson: about one)."""
    model, params, _ = _fitted(name, False)
    # TraDE's initial mixtures and the untrained diffusion models' densities are wide.
    half_width = 12.0 if name in ("trade", "diffusion_ode", "vdm") else 6.0
    edge = np.linspace(-half_width, half_width, int(8 * half_width) + 1)
    grid = jnp.asarray(np.stack(np.meshgrid(edge, edge), -1).reshape(-1, 2), jnp.float32)
    log_prob = jax.jit(model.log_prob)(params, grid)
    mass = float(jnp.sum(jnp.exp(log_prob)) * (edge[1] - edge[0]) ** 2)
    if model.exact:
        assert mass == pytest.approx(1.0, abs=0.03), name
    elif name == "vdm":
        assert 0.5 < mass < 1.03, name
    else:  # an unbiased estimate of log p: exp of it is not normalized, but close
        assert mass == pytest.approx(1.0, abs=0.1), name


@pytest.mark.nightly
@pytest.mark.parametrize("name", ["realnvp", "glow", "cnf", "transformer", "tarflow",
                                  "pixelcnn", "trade"])
def test_image_bits_per_dim_is_finite_and_above_zero(name):
    model, params, _ = _fitted(name, True)
    k = jax.random.randint(jax.random.key(5), (3,) + IMAGE, 0, LEVELS)
    for dequantization in density.DEQUANTIZATIONS:
        bpd = density.bits_per_dim(model, params, jax.random.key(6), k, num_levels=LEVELS,
                                   dequantization=dequantization)
        assert bpd.shape == (3,) and bool(jnp.all(jnp.isfinite(bpd) & (bpd > 0)))


def test_autoregressive_model_sums_to_one_and_its_bits_per_dim_is_exact():
    """Enumerates all 3^4 images of a 2x2 model: P sums to one; bits/dim is -log2 P(k) / D."""
    model = autoregressive_pixels((2, 2, 1), 3, num_layers=1, width=8, num_heads=2)
    every = np.array(np.meshgrid(*[range(3)] * 4, indexing="ij")).reshape(4, -1).T
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 2, 2, 1)))
    log_p = jax.jit(model.discrete_log_prob)(params, jnp.asarray(every, jnp.int32))
    assert float(jnp.sum(jnp.exp(log_p))) == pytest.approx(1.0, abs=1e-5)
    k = jnp.asarray(every[:5].reshape(5, 2, 2, 1))
    exact = -log_p[:5] / (4 * math.log(2))
    bpd = density.bits_per_dim(model, params, jax.random.key(1), k, num_levels=3)
    np.testing.assert_allclose(bpd, exact, rtol=1e-5)  # piecewise constant: no Jensen gap
    # Truncated normal: the mean gap is KL(q || uniform on the cell) = -H(q) - D log L.
    sigma = 0.1
    tau = 0.5 / 3 / sigma
    kl = -4 * stats.truncnorm(-tau, tau, scale=sigma).entropy() - 4 * math.log(3)
    draws = jax.jit(jax.vmap(lambda key: density.bits_per_dim(
        model, params, key, k, num_levels=3, dequantization="truncated_normal", sigma=sigma)
    ))(jax.random.split(jax.random.key(2), 100))
    gap = float(jnp.mean(draws - exact))  # 500 draws of log q: a mean within about 0.005
    assert gap == pytest.approx(kl / (4 * math.log(2)), abs=0.01)


def test_pixelcnn_sums_to_one_and_its_bits_per_dim_is_exact():
    """All 3^4 images of a 2x2 PixelCNN++: P sums to one; bits/dim is -log2 P(k) / D [P070]."""
    model = pixelcnn_density((2, 2, 1), 3, num_filters=4, num_resnet=0, num_scales=1,
                             num_mixtures=2)
    every = np.array(np.meshgrid(*[range(3)] * 4, indexing="ij")).reshape(4, -1).T
    k = jnp.asarray(every.reshape(-1, 2, 2, 1))
    params = model.init(jax.random.key(0), (k + 0.5) / 3)

    @jax.jit
    def evaluate(params, k):
        return (model.model.log_prob(params, k.astype(jnp.float32)),
                density.bits_per_dim(model, params, jax.random.key(1), k, num_levels=3),
                model.loss(params, (k + 0.9) / 3, jax.random.key(2), "ml"))  # same cells

    log_p, bpd, loss = evaluate(params, k)
    assert float(jnp.sum(jnp.exp(log_p))) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(bpd, -log_p / (4 * math.log(2)), rtol=1e-5)
    np.testing.assert_allclose(loss, -log_p, rtol=1e-5)


def test_cell_levels_and_piecewise_constant_density():
    y = jnp.array([0.0, 0.33, 0.34, 0.999, 1.0])
    np.testing.assert_array_equal(density.cell_levels(y, 3), [0, 0, 1, 2, 2])
    # P(k) = 1/L^D (uniform): the density is 1 on [0, 1)^D.
    assert float(density.piecewise_constant_log_prob(-4 * math.log(3), 4, 3)) == \
        pytest.approx(0.0, abs=1e-6)


class _Uniform:
    """The uniform density on [0, 1)^D: log p = 0."""

    exact = True

    def __init__(self, event_shape):
        self.event_shape = event_shape

    def init(self, key, x):
        return {}

    def log_prob(self, params, x, key=None):
        return jnp.zeros(x.shape[:1])

    def sample(self, params, key, num):
        return jax.random.uniform(key, (num,) + self.event_shape)


def test_bits_per_dim_of_the_uniform_density():
    """Uniform: exactly log2 L; truncated normal: -entropy(TN) / ln 2 per dim (scipy)."""
    model = _Uniform((3,))
    assert isinstance(model, density.DensityModel)
    assert not isinstance(model, density.TrainableDensity)
    k = jnp.array([[0, 4, 16], [3, 3, 3]])
    bpd = density.bits_per_dim(model, {}, jax.random.key(0), k, num_levels=17)
    np.testing.assert_allclose(bpd, math.log2(17), rtol=1e-6)
    sigma = 0.02
    tau = 0.5 / 17 / sigma
    entropy = stats.truncnorm(-tau, tau, scale=sigma).entropy()
    draws = jax.vmap(lambda key: density.bits_per_dim(
        model, {}, key, k, num_levels=17, dequantization="truncated_normal", sigma=sigma)
    )(jax.random.split(jax.random.key(1), 200))
    np.testing.assert_allclose(float(jnp.mean(draws)), -entropy / math.log(2), rtol=0.02)


def test_bad_arguments_raise_naming_them():
    model = _Uniform((3,))
    k = jnp.zeros((2, 3), jnp.int32)
    with pytest.raises(ValueError, match="dequantization"):
        density.bits_per_dim(model, {}, jax.random.key(0), k, num_levels=4,
                             dequantization="beta")
    with pytest.raises(ValueError, match="num_levels"):
        density.bits_per_dim(model, {}, jax.random.key(0), k, num_levels=1)
    with pytest.raises(ValueError, match=r"\(B,\) \+ \(3,\)"):
        density.bits_per_dim(model, {}, jax.random.key(0), k[0], num_levels=4)
    with pytest.raises(ValueError, match="kind"):
        flow_density("nope", (2,))
    with pytest.raises(ValueError, match="image"):
        flow_density("glow", (2,))
    with pytest.raises(ValueError, match="num_levels"):
        autoregressive_pixels((2, 2, 1), None)
    with pytest.raises(ValueError, match="likelihood"):
        DiffusionDensity(_net(), (2,), likelihood="sde")
    with pytest.raises(ValueError, match="image"):
        flow_density("tarflow", (2,))
    with pytest.raises(ValueError, match="num_levels"):
        pixelcnn_density((2, 2, 1), None)
    model = trade_density((2,), num_components=2, num_layers=1, width=8, num_heads=2)
    with pytest.raises(ValueError, match="objective"):
        model.loss({}, jnp.zeros((1, 2)), jax.random.key(0), "score_matching")
    with pytest.raises(ValueError, match="continuous columns"):
        type(model)(model.model, (3,))


@pytest.mark.nightly
def test_flow_score_matching_objective_is_finite_and_differs_from_ml():
    model, params, x = _fitted("realnvp", True)
    ssm = model.loss(params, x[:4], jax.random.key(0), "score_matching")
    ml = model.loss(params, x[:4], jax.random.key(0), "ml")
    assert ssm.shape == ml.shape == (4,)
    assert bool(jnp.all(jnp.isfinite(ssm))) and not np.allclose(ssm, ml)
