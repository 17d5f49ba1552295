"""Membership inference against a tiny language model: Min-K% Prob [P105] and Min-K%++ [P251]."""
