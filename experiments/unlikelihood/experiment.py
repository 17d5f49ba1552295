"""Unlikelihood training [P055]: token- and sequence-level unlikelihood, and its RL variant.

* Welleck, Kulikov, Roller, Dinan, Cho & Weston (2019), "Neural text generation with
  unlikelihood training": token-level unlikelihood (UL-token) adds
  ``-alpha * sum_{c in C_t} log(1 - q(c | x_<t))`` with ``C_t`` the previous context
  tokens (:func:`likelihood_jax.sequence.objectives.token_unlikelihood`); sequence-level
  unlikelihood (UL-seq) fine-tunes on the model's own greedy continuations of
  prefixes, pushing down ``q`` of every token of a repeated n-gram
  (:func:`~likelihood_jax.sequence.objectives.sequence_unlikelihood` with
  :func:`likelihood_jax.sequence.decoding.ngram_repeat_mask`), on a random fraction
  ``objective.seq_rate`` of the updates (the others are the token-level objective).
* Lagutin, Gavrilov & Kalaidin (2021), "Implicit unlikelihood training: improving
  neural text generation with reinforcement learning" (P055): adds policy-gradient
  updates (a fraction ``objective.pg_rate``) on sampled continuations with reward
  ``1 - seq_rep_n`` (REINFORCE, leave-one-out baseline,
  :func:`~likelihood_jax.sequence.objectives.policy_gradient`), combined with UL.

Each step draws which update it makes from the step's key (``lax.switch``, so a
step pays only for its own branch). Fine-tuning starts from another run's final
parameters (the paper fine-tunes a pretrained model), read with
:func:`likelihood_jax.train.stages.stage_params`: the stage ``objective.from_stage``
of the same chain (``configs/shakespeare_table.py``: pretraining, then fine-tuning) or
the workdir ``objective.init_from``. Data: ``shakespeare_char`` windows; evaluation: bits/char,
accuracy, next-character repetition ``rep``/``wrep`` and the repetition of greedy
and sampled continuations (:class:`likelihood_jax.sequence.experiment.LanguageModelExperiment`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from likelihood_jax.sequence import decoding
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.sequence.experiment import LanguageModelExperiment
from likelihood_jax.train.stages import resolve_workdir, stage_params


class Unlikelihood(LanguageModelExperiment):
    """MLE / UL-token / UL-seq / policy-gradient mixture on character windows.

    ``config.objective``: ``alpha`` (token-level UL weight, 0 = MLE), ``window``
    (token-UL context, None = the whole window), ``seq_rate`` and ``pg_rate``
    (fractions of sequence-level UL and policy-gradient updates), ``prefix_len``,
    ``continuation_len``, ``ngram`` (repeat candidates and the reward),
    ``from_stage`` (a stage of this chain to fine-tune from) or ``init_from`` (a
    workdir to fine-tune from); both "" = from scratch.
    """

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        if self.synthetic:
            raise ValueError("the unlikelihood experiment runs on text windows "
                             "(dataset.name='shakespeare_char')")
        obj = config.objective
        self.alpha = float(obj.alpha)
        self.window = obj.get("window", None)
        self.seq_rate, self.pg_rate = float(obj.seq_rate), float(obj.pg_rate)
        if self.seq_rate < 0 or self.pg_rate < 0 or self.seq_rate + self.pg_rate > 1:
            raise ValueError(f"need seq_rate, pg_rate >= 0 with sum <= 1, got "
                             f"{self.seq_rate}, {self.pg_rate}")
        self.prefix_len, self.continuation_len = obj.prefix_len, obj.continuation_len
        self.ngram = obj.ngram
        if self.prefix_len + self.continuation_len > config.model.context + 1:
            raise ValueError("objective.prefix_len + continuation_len exceeds the window")

    @functools.cached_property
    def pretrained(self):
        """Final parameters of ``objective.from_stage`` / ``init_from`` (None: from scratch).

        A run without a ``config.json`` (one trained by ``train_and_evaluate`` in a test)
        is assumed to share this run's optimizer and step count.
        """
        obj = self.config.objective
        workdir = resolve_workdir(self.config, obj.get("from_stage", ""),
                                  obj.get("init_from", ""))
        if not workdir:
            return None
        inputs, _ = self.inputs_and_targets(jnp.asarray(self.dataset.train["x"][:1]))
        template = jax.eval_shape(self.model.init, jax.random.key(0), inputs)["params"]
        return stage_params(workdir, template, optim=self.config.optim,
                            total_steps=self.config.total_steps)

    def init_params(self, key, batch):
        """Fresh parameters, or those of ``objective.init_from``."""
        if self.pretrained is not None:
            return jax.tree.map(jnp.asarray, self.pretrained)
        return super().init_params(key, batch)

    def token_loss(self, logits, targets):
        """MLE + alpha * token-level unlikelihood, per token."""
        return seq_losses.token_unlikelihood(logits, targets, alpha=self.alpha,
                                             window=self.window)

    # -- the three kinds of update -------------------------------------------------------

    def _continuation_logits(self, params, prompt, continuation):
        full = jnp.concatenate([prompt, continuation], 1)
        return self.logits(params, full[:, :-1])[:, prompt.shape[1] - 1:]

    def _metrics(self, nll, **values):
        names = ("token_loss", "seq_ul", "pg", "reward", "seq_rep_train", "seq_update",
                 "pg_update")
        out = {name: values.get(name, jnp.zeros(())) for name in names}
        out["nll"] = nll
        return out

    def _data_nll(self, params, windows, logits=None):
        inputs, targets = self.inputs_and_targets(windows)
        if logits is None:
            logits = self.logits(jax.lax.stop_gradient(params), inputs)
        return jnp.mean(seq_losses.token_cross_entropy(jax.lax.stop_gradient(logits), targets),
                        -1)

    def _token_update(self, params, windows, key):
        inputs, targets = self.inputs_and_targets(windows)
        logits = self.logits(params, inputs)
        loss = jnp.mean(self.token_loss(logits, targets), -1)
        return loss, self._metrics(self._data_nll(params, windows, logits),
                                   token_loss=jnp.mean(loss))

    def _sequence_update(self, params, windows, key):
        prompt = windows[:, :self.prefix_len]
        continuation = decoding.greedy(self.model, jax.lax.stop_gradient(params), prompt,
                                       self.continuation_len)
        candidates = jax.vmap(lambda s: decoding.ngram_repeat_mask(s, self.ngram))(continuation)
        logits = self._continuation_logits(params, prompt, continuation)
        loss = jnp.mean(seq_losses.sequence_unlikelihood(logits, continuation, candidates), -1)
        rep = jax.vmap(lambda s: decoding.seq_rep_n(s, self.ngram))(continuation)
        return loss, self._metrics(self._data_nll(params, windows), seq_ul=jnp.mean(loss),
                                   seq_rep_train=jnp.mean(rep), seq_update=jnp.ones(()))

    def _policy_gradient_update(self, params, windows, key):
        prompt = windows[:, :self.prefix_len]
        continuation = decoding.sample(self.model, jax.lax.stop_gradient(params), key, prompt,
                                       self.continuation_len)
        logits = self._continuation_logits(params, prompt, continuation)
        log_q = -jnp.mean(seq_losses.token_cross_entropy(logits, continuation), -1)
        reward = 1.0 - jax.vmap(lambda s: decoding.seq_rep_n(s, self.ngram))(continuation)
        loss = seq_losses.policy_gradient(log_q, reward)
        return loss, self._metrics(self._data_nll(params, windows), pg=jnp.mean(loss),
                                   reward=jnp.mean(reward),
                                   seq_rep_train=jnp.mean(1.0 - reward), pg_update=jnp.ones(()))

    def loss_fn(self, params, batch, key, step):
        """One update of the kind drawn from ``key``; always logs the data NLL."""
        branch_key, key = jax.random.split(key)
        branches = [self._token_update]
        thresholds = []
        if self.seq_rate:
            branches.append(self._sequence_update)
            thresholds.append(self.seq_rate)
        if self.pg_rate:
            branches.append(self._policy_gradient_update)
            thresholds.append(self.seq_rate + self.pg_rate)
        windows = batch["x"]
        if len(branches) == 1:
            loss, metrics = self._token_update(params, windows, key)
        else:
            u = jax.random.uniform(branch_key)
            # Branch 1 for u < seq_rate, 2 for u < seq_rate + pg_rate, else 0 (token update).
            passed = jnp.sum(u >= jnp.asarray(thresholds))
            index = jnp.where(passed == len(thresholds), 0, passed + 1)
            loss, metrics = jax.lax.switch(index, branches, params, windows, key)
        return loss, metrics


EXPERIMENT = Unlikelihood
