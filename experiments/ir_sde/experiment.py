"""IR-SDE [P028]: restore degraded MNIST digits with a mean-reverting SDE, against a plain U-Net.

Luo, Gustafsson, Zhao, Sjölund & Schön (ICML 2023), "Image Restoration with Mean-Reverting
Stochastic Differential Equations". One model is trained over all degradations: each
training image (``[0, 1]``) is degraded by additive Gaussian noise, a Gaussian blur or random
pixel masking, chosen uniformly per example
(:func:`likelihood_jax.continuous_time.restoration.degrade`),
and the degraded image is the SDE's mean ``mu``.

``config.objective``:

* ``"irsde"``: the noise network ``eps_phi(t, x_t, mu)`` (a :class:`UNet` on the channels
  ``[x_t, mu]``) trained with the paper's maximum-likelihood loss
  (:func:`likelihood_jax.continuous_time.restoration.ml_loss`, L1), or with the plain
  noise-matching loss (``config.irsde.loss = "noise"``); ``config.irsde.predict = "x0"`` has the
  U-Net predict ``x0 - mu`` instead and turns it into the noise through the closed-form marginal
  (see :meth:`IRSDE.noise_fn`); restoration by the reverse SDE
  (:func:`likelihood_jax.continuous_time.restoration.reverse_sample`) from ``x_1 = mu + lambda z``.
* ``"regression"``: the baseline, the same U-Net on ``[mu, mu]`` at ``t = 0`` regressed
  directly onto ``x_0`` (``config.regression.loss``: mean squared or absolute error), one
  network evaluation per image.

Evaluation (``model_metrics``): a fixed random set of held-out test images, each degraded in all
three ways with a fixed key (the same images for both objectives); PSNR and SSIM of the
degraded input and of the restoration (clipped to ``[0, 1]``) against the clean image, per
degradation, and their means (``psnr_mean`` is the headline). ``eval_fn`` logs the training
loss on the test split. ``write_artifacts`` draws clean / degraded / restored rows.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.continuous_time import restoration
from likelihood_jax.models.unet import UNet
from likelihood_jax.train import Experiment

OBJECTIVES = ("irsde", "regression")
IRSDE_LOSSES = ("ml", "noise")


@jax.jit
def _scores(restored, clean):
    """Mean PSNR and SSIM of a batch of images against the clean ones."""
    psnr = jax.vmap(restoration.psnr)(restored, clean)
    ssim = jax.vmap(restoration.ssim)(restored, clean)
    return jnp.mean(psnr), jnp.mean(ssim)


class IRSDE(Experiment):
    """IR-SDE or its direct-regression baseline (see the module docstring)."""

    headline_metric = "psnr_mean"

    def __init__(self, config, dataset=None):
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown config.objective {config.objective!r}; choose one of "
                             f"{OBJECTIVES}")
        if config.irsde.loss not in IRSDE_LOSSES:
            raise ValueError(f"unknown config.irsde.loss {config.irsde.loss!r}; choose one of "
                             f"{IRSDE_LOSSES}")
        if config.irsde.predict not in ("noise", "x0"):
            raise ValueError(f"unknown config.irsde.predict {config.irsde.predict!r}; choose "
                             f"'noise' or 'x0'")
        for kind in config.degrade.kinds:
            if kind not in restoration.DEGRADATIONS:
                raise ValueError(f"unknown degradation {kind!r} in config.degrade.kinds; "
                                 f"choose from {restoration.DEGRADATIONS}")
        super().__init__(config, dataset)
        self.objective = config.objective
        self.kinds = tuple(config.degrade.kinds)
        self.num_steps = int(config.sde.num_steps)
        self._last_restored = None

    def check_data(self, info):
        """IR-SDE restores images: the data must be an image dataset."""
        if info.kind != "image":
            raise ValueError(f"IR-SDE restores images; dataset {self.config.dataset.name!r} is "
                             f"{info.kind!r}")
        super().check_data(info)

    def make_model(self, config, info):
        """The U-Net (its output has the image's channels)."""
        m = config.model
        return UNet(base_channels=m.base_channels, channel_mults=tuple(m.channel_mults),
                    num_res_blocks=m.num_res_blocks, out_channels=info.event_shape[-1])

    # -- derived from the config and the data (computed on first use) -------------------------

    @functools.cached_property
    def sde(self) -> restoration.MeanRevertingSDE:
        """The mean-reverting SDE of ``config.sde``."""
        s = self.config.sde
        return restoration.MeanRevertingSDE(lam=s.lam, schedule=s.schedule,
                                            terminal_eps=s.terminal_eps)

    @property
    def levels(self) -> int:
        """Pixel levels of the images."""
        return self.dataset.info.num_levels

    @functools.cached_property
    def eval_set(self) -> tuple[np.ndarray, jax.Array, dict[str, jax.Array]]:
        """``(index, clean, {kind: degraded})``: the fixed evaluation images.

        ``eval.num_images`` test images drawn with ``eval.seed`` (the test split is sorted
        by class), each degraded in every way with a fixed key.
        """
        num_test = len(self.dataset.test["x"])
        n = min(int(self.config.eval.num_images), num_test)
        rng = np.random.default_rng(int(self.config.eval.seed))
        index = np.sort(rng.permutation(num_test)[:n])
        clean = self.to_unit(self.dataset.test["x"][index])
        key = jax.random.key(int(self.config.eval.seed))
        degraded = {}
        for j, kind in enumerate(self.kinds):
            keys = jax.random.split(jax.random.fold_in(key, j), n)
            degraded[kind] = jax.vmap(lambda k, x, kind=kind: self._degrade(k, x, kind))(
                keys, clean)
        return index, clean, degraded

    @property
    def eval_index(self) -> np.ndarray:
        """Test-split indices of the evaluation images."""
        return self.eval_set[0]

    @property
    def eval_clean(self) -> jax.Array:
        """The clean evaluation images in ``[0, 1]``."""
        return self.eval_set[1]

    @property
    def eval_degraded(self) -> dict[str, jax.Array]:
        """The evaluation images degraded in each way of ``config.degrade.kinds``."""
        return self.eval_set[2]

    @functools.cached_property
    def _restore(self):
        return jax.jit(self.restore)

    # -- data ----------------------------------------------------------------------------

    def to_unit(self, x):
        """Integer pixels to ``[0, 1]``."""
        return jnp.asarray(x, jnp.float32) / (self.levels - 1)

    def _degrade(self, key, x, kind):
        d = self.config.degrade
        return restoration.degrade(key, x, kind, noise_std=d.noise_std, blur_std=d.blur_std,
                                   mask_fraction=d.mask_fraction)

    def preprocess(self, batch, key):
        """Clean images in ``[0, 1]`` and a degraded copy ``mu``, the kind drawn per example."""
        x = self.to_unit(batch["x"])
        kind_key, key = jax.random.split(key)
        choice = jax.random.randint(kind_key, (len(x),), 0, len(self.kinds))
        keys = jax.random.split(key, len(x))

        def one(k, xi, c):
            options = jnp.stack([self._degrade(k, xi, kind) for kind in self.kinds])
            return options[c]

        return dict(batch, x=x, mu=jax.vmap(one)(keys, x, choice))

    # -- model ---------------------------------------------------------------------------

    def noise_fn(self, params):
        """``eps_phi(t, x_t, mu)`` on one example, from the U-Net ``F`` on ``[x_t, mu]``.

        ``irsde.predict = "noise"`` (the paper's): ``eps_phi = F``. ``"x0"``: ``F`` predicts
        the residual ``x0_hat - mu`` and ``eps_phi = (x_t - m_t(x0_hat)) / sqrt(v_t)``, the
        noise implied by the closed-form marginal (the same score model, reparameterized).
        """
        def eps(t, x_t, mu):
            out = self.model.apply(params, t, jnp.concatenate([x_t, mu], -1))
            if self.config.irsde.predict == "noise":
                return out
            x0_hat = mu + out
            return (x_t - self.sde.marginal_mean(x0_hat, mu, t)) / self.sde.marginal_std(t)
        return eps

    def regress(self, params, mu):
        """The baseline's ``x0_hat(mu)``: the U-Net on ``[mu, mu]`` at ``t = 0`` (a batch)."""
        return self.model.apply(params, jnp.zeros(mu.shape[:1]), jnp.concatenate([mu, mu], -1))

    def init_params(self, key, batch):
        """U-Net parameters for two input channels."""
        shape = tuple(self.dataset.info.event_shape)
        x = jnp.zeros((1,) + shape[:-1] + (2 * shape[-1],))
        return self.model.init(key, jnp.zeros((1,)), x)

    def loss_fn(self, params, batch, key, step):
        """Per-example loss: IR-SDE's ML (or noise) loss, or the regression error."""
        del step
        x, mu = batch["x"], batch["mu"]
        if self.objective == "regression":
            err = self.regress(params, mu) - x
            per_pixel = err * err if self.config.regression.loss == "l2" else jnp.abs(err)
            return jnp.mean(per_pixel, axis=(1, 2, 3)), {}
        keys = jax.random.split(key, len(x))
        noise_fn = self.noise_fn(params)
        if self.config.irsde.loss == "ml":
            loss = jax.vmap(lambda xi, mi, ki: restoration.ml_loss(
                noise_fn, self.sde, xi, mi, ki, self.num_steps, self.config.irsde.norm))(
                    x, mu, keys)
        else:
            loss = jax.vmap(lambda xi, mi, ki: restoration.noise_matching_loss(
                noise_fn, self.sde, xi, mi, ki, self.num_steps))(x, mu, keys)
        return loss, {}

    # -- restoration and metrics -----------------------------------------------------------

    def restore(self, params, mu, key):
        """Restored images ``(n, H, W, C)`` in ``[0, 1]`` for degraded images ``mu``."""
        if self.objective == "regression":
            out = self.regress(params, mu)
        else:
            keys = jax.random.split(key, len(mu))
            out = jax.vmap(lambda m, k: restoration.reverse_sample(
                self.noise_fn(params), self.sde, m, k, self.num_steps))(mu, keys)
        return jnp.clip(out, 0.0, 1.0)

    def model_metrics(self, params, key):
        """PSNR/SSIM of the degraded input and the restoration, per degradation and mean."""
        out, restored_all = {}, {}
        for j, kind in enumerate(self.kinds):
            degraded = self.eval_degraded[kind]
            restored = self._restore(params, degraded, jax.random.fold_in(key, j))
            restored_all[kind] = restored
            for name, images in (("input", jnp.clip(degraded, 0.0, 1.0)), ("model", restored)):
                psnr, ssim = _scores(images, self.eval_clean)
                suffix = "_input" if name == "input" else ""
                out[f"psnr_{kind}{suffix}"] = float(psnr)
                out[f"ssim_{kind}{suffix}"] = float(ssim)
        for metric in ("psnr", "ssim"):
            out[f"{metric}_mean"] = float(np.mean([out[f"{metric}_{k}"] for k in self.kinds]))
            out[f"{metric}_mean_input"] = float(np.mean(
                [out[f"{metric}_{k}_input"] for k in self.kinds]))
        self._last_restored = restored_all
        return out

    def write_artifacts(self, params, workdir):
        """``restorations.png``: rows clean, then degraded / restored for each degradation."""
        restored = self._last_restored
        if restored is None:
            self.model_metrics(params, jax.random.key(0))
            restored = self._last_restored
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        k = min(8, len(self.eval_clean))
        pick = np.linspace(0, len(self.eval_clean) - 1, k).astype(int)  # spread over classes
        rows = [("clean", self.eval_clean[pick])]
        for kind in self.kinds:
            rows += [(f"{kind}", jnp.clip(self.eval_degraded[kind][pick], 0, 1)),
                     (f"{kind}: {self.objective}", restored[kind][pick])]
        # One mosaic in one axes (a grid of subplots costs seconds to draw).
        h, w = self.eval_clean.shape[1:3]
        mosaic = np.ones((len(rows) * (h + 1), k * (w + 1)), np.float32)
        for r, (_, images) in enumerate(rows):
            for c in range(k):
                mosaic[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = \
                    np.asarray(images[c, ..., 0])
        fig, ax = plt.subplots(figsize=(1.0 * k + 1.5, 1.0 * len(rows)))
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([(h + 1) * r + h / 2 for r in range(len(rows))])
        ax.set_yticklabels([label for label, _ in rows], fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(workdir, "restorations.png"), dpi=80)
        plt.close(fig)


EXPERIMENT = IRSDE
