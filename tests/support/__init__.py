"""Helpers shared by the test tiers: the reference frameworks (reference.py) and float64 finite
differences (gradcheck.py)."""
