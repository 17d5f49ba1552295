"""Test-session setup shared by every test module."""

import os

# As in likelihood_jax/main.py: single-threaded OpenBLAS behind jaxlib's CPU LAPACK kernels
# (slogdet/solve), whose spinning worker threads slow those kernels 10-40x on 2 shared cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
