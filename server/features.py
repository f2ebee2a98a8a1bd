"""Editor features computed from a source's results and findings: inlay hints, hover, code
lenses and code actions. Each takes the values it needs; no pygls registrations here (see
server/main.py) and no commands (server/commands.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from lsprotocol import types

from tunelint.linter.findings import Finding

from .commands import CMD_ADD_TO_BASELINE
from .documents import from_utf16, utf16_len
from .to_lsp import diagnostic, finding_range, hint_place, is_bounded, rule_markdown, text_edits

if TYPE_CHECKING:
    from tunelint.linter.settings import Settings

    from .project import Source

FIX_ALL_KIND = "source.fixAll.tunelint"


def inlay_hints(src: Source, rng: types.Range) -> list[types.InlayHint]:
    """The token count of each example at the end of its line, for the requested lines only."""
    doc = src.doc
    hints = []
    last = min(rng.end.line, doc.content_lines - 1)
    for n in range(max(rng.start.line, 0), last + 1):
        r = src.results.get(doc.ids[n])
        if r is None or r.tokens < 0:
            continue
        label = f"{r.tokens:,} tok"
        if r.trainable >= 0:
            label += f" · {r.trainable:,} trained"
        hints.append(types.InlayHint(**hint_place(doc.lines[n], n), label=label, kind=types.InlayHintKind.Type,
                                     tooltip="tokens in this example (and in its trained assistant turns)"))
    return hints


def findings_at(findings: list[Finding], src: Source, pos: types.Position) -> list[Finding]:
    """The findings under `pos`: exactly where they are, and, for one shown on a bounded range
    (a very long line), anywhere on the range it is shown on."""
    doc = src.doc
    line = doc.lines[pos.line] if pos.line < len(doc.lines) else ""
    col = from_utf16(line, pos.character) + 1

    def shown_at(f: Finding) -> bool:
        if not is_bounded(f, doc):
            return False
        r = finding_range(f, doc)
        return (r.start.line, r.start.character) <= (pos.line, pos.character) < (r.end.line, r.end.character)

    return [f for f in findings if f.line == pos.line + 1 and (
        f.column <= col <= max(f.end_column, f.column + 1) or shown_at(f))]


def hover(src: Source, findings: list[Finding], pos: types.Position, extra: list[str | None]) -> types.Hover | None:
    """The documentation of the rules found under the cursor, then `extra` (the last run's
    result for the line, the line's token breakdown), where present."""
    here = findings_at(findings, src, pos)
    parts = [rule_markdown(f.code) for f in dict((f.code, f) for f in here).values()]
    parts += [p for p in extra if p]
    if not parts:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


def token_breakdown(counter, settings: Settings, line: str) -> str | None:
    """Per-message token counts of one line (`counter`: the analyzer's token counter for
    `settings`); for a Hugging Face tokenizer also the rendered chat template with the trained
    assistant text marked."""
    if not settings.tokenizer:
        return None
    try:
        obj = orjson.loads(line.rstrip("\r").lstrip("\ufeff"))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return None
    msgs = obj["messages"]
    try:
        counted = counter.count_messages(msgs, obj.get("tools"))
    except Exception as e:  # a template that rejects the example says why
        return f"**Tokens** ({settings.tokenizer}): cannot count: {e}"
    rows = ["| # | role | tokens |", "| ---: | --- | ---: |"]
    for i, (m, n) in enumerate(zip(msgs, counted.per_message, strict=True)):
        role = m.get("role", "?") if isinstance(m, dict) else "?"
        trained = " (trained)" if isinstance(m, dict) and role == "assistant" and m.get("weight", 1) != 0 else ""
        rows.append(f"| {i} | {role}{trained} | {n:,} |")
    out = [f"**Tokens** ({settings.tokenizer}): {counted.total:,} in all, {counted.trainable:,} trained, "
           f"limit {settings.limit:,}", "", *rows]
    if getattr(counter, "exact_template", False):  # (the counts above rendered it already: it renders)
        marked = mark_trained(counter.trained_spans(msgs, obj.get("tools")))
        out += ["", "Rendered with the chat template (trained tokens between ⟦ ⟧):", "",
                "```text", marked[:4000] + ("…" if len(marked) > 4000 else ""), "```"]
    return "\n".join(out)


def mark_trained(spans) -> str:
    """The rendered conversation with each run of trained tokens between ⟦ ⟧: exactly the tokens
    the trainer trains (`spans`: the counter's `trained_spans`, the trainer's own algorithm)."""
    tokens, mask = spans.tokens, spans.mask
    text = tokens.text
    out, pos, i, n = [], 0, 0, len(mask)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and mask[j + 1]:
            j += 1
        start, end = tokens.starts[i], tokens.ends[j]
        out += [text[pos:start], "⟦", text[start:end], "⟧"]
        pos, i = end, j + 1
    out.append(text[pos:])
    return "".join(out)


def code_lenses(s: dict, split: str | None) -> list[types.CodeLens]:
    """The file's summary on its first line (`s`: Project.summary)."""
    title = f"tunelint: {s['examples']:,} examples"
    if split:
        title += f" ({split})"
    if s["counted"]:
        title += f" · {s['tokens']:,} tokens, {s['trainable']:,} trained"
    title += f" · {s['error']} errors, {s['warning']} warnings"
    if s["info"]:
        title += f", {s['info']} info"
    rng = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    return [types.CodeLens(range=rng, command=types.Command(title=title, command=""))]


def code_actions(src: Source, findings: list[Finding], params: types.CodeActionParams) -> list[types.CodeAction]:
    only = params.context.only
    wants = (lambda kind: any(kind == k or kind.startswith(k + ".") for k in only)) if only else (lambda kind: True)
    out: list[types.CodeAction] = []
    doc = src.doc
    first, last = params.range.start.line + 1, params.range.end.line + 1
    here = [f for f in findings if first <= f.line <= last]
    if wants(types.CodeActionKind.QuickFix):
        for f in here:
            if f.fix is None:
                continue
            out.append(types.CodeAction(
                title=f.fix.title + ("" if f.fix.safe else " (unsafe)"), kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic(f, doc)], is_preferred=f.fix.safe,
                edit=types.WorkspaceEdit(changes={doc.uri: text_edits(f.fix, f.line, doc)})))
        for f in here:
            out.append(types.CodeAction(
                title=f"Add {f.code} on line {f.line} to the baseline", kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic(f, doc)],
                command=types.Command(title="Add to baseline", command=CMD_ADD_TO_BASELINE,
                                      arguments=[doc.uri, f.line, f.code])))
    if wants(FIX_ALL_KIND) or (only and wants(types.CodeActionKind.Source)):
        fixed = _fix_all(doc.text, findings)
        if fixed is not None:
            end = types.Position(line=len(doc.lines) - 1, character=utf16_len(doc.lines[-1]))
            out.append(types.CodeAction(
                title="tunelint: fix all safe problems", kind=FIX_ALL_KIND,
                edit=types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(
                    range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=fixed)]})))
    return out


def _fix_all(text: str, findings: list[Finding]) -> str | None:
    from tunelint.linter.fix import apply_to_text, fixable

    todo = fixable(findings)
    if not todo:
        return None
    fixed, _ = apply_to_text(text, todo)
    return fixed if fixed != text else None
