"""Configs of ``mollification``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
# The training NLL is of the mollified data, whose noise anneals to zero over the first half
# of the run: the target sharpens, so the logged loss rises before it falls (runlocal: 3.51 at
# the first line, 4.11 mid-run, 3.85 at the end). check_runlocal of
# tests/experiments/test_mollification.py checks that the noise-free part falls.
PROGRESS = {"": None}
# The loop's plots of the 2D toy (samples and the model density).
ARTIFACTS = ("samples.png", "density.png")
