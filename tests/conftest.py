from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from secaware.ingest._common import FileContext
from secaware.ingest.reader import LINES_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SECAWARE_SHARED", ROOT.parent / "shared"))
DATASETS = SHARED / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The public datasets in ../shared/datasets, read in place."""
    if not DATASETS.is_dir():
        pytest.fail(f"the shared datasets are missing: expected {DATASETS} (set SECAWARE_SHARED)")
    return DATASETS


def lines_frame(lines: list[str]) -> pl.DataFrame:
    """A chunk as the reader hands it to parsers."""
    return pl.DataFrame({"raw": lines, "line_no": list(range(1, len(lines) + 1)), "warning": [None] * len(lines)},
                        schema=LINES_SCHEMA)


def parse_frame(fmt: str, lines: list[str], *, native: bool = True, **ctx: object) -> pl.DataFrame:
    """Parse lines with a registered format, as the pipeline does (native=True hands the parser the
    chunk's bytes too, as the reader does for cleanly decoded chunks)."""
    from secaware.ingest.formats import FORMATS

    context = FileContext(path="/logs/test.log", format=fmt, **ctx)  # type: ignore[arg-type]
    context.chunk_text = "\n".join(lines).encode() if native else None
    return FORMATS[fmt].parse(lines_frame(lines), context)


def parse_lines(fmt: str, lines: list[str], **ctx: object) -> list[dict[str, object]]:
    """Parse lines with a registered format and return the rows as dicts."""
    from secaware.schema import EVENT_COLUMNS

    out = parse_frame(fmt, lines, **ctx)
    missing = [pl.lit(None, dtype=c.dtype).alias(c.name) for c in EVENT_COLUMNS if c.name not in out.columns]
    return out.with_columns(missing).to_dicts()


def read_table(store: Path, table: str) -> pl.DataFrame:
    path = store / table
    if not (path / "_delta_log").is_dir():
        from secaware.schema import schema

        return pl.DataFrame(schema=schema(table))
    return pl.read_delta(str(path))
