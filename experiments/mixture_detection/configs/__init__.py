"""Configs of ``mixture_detection``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "rectangles"
