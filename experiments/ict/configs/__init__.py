"""Configs of ``ict``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"

ARTIFACTS = ("samples.png",)

# iCT's loss compares the network at adjacent noise levels of a curriculum that doubles their
# number during the run (11 -> 961 levels in runlocal): its scale changes with the level
# count, so it need not fall between the first and last logged lines (it rose 0.94 -> 1.44
# in one measured run); the tests check the curriculum and the samples' W2 instead.
PROGRESS = {"": None}
