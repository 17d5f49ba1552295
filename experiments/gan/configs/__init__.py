"""Configs of ``gan``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "eight_gaussians"
# The sum of the two players' losses need not fall; the discriminator's does at first, as it
# learns to tell the untrained generator's samples from data.
PROGRESS = {"": "loss_discriminator"}
ARTIFACTS = ("samples.png",)
