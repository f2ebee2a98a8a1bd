"""Editor features computed from a source's results and findings: inlay hints, hover, code
lenses, code actions and commands. No pygls registrations here (see server/main.py)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import orjson
from lsprotocol import types

from tunelint.linter.findings import Finding

from .convert import diagnostic, path_to_uri, rule_markdown, text_edits
from .documents import from_utf16, utf16_len

if TYPE_CHECKING:
    from .main import TunelintServer
    from .project import Project, Source

FIX_ALL_KIND = "source.fixAll.tunelint"
CMD_LINT_FILE = "tunelint.lintFile"
CMD_ADD_TO_BASELINE = "tunelint.addToBaseline"


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
        line = doc.lines[n]
        end = utf16_len(line[:-1] if line.endswith("\r") else line)
        hints.append(types.InlayHint(position=types.Position(line=n, character=end), label=label,
                                     kind=types.InlayHintKind.Type, padding_left=True,
                                     tooltip="tokens in this example (and in its trained assistant turns)"))
    return hints


def findings_at(findings: list[Finding], src: Source, pos: types.Position) -> list[Finding]:
    line = src.doc.lines[pos.line] if pos.line < len(src.doc.lines) else ""
    col = from_utf16(line, pos.character) + 1
    return [f for f in findings if f.line == pos.line + 1 and f.column <= col <= max(f.end_column, f.column + 1)]


async def hover(ls: TunelintServer, src: Source, findings: list[Finding], pos: types.Position,
                run: str | None = None) -> types.Hover | None:
    here = findings_at(findings, src, pos)
    parts = [rule_markdown(f.code) for f in dict((f.code, f) for f in here).values()]
    if run:
        parts.append(run)
    if pos.line < src.doc.content_lines:
        breakdown = await ls.run(_token_breakdown, ls.project, src.path, src.doc.lines[pos.line])
        if breakdown:
            parts.append(breakdown)
    if not parts:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


def _token_breakdown(project: Project, path: str, line: str) -> str | None:
    """Per-message token counts of one line; for a Hugging Face tokenizer also the rendered
    chat template with the trained assistant text marked."""
    settings = project.settings_for(path)
    if not settings.tokenizer:
        return None
    try:
        obj = orjson.loads(line.rstrip("\r").lstrip("\ufeff"))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return None
    msgs = obj["messages"]
    counter = project.linter.analyzer(settings).counter
    try:
        counted = counter.count_messages(msgs, obj.get("tools"))
    except Exception as e:  # a template that rejects the example says why
        return f"**Tokens** ({settings.tokenizer}): cannot count: {e}"
    rows = ["| # | role | tokens |", "| ---: | --- | ---: |"]
    for i, (m, n) in enumerate(zip(msgs, counted.per_message)):
        role = m.get("role", "?") if isinstance(m, dict) else "?"
        trained = " (trained)" if isinstance(m, dict) and role == "assistant" and m.get("weight", 1) != 0 else ""
        rows.append(f"| {i} | {role}{trained} | {n:,} |")
    out = [f"**Tokens** ({settings.tokenizer}): {counted.total:,} in all, {counted.trainable:,} trained, "
           f"limit {settings.limit:,}", "", *rows]
    if getattr(counter, "exact_template", False) and hasattr(counter, "render"):
        try:
            rendered = counter.render(msgs, obj.get("tools"))
        except Exception:
            rendered = None
        if rendered is not None:
            marked = _mark_trained(rendered, msgs)
            out += ["", "Rendered with the chat template (trained assistant text between ⟦ ⟧):", "",
                    "```text", marked[:4000] + ("…" if len(marked) > 4000 else ""), "```"]
    return "\n".join(out)


def _mark_trained(rendered: str, msgs: list) -> str:
    pos = 0
    out = []
    for m in msgs:
        if not (isinstance(m, dict) and m.get("role") == "assistant" and m.get("weight", 1) != 0):
            continue
        content = m.get("content")
        if not isinstance(content, str) or not content:
            continue
        at = rendered.find(content, pos)
        if at < 0:
            continue
        out += [rendered[pos:at], "⟦", content, "⟧"]
        pos = at + len(content)
    out.append(rendered[pos:])
    return "".join(out)


def code_lenses(project: Project, src: Source, findings: list[Finding]) -> list[types.CodeLens]:
    s = project.summary(src, findings)
    split = project.split_of(src.path)
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


async def lint_file_command(ls: TunelintServer, args) -> dict:
    """Lint a file from disk (for files too large for the editor to sync) and publish its
    diagnostics. Argument: a file URI or path inside the workspace."""
    path = _argument_path(ls, args)
    from tunelint.linter.engine import Linter

    def run():
        with Linter(start_method="forkserver") as linter:
            return linter.lint_paths([path], ls.project.settings_for, ls.project.split_of)[0]

    report = await ls.run(run)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=path_to_uri(path), diagnostics=[diagnostic(f, None) for f in report.findings]))
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in report.findings:
        counts[f.severity.value] += 1
    return {"path": path, "examples": report.stats.examples, **counts}


async def add_to_baseline_command(ls: TunelintServer, args) -> dict:
    """Record one finding (uri, line, code) in the project's baseline file."""
    import json

    from tunelint.linter.baseline import FORMAT_VERSION
    from tunelint.linter.engine import line_hash

    if not isinstance(args, (list, tuple)) or len(args) != 3:
        raise ValueError("tunelint.addToBaseline takes (uri, line, code)")
    uri, line, code = args
    src = ls.docs.get(uri)
    if src is None or not isinstance(line, int) or not 0 < line <= src.doc.content_lines:
        raise ValueError(f"no open document line {line} in {uri}")
    root = ls.project.config.root
    path = ls.project.config.baseline or str(root / "tunelint-baseline.json")
    _inside(ls, path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        data = {"tunelint_baseline": FORMAT_VERSION, "findings": []}
    if data.get("tunelint_baseline") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a tunelint baseline")
    text = src.doc.lines[line - 1].rstrip("\r")
    text = text[1:] if line == 1 and text.startswith("\ufeff") else text
    rel = os.path.relpath(src.path, os.path.dirname(path)).replace(os.sep, "/")
    data["findings"].append({"path": rel, "code": code, "line_hash": f"{line_hash(text):016x}", "line": line})
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)
    return {"baseline": path, "entries": len(data["findings"])}


def _argument_path(ls: TunelintServer, args) -> str:
    from pygls.uris import to_fs_path

    value = args[0] if isinstance(args, (list, tuple)) and args else args
    if not isinstance(value, str):
        raise ValueError("expected a file URI or path")
    path = to_fs_path(value) if value.startswith("file:") else value
    path = os.path.abspath(path)
    _inside(ls, path)
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path}")
    return path


def _inside(ls: TunelintServer, path: str) -> None:
    root = ls.project.root
    if root is not None and os.path.commonpath([str(root), os.path.abspath(path)]) != str(root):
        raise ValueError(f"{path} is outside the workspace {root}")
