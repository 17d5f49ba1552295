r"""Training throughput and MFU of the causal transformer LM's variants; generation with a KV cache.

Run by hand (not part of the tests)::

    python benchmarks/lm_throughput.py             # 4 layers, width 256, context 256
    python benchmarks/lm_throughput.py --layers 2 --width 128 --batch 8 --context 128 \
        --matmul-size 1024 --no-generation         # smaller, for a CPU

Reports, for :class:`likelihood_jax.models.transformer.TransformerLM` (rotary positions):

* training, side by side for the variants ``unrolled`` (float32, one block per layer in
  the graph), ``scanned`` (``scan_layers``: one block under ``nn.scan``),
  ``scanned+remat`` (``remat`` too: activations recomputed in the backward pass) and
  ``bf16`` (``dtype="bfloat16"``: bfloat16 compute, float32 parameters and loss): the
  compilation time of one jitted Adam step on ``batch x context`` random tokens (forward,
  backward, update), XLA's temporary buffer size for it (where the backend reports one),
  the median step time over ``--repeats`` after a warm-up call, tokens/s, achieved
  model FLOP/s and the model FLOPs utilization ``MFU = FLOPs/token * tokens/s / peak``.
  The steps (and the peak's matrix products) are timed in interleaved rounds, so that a
  change of the machine's load during the run affects every variant alike.
  FLOPs per token are the standard count (Kaplan et al. 2020; PaLM, Chowdhery et al.
  2022, appendix B; nanoGPT's ``estimate_mfu``): ``6 N + 12 L W T`` for ``N``
  parameters that multiply activations (all but the embedding tables, which are
  gathered), ``L`` layers, width ``W`` and context ``T``; the second term is the
  attention scores and weighted values of every layer, forward and backward, counted
  over the full ``T x T`` (the causal mask's unused half included, as in those
  references). The peak is measured in the same run: the median FLOP/s of a jitted
  ``n x n`` matrix product (``--matmul-size``) in float32 for the float32 variants and in
  bfloat16 for ``bf16`` (both printed); ``--peak-tflops`` replaces both with a spec
  value (e.g. 989 for an H100 SXM's dense bfloat16).
* generation tokens/s of greedy decoding of ``N`` tokens from a 1-token prompt
  (``--gen-batch`` sequences) for each ``N`` in ``--lengths``, with the KV cache
  (:func:`likelihood_jax.sequence.decoding.greedy`) and without it
  (:func:`likelihood_jax.sequence.decoding.greedy_uncached`, which re-runs the whole
  buffer every step), and the ratio of the generation time at the longest to the
  shortest length. With the cache the projections and MLPs cost the same for every
  token, so that part grows like ``N_max / N_min`` (8 for 512 vs 64); the attention of
  each step reads the whole fixed-size cache (``1 + N`` slots), so it grows like
  ``(N_max / N_min)^2`` and the measured ratio lies between the two (on a 2-core CPU at
  batch 1, where a step is memory-bound: 26x for the default model). Without the cache
  every step costs a full pass over ``1 + N`` tokens, about ``(N_max / N_min)^2`` in
  total. ``--skip-uncached-above N`` skips the slow uncached runs above length ``N``;
  ``--no-generation`` skips this part.

Compilation is excluded from every step and generation time.
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

VARIANTS = {
    "unrolled": {},
    "scanned": {"scan_layers": True},
    "scanned+remat": {"scan_layers": True, "remat": True},
    "bf16": {"dtype": "bfloat16"},
}


def timed(fn, *args, repeats):
    """Median seconds of ``fn(*args)`` over ``repeats`` calls after one warm-up call."""
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(calls: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each zero-argument call, timed in ``repeats`` interleaved rounds.

    One warm-up call each first; every round then times every call once, so that a
    change of the machine's load during the run affects all of them alike.
    """
    for fn in calls.values():
        jax.block_until_ready(fn())
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def matmul_call(size: int, dtype):
    """A zero-argument jitted ``[size, size] @ [size, size]`` product (``2 size^3`` FLOPs)."""
    a = jax.random.normal(jax.random.key(0), (size, size)).astype(dtype)
    b = jax.random.normal(jax.random.key(1), (size, size)).astype(dtype)
    product = jax.jit(jnp.matmul)
    return lambda: product(a, b)


def flops_per_token(params, num_layers: int, width: int, context: int) -> float:
    """``6 N + 12 L W T``: training FLOPs per token (N: parameters outside embedding tables)."""
    tables = sum(int(leaf.size) for path, leaf in jax.tree_util.tree_leaves_with_path(params)
                 if any(getattr(k, "key", None) == "embedding" for k in path))
    return 6 * (num_params(params) - tables) + 12 * num_layers * width * context


def training_step(model, optimizer):
    """``(params, opt_state, tokens) -> (params, opt_state, loss)``: one Adam step on the NLL."""
    def step(params, opt_state, tokens):
        def loss_fn(p):
            logits = model.apply({"params": p}, tokens[:, :-1])
            return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss
    return step


def compiled_training_step(model, args) -> dict:
    """One variant's step: ``call`` (zero arguments), ``params``, ``compile_s``, ``temp_bytes``."""
    tokens = jax.random.randint(jax.random.key(1), (args.batch, args.context + 1), 0, args.vocab)
    params = jax.jit(model.init)(jax.random.key(0), tokens[:1, :8])["params"]
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    start = time.perf_counter()
    compiled = jax.jit(training_step(model, optimizer)).lower(params, opt_state, tokens).compile()
    compile_s = time.perf_counter() - start
    try:
        temp_bytes = compiled.memory_analysis().temp_size_in_bytes
    except (AttributeError, NotImplementedError, TypeError):
        temp_bytes = None
    return {"call": lambda: compiled(params, opt_state, tokens), "params": params,
            "compile_s": compile_s, "temp_bytes": temp_bytes}


def report_training(args):
    """Prints the variants' table (see the module docstring)."""
    steps = {}
    for name in args.variants:
        model = TransformerLM(vocab_size=args.vocab, num_layers=args.layers, width=args.width,
                              num_heads=args.heads, max_len=args.context + 1, **VARIANTS[name])
        steps[name] = compiled_training_step(model, args)
    calls = {name: step["call"] for name, step in steps.items()}
    if not args.peak_tflops:
        calls["float32"] = matmul_call(args.matmul_size, jnp.float32)
        calls["bfloat16"] = matmul_call(args.matmul_size, jnp.bfloat16)
    seconds = interleaved_medians(calls, max(3, args.repeats))
    if args.peak_tflops:
        peaks = {"float32": args.peak_tflops * 1e12, "bfloat16": args.peak_tflops * 1e12}
        print(f"peak (given): {args.peak_tflops} TFLOP/s")
    else:
        peaks = {k: 2 * args.matmul_size ** 3 / seconds[k] for k in ("float32", "bfloat16")}
        print(f"peak (measured {args.matmul_size}^2 matmul, in the same rounds): float32 "
              f"{peaks['float32'] / 1e12:.3f} TFLOP/s, bfloat16 {peaks['bfloat16'] / 1e12:.3f} "
              f"TFLOP/s")
    first = next(iter(steps.values()))
    per_token = flops_per_token(first["params"], args.layers, args.width, args.context)
    print(f"training: batch {args.batch} x context {args.context}, Adam; medians of "
          f"{max(3, args.repeats)} interleaved rounds")
    print(f"{'variant':>14} {'compile s':>10} {'temp MiB':>9} {'ms/step':>9} {'tokens/s':>10} "
          f"{'TFLOP/s':>8} {'MFU':>7}")
    for name, step in steps.items():
        tokens_per_s = args.batch * args.context / seconds[name]
        achieved = per_token * tokens_per_s
        peak = peaks["bfloat16" if name == "bf16" else "float32"]
        temp = ("n/a" if step["temp_bytes"] is None
                else f"{step['temp_bytes'] / 2 ** 20:.1f}")
        print(f"{name:>14} {step['compile_s']:>10.2f} {temp:>9} {seconds[name] * 1e3:>9.1f} "
              f"{tokens_per_s:>10,.0f} {achieved / 1e12:>8.4f} {achieved / peak:>7.1%}")
    print(f"FLOPs per token 6N + 12LWT = {per_token / 1e6:.2f}M; MFU of bf16 against the "
          f"bfloat16 peak, of the others against the float32 peak")


def report_generation(args):
    """Prints the cached and uncached greedy decoding times (see the module docstring)."""
    model = TransformerLM(vocab_size=args.vocab, num_layers=args.layers, width=args.width,
                          num_heads=args.heads, max_len=max(args.lengths) + 1)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 8), jnp.int32))["params"]
    prompt = jnp.zeros((args.gen_batch, 1), jnp.int32)
    results = {}
    print(f"generation (greedy, batch {args.gen_batch}, 1-token prompt):")
    print(f"{'length':>8} {'cached s':>10} {'cached tok/s':>13} {'uncached s':>11} "
          f"{'uncached tok/s':>15}")
    for n in args.lengths:
        cached = timed(lambda p, n=n: decoding.greedy(model, p, prompt, n), params,
                       repeats=args.repeats)
        uncached = None
        if n <= args.skip_uncached_above:
            uncached = timed(lambda p, n=n: decoding.greedy_uncached(model, p, prompt, n),
                             params, repeats=max(1, args.repeats // 3))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=83)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--gen-batch", type=int, default=1)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-uncached-above", type=int, default=10 ** 9)
    parser.add_argument("--no-generation", action="store_true")
    args = parser.parse_args()

    shapes = jax.eval_shape(TransformerLM(vocab_size=args.vocab, num_layers=args.layers,
                                          width=args.width, num_heads=args.heads).init,
                            jax.random.key(0), jnp.zeros((1, 8), jnp.int32))["params"]
    print(f"TransformerLM: {args.layers} layers, width {args.width}, {args.heads} heads, "
          f"{num_params(shapes) / 1e6:.2f}M parameters; device {jax.devices()[0].device_kind} "
          f"({jax.devices()[0].platform})")
    report_training(args)
    if not args.no_generation:
        report_generation(args)


if __name__ == "__main__":
    main()
