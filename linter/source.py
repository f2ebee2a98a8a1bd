"""Bytes → lines. Streams the file (bounded memory on files larger than RAM) and turns what
happens below JSON (encoding, BOM, line endings, binary data, JSON documents given as JSONL)
into findings instead of tracebacks."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

BOM = b"\xef\xbb\xbf"
WHOLE_FILE_PARSE_LIMIT = 256 * 1024 * 1024
READ_BUFFER = 1 << 20  # bytes read at a time: the default 8 KB is three lines of a chat dataset
HEAD_BYTES = 8192  # what `check_file` reads first (encoding, binary data, JSON documents)


@dataclass(slots=True)
class SourceLine:
    number: int  # 1-based
    text: str | None  # decoded, without line ending or BOM; None if it could not be decoded
    offset: int  # byte offset of the line in the file
    size: int  # bytes, without the line ending
    crlf: bool = False
    bom: bool = False
    problem: tuple[str, int, int, str] | None = None  # (code, start, end, message)
    data: bytes | None = None  # the text's UTF-8 bytes, when read from a file (cache keys use them)
    bare_cr: bool = False  # the file's last line, ended by a CR with no LF after it (not CRLF: TL006 says so)


@dataclass(slots=True)
class FileProblem:
    """A problem with the file as a whole; when `fatal`, its lines are not read."""

    code: str
    message: str
    fatal: bool = True


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, a socket, a device): never read, since reading
    one can block forever (a FIFO with no writer) or never end (/dev/zero)."""

    def __init__(self, path: str, kind: str):
        super().__init__(f"{path}: {not_regular_message(kind)}")
        self.kind = kind


def file_kind(mode: int) -> str | None:
    """What a non-regular file is, from its `st_mode`; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def not_regular_message(kind: str) -> str:
    return f"is {kind}, not a regular file: only regular files are read"


def open_regular(path: str, buffering: int = -1):
    """`path` opened for reading in binary mode, if it is a regular file (after symlinks), else
    NotRegularFile. Opened without blocking and checked on the open descriptor, so a FIFO (or a
    file swapped for one) never blocks the open, and what is read is what was checked."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


def check_file(path: str) -> FileProblem | None:
    """Problems visible before reading lines: missing, directory, not a regular file (a FIFO, a
    socket, a device: TL001, never opened for reading), empty, binary, JSON document."""
    if not os.path.exists(path):
        return FileProblem("TL001", "no such file")
    if os.path.isdir(path):
        return FileProblem("TL001", "is a directory (give files, or a directory containing .jsonl files)")
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is not None:
            return FileProblem("TL001", not_regular_message(kind))
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(HEAD_BYTES)
    except NotRegularFile as e:  # swapped for one since the stat
        return FileProblem("TL001", not_regular_message(e.kind))
    except OSError as e:
        return FileProblem("TL001", f"cannot read: {e.strerror or e}")
    return check_head(head, size, lambda: _read_all(path))


def _read_all(path: str) -> bytes:
    with open_regular(path) as f:
        return f.read()


def check_head(head: bytes, size: int, read_all) -> FileProblem | None:
    if size == 0 or not head.strip(b" \t\r\n" + BOM):
        return FileProblem("TL003", "the file is empty" if size == 0 else "the file has only whitespace")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return FileProblem("TL002", "the file is UTF-16 encoded; JSONL must be UTF-8 (re-save it as UTF-8)")
    if b"\x00" in head:
        return FileProblem("TL002", "the file contains NUL bytes: it is binary (an archive, parquet or arrow file?), "
                                    "not JSONL")
    first = head.lstrip(BOM + b" \t\r\n")[:1]
    if first in (b"[", b"{") and size <= WHOLE_FILE_PARSE_LIMIT:
        return _json_document(head, read_all)
    return None


def _json_document(head: bytes, read_all) -> FileProblem | None:
    """TL013 if the whole file is one JSON document that is not JSONL."""
    body = head.lstrip(BOM + b" \t\r\n")
    first_line = body.split(b"\n", 1)[0].strip()
    if body[:1] == b"{" and first_line.endswith(b"}"):
        return None  # looks like JSONL: an object per line; the per-line reader decides
    data = read_all().lstrip(BOM)
    if body[:1] == b"{" and b"\n" not in data.strip():
        return None  # one line longer than the head: JSONL with one example (maybe over max_line_bytes)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        if first_line in (b"{", b"["):
            return FileProblem("TL013", f"line 1 is just {first_line.decode()!r}: this looks like pretty-printed JSON "
                               "(values spread over several lines), not JSON Lines with one example per line")
        return None
    if isinstance(doc, list):
        from .example import FORMAT_LABELS, detect_format

        fmt = detect_format(doc[0]) if doc and isinstance(doc[0], dict) else None
        what = f" of {FORMAT_LABELS[fmt]} examples" if fmt else ""
        layout = "pretty-printed over many lines" if b"\n" in head.strip() else "on one line"
        return FileProblem("TL013", f"the file is a JSON array of {len(doc)} items{what}, {layout}, not JSON Lines; "
                           "`tunelint convert FILE OUT.jsonl` writes one example per line")
    if isinstance(doc, dict):
        return FileProblem("TL013", "the file is one pretty-printed JSON object spread over many lines, not JSON Lines "
                           "(one example per line); `tunelint convert FILE OUT.jsonl` rewrites it")
    return None


def read_lines(path: str) -> Iterator[SourceLine]:
    """The file's lines; NotRegularFile (an OSError) for a FIFO, a socket or a device."""
    with open_regular(path, READ_BUFFER) as f:
        yield from split_lines(f)


def split_lines(chunks) -> Iterator[SourceLine]:
    """Lines from an iterable of byte lines (an open binary file iterates that way)."""
    offset = 0
    for number, raw in enumerate(chunks, 1):
        size_with_eol = len(raw)
        lf = raw.endswith(b"\n")
        if lf:
            raw = raw[:-1]
        cr = raw.endswith(b"\r")
        if cr:
            raw = raw[:-1]
        crlf = cr and lf  # a CR with no LF after it can only end the file's last line
        bom = number == 1 and raw.startswith(BOM)
        if bom:
            raw = raw[len(BOM):]
        size = len(raw)
        try:
            text = raw.decode("utf-8")
            problem = None
        except UnicodeDecodeError as e:
            text = None
            col = len(raw[: e.start].decode("utf-8", "replace")) + (1 if bom else 0)
            bad = raw[e.start : e.start + 1].hex()
            problem = ("TL004", col, col + 1,
                       f"invalid UTF-8 (byte 0x{bad} at column {col + 1}): the file may be Latin-1 or Windows-1252, "
                       "or cut inside a character")
        yield SourceLine(number, text, offset, size, crlf, bom, problem, raw if text is not None else None,
                         cr and not lf)
        offset += size_with_eol


def text_lines(text: str) -> Iterator[SourceLine]:
    """Lines of an in-memory document (what an editor holds), same shape as read_lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    last = len(lines) if not text.endswith("\n") else 0  # a last line with no "\n" after it
    offset = 0
    for number, line in enumerate(lines, 1):
        yield editor_line(number, line, offset, last=number == last)
        offset += len(line) + 1


def editor_line(number: int, line: str, offset: int = 0, *, last: bool = False) -> SourceLine:
    """One line of an editor buffer (without its "\n"): CR and, on line 1, a BOM taken off.
    `last`: the buffer's last line, with no "\n" after it, whose CR is a bare CR (as from disk)."""
    cr = line.endswith("\r")
    body = line[:-1] if cr else line
    bom = number == 1 and body.startswith("\ufeff")
    if bom:
        body = body[1:]
    size = len(body) if body.isascii() else len(body.encode("utf-8", "surrogatepass"))
    return SourceLine(number, body, offset, size, cr and not last, bom, bare_cr=cr and last)
