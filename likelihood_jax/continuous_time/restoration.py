r"""Image restoration with a mean-reverting SDE (IR-SDE [P028]), degradations and PSNR/SSIM.

Luo, Gustafsson, Zhao, Sjölund & Schön (ICML 2023), "Image Restoration with Mean-Reverting
Stochastic Differential Equations" (code: github.com/Algolzw/image-restoration-sde). The
forward process carries a clean image ``x_0`` towards its degraded counterpart ``mu`` plus
Gaussian noise of fixed level ``lambda``:

    dx = theta_t (mu - x) dt + sigma_t dw,      sigma_t^2 / theta_t = 2 lambda^2.

With ``theta_bar(s, t) = integral_s^t theta_z dz`` the transition is Gaussian in closed form
(Ornstein–Uhlenbeck with a time change):

    x_t | x_s ~ N( mu + (x_s - mu) e^{-theta_bar(s, t)},  lambda^2 (1 - e^{-2 theta_bar(s, t)}) I ),

so ``x_t | x_0`` has mean ``m_t = mu + (x_0 - mu) e^{-theta_bar_t}`` and variance
``v_t = lambda^2 (1 - e^{-2 theta_bar_t})``, and tends to ``N(mu, lambda^2 I)``; its score is
``grad log p(x_t | x_0) = -(x_t - m_t) / v_t = -eps / sqrt(v_t)`` for
``x_t = m_t + sqrt(v_t) eps``. A network ``eps_phi(t, x_t, mu)`` predicts the noise, and the
reverse-time SDE

    dx = [theta_t (mu - x) - sigma_t^2 grad log p_t(x)] dt + sigma_t dw_bar

restores ``x_0`` from ``x_T ~ N(mu, lambda^2 I)``.

**Maximum-likelihood objective.** Rather than matching the noise,
the reverse step from ``t_i`` to ``t_{i-1}`` is regressed onto the most likely previous state
given the clean image,

    x*_{i-1} = argmax q(x_{i-1} | x_i, x_0)
             = mu + (1 - C^2) A / (1 - B^2) (x_i - mu) + (1 - A^2) C / (1 - B^2) (x_0 - mu),

with ``A = e^{-theta_bar(t_{i-1}, t_i)}``, ``B = e^{-theta_bar_{t_i}}``,
``C = e^{-theta_bar_{t_{i-1}}}`` (the Gaussian posterior's mean = mode), by the loss
``| x_i - dx_i(eps_phi) - x*_{i-1} |_1`` where ``x_i - dx_i`` is one noise-free step of the
reverse SDE (:meth:`MeanRevertingSDE.reverse_step_mean`).

**Time and discretization.** Time runs over ``[0, 1]`` with a grid ``t_i = i / N``. The paper
(and its code) take ``theta_i`` from the cosine schedule of improved DDPM, ``theta_i ∝ 1 -
alphabar_i``, scaled so that ``e^{-theta_bar_1} = eps`` (0.005 by default: the terminal mean
is ``mu + 0.005 (x_0 - mu)``). Here the same shape is a continuous function of ``t``,

    theta(t) = c (1 - cos^2(pi/2 (t + s)/(1 + s)) / cos^2(pi/2 s/(1 + s))),   s = 0.008,

whose integral ``theta_bar(t)`` is closed form; ``c`` sets ``theta_bar(1) = -log eps``
(``schedule="constant"``: ``theta(t) = -log eps``). A reverse step uses the exact increment
``Delta = theta_bar(t_{i-1}, t_i)`` in place of ``theta_t dt`` (as the paper's code does with
its discrete ``theta_i dt``): it is Euler–Maruyama in the intrinsic time ``tau = theta_bar(t)``,
in which the SDE reads ``dx = (mu - x) d tau + sqrt(2) lambda dw_tau``.

Also here: degradations (additive Gaussian noise, Gaussian blur, random pixel masking) and
the restoration metrics PSNR and SSIM. Images are ``(H, W, C)`` arrays in ``[0, 1]``;
functions act on one image (callers vmap). All functions are pure.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax.sde import time_grid

Array = jax.Array
NoiseFn = Callable[[Array, Array, Array], Array]
"""``noise_fn(t, x_t, mu) -> eps_hat``: the network's noise prediction for one example (time
first, as the :mod:`likelihood_jax.types` fields, with the degraded image ``mu`` last)."""

SCHEDULES = ("cosine", "constant")
DEGRADATIONS = ("noise", "blur", "mask")


@dataclasses.dataclass(frozen=True)
class MeanRevertingSDE:
    """The IR-SDE ``dx = theta_t (mu - x) dt + sigma_t dw`` with ``sigma_t^2 = 2 lambda^2 theta_t``.

    Unlike the SDEs of :mod:`likelihood_jax.sde`, the drift and the marginals depend on the
    mean ``mu`` (the degraded image), passed to every method. All methods are elementwise
    in ``x`` with scalar times, and work for one example or a batch alike.

    Attributes:
      lam: ``lambda``, the stationary standard deviation (the noise level at ``t = 1``).
      schedule: ``"cosine"`` (the paper's) or ``"constant"`` shape of ``theta(t)``.
      terminal_eps: ``e^{-theta_bar(1)}``, the weight of ``x_0 - mu`` left at ``t = 1``.
      cosine_s: the offset ``s`` of the cosine schedule.
    """

    lam: float = 0.2
    schedule: str = "cosine"
    terminal_eps: float = 0.005
    cosine_s: float = 0.008

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown theta schedule {self.schedule!r}; choose one of "
                             f"{SCHEDULES}")
        if not 0.0 < self.terminal_eps < 1.0:
            raise ValueError(f"terminal_eps must lie in (0, 1), got {self.terminal_eps}")
        if self.lam <= 0.0:
            raise ValueError(f"lam (the stationary std) must be positive, got {self.lam}")

    # -- schedule ----------------------------------------------------------------------------

    def _shape(self, t) -> Array:
        """The unnormalized ``theta(t) / c``."""
        t = jnp.asarray(t, jnp.float32)
        if self.schedule == "constant":
            return jnp.ones_like(t)
        a = 0.5 * math.pi / (1.0 + self.cosine_s)
        b = a * self.cosine_s
        return 1.0 - jnp.cos(a * t + b) ** 2 / math.cos(b) ** 2

    def _shape_integral(self, t) -> Array:
        """``integral_0^t theta(z) / c dz`` in closed form."""
        t = jnp.asarray(t, jnp.float32)
        if self.schedule == "constant":
            return t
        a = 0.5 * math.pi / (1.0 + self.cosine_s)
        b = a * self.cosine_s
        # integral of cos^2(a z + b) from 0 to t = t / 2 + (sin(2(a t + b)) - sin(2 b)) / (4 a)
        cos_integral = 0.5 * t + (jnp.sin(2.0 * (a * t + b)) - math.sin(2.0 * b)) / (4.0 * a)
        return t - cos_integral / math.cos(b) ** 2

    @property
    def scale(self) -> float:
        """``c``, chosen so that ``theta_bar(1) = -log(terminal_eps)``."""
        if self.schedule == "constant":
            integral = 1.0
        else:  # _shape_integral(1) in plain Python (no tracing under jit)
            a = 0.5 * math.pi / (1.0 + self.cosine_s)
            b = a * self.cosine_s
            cos_integral = 0.5 + (math.sin(2.0 * (a + b)) - math.sin(2.0 * b)) / (4.0 * a)
            integral = 1.0 - cos_integral / math.cos(b) ** 2
        return -math.log(self.terminal_eps) / integral

    def theta(self, t) -> Array:
        """The mean-reversion rate ``theta(t)``."""
        return self.scale * self._shape(t)

    def theta_bar(self, t, s=0.0) -> Array:
        """``theta_bar(s, t) = integral_s^t theta(z) dz`` (closed form)."""
        return self.scale * (self._shape_integral(t) - self._shape_integral(s))

    def diffusion(self, t) -> Array:
        """``sigma(t) = sqrt(2 lambda^2 theta(t))``."""
        return jnp.sqrt(2.0 * self.lam**2 * self.theta(t))

    def drift(self, t, x: Array, mu: Array) -> Array:
        """``f(t, x) = theta(t) (mu - x)``."""
        return self.theta(t) * (mu - x)

    # -- closed-form marginals ---------------------------------------------------------------

    def transition(self, t, s=0.0) -> tuple[Array, Array]:
        """``(decay, std)`` of ``x_t | x_s``: mean ``mu + decay (x_s - mu)``, std ``std``.

        ``decay = e^{-theta_bar(s, t)}`` and ``std = lambda sqrt(1 - e^{-2 theta_bar(s, t)})``.
        """
        tb = self.theta_bar(t, s)
        return jnp.exp(-tb), self.lam * jnp.sqrt(-jnp.expm1(-2.0 * tb))

    def marginal_mean(self, x0: Array, mu: Array, t) -> Array:
        """``m_t = mu + (x0 - mu) e^{-theta_bar_t}``."""
        decay, _ = self.transition(t)
        return mu + (x0 - mu) * decay

    def marginal_std(self, t) -> Array:
        """``sqrt(v_t) = lambda sqrt(1 - e^{-2 theta_bar_t})``."""
        return self.transition(t)[1]

    def marginal_sample(self, key: Array, x0: Array, mu: Array, t) -> tuple[Array, Array]:
        """``(x_t, eps)`` with ``x_t = m_t + sqrt(v_t) eps``, ``eps ~ N(0, I)``."""
        eps = jax.random.normal(key, jnp.shape(x0), jnp.asarray(x0).dtype)
        return self.marginal_mean(x0, mu, t) + self.marginal_std(t) * eps, eps

    def conditional_log_prob(self, x_t: Array, x0: Array, mu: Array, t) -> Array:
        """``log N(x_t; m_t, v_t I)``, summed over the example."""
        z = (x_t - self.marginal_mean(x0, mu, t)) / self.marginal_std(t)
        return (-0.5 * jnp.sum(z * z)
                - z.size * (jnp.log(self.marginal_std(t)) + 0.5 * math.log(2.0 * math.pi)))

    def score(self, x_t: Array, x0: Array, mu: Array, t) -> Array:
        """``grad_{x_t} log p(x_t | x0) = -(x_t - m_t) / v_t`` (the ground-truth score)."""
        return -(x_t - self.marginal_mean(x0, mu, t)) / self.marginal_std(t) ** 2

    def score_from_noise(self, eps: Array, t) -> Array:
        """The score implied by a noise prediction: ``-eps / sqrt(v_t)``."""
        return -eps / self.marginal_std(t)

    # -- reverse process ---------------------------------------------------------------------

    def optimal_previous(self, x_t: Array, x0: Array, mu: Array, t, s) -> Array:
        """``x*_s = argmax q(x_s | x_t, x0)`` for ``s < t`` (the paper's optimum reverse state).

        ``q(x_s | x_t, x0)`` is Gaussian, so its mode is its mean:
        ``mu + A (1 - C^2) / (1 - B^2) (x_t - mu) + C (1 - A^2) / (1 - B^2) (x0 - mu)`` with
        ``A = e^{-theta_bar(s, t)}``, ``B = e^{-theta_bar_t}``, ``C = e^{-theta_bar_s}``.
        """
        a, _ = self.transition(t, s)
        c, _ = self.transition(s)
        denom = -jnp.expm1(-2.0 * self.theta_bar(t))  # 1 - B^2
        term_t = a * -jnp.expm1(-2.0 * self.theta_bar(s)) / denom
        term_0 = c * -jnp.expm1(-2.0 * self.theta_bar(t, s)) / denom
        return mu + term_t * (x_t - mu) + term_0 * (x0 - mu)

    def posterior_std(self, t, s) -> Array:
        """Std of ``q(x_s | x_t, x0)``: ``lambda sqrt((1 - C^2)(1 - A^2) / (1 - B^2))``."""
        one_minus = lambda tb: -jnp.expm1(-2.0 * tb)  # noqa: E731
        return self.lam * jnp.sqrt(one_minus(self.theta_bar(s)) * one_minus(self.theta_bar(t, s))
                                   / one_minus(self.theta_bar(t)))

    def reverse_step_mean(self, x_t: Array, mu: Array, score: Array, t, s) -> Array:
        """One noise-free reverse-SDE step from ``t`` to ``s < t``.

        ``x_t - [(mu - x_t) - 2 lambda^2 score] Delta`` with ``Delta = theta_bar(s, t)``: the
        Euler–Maruyama mean in the intrinsic time (``theta_t dt -> Delta``,
        ``sigma_t^2 dt -> 2 lambda^2 Delta``).
        """
        delta = self.theta_bar(t, s)
        return x_t - ((mu - x_t) - 2.0 * self.lam**2 * score) * delta

    def reverse_step_std(self, t, s) -> Array:
        """Std of the reverse step's noise, ``sqrt(2 lambda^2 Delta)``."""
        return jnp.sqrt(2.0 * self.lam**2 * self.theta_bar(t, s))

    def terminal_sample(self, key: Array, mu: Array) -> Array:
        """``x_1 ~ N(mu, lambda^2 I)``, the (approximate) end of the forward process."""
        return mu + self.lam * jax.random.normal(key, jnp.shape(mu), jnp.asarray(mu).dtype)


def _check_steps(num_steps: int) -> int:
    if int(num_steps) < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps}")
    return int(num_steps)


def ml_loss(noise_fn: NoiseFn, sde: MeanRevertingSDE, x0: Array, mu: Array, key: Array,
            num_steps: int, norm: str = "l1") -> Array:
    """IR-SDE's maximum-likelihood loss for one example (weights ``gamma_i = 1``).

    Draws ``i ~ U{1..N}``, ``x_i = m_{t_i} + sqrt(v_{t_i}) eps``, and returns
    ``mean |x_i - dx_i(eps_phi) - x*_{i-1}|`` (``norm="l1"``, the paper's) or the mean
    squared error (``"l2"``), where ``x_i - dx_i`` is :meth:`MeanRevertingSDE.reverse_step_mean`
    with the score ``-eps_phi(t_i, x_i, mu) / sqrt(v_{t_i})`` and ``x*_{i-1}`` is
    :meth:`MeanRevertingSDE.optimal_previous`. Unbiased for the sum over the N steps / N.
    Cost: one network evaluation.

    Args:
      noise_fn: ``eps_phi(t, x_t, mu)`` on one example.
      sde: the mean-reverting SDE.
      x0: clean example.
      mu: its degraded counterpart (same shape).
      key: PRNG key.
      num_steps: ``N``, the number of reverse steps on the grid ``t_i = i / N``.
      norm: ``"l1"`` or ``"l2"``.

    Returns:
      The scalar loss.
    """
    n = _check_steps(num_steps)
    if norm not in ("l1", "l2"):
        raise ValueError(f"unknown norm {norm!r}; choose 'l1' or 'l2'")
    if jnp.shape(x0) != jnp.shape(mu):
        raise ValueError(f"x0 and mu must have the same shape, got {jnp.shape(x0)} and "
                         f"{jnp.shape(mu)}")
    step_key, noise_key = jax.random.split(key)
    i = jax.random.randint(step_key, (), 1, n + 1)
    t, s = i / n, (i - 1) / n
    x_t, _ = sde.marginal_sample(noise_key, x0, mu, t)
    score = sde.score_from_noise(noise_fn(t, x_t, mu), t)
    diff = sde.reverse_step_mean(x_t, mu, score, t, s) - sde.optimal_previous(x_t, x0, mu, t, s)
    return jnp.mean(jnp.abs(diff)) if norm == "l1" else jnp.mean(diff * diff)


def noise_matching_loss(noise_fn: NoiseFn, sde: MeanRevertingSDE, x0: Array, mu: Array,
                        key: Array, num_steps: int) -> Array:
    """The plain noise-prediction loss ``mean |eps_phi(t, x_t, mu) - eps|^2``.

    Same time grid as :func:`ml_loss`; equivalent to denoising score matching with weight
    ``v_t``. Cost: one network evaluation.
    """
    n = _check_steps(num_steps)
    step_key, noise_key = jax.random.split(key)
    t = jax.random.randint(step_key, (), 1, n + 1) / n
    x_t, eps = sde.marginal_sample(noise_key, x0, mu, t)
    return jnp.mean((noise_fn(t, x_t, mu) - eps) ** 2)


def reverse_sample(noise_fn: NoiseFn, sde: MeanRevertingSDE, mu: Array, key: Array,
                   num_steps: int, x_init: Array | None = None) -> Array:
    """Restores one image by the reverse SDE on the grid ``t_N = 1 > ... > t_0 = 0``.

    The grid is :func:`likelihood_jax.sde.time_grid` from 1 to 0 (``t_i = i / N``). Starts
    from ``x_1 = mu + lambda z`` (or ``x_init``) and applies, in a ``lax.scan``,
    ``x_{i-1} = reverse_step_mean(x_i, score) + sqrt(2 lambda^2 Delta_i) z_i`` with the score
    ``-eps_phi(t_i, x_i, mu) / sqrt(v_{t_i})``. Cost: ``N`` network evaluations.

    Args:
      noise_fn: ``eps_phi(t, x_t, mu)`` on one example.
      sde: the mean-reverting SDE.
      mu: the degraded image.
      key: PRNG key.
      num_steps: ``N``.
      x_init: optional starting state at ``t = 1``.

    Returns:
      The restored image ``x_0`` (same shape as ``mu``).
    """
    n = _check_steps(num_steps)
    init_key, key = jax.random.split(key)
    x = sde.terminal_sample(init_key, mu) if x_init is None else x_init

    grid = time_grid(1.0, 0.0, n, jnp.result_type(x, jnp.float32))  # t_N = 1, ..., t_0 = 0

    def step(x, inputs):
        t, s, k = inputs
        score = sde.score_from_noise(noise_fn(t, x, mu), t)
        z = jax.random.normal(k, jnp.shape(x), x.dtype)
        return sde.reverse_step_mean(x, mu, score, t, s) + sde.reverse_step_std(t, s) * z, None

    x, _ = jax.lax.scan(step, x, (grid[:-1], grid[1:], jax.random.split(key, n)))
    return x


# -- degradations ---------------------------------------------------------------------------


def _check_image(x: Array) -> Array:
    x = jnp.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"expected one image (H, W, C), got shape {x.shape}")
    return x


def add_gaussian_noise(key: Array, x: Array, std: float) -> Array:
    """``x + std * z``, ``z ~ N(0, I)`` (not clipped)."""
    x = _check_image(x)
    return x + std * jax.random.normal(key, x.shape, x.dtype)


def gaussian_kernel_1d(std: float, radius: int | None = None) -> Array:
    """Normalized 1D Gaussian weights on ``-radius..radius`` (default ``ceil(3 std)``)."""
    radius = int(math.ceil(3.0 * std)) if radius is None else int(radius)
    z = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    w = jnp.exp(-0.5 * (z / std) ** 2)
    return w / jnp.sum(w)


def _separable_filter(x: Array, w: Array, mode: str) -> Array:
    """Correlates every channel of ``x (H, W, C)`` with ``w`` along both axes."""
    k = len(w)
    if mode == "same":  # zero padding
        pad = k // 2
        x = jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    h, wd = x.shape[0] - k + 1, x.shape[1] - k + 1
    rows = sum(w[j] * x[j:j + h] for j in range(k))
    return sum(w[j] * rows[:, j:j + wd] for j in range(k))


def gaussian_blur(x: Array, std: float) -> Array:
    """Blurs ``x`` with a Gaussian of ``std`` pixels (radius ``ceil(3 std)``, zero padding)."""
    x = _check_image(x)
    return _separable_filter(x, gaussian_kernel_1d(std), "same")


def random_mask(key: Array, x: Array, fraction: float) -> Array:
    """Sets each pixel (all channels) to 0 with probability ``fraction`` (inpainting)."""
    x = _check_image(x)
    keep = jax.random.uniform(key, x.shape[:2] + (1,)) >= fraction
    return jnp.where(keep, x, 0.0)


def degrade(key: Array, x: Array, kind: str, noise_std: float = 0.2, blur_std: float = 1.5,
            mask_fraction: float = 0.5) -> Array:
    """Applies the degradation ``kind`` (``"noise"``, ``"blur"`` or ``"mask"``) to one image."""
    if kind == "noise":
        return add_gaussian_noise(key, x, noise_std)
    if kind == "blur":
        return gaussian_blur(x, blur_std)
    if kind == "mask":
        return random_mask(key, x, mask_fraction)
    raise ValueError(f"unknown degradation {kind!r}; choose one of {DEGRADATIONS}")


# -- metrics ------------------------------------------------------------------------------------


def psnr(x: Array, y: Array, data_range: float = 1.0) -> Array:
    """Peak signal-to-noise ratio ``10 log10(L^2 / mean((x - y)^2))`` in dB (``inf`` if equal)."""
    mse = jnp.mean((jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32)) ** 2)
    return 10.0 * jnp.log10(data_range**2 / mse)


def ssim(x: Array, y: Array, data_range: float = 1.0, window_std: float = 1.5,
         window_radius: int = 5, k1: float = 0.01, k2: float = 0.03) -> Array:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) of two images ``(H, W, C)``.

    The standard form: local statistics under an ``11 x 11`` Gaussian window of std 1.5
    (normalized weights ``w``), ``mu_x = w * x``, ``sigma_x^2 = w * x^2 - mu_x^2``,
    ``sigma_xy = w * (x y) - mu_x mu_y``, and

        SSIM = mean over valid window positions and channels of
               (2 mu_x mu_y + C1)(2 sigma_xy + C2)
               / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),

    ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2``. Only windows fully inside the image count (as in
    Wang et al.'s reference code and ``skimage.metrics.structural_similarity`` with
    ``gaussian_weights=True, use_sample_covariance=False``). Images must be at least
    ``2 window_radius + 1`` pixels on each side.
    """
    x = _check_image(jnp.asarray(x, jnp.float32))
    y = _check_image(jnp.asarray(y, jnp.float32))
    if x.shape != y.shape:
        raise ValueError(f"ssim needs images of equal shape, got {x.shape} and {y.shape}")
    size = 2 * window_radius + 1
    if min(x.shape[:2]) < size:
        raise ValueError(f"ssim's {size}x{size} window does not fit images of shape {x.shape}")
    w = gaussian_kernel_1d(window_std, window_radius)
    filt = lambda z: _separable_filter(z, w, "valid")  # noqa: E731
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx * mx, filt(y * y) - my * my, filt(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return jnp.mean(ssim_map)
