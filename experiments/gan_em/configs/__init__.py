"""Configs of ``gan_em``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "rings"
# Three players: their summed loss need not fall; the discriminator's does at first.
PROGRESS = {"": "loss_discriminator"}
ARTIFACTS = ("samples.png",)
