"""TL3xx: tool definitions, tool calls and tool answers."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from urllib.parse import unquote

import orjson
from referencing.exceptions import Unresolvable

from ..example import Example
from ..registry import rule
from ..violation import ReplaceValue, Violation

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: bytes):
    """A compiled jsonschema validator, or the SchemaError message. Cached: datasets repeat the
    same tool definitions on every line."""
    import jsonschema

    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(str(p) for p in e.path)
        return f"{e.message}" + (f" (at {where})" if where else "")
    return cls(schema)


def validator_for(schema: object):
    return _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


def declared_functions(ex: Example) -> dict[str, dict] | None:
    """Function name → parameters schema, from `tools` (or legacy `functions`); None if the
    example declares no tools at all."""
    _, tools = tools_of(ex)
    funcs = ex.obj.get("functions")
    if tools is None and funcs is None:
        return None
    out: dict[str, dict] = {}
    for t in tools if isinstance(tools, list) else ():
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters")
    for fn in funcs if isinstance(funcs, list) else ():
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters")
    return out


def tools_of(ex: Example) -> tuple[tuple, object]:
    """(path, value) of the example's `tools`: on the example, or in a preference record's
    `input` (where OpenAI's and Together's preference formats put them)."""
    if ex.format == "preference":
        inp = ex.obj.get("input")
        return ("input", "tools"), inp.get("tools") if isinstance(inp, dict) else None
    return ("tools",), ex.obj.get("tools")


def tool_calls(ex: Example) -> Iterator[tuple[tuple, dict]]:
    """(path, call) for every tool call object in the example."""
    for path, m in ex.messages():
        calls = m.get("tool_calls")
        if isinstance(calls, list):
            for j, c in enumerate(calls):
                if isinstance(c, dict):
                    yield path + ("tool_calls", j), c


@rule("TL301", "invalid-tool-definition", "error", formats={"chat", "preference"}, needs="tools")
def invalid_tool_definition(ex: Example) -> Iterator[Violation]:
    """A `tools` entry is malformed: it must be `{"type": "function", "function": {"name": ...,
    "parameters": <JSON Schema>}}` with a name of letters, digits, `_` or `-` (at most 64), and
    `parameters` a valid JSON Schema (checked with jsonschema). Mistral also requires a
    `description` and `parameters` on every function.

    **Why is this bad?** Uploads reject invalid tool definitions, and a broken schema cannot
    constrain the arguments the model learns to write.
    """
    at, tools = tools_of(ex)
    if tools is None:
        return
    if not isinstance(tools, list):
        yield Violation("`tools` must be an array", at)
        return
    seen: set[str] = set()
    described = ex.profile.tool_descriptions
    for i, t in enumerate(tools):
        p = at + (i,)
        if not isinstance(t, dict):
            yield Violation("a tool must be an object", p)
            continue
        if t.get("type", "function") != "function":
            yield Violation(f"tool type {t.get('type')!r} is not 'function'", p + ("type",))
        fn = t.get("function")
        if not isinstance(fn, dict):
            yield Violation("tool has no `function` object", p)
            continue
        name = fn.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
            yield Violation(f"function name {name!r} must match ^[a-zA-Z0-9_-]{{1,64}}$",
                            p + ("function", "name") if "name" in fn else p + ("function",))
        elif name in seen:
            yield Violation(f"function {name!r} is declared twice", p + ("function", "name"))
        else:
            seen.add(name)
        for key in ("description", "parameters") if described else ():
            if key not in fn:
                yield Violation(f"tool has no `{key}`: the {ex.profile.name} profile requires one"
                                + (" (an empty object when there are none)" if key == "parameters" else ""),
                                p + ("function",))
        params = fn.get("parameters")
        if params is not None:
            if not isinstance(params, dict):
                yield Violation("`parameters` must be a JSON Schema object", p + ("function", "parameters"))
            else:
                v = validator_for(params)
                if isinstance(v, str):
                    yield Violation(f"`parameters` is not a valid JSON Schema: {v}", p + ("function", "parameters"))
                else:
                    for ref in _dangling_refs(params, params):
                        yield Violation(f"`parameters` refers to {ref!r}, which cannot be resolved "
                                        "(only references inside the schema, like '#/$defs/Name', work)",
                                        p + ("function", "parameters"))
                        break


def _dangling_refs(schema: object, node: object) -> Iterator[str]:
    """`$ref`s in `node` that point at nothing inside `schema`, or at another document (never
    fetched). Fragments that are not JSON pointers (`#name` anchors) are left to jsonschema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not (ref.startswith("#") and ref[1:2] not in ("", "/")):
            target = schema if ref.startswith("#") else None
            for token in ref[2:].split("/") if ref.startswith("#/") else ():
                token = unquote(token).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and token in target:
                    target = target[token]
                elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                    target = target[int(token)]
                else:
                    target = None
                    break
            if target is None:
                yield ref
        for value in node.values():
            yield from _dangling_refs(schema, value)
    elif isinstance(node, list):
        for value in node:
            yield from _dangling_refs(schema, value)


@rule("TL302", "malformed-tool-call", "error", formats={"chat", "preference"}, needs="tools")
def malformed_tool_call(ex: Example) -> Iterator[Violation]:
    """A `tool_calls` entry lacks `id`, `type: "function"`, `function.name` or a string
    `function.arguments`, or `tool_calls` is not an array, or appears on a non-assistant message.
    Under the `mistral` profile, call ids and `tool_call_id`s must be exactly 9 letters or digits,
    and an assistant message has either content or tool calls, not both.

    **Why is this bad?** The chat template cannot render the call and the upload is rejected.
    """
    id_re = ex.profile.tool_call_id
    name = ex.profile.name
    for path, m in ex.messages():
        tid = m.get("tool_call_id")
        if id_re and m.get("role") == "tool" and isinstance(tid, str) and not re.match(id_re, tid):
            yield Violation(f"tool_call_id {tid!r} must be {ex.profile.tool_call_id_words} under the {name} profile",
                            path + ("tool_call_id",))
        if "tool_calls" not in m:
            continue
        calls = m["tool_calls"]
        if (not ex.profile.tool_calls_with_content and m.get("role") == "assistant" and calls
                and isinstance(m.get("content"), (str, list)) and m["content"]):
            yield Violation(f"an assistant message has content or tool calls under the {name} profile, not both",
                            path + ("content",))
        if m.get("role") != "assistant":
            yield Violation("only assistant messages make tool calls", path + ("tool_calls",), part="key")
        if not isinstance(calls, list):
            yield Violation("`tool_calls` must be an array", path + ("tool_calls",))
            continue
        for j, c in enumerate(calls):
            p = path + ("tool_calls", j)
            if not isinstance(c, dict):
                yield Violation("a tool call must be an object", p)
                continue
            if not isinstance(c.get("id"), str) or not c.get("id"):
                yield Violation("tool call has no `id`", p + ("id",) if "id" in c else p)
            elif id_re and not re.match(id_re, c["id"]):
                yield Violation(f"tool call id {c['id']!r} must be {ex.profile.tool_call_id_words} under the {name} "
                                "profile", p + ("id",))
            if c.get("type", "function") != "function":
                yield Violation(f"tool call type {c.get('type')!r} is not 'function'", p + ("type",))
            elif "type" not in c:
                yield Violation('tool call has no `type` (expected "function")', p,
                                fix=None)
            fn = c.get("function")
            if not isinstance(fn, dict):
                yield Violation("tool call has no `function` object", p)
                continue
            if not isinstance(fn.get("name"), str) or not fn.get("name"):
                yield Violation("tool call has no function `name`", p + ("function",))
            if "arguments" not in fn:
                yield Violation("tool call has no `arguments`", p + ("function",))


@rule("TL303", "tool-arguments-not-json", "error", formats={"chat", "preference"}, fixable=True, needs="tools")
def tool_arguments_not_json(ex: Example) -> Iterator[Violation]:
    """Tool-call `arguments` must be a string holding a JSON object. Catches arguments that are
    not JSON, arguments given as an object instead of a string, and double-encoded arguments
    (a JSON string inside the string).

    **Why is this bad?** The model learns to write exactly this text; broken or double-encoded
    JSON teaches it to emit calls your code cannot parse.

    **Fix safety:** serialising an object given as `arguments` is safe; un-double-encoding is
    safe.
    """
    for p, c in tool_calls(ex):
        fn = c.get("function")
        if not isinstance(fn, dict) or "arguments" not in fn:
            continue
        args = fn["arguments"]
        ap = p + ("function", "arguments")
        if isinstance(args, dict):
            yield Violation("`arguments` is an object; it must be a string of JSON", ap,
                            fix=ReplaceValue(ap, orjson.dumps(args).decode(), "Serialise arguments as a JSON string"))
            continue
        if not isinstance(args, str):
            yield Violation(f"`arguments` must be a string of JSON, not {type(args).__name__}", ap)
            continue
        try:
            parsed = orjson.loads(args)
        except orjson.JSONDecodeError as e:
            yield Violation(f"`arguments` is not valid JSON: {e.msg} at character {e.pos}", ap)
            continue
        if isinstance(parsed, str):
            try:
                inner = orjson.loads(parsed)
            except orjson.JSONDecodeError:
                inner = None
            if isinstance(inner, dict):
                yield Violation("`arguments` is double-encoded: a JSON string holding JSON", ap,
                                fix=ReplaceValue(ap, parsed, "Decode the arguments once"))
                continue
        if not isinstance(parsed, dict):
            yield Violation(f"`arguments` must hold a JSON object, not {type(parsed).__name__}", ap)


@rule("TL304", "tool-arguments-schema", "error", formats={"chat", "preference"}, needs="tools")
def tool_arguments_schema(ex: Example) -> Iterator[Violation]:
    """Tool-call arguments do not validate against the function's declared `parameters`
    (missing required properties, wrong types, values outside an enum).

    **Why is this bad?** The model learns to call your tools with arguments they reject.
    """
    decl = declared_functions(ex)
    if not decl:
        return
    for p, c in tool_calls(ex):
        fn = c.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
            continue
        schema = decl.get(fn.get("name"))
        if not isinstance(schema, dict):
            continue
        v = validator_for(schema)
        if isinstance(v, str):
            continue
        try:
            args = orjson.loads(fn["arguments"])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(args, dict):
            continue
        try:
            errors = sorted(v.iter_errors(args), key=lambda e: list(e.path))
        except Unresolvable:
            continue  # a `$ref` that goes nowhere: TL301 reports the schema
        for e in errors[:3]:
            where = ".".join(str(x) for x in e.path)
            yield Violation(f"arguments for {fn['name']!r}{' at ' + where if where else ''}: {e.message}",
                            p + ("function", "arguments"))


@rule("TL305", "undeclared-function", "error", formats={"chat", "preference"}, needs="tools")
def undeclared_function(ex: Example) -> Iterator[Violation]:
    """A tool call names a function that the example's `tools` do not declare.
    Mistral's docs require it ("The `tools` key must include definitions of all tools used");
    its validator does not check it, and tunelint follows the docs.

    **Why is this bad?** The model learns to call functions it was never shown, i.e. to
    hallucinate tools. Without any `tools` the model cannot learn when a tool applies
    (a warning: some pipelines inject tools at training time).
    """
    decl = declared_functions(ex)
    for p, c in tool_calls(ex):
        fn = c.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str):
            continue
        if decl is None:
            from ..findings import Severity

            yield Violation(f"call to {name!r} but the example declares no `tools`", p + ("function", "name"),
                            severity=Severity.WARNING)
        elif name not in decl:
            yield Violation(f"call to undeclared function {name!r} (declared: {', '.join(decl) or 'none'})",
                            p + ("function", "name"))


@rule("TL306", "duplicate-tool-call-id", "error", formats={"chat", "preference"}, needs="tools")
def duplicate_tool_call_id(ex: Example) -> Iterator[Violation]:
    """Two tool calls in one example share an `id`.

    **Why is this bad?** Tool answers are matched to calls by id; with duplicates the answer
    can belong to either call.
    """
    shared: dict[str, tuple] = {}
    for path, msgs in ex.conversations():
        # a preference example's two outputs are alternatives: each continues the input alone
        first = dict(shared)
        for i, m in enumerate(msgs):
            calls = m.get("tool_calls") if isinstance(m, dict) else None
            for j, c in enumerate(calls if isinstance(calls, list) else ()):
                cid = c.get("id") if isinstance(c, dict) else None
                if not isinstance(cid, str):
                    continue
                p = path + (i, "tool_calls", j)
                if cid in first:
                    yield Violation(f"tool call id {cid!r} is used twice", p + ("id",),
                                    related=((first[cid] + ("id",), "first use"),))
                else:
                    first[cid] = p
        if path == ("input", "messages"):
            shared = first


@rule("TL307", "orphan-tool-message", "error", formats={"chat", "preference"}, needs="tools")
def orphan_tool_message(ex: Example) -> Iterator[Violation]:
    """A tool message does not answer an earlier tool call: its `tool_call_id` is missing or
    matches no call made before it.

    **Why is this bad?** The template cannot attach the answer to a call; OpenAI rejects it.
    Mistral's docs require it ("must match the `id` of at least one of the previous assistant
    messages"), though its validator does not check it: tunelint follows the docs.
    """
    for path, msgs in ex.conversations():
        calls: dict[str, tuple] = {}
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                continue
            for j, c in enumerate(m.get("tool_calls") or () if isinstance(m.get("tool_calls"), list) else ()):
                if isinstance(c, dict) and isinstance(c.get("id"), str):
                    calls[c["id"]] = path + (i, "tool_calls", j)
            if m.get("role") != "tool":
                continue
            tid = m.get("tool_call_id")
            if tid is None:
                yield Violation("tool message has no `tool_call_id`", path + (i,))
            elif tid not in calls:
                yield Violation(f"tool message answers {tid!r}, which no earlier call has as id",
                                path + (i, "tool_call_id"))


@rule("TL308", "unanswered-tool-call", "error", formats={"chat", "preference"}, needs="tools")
def unanswered_tool_call(ex: Example) -> Iterator[Violation]:
    """A tool call gets no tool message answering it before the conversation moves on, or a
    call is answered twice.

    **Why is this bad?** Calls and answers must balance: the model learns to continue without
    the result, or templates reject the conversation. A call in the very last message is fine
    (the example teaches when to call).
    """
    for path, msgs in ex.conversations():
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("tool_calls"), list) or i == len(msgs) - 1:
                continue
            ids = {c["id"]: j for j, c in enumerate(m["tool_calls"])
                   if isinstance(c, dict) and isinstance(c.get("id"), str)}
            answered: dict[str, int] = {}
            k = i + 1
            while k < len(msgs) and isinstance(msgs[k], dict) and msgs[k].get("role") == "tool":
                tid = msgs[k].get("tool_call_id")
                if tid in answered:
                    yield Violation(f"tool call {tid!r} is answered twice", path + (k, "tool_call_id"))
                answered[tid] = k
                k += 1
            for cid, j in ids.items():
                if cid not in answered:
                    yield Violation(f"tool call {cid!r} gets no tool answer before the next turn",
                                    path + (i, "tool_calls", j, "id"))
