"""Where metrics go: ``metrics.jsonl``, TensorBoard, and the terminal.

``metrics.jsonl`` holds one JSON object per line: training lines with ``step``
and ``loss`` (and the experiment's other training metrics), evaluation lines
with ``step``, ``"split": "test"`` and the experiment's headline metric.
Only process 0 writes.

A kill while a line is written can leave a partial last line (no newline at its
end): readers skip it, and the next :class:`MetricWriter` drops it and says so. A
line that is not JSON anywhere else is an error naming the file and the line.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import jax

METRICS_FILE = "metrics.jsonl"


def _parse_metrics(path: str) -> tuple[list[dict[str, Any]], str | None, bool]:
    """``(lines, partial last line or None, whether the file needs a rewrite)``.

    The partial last line is text after the last newline that is not a JSON object
    (a write cut short by a kill).

    Raises:
      ValueError: a line before the last is not a JSON object (names file and line).
    """
    if not os.path.exists(path):
        return [], None, False
    with open(path) as f:
        text = f.read()
    *complete, tail = text.split("\n")
    lines = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            value = err
        if not isinstance(value, dict):
            raise ValueError(f"{path}, line {number}, is not a JSON object: the file was "
                             f"damaged or edited; fix or delete that line") from None
        lines.append(value)
    if not tail.strip():
        return lines, None, False
    try:
        value = json.loads(tail)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):  # complete, only its newline is missing
        return lines + [value], None, True
    return lines, tail, True


def read_metrics(workdir: str) -> list[dict[str, Any]]:
    """All lines of ``workdir/metrics.jsonl`` (empty list if absent).

    A partial last line (a write cut short) is skipped.

    Raises:
      ValueError: another line is not a JSON object (the message names file and line).
    """
    return _parse_metrics(os.path.join(workdir, METRICS_FILE))[0]


def _plain(value: Any) -> Any:
    if isinstance(value, str):  # kept as written (e.g. a hash that happens to be all digits)
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return value
    return value if math.isfinite(value) else str(value)


class MetricWriter:
    """Appends metrics to ``metrics.jsonl`` and TensorBoard event files.

    Args:
      workdir: the run's folder.
      resume_step: when training starts or resumes at this step, lines logged
        after it (by the run that was interrupted) are dropped so the file has
        no duplicates; None appends without dropping anything.
      log: where the note about a dropped partial last line goes.
    """

    def __init__(self, workdir: str, resume_step: int | None = None,
                 log: Callable[[str], None] = print):
        self.enabled = jax.process_index() == 0
        self.path = os.path.join(workdir, METRICS_FILE)
        self._tb = None
        if not self.enabled:
            return
        lines, partial, rewrite = _parse_metrics(self.path)
        if partial is not None:
            log(f"{self.path}: dropped a partial last line (a run was stopped while writing "
                f"it): {partial[:60]!r}")
        kept = [m for m in lines if resume_step is None or m.get("step", 0) <= resume_step]
        if rewrite or len(kept) < len(lines):
            # Written aside and renamed: a kill now leaves the old file or the new one.
            partial_path = f"{self.path}.tmp{os.getpid()}"
            with open(partial_path, "w") as f:
                f.writelines(json.dumps(m) + "\n" for m in kept)
            os.replace(partial_path, self.path)
        from tensorboardX import SummaryWriter  # local: keeps import of the package light
        self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"), flush_secs=30)

    def write(self, step: int, metrics: dict[str, Any], split: str | None = None) -> None:
        """Writes one line; ``split`` (e.g. "test") marks evaluation lines."""
        if not self.enabled:
            return
        line = {"step": int(step)}
        if split is not None:
            line["split"] = split
        line.update({k: _plain(v) for k, v in metrics.items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")
        prefix = f"{split}/" if split else "train/"
        for k, v in line.items():
            if k not in ("step", "split") and isinstance(v, float):
                self._tb.add_scalar(prefix + k, v, int(step))

    def close(self) -> None:
        """Flushes TensorBoard."""
        if self._tb is not None:
            self._tb.close()


class Progress:
    """A tqdm bar (loss, steps/s, ETA) on a terminal, plain log lines otherwise."""

    def __init__(self, total_steps: int, initial_step: int):
        self.total = total_steps
        self.enabled = jax.process_index() == 0
        self.interactive = self.enabled and sys.stderr.isatty()
        self._last_step, self._last_time = initial_step, time.perf_counter()
        self._bar = None
        if self.interactive:
            from tqdm import tqdm

            # A pseudo-terminal may report a 0 x 0 window (no size set): tqdm would then
            # draw nothing at all, so give it a fixed size ($COLUMNS/$LINES or 80 x 24).
            sized = _terminal_columns(sys.stderr) > 0
            fixed = shutil.get_terminal_size()
            self._bar = tqdm(total=total_steps, initial=initial_step, unit="step",
                             dynamic_ncols=sized, ncols=None if sized else fixed.columns,
                             nrows=None if sized else fixed.lines)

    def update(self, step: int, metrics: dict[str, float]) -> None:
        """Reports progress up to ``step`` with the latest training metrics."""
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        if self._bar is not None:
            self._bar.update(step - self._last_step)
            self._bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.4f}")
        else:
            eta = (self.total - step) / rate if rate > 0 else float("inf")
            shown = " ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                             if isinstance(v, float))
            print(f"step {step}/{self.total} {shown} | {rate:.1f} steps/s | "
                  f"ETA {_format_seconds(eta)}", flush=True)
        self._last_step, self._last_time = step, now

    def message(self, text: str) -> None:
        """Prints a line without breaking the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        """Closes the bar."""
        if self._bar is not None:
            self._bar.close()


def _terminal_columns(stream) -> int:
    """The width of the terminal ``stream`` writes to (0 when it reports none)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def _format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
