"""Training and generation throughput of the causal transformer LM, with and without KV cache.

Run by hand (not part of the tests)::

    python benchmarks/lm_throughput.py                       # 4 layers, width 256, context 256
    python benchmarks/lm_throughput.py --layers 2 --width 128 --batch 16   # smaller, for a CPU

Reports, for :class:`likelihood_jax.models.transformer.TransformerLM` (rotary positions):

* training tokens/s: one jitted Adam step on ``batch x context`` random tokens
  (forward, backward, update), median over repeats after a warm-up call;
* generation tokens/s of greedy decoding of ``N`` tokens from a 1-token prompt
  (``--gen-batch`` sequences) for each ``N`` in ``--lengths``, with the KV cache
  (:func:`likelihood_jax.sequence.decoding.greedy`) and without it
  (:func:`likelihood_jax.sequence.decoding.greedy_uncached`, which re-runs the whole
  buffer every step);
* the ratio of the generation time at the longest to the shortest length. With the
  cache the projections and MLPs cost the same for every token, so that part grows
  like ``N_max / N_min`` (8 for 512 vs 64); the attention of each step reads the whole
  fixed-size cache (``1 + N`` slots), so it grows like ``(N_max / N_min)^2`` and the
  measured ratio lies between the two (on a 2-core CPU at batch 1, where a step is
  memory-bound: 26x for the default model). Without the cache every step costs a
  full pass over ``1 + N`` tokens, about ``(N_max / N_min)^2`` in total.

Compilation is excluded (one warm-up call per shape). ``--skip-uncached-above N``
skips the slow uncached runs above length ``N``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from likelihood_jax.models.transformer import TransformerLM, num_params
from likelihood_jax.sequence import decoding


def timed(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_throughput(model, params, batch, context, vocab, repeats):
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    tokens = jax.random.randint(jax.random.key(1), (batch, context + 1), 0, vocab)

    @jax.jit
    def step(params, opt_state, tokens):
        def loss_fn(p):
            logits = model.apply({"params": p}, tokens[:, :-1])
            return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    seconds = timed(step, params, opt_state, tokens, repeats=repeats)
    return batch * context / seconds, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=83)
    parser.add_argument("--gen-batch", type=int, default=1)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-uncached-above", type=int, default=10 ** 9)
    args = parser.parse_args()

    model = TransformerLM(vocab_size=args.vocab, num_layers=args.layers, width=args.width,
                          num_heads=args.heads, max_len=max(args.lengths) + 1)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 8), jnp.int32))["params"]
    print(f"TransformerLM: {args.layers} layers, width {args.width}, {args.heads} heads, "
          f"{num_params(params) / 1e6:.2f}M parameters; device {jax.devices()[0].platform}")

    tok_s, seconds = training_throughput(model, params, args.batch, args.context, args.vocab,
                                         args.repeats)
    print(f"training: batch {args.batch} x context {args.context}: {seconds * 1e3:.1f} ms/step, "
          f"{tok_s:,.0f} tokens/s")

    prompt = jnp.zeros((args.gen_batch, 1), jnp.int32)
    results = {}
    print(f"generation (greedy, batch {args.gen_batch}, 1-token prompt):")
    print(f"{'length':>8} {'cached s':>10} {'cached tok/s':>13} {'uncached s':>11} "
          f"{'uncached tok/s':>15}")
    for n in args.lengths:
        cached = timed(lambda p: decoding.greedy(model, p, prompt, n), params,
                       repeats=args.repeats)
        uncached = None
        if n <= args.skip_uncached_above:
            uncached = timed(lambda p: decoding.greedy_uncached(model, p, prompt, n), params,
                             repeats=max(1, args.repeats // 3))
        results[n] = (cached, uncached)
        tokens = args.gen_batch * n
        unc = (f"{uncached:>11.3f} {tokens / uncached:>15,.0f}" if uncached is not None
               else f"{'skipped':>11} {'':>15}")
        print(f"{n:>8} {cached:>10.3f} {tokens / cached:>13,.0f} {unc}")
    lo, hi = min(args.lengths), max(args.lengths)
    ratio = results[hi][0] / results[lo][0]
    line = f"time({hi}) / time({lo}): cached {ratio:.1f}x (linear would be {hi / lo:.0f}x)"
    if results[hi][1] is not None and results[lo][1] is not None:
        line += f", uncached {results[hi][1] / results[lo][1]:.1f}x"
    print(line)


if __name__ == "__main__":
    main()
