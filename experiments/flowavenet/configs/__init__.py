"""Configs of ``flowavenet``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "ar1"
# The generated and reference audio and their plot (FloWaveNetExperiment.write_artifacts).
ARTIFACTS = ("generated.wav", "reference.wav", "waveforms.png")
