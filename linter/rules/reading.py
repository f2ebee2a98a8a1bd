"""TL0xx: reading the file. These findings come from the reader and the JSON parser; the
docstrings here are their documentation."""

from ..registry import declare

declare("TL001", "io-error", "error", """
The file cannot be read: it does not exist, is a directory with no `.jsonl` files, or
permission is denied.

**Why is this bad?** Nothing in it can be checked, and a training job given this path fails.
""")

declare("TL002", "binary-file", "error", """
The file holds binary data (NUL bytes), not text.

**Why is this bad?** JSONL is UTF-8 text. A binary file (an archive, a parquet or arrow file
named `.jsonl`) is rejected by every fine-tuning service. Convert it to JSONL first.

A `.parquet` file is read as Parquet (its rows checked as JSONL lines would be); this finding then
says that it cannot be read as Parquet (damaged, or not Parquet), or that it has no column any
format is recognised by (`messages`, `conversations`, `prompt`/`completion`, ...).
""")

declare("TL003", "empty-file", "error", """
The file has no examples.

**Why is this bad?** Uploading it fails, and a local run trains on nothing.
""")

declare("TL004", "invalid-utf8", "error", """
A line is not valid UTF-8; the finding points at the first bad byte.

**Why is this bad?** JSON must be UTF-8. Readers either reject the line or silently replace the
bytes with U+FFFD, changing the text the model learns. Usually the file was saved as Latin-1 or
Windows-1252, or was cut in the middle of a multi-byte character.
""")

declare("TL005", "byte-order-mark", "warning", """
The file starts with a UTF-8 byte order mark (BOM).

**Why is this bad?** Strict JSON parsers (including Python's `json.loads` on the first line)
reject a BOM, and the first example is then dropped or the upload fails.

**Fix safety:** removing the BOM is safe.
""", fixable=True)

declare("TL006", "crlf-line-endings", "info", """
Lines end with CRLF (Windows line endings). Reported once per file, with the count.

**Why is this bad?** JSON parsers accept it, but some line-oriented tools and diffs do not, and
mixed endings make every line look changed in review.

**Fix safety:** converting to LF is safe; nothing inside the JSON changes.
""", fixable=True)

declare("TL007", "blank-line", "warning", """
A blank (or whitespace-only) line between examples.

**Why is this bad?** Many JSONL readers (pandas, some upload validators) fail on an empty line;
others skip it. Either way it is noise.

**Fix safety:** deleting the line is safe.
""", fixable=True)

declare("TL008", "invalid-json", "error", """
The line is not valid JSON. The finding points at the character where parsing failed and names
the usual cause: a trailing comma, single quotes, an unescaped quote or control character.

**Why is this bad?** The example cannot be read; uploads reject the whole file.

**Fix safety:** a trailing comma is removed safely; other errors need a person.
""", fixable=True)

declare("TL009", "truncated-line", "error", """
The line ends before its JSON value is complete.

**Why is this bad?** This is what a file cut by a size limit, an interrupted write or a `head -c`
looks like. The example is lost, and the next lines may be damaged too.
""")

declare("TL010", "non-finite-number", "error", """
`NaN`, `Infinity` or `-Infinity` appear as a number.

**Why is this bad?** They are not JSON. Python's `json` module writes and reads them, so such
files look fine in Python and fail everywhere else.
""")

declare("TL011", "duplicate-key", "error", """
The same key appears twice in one object.

**Why is this bad?** JSON leaves the meaning undefined; most parsers keep the last value and drop
the first without a word. A message with `"role"` twice is trained as whichever came last.

**Example:** `{"role": "user", "content": "Hi", "role": "assistant"}`.
""")

declare("TL012", "not-an-object", "error", """
The line is valid JSON but not an object (an array, a string, a number).

**Why is this bad?** Every example must be a JSON object such as `{"messages": [...]}`.
A whole array on one line means the file is JSON, not JSON Lines.
""")

declare("TL013", "json-not-jsonl", "error", """
The file is one JSON document (an array, or pretty-printed JSON over many lines), not JSON Lines.

**Why is this bad?** JSONL needs one complete example per line. Uploads reject such a file.
`tunelint convert` writes JSONL from it (and converts ShareGPT/Alpaca to chat at the same time).
""")

declare("TL014", "very-long-line", "warning", """
A line is longer than `max_line_bytes` (default 4 MiB).

**Why is this bad?** Editors slow down, and services cap the size of one example (images as data
URLs are the usual cause). Check that the line is one example, not several joined together.
""")

declare("TL015", "several-values-on-line", "error", """
A line holds more than one JSON value, e.g. two examples with the newline between them lost.

**Why is this bad?** Parsers read the first value and fail on the rest, or reject the line.

**Fix safety:** splitting the line where the second value starts is safe.
""", fixable=True)

declare("TL016", "unknown-format", "error", """
The object has none of the keys of a known format.

tunelint knows: chat (`messages`), preference (`input` + `preferred_output` /
`non_preferred_output`), prompt/completion, ShareGPT (`conversations`), Alpaca
(`instruction` / `input` / `output`) and plain `text`.

**Why is this bad?** No trainer knows what to learn from it. Usually a key is misspelt
(`message`, `Messages`).
""")

declare("TL017", "too-deeply-nested", "error", """
Objects and arrays nest more than 128 levels deep on the line (the example object itself is
level 1). The finding points at the bracket that opens level 129; nothing else in the line is
checked.

**Why is this bad?** No real example needs such depth: it is generated or damaged data. Many JSON
libraries refuse it (Rust's serde_json stops at 128 levels by default, orjson writes at most 254,
Python's `json` fails with a RecursionError at about 1000), so trainers and upload validators
reject the line, or the whole file.
""")
