"""Configs of ``any_order_tables``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "text_tables"
