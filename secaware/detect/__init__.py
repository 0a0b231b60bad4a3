"""Detect: Sigma rules compiled into native Polars expressions (see backend.py)."""
