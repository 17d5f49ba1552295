"""Configs of ``slm_kd``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "markov"

# The student's loss is the KD mixture for objective.kd_steps steps, then the CE: its first
# and last values are different objectives. Its NLL of the data is logged throughout.
PROGRESS = {"teacher": "loss", "student": "nll"}
