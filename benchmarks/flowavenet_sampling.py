"""FloWaveNet's speed claim: parallel flow sampling against sequential autoregressive sampling.

Kim et al. 2019 (FloWaveNet [P026]) replace WaveNet's ancestral sampling (one sample per
network evaluation) by the inverse of a flow, which produces every sample of a clip at once.
This benchmark measures, side by side in one process on the same machine, the samples per
second of

* ``flow``: :class:`likelihood_jax.flows.FloWaveNet` (the speech config's default model unless
  overridden) under :class:`likelihood_jax.flows.Flow`, one ``flow.sample`` per mel (the
  context) vmapped over ``--clips`` clips of ``--length``
  samples conditioned on mel spectrograms;
* ``autoregressive``: :class:`likelihood_jax.flows.AutoregressiveWaveNet`, a causal WaveNet
  (``--ar-layers`` dilated layers of kernel 2, ``--hidden`` channels, Gaussian output) sampled
  one sample per ``lax.scan`` step, re-running the network on its receptive field each step
  (no activation cache), ``jax.jit(jax.vmap(ar.sample))`` over the same clips.

Both functions are compiled first (compilation is reported, not timed into the rate); each
repeat runs both in turn; the table reports the median wall time of ``--repeats`` repeats and
``clips * length / time``. Parameters are random: the speed does not depend on their values.

Run by hand (not part of the tests)::

    python benchmarks/flowavenet_sampling.py                    # 1 clip of 4096 samples
    python benchmarks/flowavenet_sampling.py --clips 4 --length 8192 --ar-layers 8
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import jax

from likelihood_jax import flows


def _param_count(params) -> int:
    return sum(math.prod(p.shape) for p in jax.tree.leaves(params))


def main() -> None:
    """Parses the flags, times both samplers and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=4096, help="samples per clip")
    parser.add_argument("--clips", type=int, default=1, help="clips sampled at once")
    parser.add_argument("--mels", type=int, default=40)
    parser.add_argument("--factors", type=int, nargs="+", default=[8, 8])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--flows", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--split", type=int, default=2, help="blocks_per_split")
    parser.add_argument("--ar-layers", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    hop = math.prod(args.factors)
    flow = flows.Flow(flows.FloWaveNet(length=args.length, num_mels=args.mels,
                                       upsample_factors=tuple(args.factors),
                                       num_blocks=args.blocks, num_flows=args.flows,
                                       num_layers=2, hidden=args.hidden,
                                       blocks_per_split=args.split), (args.length,))
    ar = flows.AutoregressiveWaveNet(length=args.length, num_mels=args.mels,
                                     upsample_factors=tuple(args.factors),
                                     num_layers=args.ar_layers, hidden=args.hidden)
    key = jax.random.key(0)
    x = 0.1 * jax.random.normal(key, (args.clips, args.length))
    mel = jax.random.normal(jax.random.key(1), (args.clips, args.length // hop, args.mels))
    flow_params = jax.jit(flow.init)(jax.random.key(2), x, mel)
    ar_params = jax.jit(ar.init)(jax.random.key(3), x, mel)
    keys = jax.random.split(jax.random.key(4), args.clips)

    samplers = {
        "flow": (jax.jit(jax.vmap(lambda p, k, c: flow.sample(p, k, 1, c)[0],
                                  in_axes=(None, 0, 0))), flow_params),
        "autoregressive": (jax.jit(jax.vmap(ar.sample, in_axes=(None, 0, 0))), ar_params),
    }
    compile_s = {}
    for name, (fn, params) in samplers.items():
        start = time.perf_counter()
        jax.block_until_ready(fn(params, keys, mel))
        compile_s[name] = time.perf_counter() - start
    times = {name: [] for name in samplers}
    for _ in range(args.repeats):
        for name, (fn, params) in samplers.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(params, keys, mel))
            times[name].append(time.perf_counter() - start)

    total = args.clips * args.length
    print(f"device: {jax.devices()[0].device_kind}; {args.clips} clip(s) x {args.length} "
          f"samples, {args.mels} mels, hop {hop}")
    print(f"flow: {args.blocks} blocks x {args.flows} flows, hidden {args.hidden}, split every "
          f"{args.split}; {_param_count(flow_params)} parameters")
    print(f"autoregressive: causal WaveNet, {args.ar_layers} layers (receptive field "
          f"{ar.receptive_field}), hidden {args.hidden}; {_param_count(ar_params)} parameters")
    print(f"{'sampler':<16}{'first call s':>14}{'median s':>12}{'samples/s':>14}")
    rates = {}
    for name in samplers:
        median = statistics.median(times[name])
        rates[name] = total / median
        print(f"{name:<16}{compile_s[name]:>14.2f}{median:>12.3f}{rates[name]:>14.0f}")
    print(f"flow / autoregressive speed ratio: {rates['flow'] / rates['autoregressive']:.1f}x")


if __name__ == "__main__":
    main()
