"""Ingest: sniff, decode and parse log files into the store's events and rejects tables."""

from secaware.ingest.formats import FORMATS, resolve, sniff
from secaware.ingest.pipeline import FileResult, IngestReport, ingest

__all__ = ["FORMATS", "FileResult", "IngestReport", "ingest", "resolve", "sniff"]
