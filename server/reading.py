"""Messages from the editor parsed with orjson instead of the standard library's json.

pygls reads each message body with `json.loads(body, object_hook=protocol.structure_message)`
(pygls.io_.run_async). For bytes, json.loads first decodes the whole body into a str, then
parses it: opening a 16 MB file with one emoji in it held the body, that decoded str (4 bytes a
character) and the parsed text at once, ~130 MB above the server's resting size, its memory
peak (bench/README.md). orjson parses the bytes directly (~80 MB). The object hook is applied
as pygls' loop applies it where it matters: to the message itself (structure_message leaves any
dict without "jsonrpc" as it is). What orjson refuses (a lone surrogate escape, which JSON
allows and an editor's buffer may hold) is read by json.loads, as before."""

from __future__ import annotations

import json
import types

import orjson


def _loads(body, object_hook=None):
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:  # e.g. a lone surrogate escape (\\ud83d), which orjson refuses
        return json.loads(body, object_hook=object_hook)  # and JSON allows: the standard library's reading
    if object_hook is not None and isinstance(data, dict):
        return object_hook(data)
    return data


def use_orjson() -> None:
    """Make pygls' reader loop parse with orjson (pygls.io_ looks `json.loads` up at each message)."""
    import pygls.io_

    pygls.io_.json = types.SimpleNamespace(loads=_loads)
