"""Autoregressive language-model experiments: data helpers and a shared base class.

The base of the sequence-objective papers (MixCE [P023], unlikelihood [P055],
probability-based objectives [P053], loss smoothing [P056], EMO [P032], packing
[P152]): an autoregressive LM (:class:`~likelihood_jax.models.transformer.TransformerLM`
or :class:`~likelihood_jax.models.gru.GRULM`) trained on

* a synthetic source ``P`` with a known distribution: ``config.dataset`` names a
  registered source dataset (``"markov"``, ``"hmm"``; options: the source's and the
  sampling's, :mod:`likelihood_jax.data.synthetic.sources`), whose train and test
  sequences of length ``L`` are sampled with fixed seeds; the experiment rebuilds the
  same source from the same options (:func:`config_source`) for the exact metrics.
  The model reads ``[BOS, x_1..x_{L-1}]`` (BOS = token ``V``, never predicted) and
  predicts ``x_1..x_L``. Evaluation (per token, nats): forward CE ``fwd_ce`` on source
  samples, reverse CE ``rev_ce`` (one model sample per test row scored by ``P``),
  Monte Carlo entropies ``src_entropy`` and ``model_entropy``, their differences
  ``fwd_kl`` / ``rev_kl``, and exact values over all ``V^l`` sequences of length
  ``l = config.eval.enum_length``: total variation ``tv`` (the headline),
  ``fwd_ce_enum``, ``rev_ce_enum``, and the mass ``q_mass_rare`` / ``p_mass_rare``
  on sequences that use a transition of source probability below
  ``config.eval.rare_threshold``;
* windows of a token-stream dataset (``"shakespeare_char"`` characters,
  ``"shakespeare_bpe"`` byte-level BPE tokens, :mod:`likelihood_jax.data.tokenizer`):
  training windows of ``config.model.context + 1`` tokens, non-overlapping (default) or,
  with ``config.dataset.random_offsets = True``, starting anywhere (each epoch visits
  every start once; the batch of a step stays a function of (seed, step)); test windows
  non-overlapping, or with ``config.eval.stride = S > 0`` the sliding windows of
  :mod:`likelihood_jax.sequence.perplexity` (each test token scored once with at least
  ``context - S + 1`` tokens of context). Evaluation: ``bits_per_char`` (the headline),
  next-token accuracy, next-token repetition (``rep``/``wrep``) and the repetition of
  greedy and sampled continuations (:func:`continuation_metrics`); on sliding windows or
  multi-character tokens also ``bits_per_token``, each a per-window total normalized so
  that its mean over the test windows is the corpus value (:func:`text_norms`).

:class:`LanguageModelExperiment` trains by MLE; a paper overrides
:meth:`LanguageModelExperiment.token_loss` (one objective of
:mod:`likelihood_jax.sequence.objectives`) or :meth:`~LanguageModelExperiment.loss_fn`.
Construction does no work: the source, the dataset, the model and the exact
source tables are built when first used. The helpers (:func:`config_source`,
:func:`token_windows`, :func:`text_dataset`, :func:`make_model`,
:func:`continuation_metrics`) are pure functions of their arguments.

Masked LMs (MLM scoring [P239], MLM vs CLM [P192], latent bootstrapping [P185]) share
:class:`MaskedLMBase`: the ``"markov_mixture"`` dataset and a bidirectional / causal
transformer pair.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic import sources
from likelihood_jax.models.gru import GRULM
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import decoding, masked_lm, perplexity
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.train import Experiment
from likelihood_jax.train.experiment import load_config_dataset
from likelihood_jax.train.stages import resolve_workdir, stage_params

SYNTHETIC = ("markov", "hmm")
TEXT = ("shakespeare_char", "shakespeare_bpe")
_TEXT_FIELDS = ("name", "num_test_windows", "random_offsets")  # not options of the loader
MODELS = ("transformer", "gru")


# -- Data ------------------------------------------------------------------------------------


def source_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The options of the run's source dataset: ``config.dataset`` without name and data_dir."""
    return {k: v for k, v in config.dataset.items() if k not in ("name", "data_dir")}


def config_source(config: ml_collections.ConfigDict) -> sources.Source | sources.MixtureSource:
    """The source whose samples the run's dataset holds (same name, same options)."""
    return sources.make_source(config.dataset.name, **source_options(config))


def token_windows(stream: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping windows ``[N, length]`` of a token stream (the tail is dropped)."""
    n = len(stream) // length
    if n < 1:
        raise ValueError(f"a stream of {len(stream)} tokens has no window of {length}")
    return np.asarray(stream[:n * length]).reshape(n, length)


def every_token_window(stream: np.ndarray, length: int) -> np.ndarray:
    """Every window ``[N - length + 1, length]`` of a stream: row ``i`` is ``stream[i:i+length]``.

    A read-only strided view (no copy). As a training split, ``data.batch_at_step`` draws
    the windows of a step at starts that are a function of (seed, step) alone, every
    start once per epoch.
    """
    stream = np.asarray(stream)
    if stream.ndim != 1 or len(stream) < length:
        raise ValueError(f"a stream of shape {stream.shape} has no window of {length}")
    return np.lib.stride_tricks.sliding_window_view(stream, length)


def text_dataset(name: str, context: int, num_test_windows: int | None, *,
                 random_offsets: bool = False, stride: int = 0,
                 options: dict[str, Any] | None = None) -> data_lib.Dataset:
    """Windows of ``context + 1`` tokens of a token-stream dataset (train and test splits).

    Args:
      name: A registered token-stream dataset (``"shakespeare_char"``, ...).
      context: ``T``; windows hold ``T + 1`` tokens (inputs and targets shifted by one).
      num_test_windows: Evenly spaced test windows kept (None: all).
      random_offsets: Training windows start at every offset (:func:`every_token_window`)
        instead of the non-overlapping :func:`token_windows`.
      stride: ``S > 0``: the test split is the sliding windows of
        :func:`likelihood_jax.sequence.perplexity.sliding_windows` with their ``"scored"``
        mask ``[K, T]``; 0: non-overlapping test windows.
      options: Options of ``load_dataset`` (``data_dir``, ``vocab_size``, ...).
    """
    stream = data_lib.load_dataset(name, **(options or {}))
    if random_offsets:
        train = every_token_window(stream.train["x"], context + 1)
    else:
        train = token_windows(stream.train["x"], context + 1)
    if stride:
        windows, scored = perplexity.sliding_windows(stream.test["x"], context, stride)
        test = {"x": windows, "scored": scored}
    else:
        test = {"x": token_windows(stream.test["x"], context + 1)}
    if num_test_windows and num_test_windows < len(test["x"]):
        keep = np.linspace(0, len(test["x"]) - 1, num_test_windows).astype(int)
        test = {k: v[keep] for k, v in test.items()}
    description = f"{name} cut into non-overlapping windows of {context + 1} tokens"
    if random_offsets or stride:
        description = (f"{name} in windows of {context + 1} tokens: train "
                       f"{'at every offset' if random_offsets else 'non-overlapping'}, test "
                       f"{f'sliding by {stride}' if stride else 'non-overlapping'}")
    info = data_lib.DatasetInfo(kind="text", event_shape=(context + 1,),
                                vocab=stream.info.vocab, description=description)
    return data_lib.Dataset(name, {"x": train}, test, info)


def text_norms(test: dict[str, np.ndarray], vocab: tuple[str, ...]) -> tuple[float, float]:
    """``(tokens, characters)`` scored per test window, on average over the windows.

    A window's scored targets are ``x[:, 1:]`` where ``test["scored"]`` holds (all of
    them without it); a token's characters are ``len(vocab[id])``. A per-window total
    (of NLL, of correct predictions) divided by these means has, over all windows, the
    mean ``total / (all scored tokens or characters)``: the corpus value.
    """
    targets = np.asarray(test["x"])[:, 1:]
    scored = np.asarray(test.get("scored", np.ones(targets.shape, bool)))
    chars = np.array([len(v) for v in vocab])[targets]
    num = len(targets)
    return float(scored.sum() / num), float((chars * scored).sum() / num)


# The optional TransformerLM fields a ``config.model`` may set (the model's defaults otherwise).
TRANSFORMER_OPTIONS = ("mlp_ratio", "max_len", "position", "dropout", "attention_dropout",
                       "residual_dropout", "embedding_dropout", "tie_embeddings",
                       "scaled_residual_init", "dtype", "remat", "scan_layers")


def transformer_options(options: ml_collections.ConfigDict, **defaults: Any) -> dict[str, Any]:
    """Keyword arguments of :class:`TransformerLM` from ``options`` (``config.model``).

    The ``TRANSFORMER_OPTIONS`` that ``options`` sets, over ``defaults``.
    """
    return {**defaults, **{k: options[k] for k in TRANSFORMER_OPTIONS if k in options}}


def make_model(options: ml_collections.ConfigDict, vocab_size: int, output_size: int):
    """A :class:`TransformerLM` or :class:`GRULM` from ``config.model``.

    A transformer takes ``num_layers``, ``width``, ``num_heads`` and the
    ``TRANSFORMER_OPTIONS`` set; a GRU ``num_layers``, ``width`` and ``dropout`` (the
    transformer-only fields are ignored, so that a ``runlocal`` mode can swap the kind).
    """
    kind = options.get("kind", "transformer")
    if kind == "transformer":
        return TransformerLM(vocab_size=vocab_size, output_size=output_size,
                             num_layers=options.num_layers, width=options.width,
                             num_heads=options.num_heads, **transformer_options(options))
    if kind == "gru":
        return GRULM(vocab_size=vocab_size, output_size=output_size, width=options.width,
                     num_layers=options.num_layers, dropout=options.get("dropout", 0.0))
    raise ValueError(f"unknown model kind {kind!r}; choose one of {MODELS}")


_DROPOUT_STREAM = 0x64726F70  # folded into a loss's key to make the dropout key


def apply_lm(model: Any, params: Any, *args: Any, train: bool = False,
             key: jax.Array | None = None, **kwargs: Any) -> Any:
    """``model.apply({"params": params}, *args, **kwargs)``, as a training call if ``train``.

    A training call passes ``train=True`` (dropout on) and the ``"dropout"`` rng
    ``fold_in(key, const)``: folding leaves the key's other uses in a loss (masking,
    resampling) unchanged and independent of the dropout masks. With every dropout
    rate 0 a training call computes exactly what an evaluation call does.

    Raises:
      ValueError: ``train`` without a ``key``.
    """
    if not train:
        return model.apply({"params": params}, *args, **kwargs)
    if key is None:
        raise ValueError("a training call (train=True) needs a key for its dropout rng")
    rngs = {"dropout": jax.random.fold_in(key, _DROPOUT_STREAM)}
    return model.apply({"params": params}, *args, train=True, rngs=rngs, **kwargs)


# -- Teacher-student runs (distillation from another run of this chain) -----------------------


def teacher_student_fields(config: ml_collections.ConfigDict, roles: tuple[str, ...],
                           objectives: tuple[str, ...], weight: str
                           ) -> tuple[str, str, float, float]:
    """``(role, objective, weight, temperature)`` of a teacher/student config, checked.

    ``config.role`` (default ``"student"``) is one of ``roles``; a student's objective is
    ``config.objective.name`` (one of ``objectives``), every other role trains by
    ``"ce"``. ``config.objective.<weight>`` (the KD weight) lies in ``[0, 1]`` and
    ``config.objective.temperature`` is positive.

    Raises:
      ValueError: naming the bad field.
    """
    role = config.get("role", "student")
    if role not in roles:
        raise ValueError(f"unknown role {role!r}; choose one of {roles}")
    obj = config.objective
    objective = obj.name if role == "student" else "ce"
    if objective not in objectives:
        raise ValueError(f"unknown objective {obj.name!r}; choose one of {objectives}")
    value, temperature = float(obj[weight]), float(obj.temperature)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"objective.{weight} must lie in [0, 1], got {value}")
    if temperature <= 0:
        raise ValueError(f"objective.temperature must be positive, got {temperature}")
    return role, objective, value, temperature


def run_params(config: ml_collections.ConfigDict, group: str, stage_field: str,
               workdir_field: str, model: Any, inputs: jax.Array, needed_by: str) -> Any:
    """Final parameters of ``model`` from another run (a teacher, a pretrained student).

    The run is the stage ``config.<group>.<stage_field>`` of this chain, else the finished
    run in ``config.<group>.<workdir_field>``; its parameters are read with
    :func:`likelihood_jax.train.stages.stage_params` (a run without ``config.json`` is
    assumed to share this run's optimizer and step count). ``inputs`` is a model input
    (only its shape is used).

    Raises:
      ValueError: neither field is set (``needed_by`` says what needs the run).
    """
    fields = config[group]
    workdir = resolve_workdir(config, fields.get(stage_field, ""), fields.get(workdir_field, ""))
    if not workdir:
        raise ValueError(f"{needed_by} needs {group}.{workdir_field} (a finished run's "
                         f"workdir) or {group}.{stage_field} (a stage of this chain)")
    template = jax.eval_shape(model.init, jax.random.key(0), inputs)["params"]
    return stage_params(workdir, template, optim=config.optim, total_steps=config.total_steps)


# -- The shared LM experiment ----------------------------------------------------------------


class LanguageModelExperiment(Experiment):
    """Autoregressive LM on a synthetic source or on character windows; MLE by default.

    Subclasses override :meth:`token_loss` (the per-token objective) and may
    override :meth:`loss_fn`. Attributes, each built when first read: ``source``
    (synthetic only), ``vocab_size`` (``V``, the output size), ``bos`` (synthetic:
    the input id ``V``), ``enum_length``, ``enum_log_p``, ``enum_rare`` (the exact
    source tables); ``synthetic``, ``eval_config`` and ``headline_metric`` are set
    by the constructor, which does no other work. Training losses call the model with
    ``train=True`` (dropout on, its rng from the loss's key: :func:`apply_lm`);
    evaluation and decoding with ``train=False``.
    """

    def __init__(self, config, dataset=None):
        name = config.dataset.name
        if name not in SYNTHETIC + TEXT:
            raise ValueError(f"unknown dataset {name!r}; choose one of {SYNTHETIC + TEXT}")
        super().__init__(config, dataset)
        self.synthetic = name in SYNTHETIC
        self.headline_metric = "tv" if self.synthetic else "bits_per_char"
        self.eval_config = config.get("eval", ml_collections.ConfigDict())

    # -- built when first used ---------------------------------------------------------------

    @functools.cached_property
    def source(self) -> sources.Source:
        """The synthetic source ``P`` of the run's dataset (:func:`config_source`)."""
        if not self.synthetic:
            raise AttributeError(f"dataset {self.config.dataset.name!r} has no source")
        with jax.ensure_compile_time_eval():  # concrete tables even if first read in a trace
            return config_source(self.config)

    @functools.cached_property
    def vocab_size(self) -> int:
        """``V``: the number of output tokens."""
        if self.synthetic:
            return self.source.vocab_size
        return len(self.dataset.info.vocab)

    @property
    def bos(self) -> int:
        """The BOS input id ``V`` of synthetic sequences (never predicted)."""
        return self.vocab_size

    def make_dataset(self, config):
        """The registered source dataset, or the text windows of ``config.model.context + 1``."""
        if self.synthetic:
            return load_config_dataset(config)
        options = {k: v for k, v in config.dataset.items() if k not in _TEXT_FIELDS}
        return text_dataset(config.dataset.name, config.model.context,
                            config.dataset.get("num_test_windows", None),
                            random_offsets=config.dataset.get("random_offsets", False),
                            stride=self.eval_config.get("stride", 0), options=options)

    def make_model(self, config, info):
        """The LM of ``config.model`` (synthetic inputs have one more id: BOS)."""
        del info
        input_vocab = self.vocab_size + 1 if self.synthetic else self.vocab_size
        return make_model(config.model, input_vocab, self.vocab_size)

    # -- inputs and targets ----------------------------------------------------------------

    def inputs_and_targets(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Synthetic ``x [B, L]``: ``([BOS, x_<L], x)``; text windows ``[B, T+1]``: shift by one."""
        if self.synthetic:
            bos = jnp.full(x.shape[:1] + (1,), self.bos, x.dtype)
            return jnp.concatenate([bos, x[:, :-1]], 1), x
        return x[:, :-1], x[:, 1:]

    def logits(self, params, inputs: jax.Array, *, train: bool = False,
               key: jax.Array | None = None) -> jax.Array:
        """Next-token logits ``[B, T, V]``; ``train=True`` (with the loss's ``key``): dropout on."""
        return apply_lm(self.model, params, inputs, train=train, key=key)

    def init_params(self, key, batch):
        """Fresh model parameters."""
        inputs, _ = self.inputs_and_targets(jnp.asarray(batch["x"][:1]))
        return self.model.init(key, inputs)["params"]

    # -- training ------------------------------------------------------------------------

    def token_loss(self, logits: jax.Array, targets: jax.Array) -> jax.Array:
        """Per-token training loss ``[B, T]`` (MLE here)."""
        return seq_losses.token_cross_entropy(logits, targets)

    def loss_fn(self, params, batch, key, step):
        """Mean per-token objective ``[B]``; logs the per-token NLL (nats)."""
        inputs, targets = self.inputs_and_targets(batch["x"])
        logits = self.logits(params, inputs, train=True, key=key)
        loss = jnp.mean(self.token_loss(logits, targets), -1)
        nll = jnp.mean(seq_losses.token_cross_entropy(logits, targets), -1)
        return loss, {"nll": nll}

    def sample_fn(self, params, key, num_samples):
        """No samples plot for token sequences (see the evaluation metrics instead)."""
        return None

    # -- evaluation ----------------------------------------------------------------------

    def eval_fn(self, params, batch, key):
        """Per-example test metrics (see the module docstring)."""
        if self.synthetic:
            return self.synthetic_metrics(params, batch["x"], key)
        return self.text_metrics(params, batch["x"], key, batch.get("scored", None))

    @functools.cached_property
    def _exact_source_tables(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(l, log P [V^l], rare [V^l])`` of all ``V^l`` sequences of length ``l``.

        ``rare``: the sequence uses a transition of source probability below
        ``eval.rare_threshold``. Computed eagerly even when first read inside a trace.
        """
        length = self.eval_config.get("enum_length", 3)
        with jax.ensure_compile_time_eval():
            seqs = sources.enumerate_sequences(self.vocab_size, length)
            cond = jax.vmap(self.source.conditional_log_probs)(seqs)  # [N, l, V]
            steps = jnp.take_along_axis(cond, seqs[..., None], -1)[..., 0]
            log_p = np.asarray(jnp.sum(steps, -1))
            threshold = math.log(self.eval_config.get("rare_threshold", 1e-3))
            rare = np.asarray(jnp.min(steps, -1) < threshold)
        return length, log_p, rare

    @property
    def enum_length(self) -> int:
        """``l``: the length of the enumerated sequences (``eval.enum_length``, default 3)."""
        return self._exact_source_tables[0]

    @property
    def enum_log_p(self) -> np.ndarray:
        """``[V^l]`` exact source log-probabilities of all length-``l`` sequences."""
        return self._exact_source_tables[1]

    @property
    def enum_rare(self) -> np.ndarray:
        """``[V^l]`` whether each length-``l`` sequence uses a rare source transition."""
        return self._exact_source_tables[2]

    def model_conditional_log_probs(self, params, x: jax.Array) -> jax.Array:
        """``[N, L, V]`` teacher-forced ``log q(x_t = v | x_<t)`` of synthetic sequences."""
        inputs, _ = self.inputs_and_targets(x)
        return jax.nn.log_softmax(self.logits(params, inputs), -1)

    def model_log_prob(self, params, x: jax.Array) -> jax.Array:
        """``[N]`` log ``Q(x)`` of synthetic sequences ``x [N, L]``."""
        cond = self.model_conditional_log_probs(params, x)
        return jnp.sum(jnp.take_along_axis(cond, x[..., None], -1), (1, 2))

    def sample_sequences(self, params, key, num: int, length: int) -> jax.Array:
        """``[num, length]`` ancestral samples of the model (synthetic: after BOS)."""
        prompt = jnp.full((num, 1), self.bos, jnp.int32)
        return decoding.sample(self.model, params, key, prompt, length)

    def synthetic_metrics(self, params, x, key) -> dict[str, jax.Array]:
        """Forward/reverse CE and entropies per token (Monte Carlo), exact TV on short prefixes."""
        batch, length = x.shape
        log_p_data = jax.vmap(self.source.log_prob)(x)
        log_q_data = self.model_log_prob(params, x)
        samples = self.sample_sequences(params, key, batch, length)
        log_p_samples = jax.vmap(self.source.log_prob)(samples)
        log_q_samples = self.model_log_prob(params, samples)
        out = {
            "fwd_ce": -log_q_data / length, "src_entropy": -log_p_data / length,
            "rev_ce": -log_p_samples / length, "model_entropy": -log_q_samples / length,
        }
        out["fwd_kl"] = out["fwd_ce"] - out["src_entropy"]
        out["rev_kl"] = out["rev_ce"] - out["model_entropy"]
        enum_q = sources.all_sequence_log_probs(
            lambda s: self.model_conditional_log_probs(params, s), self.vocab_size,
            self.enum_length)
        enum_p = jnp.asarray(self.enum_log_p)
        exact = sources.exact_metrics(enum_p, enum_q)
        rare = jnp.asarray(self.enum_rare)
        constants = {
            "tv": exact["tv"], "fwd_ce_enum": exact["forward_ce"] / self.enum_length,
            "rev_ce_enum": exact["reverse_ce"] / self.enum_length,
            "q_mass_rare": jnp.sum(jnp.where(rare, jnp.exp(enum_q), 0.0)),
            "p_mass_rare": jnp.sum(jnp.where(rare, jnp.exp(enum_p), 0.0)),
        }
        out.update({k: jnp.full((batch,), v) for k, v in constants.items()})
        return out

    @functools.cached_property
    def _weighted_text_eval(self) -> tuple[float, float] | None:
        """:func:`text_norms` of the test split; None for plain per-window means.

        None where every window scores all its targets and every token is one character.
        """
        test, vocab = self.dataset.test, self.dataset.info.vocab
        if "scored" not in test and all(len(v) == 1 for v in vocab):
            return None
        return text_norms(test, vocab)

    def text_metrics(self, params, windows, key, scored=None) -> dict[str, jax.Array]:
        """Bits/char, accuracy, next-token repetition, and repetition of continuations.

        ``scored [B, T]`` (sliding test windows) marks the targets that count. On such
        windows or with multi-character tokens, ``bits_per_char``, ``bits_per_token`` and
        ``accuracy`` are per-window totals over the test split's mean counts
        (:func:`text_norms`), so that their means over the split are the corpus values.
        """
        cfg = self.eval_config
        inputs, targets = self.inputs_and_targets(windows)
        logits = self.logits(params, inputs)
        nll = seq_losses.token_cross_entropy(logits, targets)
        predictions = jnp.argmax(logits, -1)
        correct = (predictions == targets).astype(jnp.float32)
        if self._weighted_text_eval is None:
            out = {"bits_per_char": jnp.mean(nll, -1) / math.log(2),
                   "accuracy": jnp.mean(correct, -1)}
        else:
            tokens, chars = self._weighted_text_eval
            weight = jnp.ones_like(nll) if scored is None else scored.astype(nll.dtype)
            bits = jnp.sum(nll * weight, -1) / math.log(2)
            out = {"bits_per_char": bits / chars, "bits_per_token": bits / tokens,
                   "accuracy": jnp.sum(correct * weight, -1) / tokens}
        for window in cfg.get("rep_windows", (16,)):
            reps = jax.vmap(lambda p, t, c: decoding.repeat_at_1(p, t, c, window=window))(
                predictions, targets, inputs)
            for name, value in reps.items():
                out[f"{name}{window}"] = jnp.mean(value.astype(jnp.float32), -1)
        out.update(continuation_metrics(self.model, params, windows, key,
                                        prefix_len=cfg.get("prefix_len", 32),
                                        num_steps=cfg.get("continuation_len", 96),
                                        ngram=cfg.get("ngram", 4)))
        return out


def continuation_metrics(model, params, windows, key, *, prefix_len: int, num_steps: int,
                         ngram: int) -> dict[str, jax.Array]:
    """Repetition of greedy and sampled continuations of each window's prefix, per example.

    ``seq_rep_{n}_greedy`` / ``_sample``: fraction of repeated n-grams of the
    continuation (Welleck et al. 2019); ``_human``: the same for the true text that
    follows the prefix; ``distinct1_*``: distinct tokens over continuation length;
    ``sample_bits``: the model's own bits/char on its samples (its entropy rate).
    """
    num_steps = min(num_steps, windows.shape[1] - prefix_len)
    prompt = windows[:, :prefix_len]
    human = windows[:, prefix_len:prefix_len + num_steps]
    greedy = decoding.greedy(model, params, prompt, num_steps)
    sampled = decoding.sample(model, params, key, prompt, num_steps)
    out = {}
    for name, tokens in [("greedy", greedy), ("sample", sampled), ("human", human)]:
        out[f"seq_rep_{ngram}_{name}"] = jax.vmap(lambda s: decoding.seq_rep_n(s, ngram))(tokens)
        out[f"distinct1_{name}"] = jax.vmap(lambda s: decoding.distinct_n(s, 1))(tokens)
    full = jnp.concatenate([prompt, sampled], 1)
    logits = model.apply({"params": params}, full[:, :-1])[:, prefix_len - 1:]
    out["sample_bits"] = jnp.mean(seq_losses.token_cross_entropy(logits, sampled), -1) / math.log(2)
    return out


# -- Masked LMs on a mixture of sources (MLM scoring [P239], MLM vs CLM [P192], latent
#    bootstrapping [P185]) ------------------------------------------------------------


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two vectors (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.corrcoef(a, b)[0, 1])


class MaskedLMBase(Experiment):
    """Mixture source, dataset, the bidirectional/causal transformer pair and shared metrics.

    ``config.dataset`` is the registered ``"markov_mixture"`` dataset (its options are
    those of :func:`likelihood_jax.data.synthetic.sources.load_markov_mixture`); the
    experiment rebuilds its source from the same options (:func:`config_source`).
    Input ids: the ``V`` tokens, ``[MASK] = V``, ``[BOS] = V + 1``. Attributes built when
    first read: ``source``, ``vocab_size``, ``encoder`` / ``decoder`` (one transformer,
    bidirectional / causal: identical parameter trees; :attr:`model` is the encoder)
    and ``bayes_accuracy`` (the true posterior's accuracy at the mixture component).
    """

    def __init__(self, config, dataset=None):
        if config.dataset.name != "markov_mixture":
            raise ValueError(f"unknown dataset {config.dataset.name!r}; these experiments use "
                             f"'markov_mixture' (config.dataset)")
        super().__init__(config, dataset)
        self.masking = config.get("masking", ml_collections.ConfigDict())
        self.eval_config = config.get("eval", ml_collections.ConfigDict())

    @functools.cached_property
    def source(self) -> sources.MixtureSource:
        """The mixture ``P`` whose samples the dataset holds."""
        with jax.ensure_compile_time_eval():  # concrete tables even if first read in a trace
            return config_source(self.config)

    @functools.cached_property
    def vocab_size(self) -> int:
        """``V``: the number of output tokens."""
        return self.source.vocab_size

    @property
    def mask_id(self) -> int:
        """The ``[MASK]`` input id ``V``."""
        return self.vocab_size

    @property
    def bos(self) -> int:
        """The ``[BOS]`` input id ``V + 1`` of the causal model."""
        return self.vocab_size + 1

    def _transformer(self, causal: bool) -> TransformerLM:
        opts = self.config.model
        return TransformerLM(vocab_size=self.vocab_size + 2, output_size=self.vocab_size,
                             num_layers=opts.num_layers, width=opts.width,
                             num_heads=opts.num_heads, causal=causal,
                             **transformer_options(opts, max_len=64))

    @functools.cached_property
    def encoder(self) -> TransformerLM:
        """The transformer with bidirectional attention."""
        return self._transformer(causal=False)

    @functools.cached_property
    def decoder(self) -> TransformerLM:
        """The same transformer with the causal attention mask."""
        return self._transformer(causal=True)

    def make_model(self, config, info):
        """The bidirectional transformer (:attr:`encoder`)."""
        del config, info
        return self.encoder

    @functools.cached_property
    def bayes_accuracy(self) -> float:
        """Test accuracy of the true posterior ``argmax_k P_k(x)`` at the component label."""
        probe_x = jnp.asarray(self.dataset.test["x"])
        comp = np.asarray(jax.jit(jax.vmap(self.source.component_log_probs))(probe_x))
        return float(np.mean(comp.argmax(-1) == self.dataset.test["label"]))

    def init_model(self, key, x):
        """Parameters of the transformer (the same tree for both attention modes)."""
        return self.encoder.init(key, jnp.asarray(x[:1]))["params"]

    # -- objectives ----------------------------------------------------------------------

    def mask(self, key, x):
        """BERT masking of ``x [B, L]`` (``config.masking``): ``(inputs, target_mask)``."""
        m = self.masking
        return masked_lm.mask_tokens(key, x, self.mask_id, self.vocab_size,
                                     rate=m.get("rate", 0.15), mask_prob=m.get("mask_prob", 0.8),
                                     random_prob=m.get("random_prob", 0.1))

    def mlm_loss(self, params, x, key, train: bool = False):
        """``[B]`` MLM loss (mean NLL over the masked positions); ``train``: dropout on."""
        inputs, target = self.mask(key, x)
        logits = apply_lm(self.encoder, params, inputs, train=train, key=key)
        return masked_lm.masked_lm_loss(logits, x, target)

    def clm_inputs(self, x):
        """``[BOS, x_<L]``: the causal model predicts ``x_t`` at position ``t``."""
        bos = jnp.full(x.shape[:1] + (1,), self.bos, x.dtype)
        return jnp.concatenate([bos, x[:, :-1]], 1)

    def clm_token_nll(self, params, x, train: bool = False, key: jax.Array | None = None):
        """``[B, L]`` ``-log Q(x_t | x_<t)`` under the causal attention mask.

        ``train=True`` (with a ``key``): dropout on.
        """
        logits = apply_lm(self.decoder, params, self.clm_inputs(x), train=train, key=key)
        return seq_losses.token_cross_entropy(logits, x)

    def pll_terms(self, params, x):
        r"""``[B, L]`` ``log P_MLM(x_t | x_{\t})`` (``L`` masked copies per sequence)."""
        def logits_fn(seq):
            return self.encoder.apply({"params": params}, seq[None])[0]

        return jax.vmap(lambda s: masked_lm.pseudo_log_likelihood_terms(
            logits_fn, s, self.mask_id))(x)

    def hidden(self, params, x, causal=False):
        """``[B, L, W]`` float32 contextual embeddings of the unmasked input."""
        model = self.decoder if causal else self.encoder
        return model.apply({"params": params}, x,
                           method=lambda m, t: m.hidden_states(m.token_embeddings(t))
                           ).astype(jnp.float32)

    # -- set-level evaluation helpers ------------------------------------------------------

    def probe_accuracy(self, params, causal=False) -> float:
        """Test accuracy of a logistic-regression probe on mean-pooled hidden states.

        Trained on the first ``eval.probe_train`` training sequences to predict the
        mixture component (``label``); the Bayes accuracy from the true component
        likelihoods is ``bayes_accuracy``.
        """
        n = self.eval_config.get("probe_train", 2000)
        feats = jax.jit(lambda p, x: jnp.mean(self.hidden(p, x, causal), 1))
        train_x = jnp.asarray(self.dataset.train["x"][:n])
        test_x = jnp.asarray(self.dataset.test["x"])
        f_train, f_test = np.asarray(feats(params, train_x)), np.asarray(feats(params, test_x))
        mean, std = f_train.mean(0), f_train.std(0) + 1e-6
        from sklearn.linear_model import LogisticRegression  # only the probe needs it

        clf = LogisticRegression(max_iter=2000, C=self.eval_config.get("probe_c", 1.0))
        clf.fit((f_train - mean) / std, self.dataset.train["label"][:n])
        return float(clf.score((f_test - mean) / std, self.dataset.test["label"]))

    def embedding_variance(self, params) -> float:
        """Mean over features of the variance over test tokens of the hidden states.

        Near 0 means collapse (every token mapped to the same embedding).
        """
        h = jax.jit(self.hidden)(params, jnp.asarray(self.dataset.test["x"]))
        h = np.asarray(h).reshape(-1, h.shape[-1])
        return float(h.var(0).mean())

    def sample_fn(self, params, key, num_samples):
        """No samples plot for token sequences."""
        return None


def output_embeddings(params, num_outputs: int | None = None) -> jnp.ndarray:
    """``[V, W]`` output embeddings of an LM: the transposed kernel of its ``head`` layer.

    A transformer with ``tie_embeddings`` has no head: its output embeddings are the
    first ``num_outputs`` rows (default: all) of the token embeddings.
    """
    if "head" not in params:
        return params["embed"]["embedding"][:num_outputs]
    return params["head"]["kernel"].T
