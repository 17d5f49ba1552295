"""Configs of ``training_dynamics_hmm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "mle_flow"
#: Files the run leaves: the states over training steps of every seed, and the fit.
ARTIFACTS = ("states.png", "hmm.json")
#: A Procedure (short training runs of another experiment, then EM fits of HMMs): the
#: metric sequences it reads are the other runs' losses, none of its own to see fall.
PROGRESS = {"": None}
