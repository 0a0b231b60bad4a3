"""Reading log files: decompression, identity, encoding and chunks of numbered lines.

Everything here works on the decompressed byte stream, so offsets and line numbers mean the same
for `access.log` and for the `access.log.2.gz` it later becomes. Memory stays bounded by the
chunk size whatever the file size; one pathological line is cut at MAX_LINE_BYTES.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import zstandard

from secaware.errors import IngestError, Location

CHUNK_BYTES = 16 << 20
MAX_LINE_BYTES = 16 << 20
FINGERPRINT_BYTES = 4096
SNIFF_BYTES = 64 << 10
#: How far the format is looked for when the first lines are longer than SNIFF_BYTES.
SNIFF_MAX_BYTES = 4 << 20
#: Lines the format is judged on (a few of them whole is enough).
SNIFF_MIN_LINES = 10
KEPT_OVERSIZE_BYTES = 64 << 10

#: What a decompressor raises on a corrupt or truncated stream.
DECOMPRESS_ERRORS = (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError)

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}
_SUFFIX = {".gz": "gzip", ".bz2": "bzip2", ".zst": "zstd", ".zstd": "zstd"}


def compression_of(path: Path) -> str | None:
    """Compression from the magic bytes (an extension can lie); None for plain files."""
    with open(path, "rb") as f:
        magic = f.read(4)
    for prefix, kind in _MAGIC.items():
        if magic.startswith(prefix):
            return kind
    if path.suffix.lower() in _SUFFIX and magic:
        raise IngestError(
            f"file ends in {path.suffix} but is not {_SUFFIX[path.suffix.lower()]}-compressed "
            "(corrupt or mis-named); rename it or recompress it", source=Location(str(path)))
    return None


def open_decompressed(path: Path, compression: str | None) -> BinaryIO:
    """A binary stream of the file's content, decompressed."""
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    raw = open(path, "rb")  # noqa: SIM115 - closed by the reader (closefd)
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)  # type: ignore[return-value]


class _Salvaging:
    """Reads a decompressing stream in small steps so a corrupt or truncated archive gives up
    everything before the damage; the error is raised on the read after that."""

    STEP = 1 << 20

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._read = getattr(stream, "read1", stream.read)
        self.error: Exception | None = None

    def read(self, size: int) -> bytes:
        if self.error is not None:
            raise self.error
        parts: list[bytes] = []
        while size > 0:
            try:
                block = self._read(min(size, self.STEP))
            except DECOMPRESS_ERRORS as exc:
                self.error = exc
                if parts:
                    break
                raise
            if not block:
                break
            parts.append(block)
            size -= len(block)
        return b"".join(parts)


def read_head(path: Path, compression: str | None, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of the decompressed content (less if the file is shorter or breaks off early).

    A truncated archive still yields its readable start here; reading the lines reports the break.
    """
    with open_decompressed(path, compression) as f:
        reader = _Salvaging(f)
        try:
            return reader.read(size)
        except DECOMPRESS_ERRORS as exc:
            raise IngestError(f"cannot decompress the start of the file: {exc}", source=Location(str(path))) from exc


def sniff_sample(path: Path, compression: str | None, head: bytes, encoding: str) -> list[str]:
    """Whole lines from the start of the file to tell its format by.

    The head is 64 KB, and a first line can be longer: the zero bytes a crash leaves at the start
    of a log file (delayed allocation), or a long request whose binary bytes are logged as `\\xHH`
    (four characters each). Such a line filled the head, and the whole file was refused as of
    unknown format. Where the head holds few whole lines, up to SNIFF_MAX_BYTES are read, and a
    line cut off by the end of what was read is left out.
    """
    sample = head
    if head.count(b"\n") < SNIFF_MIN_LINES and len(head) >= SNIFF_BYTES:
        sample = read_head(path, compression, SNIFF_MAX_BYTES)
    text = sample.decode(encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if len(sample) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the read stopped inside it
    return lines


def fingerprint(head: bytes) -> tuple[str, int]:
    """Identity of a file's content: sha256 of its first FINGERPRINT_BYTES (fewer while it is short)."""
    part = head[:FINGERPRINT_BYTES]
    return hashlib.sha256(part).hexdigest(), len(part)


def detect_encoding(sample: bytes) -> str:
    """utf-8 or gb18030, judged on whole lines of the sample.

    UTF-8 is tried first because GB18030 accepts most byte sequences and would turn UTF-8 Chinese
    into plausible-looking garbage (and GBK text is almost never valid UTF-8); GB18030 wins only
    when more non-ASCII lines are GB18030 and not UTF-8 than are UTF-8.
    """
    cut = sample.rfind(b"\n")
    if 0 < cut < len(sample) - 1:
        sample = sample[:cut]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    as_utf8 = as_gb = 0
    for line in sample.split(b"\n"):
        if line.isascii():
            continue
        if _decodes(line, "utf-8"):
            as_utf8 += 1
        else:
            as_gb += _decodes(line, "gb18030")
    return "gb18030" if as_gb > as_utf8 else "utf-8"


def detect_newline(sample: bytes) -> bytes:
    r"""b'\n' for LF and CRLF files, b'\r' for the old CR-only convention."""
    if b"\n" not in sample and b"\r" in sample:
        return b"\r"
    return b"\n"


def _decodes(data: bytes, encoding: str) -> int:
    try:
        data.decode(encoding)
        return 1
    except UnicodeDecodeError:
        return 0


@dataclass
class Chunk:
    """Consecutive lines of one file: a frame of raw, line_no, warning and where it ended."""

    lines: pl.DataFrame
    end_offset: int
    end_line: int
    #: The same lines as UTF-8 bytes joined by \n when every line decoded cleanly, so a parser can
    #: hand them to a native splitter; None otherwise.
    text: bytes | None = None


def iter_chunks(
    path: Path,
    compression: str | None,
    *,
    start_offset: int,
    start_line: int,
    encoding: str,
    newline: bytes,
    final: bool,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[Chunk]:
    """Yield the lines after start_offset in chunks of about chunk_bytes.

    An unterminated last line is yielded only when `final` (the file will not grow); otherwise it
    is left for the next run, so a line still being written is never split in two. A decompression
    error raises IngestError after the lines before it have been yielded.
    """
    raw_stream = open_decompressed(path, compression)
    stream: _Salvaging | BinaryIO = _Salvaging(raw_stream) if compression else raw_stream
    try:
        _skip(stream, start_offset, path)
        base, line_no = start_offset, start_line  # base: offset of pending[0]
        pending = b""
        dropped = 0  # bytes of an oversize line dropped after its kept prefix
        while True:
            try:
                block = stream.read(chunk_bytes)
            except DECOMPRESS_ERRORS as exc:
                if final and (pending or dropped):
                    yield _make_chunk(pending, line_no, base + len(pending) + dropped, encoding, newline,
                                      first=base == 0, oversize=dropped > 0)
                raise IngestError(f"cannot decompress past byte {base + len(pending) + dropped}: {exc}",
                                  source=Location(str(path), line_no + 1)) from exc
            if not block:
                break
            if dropped:
                nl = block.find(newline)
                if nl < 0:
                    dropped += len(block)
                    continue
                end = base + len(pending) + dropped + nl + 1
                chunk = _make_chunk(pending, line_no, end, encoding, newline, first=False, oversize=True)
                yield chunk
                base, line_no, pending, dropped = end, chunk.end_line, b"", 0
                block = block[nl + 1:]
            data = pending + block
            cut = data.rfind(newline)
            if cut >= 0:
                chunk = _make_chunk(data[:cut], line_no, base + cut + 1, encoding, newline,
                                    first=base == 0, oversize=False)
                yield chunk
                base, line_no, pending = base + cut + 1, chunk.end_line, data[cut + 1:]
            else:
                pending = data
            if len(pending) > MAX_LINE_BYTES:
                dropped, pending = len(pending) - KEPT_OVERSIZE_BYTES, pending[:KEPT_OVERSIZE_BYTES]
        if final and (pending or dropped):
            yield _make_chunk(pending, line_no, base + len(pending) + dropped, encoding, newline,
                              first=base == 0, oversize=dropped > 0)
    finally:
        raw_stream.close()


def _skip(stream: _Salvaging | BinaryIO, count: int, path: Path) -> None:
    if count <= 0:
        return
    if not isinstance(stream, _Salvaging):
        stream.seek(count)
        return
    while count > 0:
        block = stream.read(min(count, CHUNK_BYTES))
        if not block:
            raise IngestError("file is shorter than what was read before", source=Location(str(path)))
        count -= len(block)


def _make_chunk(body: bytes, line_before: int, end_offset: int, encoding: str, newline: bytes, *,
                first: bool, oversize: bool) -> Chunk:
    if newline == b"\r":
        body = body.replace(b"\r", b"\n")
    if first and body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    frame, text = decode_lines(body, encoding, line_before + 1)
    if oversize:
        note = f"line longer than {MAX_LINE_BYTES >> 20} MiB; first {KEPT_OVERSIZE_BYTES >> 10} KiB kept"
        frame = frame.with_columns(pl.lit(note).alias("warning"))
    return Chunk(frame, end_offset, line_before + frame.height, text)


LINES_SCHEMA = pl.Schema({"raw": pl.String(), "line_no": pl.Int64(), "warning": pl.String()})


def decode_lines(body: bytes, encoding: str, first_line_no: int) -> tuple[pl.DataFrame, bytes | None]:
    r"""Split complete lines (joined by \n, no trailing newline) into a numbered frame.

    Also returns the lines as UTF-8 bytes when the fast path read them all (else None).

    The fast path hands the bytes to Polars' CSV reader with a separator that never occurs, which
    splits lines in native code; anything unusual (invalid bytes, the separator itself) takes the
    line-by-line path, where each bad line is decoded as best it can be and says so in `warning`.
    """
    expected = body.count(b"\n") + 1
    frame = None
    data: bytes | None = None
    if b"\x1f" not in body:
        data = body
        if encoding != "utf-8":
            try:
                data = body.decode(encoding).encode("utf-8")
            except UnicodeDecodeError:
                data = None
        if data is not None:
            frame = _fast_lines(data, expected)
    if frame is None:
        frame, data = _slow_lines(body, encoding), None
    return frame.with_columns(
        pl.int_range(first_line_no, first_line_no + frame.height, dtype=pl.Int64).alias("line_no")
    ).select(LINES_SCHEMA.names()), data


def _fast_lines(data: bytes, expected: int) -> pl.DataFrame | None:
    if not data:
        return pl.DataFrame({"raw": [""], "warning": [None]}, schema={"raw": pl.String, "warning": pl.String})
    try:
        df = pl.read_csv(
            io.BytesIO(data), separator="\x1f", quote_char=None, has_header=False, new_columns=["raw"],
            schema={"raw": pl.String}, empty_string_is_null=False, raise_if_empty=False,
            truncate_ragged_lines=False, encoding="utf8",
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
        return None
    if df.height != expected:
        return None
    return df.select(
        pl.col("raw").fill_null("").str.strip_suffix("\r"),
        pl.lit(None, dtype=pl.String).alias("warning"),
    )


def _slow_lines(body: bytes, encoding: str) -> pl.DataFrame:
    other = "gb18030" if encoding == "utf-8" else "utf-8"
    raws: list[str] = []
    warnings: list[str | None] = []
    for line in body.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        try:
            raws.append(line.decode(encoding))
            warnings.append(None)
            continue
        except UnicodeDecodeError:
            pass
        try:
            raws.append(line.decode(other))
            warnings.append(f"line is {other}, file is {encoding}")
        except UnicodeDecodeError:
            raws.append(line.decode(encoding, errors="backslashreplace"))
            warnings.append(f"invalid {encoding} bytes shown as \\xHH")
    return pl.DataFrame({"raw": raws, "warning": warnings}, schema={"raw": pl.String, "warning": pl.String})
