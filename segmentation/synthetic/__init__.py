"""Synthetic data: the 20-field customer file and, optionally, its orders log, generated from a seed."""
