"""RS-IMLE [P079]: IMLE with a rejection-sampled training prior, few-shot digits and 2D toys.

Vashist, Peng & Li (ECCV 2024), "Rejection Sampling IMLE: Designing Priors for Better Few-Shot
Image Synthesis", arXiv:2409.17439.

Data: ``config.data.num_shots`` training points, a fixed subset of the train split of
``config.dataset.name`` (the same for every run seed: a permutation seeded with
``config.data.subset_seed``): ``digits`` images flattened to ``[0, 1]^64`` (cell centres), or a
2D toy. The batch is the whole few-shot set (``batch_size = num_shots``).

A generator ``G(z)`` (an MLP, sigmoid outputs for images) is trained by batch IMLE: every step
draws ``m = config.imle.num_samples`` fresh latents ``z ~ N(0, I)``, each data point selects its
nearest sample (Euclidean, under ``stop_gradient``) and the mean distance to it is the loss
(:func:`likelihood_jax.energy.imle.imle_loss`). ``config.imle.eps > 0`` is RS-IMLE: samples
whose output lies within ``eps`` of any data point are rejected before the selection.

Evaluation (``model_metrics``, the final generator):

* ``ks_statistic``: the two-sample Kolmogorov-Smirnov statistic (scipy) between the distances
  ``d(x_i, G(z*_i))`` of the samples selected as in training (``eval.selection_rounds`` fresh
  draws of ``m`` latents) and the distances ``min_i d(x_i, G(z))`` of test-time prior samples
  ``z ~ N(0, I)`` to their nearest training point (``eval.num_samples`` of them), the paper's
  train/test alignment; ``selected_distance`` and ``prior_distance`` are their means;
* images: ``fd``, the FID-like Fréchet distance (:class:`likelihood_jax.metrics.sample_quality.
  ImageFeatures`, a classifier fitted on the full digits train split) between
  ``eval.num_samples`` samples and the test split, and ``fd_real``, the same distance for as
  many real training images (the floor);
* per test example (``eval_fn``): ``recall_distance``, the distance to the nearest of the
  generated samples (how well the samples cover unseen data).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from likelihood_jax import data as data_lib
from likelihood_jax.energy import imle
from likelihood_jax.metrics import sample_quality
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment, load_config_dataset


def few_shot_subset(dataset: data_lib.Dataset, num_shots: int, seed: int) -> data_lib.Dataset:
    """``num_shots`` train rows (a permutation seeded with ``seed``) as floats ``[N, D]``.

    Images become their cells' centres in ``[0, 1]``, flattened; the test split is kept whole.
    """
    n = len(dataset.train["x"])
    if not 2 <= num_shots <= n:
        raise ValueError(f"data.num_shots must be in 2..{n}, got {num_shots}")
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:num_shots])

    def flat(x):
        if dataset.info.num_levels:
            return sample_quality.to_unit_interval(x, dataset.info.num_levels)
        return np.asarray(x, np.float32).reshape(len(x), -1)

    def split(arrays, index=None):
        out = {k: (v if index is None else v[index]) for k, v in arrays.items()}
        out["x"] = flat(out["x"])
        return out

    train, test = split(dataset.train, rows), split(dataset.test)
    info = data_lib.DatasetInfo("continuous", (train["x"].shape[1],),
                                num_classes=dataset.info.num_classes,
                                description=f"{num_shots} shots of {dataset.name}")
    return data_lib.Dataset(dataset.name, train, test, info)


class RSIMLE(Experiment):
    """Batch IMLE (``imle.eps = 0``) or RS-IMLE (``imle.eps > 0``) on a few-shot set."""

    def __init__(self, config, dataset=None):
        if float(config.imle.eps) < 0:
            raise ValueError(f"imle.eps must be >= 0, got {config.imle.eps}")
        if int(config.imle.num_samples) < 1:
            raise ValueError(f"imle.num_samples must be >= 1, got {config.imle.num_samples}")
        super().__init__(config, dataset=dataset)

    @property
    def headline_metric(self) -> str:
        """``fd`` for images, ``ks_statistic`` for 2D toys."""
        return "fd" if self.images else "ks_statistic"

    @property
    def images(self) -> bool:
        """Whether the data are images (sigmoid outputs, FD on classifier features)."""
        return self.config.dataset.name in ("digits", "mnist5k")

    @functools.cached_property
    def full_dataset(self) -> data_lib.Dataset:
        """The whole registered dataset (its classifier features and test split)."""
        return load_config_dataset(self.config)

    def make_dataset(self, config):
        """The few-shot subset (:func:`few_shot_subset`)."""
        return few_shot_subset(self.full_dataset, int(config.data.num_shots),
                               int(config.data.subset_seed))

    def make_model(self, config, info):
        """The generator MLP ``z -> x``."""
        return MLP(tuple(config.model.hidden_dims), int(info.event_shape[0]))

    def init_params(self, key, batch):
        """Generator parameters (the batch is not read)."""
        return self.model.init(key, jnp.zeros((1, self.config.model.latent_dim)))

    def generate(self, params, key, num):
        """``num`` samples ``G(z)``, ``z ~ N(0, I)``: ``[num, D]``."""
        z = jax.random.normal(key, (num, self.config.model.latent_dim))
        out = self.model.apply(params, z)
        return jax.nn.sigmoid(out) if self.images else out

    @property
    def eps(self):
        """The rejection radius, or None for plain IMLE (``imle.eps = 0``)."""
        eps = float(self.config.imle.eps)
        return eps if eps > 0 else None

    def loss_fn(self, params, batch, key, step):
        """(RS-)IMLE loss of each training point against ``imle.num_samples`` fresh samples."""
        samples = self.generate(params, key, int(self.config.imle.num_samples))
        loss, selection = imle.imle_loss(batch["x"], samples, metric="euclidean", eps=self.eps)
        return loss, {"selected_distance": selection.distance,
                      "valid": selection.valid.astype(jnp.float32)}

    def eval_fn(self, params, batch, key):
        """Per test point: the distance to the nearest of ``eval.num_samples`` samples."""
        samples = self.generate(params, key, int(self.config.eval.num_samples))
        d = imle.pairwise_distances(batch["x"], samples, "euclidean")
        return {"recall_distance": jnp.min(d, axis=1)}

    @functools.partial(jax.jit, static_argnums=0)
    def _distances(self, params, key):
        """Selected distances ``[R, N]`` (and validity) and prior distances ``[P]``."""
        x = jnp.asarray(self.dataset.train["x"])
        m, rounds = int(self.config.imle.num_samples), int(self.config.eval.selection_rounds)
        keys = jax.random.split(key, rounds + 1)

        def select(k):
            d = imle.pairwise_distances(x, self.generate(params, k, m), "euclidean")
            keep = None if self.eps is None else imle.rejection_mask(d, self.eps)
            return imle.masked_nearest(d, keep)

        selection = jax.vmap(select)(keys[:rounds])
        prior = self.generate(params, keys[-1], int(self.config.eval.num_samples))
        prior_d = jnp.min(imle.pairwise_distances(x, prior, "euclidean"), axis=0)
        return selection.distance, selection.valid, prior_d, prior

    def model_metrics(self, params, key):
        """KS statistic of selected vs prior distances, their means, and FD for images."""
        selected, valid, prior_d, prior = jax.device_get(self._distances(params, key))
        selected = selected[valid]
        out = {"ks_statistic": float(stats.ks_2samp(selected, prior_d).statistic),
               "selected_distance": float(selected.mean()),
               "prior_distance": float(prior_d.mean()),
               "valid_fraction": float(valid.mean())}
        if self.images:
            full = self.full_dataset
            features = sample_quality.ImageFeatures.of_split(full.train, full.info.num_levels)
            test = self.dataset.test["x"]
            real = sample_quality.to_unit_interval(full.train["x"][:len(prior)],
                                                   full.info.num_levels)
            out["fd"] = features.frechet_distance(np.asarray(prior), test)
            out["fd_real"] = features.frechet_distance(real, test)
        return out

    def sample_fn(self, params, key, num_samples):
        """Samples, as images ``[N, s, s, 1]`` for image data."""
        samples = self.generate(params, key, num_samples)
        if self.images:
            side = int(round(np.sqrt(samples.shape[1])))
            return jnp.reshape(samples, (num_samples, side, side, 1))
        return samples


EXPERIMENT = RSIMLE
