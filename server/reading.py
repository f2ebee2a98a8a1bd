"""Messages from the editor parsed with orjson instead of the standard library's json.

pygls reads each message body with `json.loads(body, object_hook=protocol.structure_message)`
(pygls.io_.run_async). For bytes, json.loads first decodes the whole body into a str, then
parses it: opening a 16 MB file with one emoji in it held the body, that decoded str (4 bytes a
character) and the parsed text at once, ~130 MB above the server's resting size, its memory
peak (bench/README.md). orjson parses the bytes directly (~80 MB). The object hook is applied
as pygls' loop applies it where it matters: to the message itself (structure_message leaves any
dict without "jsonrpc" as it is)."""

from __future__ import annotations

import types

import orjson


def _loads(body, object_hook=None):
    data = orjson.loads(body)
    if object_hook is not None and isinstance(data, dict):
        return object_hook(data)
    return data


def use_orjson() -> None:
    """Make pygls' reader loop parse with orjson (pygls.io_ looks `json.loads` up at each message)."""
    import pygls.io_

    pygls.io_.json = types.SimpleNamespace(loads=_loads)
