"""`tunelint/preview` (params {"uri", "line" (0-based)}): one example as a conversation and as
the model sees it. The README's "Preview an example" section is the answer's reference.

The structure comes from server/example_view.py; the token counts from the analyzer's counter
(the linter's own, so they are the inlay hints' counts); the rendered template, the trained
token spans and the truncation point from a Hugging Face tokenizer (`hf:` as the tokenizer, else
the training model's tokenizer folder) through `HFTemplateCounter.trained_spans`, the code the
trainer's labels come from (tests/lsp/test_preview.py checks them equal to trainer/data.py's
mask and cut). Everything heavy runs on the server's analysis thread."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.linter.example import FORMAT_LABELS
from tunelint.linter.locate import ScanError, locate

from . import example_view as ev
from .runs import RunRefused
from .to_lsp import finding_range

if TYPE_CHECKING:
    from tunelint.linter.findings import Finding

    from .main import TunelintServer

PREVIEW = "tunelint/preview"
MAX_RENDERED_CHARS = 200_000  # the rendered text sent at most (a longer one is cut, and says so)


def _range(r: types.Range) -> dict:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}


def _diagnostic(f: Finding, doc) -> dict:
    return {"code": f.code, "name": f.name, "severity": f.severity.value, "message": f.message,
            "range": _range(finding_range(f, doc))}


def template_tokenizer(settings_tokenizer: str | None, model: str | None) -> str | None:
    """The `hf:` tokenizer the model view renders with: the configured one when it is `hf:`,
    else the training model's folder (a local folder, or the Hub cache's copy) when it holds a
    tokenizer.json; None without one."""
    if settings_tokenizer and settings_tokenizer.startswith("hf:"):
        return settings_tokenizer
    if not model or model == "tiny":
        return None
    folder = Path(model).expanduser()
    if (folder / "tokenizer.json").is_file():
        return f"hf:{folder}"
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "tokenizer.json")
    except Exception:  # not a Hub name, or no huggingface_hub
        return None
    return f"hf:{Path(cached).parent}" if isinstance(cached, str) and os.path.isfile(cached) else None


def build(line: str, findings: list[Finding], doc, *, counter, tokenizer: str | None, limit: int,
          model_counter, model_tokenizer: str | None, max_length: int, model_note: str | None = None) -> dict:
    """The preview of one line (`findings`: the line's). `counter`: the analyzer's token
    counter (None without a tokenizer); `model_counter`: an HFTemplateCounter (None: no model
    view, `model_note` says why)."""
    diags = [_diagnostic(f, doc) for f in findings]
    try:
        v = ev.view(line)
    except ev.NotAnExample as e:
        return {"error": {"message": str(e), "column": e.column}, "format": None, "messages": [],
                "diagnostics": diags, "tokens": None, "model": None}
    messages = [_entry(e) for e in v.entries]
    lone = _map_diagnostics(line, v, findings, diags, messages)
    out = {"error": None, "format": v.format, "formatLabel": FORMAT_LABELS.get(v.format, v.format),
           "messages": messages, "tools": v.tools, "diagnostics": lone, "conversionError": v.chat_error,
           "tokens": _tokens(v, messages, counter, tokenizer, limit), "model": None}
    if model_counter is None:
        out["model"] = {"unavailable": model_note or "no Hugging Face tokenizer: set `tokenizer = \"hf:<folder>\"` "
                                                     "(or train a local or cached model) to see the rendered template"}
    elif not v.chat:
        out["model"] = {"unavailable": v.chat_error or "this example has no conversation to render"}
    else:
        out["model"] = _model(v, model_counter, model_tokenizer, max_length)
    return out


def _entry(e: ev.Entry) -> dict:
    m = e.message or {}
    parts = []
    content = m.get("content") if e.message is not None else None
    if isinstance(content, list):
        for i, p in enumerate(content):
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append({"type": "text", "text": p["text"], "path": [*e.path, "content", i, "text"]})
            elif isinstance(p, dict) and ev.image_url(p) is not None:
                parts.append({"type": "image", "url": ev.image_url(p)})
            else:
                parts.append({"type": p.get("type", "?") if isinstance(p, dict) else type(p).__name__,
                              "json": json.dumps(p, ensure_ascii=False)})
    calls = []
    for j, call, fn in ev.tool_calls(m):
        path = ev.arguments_path(e.path, j, call, fn)
        pretty, error = ev.pretty_arguments(fn["arguments"]) if "arguments" in fn else ("", "the call has no arguments")
        calls.append({"id": call.get("id"), "name": fn.get("name"), "arguments": pretty, "argumentsError": error,
                      "argumentsPath": list(path) if "arguments" in fn else None})
    text = e.text
    if text is None and parts:
        text = "".join(p["text"] for p in parts if p["type"] == "text")
    name = m.get("name")
    reasoning = next((m[k] for k in ("reasoning_content", "thinking", "reasoning") if isinstance(m.get(k), str)), None)
    return {"path": list(e.path), "role": e.role, "section": e.section, "name": name if isinstance(name, str) else None,
            "text": text, "textPath": list(e.text_path) if e.text_path else None, "parts": parts or None,
            "toolCalls": calls or None, "toolCallId": m.get("tool_call_id"), "reasoning": reasoning,
            "weight": m.get("weight"), "trained": ev.trained(e), "tokens": None, "countedWith": e.counted_with,
            "diagnostics": []}


def _map_diagnostics(line: str, v: ev.View, findings: list[Finding], diags: list[dict], messages: list[dict]):
    """Each diagnostic onto the message whose value holds its start (the narrowest one); the
    others (about the line, its keys or several messages at once) are returned."""
    body, bom = ev.strip_line(line)
    try:
        loc = locate(body)
    except ScanError:
        return diags
    spans = []
    for k, e in enumerate(v.entries):
        s = loc.spans.get(tuple(e.path))
        if s is not None:
            spans.append((s.end - s.start, s.start, s.end, k))
    spans.sort()
    lone = []
    for f, d in zip(findings, diags, strict=True):
        col = f.column - 1 - bom
        end = f.end_column - 1 - bom if f.end_line == f.line else None
        hit = next((k for _, a, b, k in spans if a <= col < b and (end is None or end <= b)), None)
        if hit is None:
            lone.append(d)
        else:
            messages[hit]["diagnostics"].append(d)
    return lone


def _tokens(v: ev.View, messages: list[dict], counter, tokenizer: str | None, limit: int) -> dict | None:
    if counter is None:
        return None
    out: dict = {"tokenizer": tokenizer, "limit": limit}
    if v.format == "text":
        text = v.entries[0].text or ""
        out.update(total=counter.count(text), trained=None)
        messages[0]["tokens"] = out["total"]
        return out
    if not v.chat:
        out["error"] = v.chat_error or "no conversation to count"
        return out
    try:
        counted = counter.count_messages(v.chat, v.tools)
        rejected = counter.count_messages(v.rejected, v.tools) if v.rejected else None
    except Exception as e:  # the template's own error, e.g. roles must alternate
        out["error"] = f"cannot count: {e}"
        return out
    out.update(total=counted.total, trained=counted.trainable)
    for m, e in zip(messages, v.entries, strict=True):
        per = rejected.per_message if e.section == "non_preferred" and rejected else counted.per_message
        if e.chat_index is not None and e.chat_index < len(per):
            m["tokens"] = per[e.chat_index]
    if rejected is not None:
        out["nonPreferredTotal"] = rejected.total
    return out


def _model(v: ev.View, counter, tokenizer: str | None, max_length: int) -> dict:
    """The conversation as the trainer renders it, its trained tokens and where max_length cuts."""
    try:
        spans = counter.trained_spans(v.chat, v.tools)
    except Exception as e:
        return {"tokenizer": tokenizer, "error": f"the chat template rejects this example: {e}"}
    tokens, mask = spans.tokens, spans.mask
    n = len(mask)
    runs, i = [], 0
    while i < n:
        if mask[i]:
            j = i
            while j < n and mask[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    cut = max_length if n > max_length else None
    kept = sum(mask[:max_length])
    text = tokens.text
    return {
        "tokenizer": tokenizer,
        "text": text[:MAX_RENDERED_CHARS],
        "textCut": len(text) > MAX_RENDERED_CHARS,
        "tokenCount": n,
        "trainedTokens": [[a, b] for a, b in runs],
        "trainedChars": [[tokens.starts[a], tokens.ends[b - 1]] for a, b in runs],
        "trained": sum(mask),
        "trainedKept": kept,
        "maxLength": max_length,
        "truncation": None if cut is None else {"token": cut, "char": tokens.starts[cut], "dropped": n - cut,
                                                "trainedDropped": sum(mask) - kept},
        "rendered": "input + preferred_output" if v.format == "preference" else "the conversation",
        "unlocated": [k for k, e in enumerate(v.entries) if e.chat_index in spans.unlocated
                      and e.section != "non_preferred"],
    }


# -- the request ---------------------------------------------------------------------------------

_COUNTERS: dict[tuple[str, str], object] = {}  # (hf: spec, its files' stamp) → counter, on the analysis thread


def _counter(spec: str):
    """The training model's tokenizer (not the analyzer's), built once while its files stay the same."""
    from tunelint.linter.settings import _files_stamp
    from tunelint.linter.tokens import make_counter

    key = (spec, _files_stamp(spec))
    if key not in _COUNTERS:
        _COUNTERS.clear()
        _COUNTERS[key] = make_counter(spec)
    return _COUNTERS[key]


async def answer(ls: TunelintServer, params) -> dict:
    uri, line = _params(params)
    got = await ls.current(uri)
    if got is None:
        raise RunRefused(f"{uri} is not open: open it to preview its lines")
    src, findings = got
    doc = src.doc
    if line >= doc.content_lines:
        raise RunRefused(f"line {line + 1} is past the end of {os.path.basename(src.path)} ({doc.content_lines} lines)")
    text = doc.lines[line]
    version = doc.version
    settings = ls.project.settings_for(src.path)
    here = [f for f in findings if f.line == line + 1]
    try:
        train = ls.training.settings()
        model, max_length, note = train.model, train.max_length, None
    except RunRefused as e:
        from tunelint.trainer.settings import TrainSettings

        model, max_length, note = None, TrainSettings().max_length, str(e)

    def work() -> dict:
        model_tok = template_tokenizer(settings.tokenizer, model)  # may read the Hugging Face cache
        linter = ls.analysis_linter()
        counter = model_counter = None
        why = note
        if settings.tokenizer:
            try:
                counter = linter.analyzer(settings).counter
            except Exception as e:
                why = f"the tokenizer {settings.tokenizer} cannot be loaded: {e}"
        if model_tok is not None:
            try:
                model_counter = counter if model_tok == settings.tokenizer else _counter(model_tok)
            except Exception as e:
                why = f"the tokenizer {model_tok} cannot be loaded: {e}"
        return build(text, here, doc, counter=counter, tokenizer=settings.tokenizer, limit=settings.limit,
                     model_counter=model_counter, model_tokenizer=model_tok, max_length=max_length, model_note=why)

    out = await ls.run(work)
    return {"uri": uri, "line": line, "version": version, **out}


def _params(params) -> tuple[str, int]:
    get = params.get if isinstance(params, dict) else (lambda k: getattr(params, k, None))
    uri, line = get("uri"), get("line")
    if not isinstance(uri, str):
        raise RunRefused(f"{PREVIEW} takes {{uri, line}}: uri must be the document's URI")
    if isinstance(line, bool) or not isinstance(line, int) or line < 0:
        raise RunRefused(f"{PREVIEW}: line is a 0-based line number, not {line!r:.40}")
    return uri, line
