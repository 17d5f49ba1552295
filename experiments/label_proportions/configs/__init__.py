"""Configs of ``label_proportions``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
#: A Procedure (BP pseudo-labels and classifiers fitted inside one run): no training loss is
#: logged step by step, so there is none to see fall.
PROGRESS = {"": None}
