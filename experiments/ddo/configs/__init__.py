"""Configs of ``ddo``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
# The ddo stage's loss is a discriminator cross-entropy that starts at 2 log 2 and need not
# fall; the harness checks the chain's last stage, so runlocal is only the MLE stage's check.
