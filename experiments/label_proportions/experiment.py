r"""Learning from label proportions by belief propagation [P231] on ``digits`` bags.

Havaldar, Sharma, Sareen, Shanmugam & Raghuveer (ICLR 2024), "Learning from Label
Proportions: Bootstrapping Supervised Learners via Belief Propagation", arXiv:2310.08056.
The BP machinery is :mod:`likelihood_jax.structured.belief_propagation`.

Data: ``digits_label_proportions`` (binary task digit >= 5; training bags of 8-32
instances with known label counts; the true instance labels only for evaluation).
Per seed (which also draws the bags), for ``llp.rounds`` rounds:

1. *Pseudo-labelling*: a kNN graph on the current covariates (each instance to its
   ``llp.neighbors`` nearest neighbours, Euclidean on standardized features) gives pairwise
   factors ``log psi(y_i, y_j) = coupling * 1[y_i = y_j]``; each bag gives a counting factor
   with the hard constraint ``sum_{i in bag} y_i = count``; damped BP
   (``belief_propagation_marginals``) gives marginals ``p_i``: the soft pseudo-labels.
2. *Embedding refinement*: an MLP (one hidden layer, ``model.hidden`` units) is fitted to
   the pseudo-labels (cross-entropy) plus ``llp.bag_weight`` times the bag proportion loss;
   its hidden layer's activations are the covariates of the next round.

The final round's MLP is the classifier. Baselines with the same MLP and steps:
*bag majority* (every instance gets its bag's majority label), *DLLP* (the proportion loss
alone: cross-entropy between the bag's mean prediction and its label proportion), and the
*supervised* ceiling (true instance labels). Headline: ``bp_accuracy`` (test accuracy);
``results.json`` holds every seed.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.neighbors import NearestNeighbors

from likelihood_jax import data as data_lib
from likelihood_jax.metrics import format_interval, mean_confidence_interval
from likelihood_jax.models.mlp import MLP
from likelihood_jax.structured import belief_propagation as bp
from likelihood_jax.train.procedure import Procedure

METHODS = ("bp", "bag_majority", "dllp", "supervised")


def knn_edges(features: np.ndarray, neighbors: int) -> np.ndarray:
    """Directed kNN edges ``(N * neighbors, 2)``: each instance to its nearest others."""
    index = NearestNeighbors(n_neighbors=neighbors + 1).fit(features)
    _, nearest = index.kneighbors(features)
    return np.stack([np.repeat(np.arange(len(features)), neighbors),
                     nearest[:, 1:].ravel()], axis=1).astype(np.int32)


def standardize(features: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1."""
    return (features - features.mean(0)) / (features.std(0) + 1e-6)


def make_fit(config, num_bags: int):
    """The jitted ``fit(key, x, targets, bag, bag_prop, w_inst, w_bag) -> params``.

    Full-batch Adam on ``w_inst * BCE(sigmoid f(x_i), target_i) + w_bag * BCE(mean_{i in b}
    sigmoid f(x_i), prop_b)``; one compilation serves every method.
    """
    model = MLP(hidden_dims=(config.model.hidden,), out_dim=1)
    optimizer = optax.adam(config.optim.lr)

    def loss(params, x, targets, bag, bag_prop, w_inst, w_bag):
        logits = model.apply(params, x)[:, 0]
        instance = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets))
        sums = jax.ops.segment_sum(jax.nn.sigmoid(logits), bag, num_bags)
        sizes = jax.ops.segment_sum(jnp.ones_like(logits), bag, num_bags)
        mean = jnp.clip(sums / jnp.maximum(sizes, 1.0), 1e-6, 1 - 1e-6)
        bag_ce = -(bag_prop * jnp.log(mean) + (1 - bag_prop) * jnp.log1p(-mean))
        bag_loss = jnp.sum(bag_ce * (sizes > 0)) / jnp.maximum(jnp.sum(sizes > 0), 1)
        return w_inst * instance + w_bag * bag_loss

    @jax.jit
    def fit(key, x, targets, bag, bag_prop, w_inst, w_bag):
        params = model.init(key, x[:1])
        grad = jax.grad(loss)

        def step(carry, _):
            params, opt_state = carry
            g = grad(params, x, targets, bag, bag_prop, w_inst, w_bag)
            updates, opt_state = optimizer.update(g, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None,
                                      length=config.optim.steps)
        return params

    @jax.jit
    def predict(params, x):
        logits, state = model.apply(params, x, capture_intermediates=True)
        hidden = state["intermediates"]["Dense_0"]["__call__"][0]
        return logits[:, 0], model.activation(hidden)

    return fit, predict


def run_seed(config, seed: int) -> dict:
    """Every method on the bags of one seed: test accuracies and pseudo-label accuracies."""
    llp = config.llp
    dataset = data_lib.load_dataset(config.dataset.name, seed=seed,
                                    min_bag_size=config.dataset.min_bag_size,
                                    max_bag_size=config.dataset.max_bag_size)
    train, test = dataset.train, dataset.test
    num = len(train["x"])
    num_bags = num // config.dataset.min_bag_size + 1  # fixed shapes: one compilation
    bags, bag_mask = bp.bags_from_index(train["bag"], num_bags, config.dataset.max_bag_size)
    bag_counts = np.zeros(num_bags, np.int64)
    bag_counts[train["bag"]] = train["bag_count"]
    phi = bp.label_count_log_potentials(bag_counts, bag_mask.sum(1),
                                        config.dataset.max_bag_size)
    bag_prop = jnp.asarray(np.where(bag_mask.sum(1) > 0,
                                    bag_counts / np.maximum(bag_mask.sum(1), 1), 0.0))
    fit, predict = make_fit(config, num_bags)
    x, bag = jnp.asarray(train["x"]), jnp.asarray(train["bag"])
    pairwise = jnp.broadcast_to(jnp.array([[llp.coupling, 0.0], [0.0, llp.coupling]]),
                                (num * llp.neighbors, 2, 2))
    marginals_of = jax.jit(lambda edges: bp.belief_propagation_marginals(
        jnp.zeros((num, 2)), edges, pairwise, bags, bag_mask, phi, num_iters=llp.bp_iters,
        damping=llp.damping))

    def accuracy(params):
        return float(np.mean((np.asarray(predict(params, test["x"])[0]) > 0) == test["label"]))

    key = jax.random.key(seed)
    features, out = standardize(train["x"]), {"pseudo_label_accuracy": []}
    for _ in range(llp.rounds):
        result = marginals_of(jnp.asarray(knn_edges(features, llp.neighbors)))
        pseudo = result.marginals
        out["pseudo_label_accuracy"].append(
            float(np.mean((np.asarray(pseudo) > 0.5) == train["label"])))
        params = fit(key, x, pseudo, bag, bag_prop, 1.0, llp.bag_weight)
        features = standardize(np.asarray(predict(params, x)[1]))
    out["bp"] = accuracy(params)
    out["bp_residual"] = float(result.residuals[-1])
    majority = (train["bag_count"] / train["bag_size"] >= 0.5).astype(np.float32)
    out["bag_majority"] = accuracy(fit(key, x, majority, bag, bag_prop, 1.0, 0.0))
    out["dllp"] = accuracy(fit(key, x, jnp.zeros(num), bag, bag_prop, 0.0, 1.0))
    out["supervised"] = accuracy(fit(key, x, train["label"].astype(np.float32), bag,
                                     bag_prop, 1.0, 0.0))
    return out


class LabelProportions(Procedure):
    """BP pseudo-labels + MLP against bag majority, DLLP and the supervised ceiling."""

    headline_metric = "bp_accuracy"

    def make_dataset(self, config):
        """The bags of ``config.seed`` (each seed of :meth:`run` loads its own)."""
        return data_lib.load_dataset(config.dataset.name, seed=config.seed)

    def run(self, workdir: str) -> dict[str, float]:
        """Every method on ``llp.num_seeds`` seeds; ``results.json`` goes into ``workdir``."""
        seeds = [self.config.seed + s for s in range(self.config.llp.num_seeds)]
        per_seed = {s: run_seed(self.config, s) for s in seeds}
        metrics = {}
        for method in METHODS:
            values = [per_seed[s][method] for s in seeds]
            metrics[f"{method}_accuracy"] = float(np.mean(values))
            if len(values) >= 2:
                metrics[f"{method}_accuracy_ci"] = mean_confidence_interval(values)[1]
                print(f"{method:13s} test accuracy {format_interval(values)}", flush=True)
        first = [per_seed[s]["pseudo_label_accuracy"][0] for s in seeds]
        last = [per_seed[s]["pseudo_label_accuracy"][-1] for s in seeds]
        metrics["pseudo_label_accuracy_first"] = float(np.mean(first))
        metrics["pseudo_label_accuracy_last"] = float(np.mean(last))
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"per_seed": {str(s): v for s, v in per_seed.items()},
                       "metrics": metrics}, f, indent=2)
        return metrics


EXPERIMENT = LabelProportions
