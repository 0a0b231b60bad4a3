"""Detect stage: Sigma rules compiled to Polars expressions, run over the events into alerts."""

from secaware.detect.pipeline import DetectReport, detect

__all__ = ["DetectReport", "detect"]
