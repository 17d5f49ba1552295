"""GMM-EM baseline of GAN-EM [P054]: full-covariance Gaussian mixture clustering, 3 seeds.

``python -m experiments.gan_em.baseline --config experiments/gan_em/configs/rings.py``
fits ``K`` components by ``likelihood_jax.mixtures.gmm_em_step`` (``--iterations`` steps,
means seeded by k-means++ on the training points, covariances at the data covariance) on the
training split in the GAN-EM model space, assigns each test point to its most responsible
component and prints clustering accuracy (Hungarian matching) and NMI per seed and as a
mean with its 95% interval (``metrics.mean_confidence_interval``).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from experiments.gan_em.experiment import to_model_space
from likelihood_jax import distributions, metrics, mixtures
from likelihood_jax import main as cli
from likelihood_jax.energy.gan_em import clustering_accuracy
from likelihood_jax.train.experiment import load_config_dataset


def fit_gmm(x, num_components: int, seed: int, iterations: int, reg_covar: float):
    """``(weights, means, covariances)`` after ``iterations`` EM steps from a random start."""
    rng = np.random.default_rng(seed)
    points = np.asarray(x, np.float64)
    means = points[rng.integers(len(points))][None]
    while len(means) < num_components:  # k-means++ seeding (Arthur & Vassilvitskii 2007)
        d2 = np.min(((points[:, None] - means[None]) ** 2).sum(-1), axis=1)
        means = np.concatenate([means, points[rng.choice(len(points), p=d2 / d2.sum())][None]])
    cov = np.cov(points, rowvar=False) + reg_covar * np.eye(x.shape[1])
    params = (jnp.full(num_components, 1.0 / num_components), jnp.asarray(means, x.dtype),
              jnp.broadcast_to(jnp.asarray(cov, x.dtype), (num_components,) + cov.shape))
    step = jax.jit(lambda p: mixtures.gmm_em_step(x, *p, reg_covar=reg_covar))
    for _ in range(iterations):
        params = step(params)
    return params


def most_responsible(x, weights, means, covariances):
    """``argmax_k log w_k + log N(x_n; mu_k, Sigma_k)`` for each row of ``x``."""
    log_n = jax.vmap(jax.vmap(distributions.multivariate_normal_log_prob, (None, 0, 0)),
                     (0, None, None))(x, means, covariances)
    return np.asarray(jnp.argmax(log_n + jnp.log(weights), axis=1))


def main(argv=None):
    """Fits GMM-EM per seed and prints accuracy and NMI."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a gan_em config (FILE or FILE:mode)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--reg_covar", type=float, default=1e-3)
    args = parser.parse_args(argv)
    config = cli.load_config(args.config)
    dataset = load_config_dataset(config)
    levels = dataset.info.num_levels
    train = np.asarray(to_model_space(dataset.train["x"], levels), np.float64)
    test = to_model_space(dataset.test["x"], levels)
    k = int(config.ganem.num_clusters or dataset.info.num_classes)
    rows = {"cluster_accuracy": [], "nmi": []}
    for seed in range(args.seeds):
        params = fit_gmm(jnp.asarray(train, jnp.float32), k, seed, args.iterations,
                         args.reg_covar)
        clusters = most_responsible(test, *params)
        rows["cluster_accuracy"].append(clustering_accuracy(clusters, dataset.test["label"]))
        rows["nmi"].append(normalized_mutual_info_score(dataset.test["label"], clusters))
        print(f"seed {seed}: accuracy {rows['cluster_accuracy'][-1]:.4f} "
              f"nmi {rows['nmi'][-1]:.4f}")
    for name, values in rows.items():
        print(f"GMM-EM {name}: {metrics.format_interval(values)}")


if __name__ == "__main__":
    main()
