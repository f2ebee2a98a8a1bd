"""Parquet input: each row of a `.parquet` file is checked as the JSONL line holding the same
object would be (Hugging Face datasets are stored this way).

A row becomes a JSON object of its columns (`row_text`); its findings then name the row and, since
a row has no columns of text, the JSON path of the value (`$.messages[1].content`) instead of a
column (`json_path`). pyarrow (the `parquet` extra) is imported only when a Parquet file is read.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import orjson

from .example import detect_format
from .source import FileProblem, SourceLine

SUFFIX = ".parquet"
ROWS_PER_BATCH = 1024  # rows decoded at a time: bounded memory on files of any size
# the top-level columns any of the formats is recognised by (`example.detect_format`)
FORMAT_COLUMNS = ("messages", "input", "conversations", "instruction", "prompt", "text")
WHOLE_ROW = "$"


class ParquetUnavailable(ValueError):
    """pyarrow is not installed: a usage problem (exit 2), not a finding."""


def is_parquet(path: str) -> bool:
    return path.lower().endswith(SUFFIX)


def _pq():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ParquetUnavailable("reading Parquet files needs pyarrow: pip install 'tunelint[parquet]'") from None
    return pq


def check_parquet(path: str) -> FileProblem | None:
    """Problems with the file as a whole: not readable as Parquet (TL002: a damaged file, or not
    Parquet at all), no rows (TL003), or no column any format is recognised by (TL002)."""
    import os

    from .source import check_file

    if not os.path.isfile(path):
        return check_file(path)  # missing, a directory, a FIFO: said as for any file
    pq = _pq()
    try:
        meta = pq.ParquetFile(path).schema_arrow
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as e:  # pyarrow's ArrowInvalid, OSError, ...: the file, not tunelint
        return FileProblem("TL002", f"not a readable Parquet file: {_reason(e)}")
    if rows == 0:
        return FileProblem("TL003", "the Parquet file has no rows")
    names = meta.names
    if detect_format(dict.fromkeys(names)) is None:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return FileProblem("TL002", f"no column tunelint can check: the Parquet file has columns ({shown}); "
                           f"examples need a `messages` column, or one of {', '.join(FORMAT_COLUMNS[1:])} "
                           "as in JSONL")
    return None


def _reason(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class ParquetReadError(Exception):
    """A row group that cannot be decoded halfway through the file."""

    def __init__(self, path: str, row: int, reason: str):
        super().__init__(f"{path}: cannot read row {row}: {reason}")
        self.row = row
        self.reason = reason


def read_rows(path: str) -> Iterator[SourceLine]:
    """The file's rows (numbered from 1) as JSON lines, decoded ROWS_PER_BATCH at a time.
    ParquetReadError for a row group that cannot be decoded."""
    pq = _pq()
    f = pq.ParquetFile(path)
    number = 0
    try:
        for batch in f.iter_batches(batch_size=ROWS_PER_BATCH):
            for row in batch.to_pylist():
                number += 1
                yield row_line(number, row)
    except (OSError, ValueError) as e:  # pyarrow's errors derive from these
        raise ParquetReadError(path, number + 1, _reason(e)) from None


def row_text(row: dict) -> bytes:
    """The row as the JSON object a JSONL line would hold: a null is a missing key (Parquet's
    struct columns give every row every field, null where the source had none), bytes are base64
    (an image's bytes), other values (dates, decimals) their text."""
    return orjson.dumps(_clean(row), default=_default)


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _default(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    return str(v)


def row_line(number: int, row: dict) -> SourceLine:
    data = row_text(row)
    return SourceLine(number, data.decode(), 0, len(data), data=data)


# -- where a finding is in a row ------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def path_text(path: tuple) -> str:
    """A JSON path as text: `$`, `$.messages[1].content`, `$["odd key"]`."""
    out = WHOLE_ROW
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT.match(p):
            out += f".{p}"
        else:
            out += "[" + orjson.dumps(p).decode() + "]"
    return out


class RowPaths:
    """Finds the JSON path of the value a column span of a row's JSON text falls in (the deepest
    key or value holding it)."""

    def __init__(self, text: str):
        from .locate import ScanError, locate

        try:
            self.spans = locate(text).spans
        except ScanError:  # cannot happen for orjson's output; the whole row, then
            self.spans = {}

    def at(self, start: int, end: int) -> str:
        """`start`, `end`: 0-based columns of the text (end exclusive)."""
        best, width = (), None
        for path, sp in self.spans.items():
            lo = min(sp.key_start, sp.start)
            if lo <= start and end <= max(sp.end, start + 1) and (width is None or sp.end - lo < width):
                best, width = path, sp.end - lo
        return path_text(best)
