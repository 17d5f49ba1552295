"""Prints the README table of runs: ``python -m experiments.unbiased_dbm.summarize ROOT``.

``ROOT/<method>/seed<s>/metrics.jsonl`` as written by the README's commands (``--seeds 3``);
each cell is the mean +- 95% interval over seeds (``likelihood_jax.metrics.format_interval``)
of the final test line's metric (``validation_nll``: the final validation NLL).
"""

import collections
import json
import pathlib
import sys

from likelihood_jax.metrics import format_interval

METRICS = ("validation_nll", "nll", "nll_ais", "log_z", "log_z_ais")
TRAIN = ("meeting_time", "meeting_time_max", "pos_meeting_time", "capped")


def final_lines(workdir: pathlib.Path) -> tuple[dict, dict]:
    """The last test line and the mean of the training lines' meeting-time metrics."""
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    test = dict([x for x in lines if x.get("split") == "test"][-1])
    test["validation_nll"] = [x for x in lines if x.get("split") == "validation"][-1]["nll"]
    train = [x for x in lines if "split" not in x and "meeting_time" in x]
    means = {k: sum(x[k] for x in train) / len(train) for k in TRAIN if train}
    if train:
        means["meeting_time_max"] = max(x["meeting_time_max"] for x in train)
    return test, means


def main(root: str) -> None:
    """Prints one table row per method under ``root``."""
    runs = collections.defaultdict(list)
    for workdir in sorted(pathlib.Path(root).glob("*/seed[0-9]*")):
        runs[workdir.parent.name].append(final_lines(workdir))
    print("| method | seeds | " + " | ".join(METRICS) + " | mean tau | max tau | capped |")
    print("|---" * (len(METRICS) + 5) + "|")
    for method, results in runs.items():
        cells = [format_interval([t[m] for t, _ in results]) for m in METRICS]
        extra = [f"{sum(x[k] for _, x in results) / len(results):.3g}" if results[0][1] else "-"
                 for k in ("meeting_time", "meeting_time_max", "capped")]
        print(f"| {method} | {len(results)} | " + " | ".join(cells + extra) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
