"""Configs of ``mle_flow``. The end-to-end test harness (``tests/test_experiments_e2e.py``) runs
``PRIMARY`` in its ``runlocal`` mode."""

PRIMARY = "toy2d"
