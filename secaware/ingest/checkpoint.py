"""What has been read: file identities and offsets, from the ingest_log table.

A file is known by the hash of its first bytes, not by its name, so `access.log` renamed to
`access.log.1` and compressed to `access.log.2.gz` is still the same file: reading resumes where
it stopped and nothing is read twice. Files shorter than the fingerprint length are matched on
the prefix they had, and only within the same directory, since short prefixes (an IIS header
alone) can be shared by unrelated files.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from secaware.ingest.reader import FINGERPRINT_BYTES
from secaware.schema import INGEST_LOG, schema
from secaware.store import Store


@dataclass
class FileState:
    file: str
    fingerprint: str
    fp_len: int
    end_offset: int
    end_line: int
    format: str
    encoding: str
    size: int
    mtime_ns: int
    complete: bool
    state: dict[str, Any] = field(default_factory=dict)


class CheckpointIndex:
    """In-memory view of ingest_log: the furthest point reached for each file identity."""

    def __init__(self) -> None:
        self._by_fp: dict[tuple[str, int], FileState] = {}
        self._short: dict[str, dict[tuple[str, int], FileState]] = {}
        self._complete: dict[tuple[str, int, int], FileState] = {}

    @classmethod
    def load(cls, store: Store) -> CheckpointIndex:
        index = cls()
        if not store.exists(INGEST_LOG):
            return index
        rows = (
            store.scan(INGEST_LOG)
            .sort("end_offset", "batch_id")
            .group_by("fingerprint", "fp_len", "file", maintain_order=True)
            .last()
            .collect()
        )
        for r in rows.iter_rows(named=True):
            index.update(FileState(
                file=r["file"], fingerprint=r["fingerprint"], fp_len=r["fp_len"], end_offset=r["end_offset"],
                end_line=r["end_line"], format=r["format"], encoding=r["encoding"], size=r["size"],
                mtime_ns=r["mtime_ns"], complete=bool(r["complete"]), state=json.loads(r["state"] or "{}"),
            ))
        return index

    def update(self, st: FileState) -> None:
        key = (st.fingerprint, st.fp_len)
        old = self._by_fp.get(key)
        if old is None or st.end_offset >= old.end_offset:
            self._by_fp[key] = st
            if st.fp_len < FINGERPRINT_BYTES:
                self._short.setdefault(os.path.dirname(st.file), {})[key] = st
        if st.complete:
            self._complete[(st.file, st.size, st.mtime_ns)] = st

    def completed(self, path: str, size: int, mtime_ns: int) -> FileState | None:
        """A compressed file already read to its end and unchanged since."""
        return self._complete.get((path, size, mtime_ns))

    def find(self, path: str, head: bytes) -> FileState | None:
        """The furthest-read state of the content that starts with head, if any."""
        best: FileState | None = None
        full_fp = hashlib.sha256(head[:FINGERPRINT_BYTES]).hexdigest()
        candidates = [self._by_fp.get((full_fp, min(len(head), FINGERPRINT_BYTES)))]
        for (fp, n), st in self._short.get(os.path.dirname(path), {}).items():
            if n < len(head) and hashlib.sha256(head[:n]).hexdigest() == fp:
                candidates.append(st)
        for st in candidates:
            if st is not None and (best is None or st.end_offset > best.end_offset):
                best = st
        return best


def log_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema(INGEST_LOG))
