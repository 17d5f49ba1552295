"""Federated EM with personalized mixing weights [P065] on heterogeneous synthetic clients.

Wu et al. (2023), "Personalized Federated Learning under Mixture of Distributions" (FedGMM).
The model and the EM are :mod:`likelihood_jax.mixtures.federated`: shared components
``N(mu_k, Sigma_k)`` with linear-Gaussian predictors ``p_k(y | x)``, per-client mixing weights
``pi_c``; clients send sufficient statistics, the server does the closed-form M-step.

A :class:`~likelihood_jax.train.procedure.Procedure` (closed-form EM rounds, no gradient loop).
Per seed, on the ``federated_gmm`` clients drawn from that seed, all methods start from the
same parameters (``K`` random training points as means, unit covariances, zero regressions,
uniform weights) and run ``em.rounds`` rounds:

* **federated**: :func:`~likelihood_jax.mixtures.federated.federated_em_step`;
* **centralized**: :func:`~likelihood_jax.mixtures.federated.pooled_em_step` on the pooled
  rows with their client ids (the same model): its parameters must equal the federated ones;
* **global**: the pooled rows as one client (one shared ``pi``, no personalization);
* **local**: each client fits the same model on its own rows alone.

Test metrics per client (fresh rows): ``-mean log p(x, y | c)`` (``nll``) and the squared error
of the prediction ``E[y | x, c]`` (``mse``), averaged over the small clients (the half
with the fewest train rows) and the large ones; also under the true parameters (``oracle``).
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic import federated_mixture
from likelihood_jax.metrics import format_interval, mean_confidence_interval
from likelihood_jax.mixtures import federated
from likelihood_jax.train.procedure import Procedure

METHODS = ("federated", "global", "local", "oracle")
_STATIC = ("reg_covar", "ridge", "validate_args")
federated_step = jax.jit(federated.federated_em_step, static_argnames=_STATIC)
pooled_step = jax.jit(federated.pooled_em_step, static_argnames=_STATIC)
test_log_likelihood = jax.jit(federated.client_log_likelihood)
predict = jax.jit(federated.personalized_predict)


def client_arrays(rows: dict, num_clients: int):
    """``(xs (C, N, D), ys (C, N, 1), masks (C, N))``: each client's rows, padded."""
    counts = np.bincount(rows["client"], minlength=num_clients)
    xs = np.zeros((num_clients, counts.max(), rows["x"].shape[1]), np.float32)
    ys = np.zeros((num_clients, counts.max(), 1), np.float32)
    masks = np.zeros((num_clients, counts.max()), bool)
    for c in range(num_clients):
        idx = np.flatnonzero(rows["client"] == c)
        xs[c, :len(idx)], ys[c, :len(idx)], masks[c, :len(idx)] = (rows["x"][idx],
                                                                   rows["y"][idx], True)
    return xs, ys, masks


class FederatedEM(Procedure):
    """Federated vs centralized, global and local EM on ``federated_gmm`` over seeds."""

    headline_metric = "federated_small_nll"

    def start(self, x: np.ndarray, num_clients: int, seed: int):
        """Weights and parameters every method starts from (means: random rows of ``x``)."""
        k, dim = int(self.config.em.num_components), x.shape[1]
        means = x[np.random.default_rng(seed).choice(len(x), k, replace=False)]
        eye = np.eye(dim, dtype=np.float32)
        params = federated.MixtureParams(jnp.asarray(means), jnp.asarray(np.stack([eye] * k)),
                                         jnp.zeros((k, dim + 1, 1)), jnp.ones((k, 1, 1)))
        return jnp.full((num_clients, k), 1.0 / k), params

    def fit(self, step, x, ids, y, weights, params):
        """``em.rounds`` rounds of ``step(x, ids, weights, params, y)``; the log-likelihoods."""
        history = []
        for _ in range(int(self.config.em.rounds)):
            weights, params, log_lik = step(x, ids, weights, params, y,
                                            reg_covar=float(self.config.em.reg_covar),
                                            ridge=float(self.config.em.ridge))
            history.append(float(log_lik))
        return weights, params, history

    def run_seed(self, seed: int) -> dict[str, float]:
        """Every method on the clients of one seed."""
        cfg = self.config
        options = {k: v for k, v in cfg.dataset.items() if k not in ("name", "seed")}
        dataset = data_lib.load_dataset(cfg.dataset.name, seed=seed, **options)
        truth = federated_mixture.federated_mixture_parameters(
            **{k: v for k, v in options.items() if k != "test_size"}, seed=seed)
        num_clients = len(truth["sizes"])
        train, test = dataset.train, dataset.test
        xs, ys, masks = client_arrays(train, num_clients)
        weights0, params0 = self.start(train["x"], num_clients, seed)

        fits = {}
        w, p, history = self.fit(federated_step, xs, masks, ys, weights0, params0)
        fits["federated"] = [(w[c], p) for c in range(num_clients)]
        _, p_pool, _ = self.fit(pooled_step, train["x"], train["client"], train["y"],
                                weights0, params0)
        gap = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(p, p_pool))
        one = np.zeros_like(train["client"])
        w_global, p_global, _ = self.fit(pooled_step, train["x"], one, train["y"],
                                         weights0, params0)  # only row 0 is used
        fits["global"] = [(w_global[0], p_global)] * num_clients
        fits["local"] = []
        for c in range(num_clients):
            w_c, p_c, _ = self.fit(federated_step, xs[c:c + 1], masks[c:c + 1], ys[c:c + 1],
                                   weights0[:1], self.start(xs[c][masks[c]], 1, seed)[1])
            fits["local"].append((w_c[0], p_c))
        true = federated.MixtureParams(*(jnp.asarray(truth[k], jnp.float32) for k in (
            "means", "covariances", "coefficients", "noise")))
        fits["oracle"] = [(jnp.asarray(truth["client_weights"][c], jnp.float32), true)
                          for c in range(num_clients)]

        small = np.zeros(num_clients, bool)  # the smaller half of the clients by train size
        small[np.argsort(truth["sizes"], kind="stable")[:num_clients // 2]] = True
        out = {"centralized_max_abs_difference": gap,
               "log_likelihood_decreases": float(np.sum(np.diff(history) < -1e-4
                                                        * abs(history[-1])))}
        for method in METHODS:
            nll, mse = np.zeros(num_clients), np.zeros(num_clients)
            for c, (w_c, p_c) in enumerate(fits[method]):
                rows = test["client"] == c
                x, y = jnp.asarray(test["x"][rows]), jnp.asarray(test["y"][rows])
                nll[c] = -float(jnp.mean(test_log_likelihood(x, y, w_c, p_c)))
                mse[c] = float(jnp.mean((predict(x, w_c, p_c) - y) ** 2))
            for group, mask in (("small", small), ("large", ~small)):
                out[f"{method}_{group}_nll"] = float(np.mean(nll[mask]))
                out[f"{method}_{group}_mse"] = float(np.mean(mse[mask]))
        return out

    def run(self, workdir: str) -> dict[str, float]:
        """Every seed; per-seed numbers in ``results.json``; means and intervals returned."""
        per_seed = [self.run_seed(int(s)) for s in self.config.seeds]
        metrics, table = {}, {}
        for name in per_seed[0]:
            values = [r[name] for r in per_seed]
            metrics[name], metrics[name + "_interval"] = mean_confidence_interval(values)
            table[name] = format_interval(values, digits=4)
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"per_seed": per_seed, "summary": table}, f, indent=2)
        print(json.dumps(table, indent=2), flush=True)
        return metrics


EXPERIMENT = FederatedEM
