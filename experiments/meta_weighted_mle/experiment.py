"""Meta-weighted token MLE [P021] (FewGen): a generator for few-shot augmentation.

Meng, Michalski, Huang, Zhang, Abdelzaher & Han (2023), "Tuning Language Models
as Training Data Generators for Augmentation-Enhanced Few-Shot Learning" (ICML
2023, arXiv:2211.03044). FewGen tunes a pretrained LM on the few-shot samples
as a label-conditioned generator with token-weighted MLE, the token weights
meta-learned so that one step on the weighted loss makes the generator more
label-discriminative (:mod:`likelihood_jax.sequence.meta_weighting`); it then samples
synthetic labelled data and trains the few-shot classifier on both.

Here, on US census first names (``names``, subset ``first``: female 0 / male 1):

1. *pretraining* (steps ``< pretrain_steps``): a causal transformer LM learns
   names without labels from the training pool minus the few-shot set (the
   prompt token is a "no label" token), standing in for the pretrained PLM;
2. *tuning* (the remaining steps): on the ``k_shot`` labelled names per class
   (the whole few-shot set every step) with the prompt = the label token. As the
   paper tunes only prefix vectors of a frozen PLM, ``generator.tune="prompt"``
   (default) trains only one offset vector per label added to the pretrained
   "no label" prompt embedding (:meth:`baked`, with ``generator.prompt_scale``
   as its learning-rate multiplier); ``"all"`` tunes every weight (it memorizes
   the 32 names within a few dozen steps). Tuning is by
   plain MLE (``generator.objective="mle"``) or by meta-weighted MLE
   (``"meta"``): weights ``w_t = N softmax_t g_omega(d_t)`` of each token's
   discriminative loss ``d_t`` (the authors' weighting MLP), ``omega`` trained
   by the meta-gradient of the discriminative loss after one inner SGD step of
   size ``meta.inner_lr`` on the weighted loss. Both ``theta`` and ``omega``
   live in one parameter tree updated by the shared Adam optimizer: the loss is
   ``weighted_nll(theta; sg w) + M(omega) - sg(M(omega))`` with ``M`` the meta
   objective at ``sg(theta)``, so ``theta`` gets the weighted-MLE gradient and
   ``omega`` the meta-gradient (the authors step ``omega`` first and then
   ``theta`` with the new weights; here both move together; the weighting
   net's output layer is scaled by ``meta.weight_lr_scale``, which acts as its
   own larger learning rate, as the authors' separate optimizer does);
3. *augmentation* (:meth:`model_metrics`): ``num_generated`` names per class
   sampled at temperature 1; a character n-gram logistic regression (scikit-
   learn) is trained on the few-shot set alone and on few-shot + generated, and
   its balanced accuracy on the test split is reported, with the label fidelity
   of the generated names (the fraction an oracle classifier, trained on all
   labelled training names, assigns to the conditioning label).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import decoding
from likelihood_jax.sequence import meta_weighting as mw
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import apply_lm, transformer_options
from likelihood_jax.train.experiment import Experiment, load_config_dataset

OBJECTIVES = ("mle", "meta")
TUNE = ("prompt", "all")
END = 1  # the names dataset's <end> token; <pad> is 0, letters are 2..27


def few_shot_split(labels: np.ndarray, k_shot: int, seed: int) -> np.ndarray:
    """Indices of ``k_shot`` random examples of every class (sorted)."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < k_shot:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than k_shot={k_shot}")
        picks.append(rng.choice(members, k_shot, replace=False))
    return np.sort(np.concatenate(picks))


def decode_names(tokens: np.ndarray, vocab) -> list[str]:
    """Strings of name token rows, cut at the first ``<end>`` or ``<pad>``."""
    out = []
    for row in np.asarray(tokens):
        chars = []
        for t in row:
            if t <= END:
                break
            chars.append(vocab[t])
        out.append("".join(chars))
    return out


def name_classifier(names, labels, sample_weight=None, c=1.0):
    """Logistic regression on character 1-3-gram counts (word-boundary aware)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    classifier = make_pipeline(CountVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
                               LogisticRegression(C=c, max_iter=2000))
    classifier.fit(names, labels, logisticregression__sample_weight=sample_weight)
    return classifier


class MetaWeightedMLE(Experiment):
    """Label-conditioned name generator: unlabeled pretraining, then (meta-)weighted tuning."""

    headline_metric = "gen_nll"

    def __init__(self, config, dataset=None):
        g = config.generator
        if g.tune not in TUNE:
            raise ValueError(f"unknown generator.tune {g.tune!r}; choose one of {TUNE}")
        if g.objective not in OBJECTIVES:
            raise ValueError(f"unknown generator.objective {g.objective!r}; choose one of "
                             f"{OBJECTIVES}")
        if not 0 <= g.pretrain_steps < config.total_steps:
            raise ValueError(f"generator.pretrain_steps must be in [0, total_steps), got "
                             f"{g.pretrain_steps}")
        super().__init__(config, dataset=dataset)

    # -- data and model, built when first used ------------------------------------------------

    @functools.cached_property
    def labelled(self) -> data_lib.Dataset:
        """The labelled names (``config.dataset``: ``names`` with its ``subset``)."""
        return load_config_dataset(self.config)

    @functools.cached_property
    def _shots(self) -> np.ndarray:
        """Indices of the few-shot set in the labelled training split."""
        task = self.config.task
        return few_shot_split(np.asarray(self.labelled.train["label"]), task.k_shot,
                              task.few_shot_seed)

    @property
    def vocab(self) -> tuple[str, ...]:
        """The names' characters: ``<pad>``, ``<end>``, ``a..z``."""
        return self.labelled.info.vocab

    @functools.cached_property
    def num_classes(self) -> int:
        """Number of labels (female 0 / male 1)."""
        return int(np.asarray(self.labelled.train["label"]).max()) + 1

    @functools.cached_property
    def fewshot(self) -> dict[str, np.ndarray]:
        """The ``k_shot`` labelled names per class the generator is tuned on."""
        return {k: np.asarray(v[self._shots]) for k, v in self.labelled.train.items()}

    @functools.cached_property
    def all_train(self) -> dict[str, np.ndarray]:
        """Every labelled training name (the oracle classifier's data)."""
        return {k: np.asarray(v) for k, v in self.labelled.train.items()}

    @property
    def letters(self) -> int:
        """Output classes: ``<pad>``, ``<end>``, ``a..z``."""
        return len(self.vocab)

    @property
    def unlabeled_token(self) -> int:
        """The "no label" prompt id (label ``c`` is ``letters + c``)."""
        return self.letters + self.num_classes

    def make_dataset(self, config):
        """Pretraining pool (the training names minus the few-shot set, unlabelled); test names."""
        full = self.labelled
        pool = np.setdiff1d(np.arange(len(full.train["label"])), self._shots)
        train = {"x": np.asarray(full.train["x"][pool]),
                 "length": np.asarray(full.train["length"][pool])}
        test = {k: np.asarray(full.test[k]) for k in ("x", "length", "label")}
        return data_lib.Dataset("names_fewshot", train, test, full.info)

    def make_model(self, config, info):
        """The causal transformer over letters, label prompts and the "no label" prompt."""
        del info
        m = config.model
        return TransformerLM(vocab_size=self.letters + self.num_classes + 1,
                             output_size=self.letters, num_layers=m.num_layers,
                             width=m.width, num_heads=m.num_heads,
                             **transformer_options(m, max_len=32))

    # -- generator pieces ----------------------------------------------------------------------

    def _inputs(self, x, prompt):
        return jnp.concatenate([jnp.broadcast_to(prompt, x.shape[:1])[:, None], x[:, :-1]], 1)

    def _mask(self, length, width):
        return (jnp.arange(width)[None, :] <= length[:, None]).astype(jnp.float32)

    def baked(self, lm_params):
        """LM parameters whose label-token embeddings are ``E[no label] + s * E[label]``.

        A label prompt is the trained "no label" prompt plus a learned offset
        (the label token's own embedding row, which pretraining never touches),
        so tuning starts from the pretrained unconditional generator. The offset
        is stored divided by ``s = generator.prompt_scale``: under Adam, ``s``
        multiplies the offsets' learning rate.
        """
        table = lm_params["embed"]["embedding"]
        scale = float(self.config.generator.prompt_scale)
        rows = scale * table[self.letters:self.unlabeled_token] + table[self.unlabeled_token]
        table = jax.lax.dynamic_update_slice(table, rows, (self.letters, 0))
        return {**lm_params, "embed": {**lm_params["embed"], "embedding": table}}

    def tunable(self, lm_params):
        """The parameters tuned on the few-shot set: label offsets ``[L, W]`` or the whole LM."""
        if self.config.generator.tune == "prompt":
            return lm_params["embed"]["embedding"][self.letters:self.unlabeled_token]
        return lm_params

    def with_tuned(self, tuned, lm_params):
        """``lm_params`` with the tuned part replaced by ``tuned`` (inverse of :meth:`tunable`)."""
        if self.config.generator.tune == "prompt":
            table = jax.lax.dynamic_update_slice(lm_params["embed"]["embedding"], tuned,
                                                 (self.letters, 0))
            return {**lm_params, "embed": {**lm_params["embed"], "embedding": table}}
        return tuned

    def token_nll(self, lm_params, x, prompt, train=False, key=None):
        """Per-token NLL ``[B, T]`` of names ``x`` after the prompt token(s) ``[B]``/scalar.

        ``train=True`` (with a ``key``): dropout on (the unlabeled pretraining only; the
        few-shot tuning and its meta-gradient stay deterministic).
        """
        logits = apply_lm(self.model, self.baked(lm_params), self._inputs(x, prompt),
                          train=train, key=key)
        return seq_losses.token_cross_entropy(logits, x)

    def discrimination(self, lm_params, x, labels):
        """``d_t`` ``[B, T]``: the token-level label posterior's CE at the true label."""
        per_label = jnp.stack([-self.token_nll(lm_params, x, self.letters + c)
                               for c in range(self.num_classes)])
        return mw.label_discrimination(per_label, labels)

    def weighting(self, raw):
        """The weighting MLP's parameters, output layer scaled by ``meta.weight_lr_scale``.

        Under Adam this multiplies the output layer's effective learning rate by
        the scale (the authors give the weighting net its own learning rate).
        """
        scale = float(self.config.meta.weight_lr_scale)
        return {**raw, "w2": raw["w2"] * scale, "b2": raw["b2"] * scale}

    def init_params(self, key, batch):  # noqa: D102
        k1, k2 = jax.random.split(key)
        x = jnp.asarray(batch["x"])
        lm = self.model.init(k1, self._inputs(x, self.unlabeled_token))["params"]
        return {"lm": lm, "weight_net": mw.init_weight_net(k2, self.config.meta.hidden)}

    # -- objectives ----------------------------------------------------------------------------

    def _pretrain_loss(self, params, batch, key):
        x = batch["x"]
        mask = self._mask(batch["length"], x.shape[1])
        nll = seq_losses.masked_mean(
            self.token_nll(params["lm"], x, self.unlabeled_token, train=True, key=key), mask)
        zero = jnp.zeros_like(nll)
        return nll, {"nll": nll, "fewshot_nll": zero, "disc": zero, "meta_objective": zero,
                     "max_weight": zero}

    def bilevel(self, lm_params):
        """Few-shot losses as functions of the tuned parameters (the rest held at ``lm_params``).

        Returns ``(nll, discrimination, inner, outer, mask)``: per-token NLL and
        ``d_t`` ``[B, T]`` of the whole few-shot set, the weighted inner loss
        ``(tuned, omega) -> scalar`` and the outer discriminative loss
        ``tuned -> scalar`` (token means), and the token mask.
        """
        x = jnp.asarray(self.fewshot["x"])
        labels = jnp.asarray(self.fewshot["label"])
        mask = self._mask(jnp.asarray(self.fewshot["length"]), x.shape[1])
        count = jnp.sum(mask)

        def nll(tuned):
            lm = self.with_tuned(tuned, lm_params)
            return self.token_nll(lm, x, self.letters + labels) * mask

        def discrimination(tuned):
            return self.discrimination(self.with_tuned(tuned, lm_params), x, labels)

        def inner(tuned, omega):
            w = mw.token_weights(omega, discrimination(tuned), mask)
            return jnp.sum(w * nll(tuned)) / count

        def outer(tuned):
            return jnp.sum(discrimination(tuned) * mask) / count

        return nll, discrimination, inner, outer, mask

    def _tune_loss(self, params, batch_size):
        frozen = jax.lax.stop_gradient(params["lm"])
        nll, discrimination, inner, outer, mask = self.bilevel(frozen)
        count = jnp.sum(mask)
        tuned = self.tunable(params["lm"])  # the only path of the LM's gradient
        omega = self.weighting(params["weight_net"])
        if self.config.generator.objective == "meta":
            fixed = jax.lax.stop_gradient(tuned)
            meta = mw.meta_objective(omega, fixed, inner, outer, self.config.meta.inner_lr)
            weights = mw.token_weights(jax.lax.stop_gradient(omega), discrimination(fixed), mask)
            loss = jnp.sum(weights * nll(tuned)) / count + meta - jax.lax.stop_gradient(meta)
        else:
            meta = jnp.zeros(())
            weights = mask
            loss = jnp.sum(nll(tuned)) / count + 0.0 * jnp.sum(omega["b2"])
        plain = jax.lax.stop_gradient(jnp.sum(nll(tuned)) / count)
        disc = jax.lax.stop_gradient(outer(tuned))
        full = lambda v: jnp.full((batch_size,), v)  # noqa: E731
        return full(loss), {"nll": full(plain), "fewshot_nll": full(plain), "disc": full(disc),
                            "meta_objective": full(jax.lax.stop_gradient(meta)),
                            "max_weight": full(jnp.max(weights))}

    def loss_fn(self, params, batch, key, step):
        """Unlabeled LM loss before ``pretrain_steps``; (meta-)weighted few-shot MLE after."""
        batch_size = batch["x"].shape[0]
        return jax.lax.cond(step < self.config.generator.pretrain_steps,
                            lambda p: self._pretrain_loss(p, batch, key),
                            lambda p: self._tune_loss(p, batch_size), params)

    def eval_fn(self, params, batch, key):
        """Test names: NLL under the true label, and generator-as-classifier accuracy."""
        x, labels = batch["x"], batch["label"]
        mask = self._mask(batch["length"], x.shape[1])
        per_label = jnp.stack([-jnp.sum(self.token_nll(params["lm"], x, self.letters + c) * mask,
                                        -1) for c in range(self.num_classes)])  # [L, B]
        true = jnp.take_along_axis(per_label, labels[None], 0)[0]
        return {"gen_nll": -true / jnp.sum(mask, -1),
                "gen_accuracy": (jnp.argmax(per_label, 0) == labels).astype(jnp.float32)}

    # -- augmentation and the few-shot classifier ----------------------------------------------

    def generate(self, params, key, per_class: int):
        """``(names, labels)``: ``per_class`` sampled names for every class."""
        names, labels = [], []
        for c in range(self.num_classes):
            prompt = jnp.full((per_class, 1), self.letters + c, jnp.int32)
            tokens = decoding.sample(self.model, self.baked(params["lm"]),
                                     jax.random.fold_in(key, c),
                                     prompt, 14, temperature=float(self.config.eval.temperature))
            names += decode_names(np.asarray(tokens), self.vocab)
            labels += [c] * per_class
        keep = [i for i, n in enumerate(names) if n]
        return [names[i] for i in keep], np.asarray(labels)[keep]

    def model_metrics(self, params, key):
        """Balanced test accuracy of the few-shot classifier without and with augmentation."""
        from sklearn.metrics import balanced_accuracy_score

        ev = self.config.eval
        test_names = decode_names(self.dataset.test["x"], self.vocab)
        test_labels = np.asarray(self.dataset.test["label"])
        shot_names = decode_names(self.fewshot["x"], self.vocab)
        shot_labels = np.asarray(self.fewshot["label"])
        oracle = name_classifier(decode_names(self.all_train["x"], self.vocab),
                                 np.asarray(self.all_train["label"]), c=ev.classifier_c)
        base = name_classifier(shot_names, shot_labels, c=ev.classifier_c)
        out = {"acc_fewshot": balanced_accuracy_score(test_labels, base.predict(test_names)),
               "acc_oracle": balanced_accuracy_score(test_labels, oracle.predict(test_names))}
        accs, fidelity, novel = [], [], []
        shot_set = set(shot_names)
        for r in range(int(ev.num_draws)):
            names, labels = self.generate(params, jax.random.fold_in(key, r),
                                          int(ev.num_generated))
            fidelity.append(np.mean(oracle.predict(names) == labels))
            novel.append(np.mean([n not in shot_set for n in names]))
            weights = np.concatenate([np.ones(len(shot_names)),
                                      np.full(len(names), float(ev.synthetic_weight))])
            clf = name_classifier(shot_names + names, np.concatenate([shot_labels, labels]),
                                  sample_weight=weights, c=ev.classifier_c)
            accs.append(balanced_accuracy_score(test_labels, clf.predict(test_names)))
        out.update({"acc_augmented": float(np.mean(accs)), "label_fidelity": float(
            np.mean(fidelity)), "novel_fraction": float(np.mean(novel))})
        return out


EXPERIMENT = MetaWeightedMLE
