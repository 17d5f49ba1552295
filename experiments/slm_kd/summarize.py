"""Steps to a target held-out NLL and final/best NLL of finished SALT runs.

Usage::

    python -m experiments.slm_kd.summarize --target 2.03 W_ce W_kd W_salt W_salt_ds
"""

from __future__ import annotations

import argparse
import json
import os

from experiments.slm_kd.experiment import steps_to_target


def summarize(workdir: str, target: float, metric: str = "fwd_ce") -> dict:
    """``{"steps_to_target", "best", "best_step", "final"}`` of one run's test evaluations."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    evals = sorted((m for m in lines if m.get("split") == "test"), key=lambda m: m["step"])
    if not evals:
        raise ValueError(f"{workdir} has no test evaluations")
    best = min(evals, key=lambda m: m[metric])
    return {"steps_to_target": steps_to_target(evals, metric, target), "best": best[metric],
            "best_step": best["step"], "final": evals[-1][metric],
            "final_tv": evals[-1].get("tv")}


def main(argv=None):
    """Prints a markdown table row per workdir."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--metric", default="fwd_ce")
    parser.add_argument("workdirs", nargs="+")
    args = parser.parse_args(argv)
    print(f"| run | steps to {args.metric} <= {args.target} | best (step) | final | final TV |")
    print("|---|---|---|---|---|")
    for workdir in args.workdirs:
        s = summarize(workdir, args.target, args.metric)
        print(f"| {workdir} | {s['steps_to_target']} | {s['best']:.4f} ({s['best_step']}) | "
              f"{s['final']:.4f} | {s['final_tv']:.4f} |")


if __name__ == "__main__":
    main()
