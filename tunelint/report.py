"""Render findings for people (text) and machines (json, github, sarif)."""

from __future__ import annotations

import json
import os

import click

from tunelint import __version__
from tunelint.linter.engine import FileReport
from tunelint.linter.findings import Finding, Severity, location
from tunelint.linter.rule import all_rules
from tunelint.linter.stats import summarize

_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def counts(findings: list[Finding]) -> dict[str, int]:
    c = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        c[f.severity.value] += 1
    return c


def render_text(reports: list[FileReport], findings: list[Finding], *, colour: bool, show_stats: bool,
                hidden: int = 0) -> str:
    out = []
    for f in findings:
        where = location(f.path, f.line, f.column, f.json_path) + ":"
        loc = click.style(where, bold=True) if colour else where
        code = click.style(f.code, fg=_COLOURS[f.severity], bold=True) if colour else f.code
        sev = "" if f.severity is Severity.ERROR else f" [{f.severity.value}]"
        fix = " [*]" if f.fix is not None and f.fix.safe else ""
        out.append(f"{loc} {code}{fix} {f.message}{sev}")
        for r in f.related:
            out.append(f"    {location(r.path, r.line, r.column, r.json_path)}: {r.message}")
    c = counts(findings)
    total = sum(c.values())
    if total:
        fixable = sum(1 for f in findings if f.fix is not None and f.fix.safe)
        line = (f"Found {c['error']} error{'s' * (c['error'] != 1)}, "
                f"{c['warning']} warning{'s' * (c['warning'] != 1)}, {c['info']} info")
        line += f" in {len(reports)} file{'s' * (len(reports) != 1)}."
        if fixable:
            line += f"\n[*] {fixable} fixable with `tunelint check --fix`."
        out.append(line)
    else:
        out.append(click.style("All checks passed!", fg="green") if colour else "All checks passed!")
    if hidden:
        out.append(f"({hidden} finding{'s' * (hidden != 1)} hidden by the baseline)")
    if show_stats:
        for r in reports:
            out.append(render_summary(r))
    return "\n".join(out)


def render_summary(report: FileReport) -> str:
    s = summarize(report)
    lines = [f"\n{report.path}: {s['examples']} examples"
             + (f" ({', '.join(f'{k}: {v}' for k, v in s['formats'].items())})" if s["formats"] else "")]
    rows = [("messages per example", s["messages_per_example"]),
            (f"tokens per example ({s['tokenizer']})", s["tokens_per_example"]),
            ("trainable (assistant) tokens per example", s["trainable_tokens_per_example"])]
    for label, d in rows:
        if d:
            lines.append(f"  {label:<44} min {d['min']}  mean {d['mean']}  p50 {d['p50']}  p90 {d['p90']}  "
                         f"p95 {d['p95']}  max {d['max']}")
    if s.get("tokens_per_example"):
        lines.append(f"  examples over {s['max_tokens']} tokens: {s['over_limit']}")
    if s.get("token_note"):
        lines.append(f"  ({s['token_note']})")
    if "billing" in s:
        b = s["billing"]
        lines.append(f"  billed: ~{b['billed_tokens_per_epoch']:,} tokens/epoch x {b['default_epochs']} epochs "
                     f"(OpenAI default for this size) = ~{b['billed_tokens_total']:,} tokens")
    return "\n".join(lines)


def render_json(reports: list[FileReport], findings: list[Finding], hidden: int = 0) -> str:
    return json.dumps({
        "version": __version__,
        "findings": [f.to_json() for f in findings],
        "summary": {**counts(findings), "files": len(reports), "baseline_hidden": hidden},
        "stats": {r.path: summarize(r) for r in reports},
    }, indent=2, ensure_ascii=False)


def render_github(findings: list[Finding]) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's lines."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}

    def esc(s: str) -> str:
        return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(s: str) -> str:
        return esc(s).replace(":", "%3A").replace(",", "%2C")

    def where(f: Finding) -> str:  # a Parquet row has no columns: its JSON path starts the message
        if f.json_path is not None:
            return f"line={f.line},endLine={f.end_line}"
        return f"line={f.line},col={f.column},endLine={f.end_line},endColumn={f.end_column}"

    return "\n".join(
        f"::{level[f.severity]} title={prop(f.code + ' ' + f.name)},file={prop(f.path)},{where(f)}::"
        + esc(f.code + ' ' + (f"{f.json_path}: " if f.json_path is not None else "") + f.message)
        for f in findings
    )


def render_sarif(findings: list[Finding]) -> str:
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tunelint", "version": __version__,
                "rules": [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary},
                           "fullDescription": {"text": r.doc},
                           "defaultConfiguration": {"level": level[r.severity]}} for r in rules],
            }},
            "results": [{
                "ruleId": f.code, "ruleIndex": index[f.code], "level": level[f.severity],
                "message": {"text": f.message},
                "locations": [_sarif_location(f.path, {"startLine": f.line, "startColumn": f.column,
                                                       "endLine": f.end_line, "endColumn": f.end_column},
                                              f.json_path)],
                "relatedLocations": [{"id": i, "message": {"text": r.message},
                                      **_sarif_location(r.path, {"startLine": r.line, "startColumn": r.column},
                                                        r.json_path)} for i, r in enumerate(f.related)],
            } for f in findings],
        }],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def _sarif_location(path: str, region: dict, json_path: str | None) -> dict:
    """A SARIF location; in a Parquet file the region is the row alone (`startLine`: its number)
    and the JSON path of the value is a logical location."""
    out = {"physicalLocation": {"artifactLocation": {"uri": path.replace(os.sep, "/")},
                                "region": region if json_path is None else {"startLine": region["startLine"]}}}
    if json_path is not None:
        out["logicalLocations"] = [{"fullyQualifiedName": json_path, "kind": "member"}]
    return out
