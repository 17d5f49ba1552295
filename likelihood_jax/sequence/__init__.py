"""Sequence models (catalog families SEQ-A, SEQ-B, SEQ-C): objectives, distillation, decoding.

Pure modules (import core, ``data`` and ``models`` only):

* :mod:`.objectives`: token- and sequence-level training objectives of autoregressive
  models: MixCE [P023], unlikelihood [P055], EMO [P032], probability-based objectives
  [P053], loss smoothing [P056], SMILE [P016];
* :mod:`.distillation`: knowledge distillation [P125, P007], MCMI teachers [P034],
  finite-domain transfer [P050], SALT [P153], teacher distillation [P193];
* :mod:`.masked_lm`: MLM loss, pseudo-log-likelihood scoring [P239, P192], latent
  bootstrapping [P185];
* :mod:`.meta_weighting`: meta-learned token weights (FewGen) [P021];
* :mod:`.debiasing`: product-of-experts debiasing [P069];
* :mod:`.decoding`: greedy, sampled (temperature, top-k, nucleus) and beam-search decoding
  (length normalization, early stopping) in ``lax.scan``, for prompts of different lengths
  with end-of-sequence stopping; text metrics (repetition of unlikelihood training [P055]);
* :mod:`.packing`: best-fit packing of documents into windows [P152];
* :mod:`.perplexity`: sliding-window evaluation of a token stream longer than the context
  (each token scored once, with at least ``context - stride + 1`` tokens of context).

:mod:`.experiment` holds the family's Experiment bases (the only module that imports
``likelihood_jax.train``): :class:`~.experiment.LanguageModelExperiment` and
:class:`~.experiment.MaskedLMBase`. Config blocks shared by several experiments are in
:mod:`.presets` (functions returning ConfigDicts: the Markov source, the small LMs, the
shakespeare and masked-LM groups, with their modes). The synthetic sources are registered
datasets (``markov``, ``hmm``, ``markov_mixture``; :mod:`likelihood_jax.data.synthetic.sources`).
"""
