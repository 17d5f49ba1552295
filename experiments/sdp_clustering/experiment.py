"""iLA-SDP against EM from an adversarial start on a heterogeneous Gaussian mixture [P101].

Zhuang, Chen & Yang (ICML 2023), "Likelihood Adjusted Semidefinite Programs for Clustering
Heterogeneous Data", arXiv:2209.15097. The relaxation and its solver are in
:mod:`likelihood_jax.mixtures.sdp_clustering`; the data (``heterogeneous_gmm``: two needles
and a blob) in :mod:`likelihood_jax.data.synthetic.heterogeneous_gmm`.

A :class:`~likelihood_jax.train.procedure.Procedure`. For each of ``study.num_seeds`` draws
of the training split (dataset seed ``seed + s``) it clusters the points with

* ``kmeans_sdp``: Peng & Wei's K-means SDP, rounded;
* ``ila_sdp``: iLA-SDP started from the rounded K-means SDP;
* ``em_adversarial``: EM (``mixtures.gmm_em_step``) from an adversarial start: two initial
  means inside cluster 0, the third between clusters 1 and 2, identity covariances;
* ``em_sklearn``: scikit-learn's ``GaussianMixture`` (k-means start, 5 restarts), the
  strongest obvious baseline;

and reports the mis-clustering error (best label permutation) and, for iLA-SDP, the
fraction of the mass of ``Z`` outside the true diagonal blocks (0 for an exactly
block-diagonal solution). Writes ``clustering.json``; headline ``ila_sdp_error``.
"""

from __future__ import annotations

import itertools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from likelihood_jax import data as data_lib
from likelihood_jax import metrics
from likelihood_jax.mixtures import gmm, sdp_clustering
from likelihood_jax.train.procedure import Procedure

METHODS = ("kmeans_sdp", "ila_sdp", "em_adversarial", "em_sklearn")


def misclustering_error(labels: np.ndarray, truth: np.ndarray, num_clusters: int) -> float:
    """The fraction of points mislabeled under the best permutation of the cluster names."""
    return min(float(np.mean(np.asarray(perm)[labels] != truth))
               for perm in itertools.permutations(range(num_clusters)))


def off_block_mass(z: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of ``sum_k Z_k``'s mass on pairs ``(i, j)`` from different true clusters."""
    total = np.asarray(z).sum(0)
    return float(total[truth[:, None] != truth[None, :]].sum() / total.sum())


def em_labels(x: np.ndarray, means: np.ndarray, num_steps: int) -> np.ndarray:
    """Labels by the largest responsibility after ``num_steps`` EM steps from ``means``."""
    k, d = means.shape
    params = (jnp.full(k, 1.0 / k), jnp.asarray(means, jnp.float32), jnp.stack([jnp.eye(d)] * k))
    step = jax.jit(lambda p: gmm.gmm_em_step(x, *p, reg_covar=1e-6))
    for _ in range(num_steps):
        params = step(params)
    w, mu, cov = params
    log_joint = jax.vmap(lambda m, c: jax.scipy.stats.multivariate_normal.logpdf(x, m, c))(mu, cov)
    return np.asarray(jnp.argmax(log_joint.T + jnp.log(w), axis=1))


class SDPClustering(Procedure):
    """The clustering study of the module docstring."""

    headline_metric = "ila_sdp_error"

    def run(self, workdir: str) -> dict[str, float]:
        """Clusters every seed's draw with every method; writes clustering.json."""
        study, k = self.config.study, 3
        solver = {"rho": study.rho, "num_steps": study.admm_steps}
        errors = {m: [] for m in METHODS}
        off_block = []
        for s in range(study.num_seeds):
            options = {key: v for key, v in self.config.dataset.items() if key != "name"}
            options["seed"] = self.config.seed + s
            ds = data_lib.load_dataset(self.config.dataset.name, **options)
            x, truth = jnp.asarray(ds.train["x"]), np.asarray(ds.train["label"])
            z0 = sdp_clustering.kmeans_sdp(x, k, **solver)
            # Round the K-means SDP: the clusters of its rows by K-means on Z's rows.
            init = KMeans(k, n_init=5, random_state=s).fit_predict(np.asarray(z0))
            labels, z = sdp_clustering.ila_sdp(x, jnp.asarray(init), k,
                                               num_iterations=study.ila_iterations, **solver)
            center0 = np.asarray(x)[truth == 0].mean(0)
            adversarial = np.stack([center0 - [0.5, 0.0], center0 + [0.5, 0.0],
                                    np.asarray(x)[truth > 0].mean(0)])
            found = {
                "kmeans_sdp": init, "ila_sdp": np.asarray(labels),
                "em_adversarial": em_labels(x, adversarial, study.em_steps),
                "em_sklearn": GaussianMixture(k, n_init=5, random_state=s).fit_predict(
                    np.asarray(x, np.float64)),
            }
            for m in METHODS:
                errors[m].append(misclustering_error(found[m], truth, k))
            off_block.append(off_block_mass(np.asarray(z), truth))
        record = {"errors": errors, "ila_off_block_mass": off_block}
        with open(os.path.join(workdir, "clustering.json"), "w") as f:
            json.dump(record, f, indent=2)
        out = {f"{m}_error": float(np.mean(v)) for m, v in errors.items()}
        out["ila_off_block_mass"] = float(np.mean(off_block))
        if study.num_seeds >= 2:
            for m in METHODS:
                print(f"{m}: {metrics.format_interval(errors[m])}", flush=True)
            print(f"ila off-block mass: {metrics.format_interval(off_block, 4)}", flush=True)
        return out


EXPERIMENT = SDPClustering
