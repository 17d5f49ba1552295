"""Seeds as a first-class run: one config over several seeds, one table.

``python -m likelihood_jax.main --config C --workdir W --seeds 0,1,2`` (or ``--seeds 3``
for seeds 0, 1, 2) trains (or evaluates) the config once per seed, each in
``W/seed<s>/`` with ``config.seed = s`` (a plain run, a Procedure or a chain of stages,
each resuming on its own), then writes

* ``W/seeds.json``: the seeds, every seed's test metrics, and per metric the mean, the
  sample standard deviation and the half-width of the 95% Student-t interval
  (:func:`likelihood_jax.metrics.mean_confidence_interval`);
* ``W/seeds.md``: the same summary as a markdown table, headline metric first, ready for
  an experiment README.

The seeds run one after another (each one its own compiled run). Training the seeds of a
small model together (``vmap`` over stacked parameters in one jitted step) is not built:
see the project's issue on reproductions a researcher can trust.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from likelihood_jax import metrics as metrics_lib

SUMMARY_JSON = "seeds.json"
SUMMARY_TABLE = "seeds.md"


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"3"`` -> ``(0, 1, 2)``; ``"0,4,7"`` -> ``(0, 4, 7)``.

    Raises:
      ValueError: not a count or a comma-separated list of distinct non-negative integers,
        or fewer than two seeds (an interval needs two).
    """
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--seeds expects a count (3) or a list (0,1,2); got {text!r}") from None
    seeds = tuple(range(values[0])) if len(values) == 1 else tuple(values)
    if len(seeds) < 2 or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds needs at least two distinct non-negative seeds; got {text!r}")
    return seeds


def seed_workdir(workdir: str, seed: int) -> str:
    """The run folder of one seed: ``<workdir>/seed<seed>``."""
    return os.path.join(workdir, f"seed{seed}")


def summarize(per_seed: Mapping[int, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: ``mean``, ``std`` (ddof 1), ``half_width_95`` and ``n`` over the seeds.

    A metric enters the summary only when every seed reports it as a finite number; the
    others are listed under the key ``"_incomplete"`` of the result's metric table
    (so a missing or NaN value is visible, never averaged away).
    """
    names = sorted({k for m in per_seed.values() for k in m})
    summary, incomplete = {}, []
    for name in names:
        values = [m.get(name) for m in per_seed.values()]
        numeric = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(numeric) != len(values):
            incomplete.append(name)
            continue
        mean, half = metrics_lib.mean_confidence_interval(numeric)
        summary[name] = {"mean": mean, "std": float(np.std(numeric, ddof=1)),
                         "half_width_95": half, "n": len(numeric)}
    if incomplete:
        summary["_incomplete"] = {"metrics": incomplete}
    return summary


def markdown_table(summary: Mapping[str, Mapping], headline: str, digits: int = 4) -> str:
    """The summary as ``| metric | mean +- 95% half-width | std | n |`` rows, headline first."""
    rows = [n for n in summary if not n.startswith("_")]
    rows.sort(key=lambda n: (n != headline, n))
    lines = ["| metric | mean +- 95% interval | std | seeds |", "|---|---|---|---|"]
    for name in rows:
        s = summary[name]
        lines.append(f"| {name} | {s['mean']:.{digits}g} +- {s['half_width_95']:.{digits}g} "
                     f"| {s['std']:.{digits}g} | {s['n']} |")
    if "_incomplete" in summary:
        lines.append("")
        lines.append("Not summarized (missing or non-finite on some seed): "
                     + ", ".join(summary["_incomplete"]["metrics"]))
    return "\n".join(lines) + "\n"


def write_summary(workdir: str, per_seed: Mapping[int, Mapping[str, float]],
                  headline: str) -> dict[str, dict[str, float]]:
    """Writes ``seeds.json`` and ``seeds.md`` into ``workdir``; returns the summary."""
    summary = summarize(per_seed)
    record = {"seeds": sorted(per_seed), "headline": headline,
              "per_seed": {str(s): dict(m) for s, m in sorted(per_seed.items())},
              "summary": summary}
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, SUMMARY_JSON), "w") as f:
        json.dump(record, f, indent=2, default=float)
    with open(os.path.join(workdir, SUMMARY_TABLE), "w") as f:
        f.write(markdown_table(summary, headline))
    return summary


def headline_line(summary: Mapping[str, Mapping], headline: str) -> str:
    """``test <headline>: mean +- half (n=N seeds)``, or a note when it is incomplete."""
    if headline not in summary:
        return f"test {headline}: not reported finite by every seed (see {SUMMARY_JSON})"
    s = summary[headline]
    return (f"test {headline}: {s['mean']:.6g} +- {s['half_width_95']:.3g} "
            f"(95% interval, n={s['n']} seeds)")


def per_seed_configs(config, seeds: Sequence[int]):
    """``(seed, config with config.seed = seed)`` for each seed (deep copies)."""
    for seed in seeds:
        one = copy.deepcopy(config)
        with one.unlocked():
            one.seed = int(seed)
        yield int(seed), one
