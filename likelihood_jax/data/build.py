"""Builds offline datasets ahead of time and prints their sizes.

Usage::

    python -m likelihood_jax.data.build                    # every offline dataset
    python -m likelihood_jax.data.build moons digits --data_dir /data/tfds
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from likelihood_jax.data import loader


def main(argv: list[str] | None = None) -> int:
    """Builds the named datasets (all offline ones by default).

    Args:
      argv: Command line arguments without the program name.

    Returns:
      The process exit status: 0 when every dataset was built.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"datasets (default: {' '.join(loader.DATASETS)})")
    parser.add_argument("--data_dir", default=None, help="defaults to $LIKELIHOOD_JAX_DATA_DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    status = 0
    for name in args.names or loader.DATASETS:
        start = time.perf_counter()
        try:
            ds = loader.load_dataset(name, data_dir=args.data_dir)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others.
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{ds!r} in {time.perf_counter() - start:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
