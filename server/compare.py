"""Compare base and fine-tuned on one line (`tunelint.compare` [uri, line (0-based), run?]).

The example on that line gives the prompt (every message before its final assistant turn) and
the reference (that turn's text). Generation runs in a worker subprocess
(`python -m tunelint.trainer.generate`, started once and reused: it keeps the run's models
loaded); the server never imports torch. While it streams, the server sends work-done progress
and `tunelint/compareUpdate` notifications (the whole text so far); the answer is
{"prompt", "reference", "base": {"text"}, "tuned": {"text"}, "run", "view"}, with a markdown view
written under .tunelint/compare/ and, for clients without the VS Code panel (the experimental
capability `tunelintComparePanel`), shown with window/showDocument.

A compare stops when its LSP request is cancelled, or when a new compare on the same line
replaces it.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.children import die_with_parent
from tunelint.linter.example import detect_format
from tunelint.linter.to_chat import ConvertError, to_chat
from tunelint.options import generate_settings
from tunelint.trainer.contract import latest_training_run

from .runs import RunRefused, _lines, training_run_arg
from .to_lsp import path_to_uri

if TYPE_CHECKING:
    from .main import TunelintServer

CMD_COMPARE = "tunelint.compare"
UPDATE = "tunelint/compareUpdate"
PANEL_CAPABILITY = "tunelintComparePanel"  # experimental client capability: it shows the panel itself
TITLE = "Compare base and fine-tuned on this line"
COMPARE_DIR = Path(".tunelint") / "compare"
UPDATE_EVERY_S = 0.05  # at most this often a compareUpdate while tokens stream
# the id of the LSP request being handled (set by server/main.py's protocol; a request's tasks
# inherit it), and the tasks a $/cancelRequest of that id stops
REQUEST_ID: contextvars.ContextVar = contextvars.ContextVar("tunelint_request_id", default=None)
CANCELLABLE: dict = {}


class Replaced(Exception):
    """A compare that a newer one on the same line replaced."""


def example_prompt(text: str) -> tuple[list[dict], str, list | None]:
    """(prompt messages, reference, tools) of the example on one line, or RunRefused saying why
    it cannot be compared (not an example, no assistant turn, nothing before it)."""
    text = text.rstrip("\r").lstrip("\ufeff")
    if not text.strip():
        raise RunRefused("this line is empty: put the cursor on an example (a JSON object) to compare")
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise RunRefused(f"this line is not a JSON example ({e}): fix it before comparing") from None
    if not isinstance(obj, dict):
        raise RunRefused("this line is not an example (a JSON object)")
    fmt = detect_format(obj)
    if fmt is None:
        raise RunRefused("this line is not an example in a known format (messages, conversations, "
                         "instruction/output, prompt/completion)")
    tools = obj.get("tools") if isinstance(obj.get("tools"), list) else None
    if fmt == "preference":
        inp = obj.get("input") if isinstance(obj.get("input"), dict) else {}
        pref = obj.get("preferred_output")
        messages = [*(inp.get("messages") or []), *(pref if isinstance(pref, list) else [])]
        tools = inp.get("tools") if isinstance(inp.get("tools"), list) else tools
    else:
        try:
            messages = to_chat(obj, fmt).get("messages")
        except ConvertError as e:
            raise RunRefused(f"this {fmt} example cannot be compared: {e}") from None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RunRefused("this example's messages are not a list of objects")
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    if last is None:
        raise RunRefused("this example has no assistant turn to compare against: the prompt is everything before "
                         "the final assistant turn")
    if last == 0:
        raise RunRefused("this example's assistant turn comes first: there is no prompt before it to generate from")
    return messages[:last], _text(messages[last]), tools


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str) and content:
        return content
    if isinstance(content, list):
        parts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if parts:
            return "".join(parts)
    if message.get("tool_calls"):
        return json.dumps(message["tool_calls"], ensure_ascii=False)
    return content if isinstance(content, str) else ""


class GenerateWorker:
    """The generation subprocess: started on the first compare, reused by the next ones."""

    def __init__(self):
        self.proc: asyncio.subprocess.Process | None = None
        self.waiting: dict[str, asyncio.Queue] = {}
        self.stderr_tail: list[str] = []
        self._reader: asyncio.Task | None = None
        self._starting: asyncio.Lock | None = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.running():
                return
            self.stderr_tail = []
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tunelint.trainer.generate", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
                preexec_fn=die_with_parent)
            loop = asyncio.get_running_loop()
            self._reader = loop.create_task(self._read(self.proc))
            loop.create_task(self._read_stderr(self.proc))

    async def _read(self, proc) -> None:
        async for raw in _lines(proc.stdout):
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            q = self.waiting.get(ev.get("id")) if isinstance(ev, dict) else None
            if q is not None:
                q.put_nowait(ev)
        await proc.wait()
        why = "\n".join(self.stderr_tail[-5:])
        for q in list(self.waiting.values()):  # a worker that died answers every request it had
            q.put_nowait({"event": "error", "message": f"the generation worker exited ({proc.returncode}). {why}"})

    async def _read_stderr(self, proc) -> None:
        async for raw in _lines(proc.stderr):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail = (self.stderr_tail + [line])[-20:]

    async def send(self, obj: dict) -> None:
        if not self.running():
            return
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def request(self, req: dict):
        """The worker's events for `req`, up to and including its last (done, cancelled, error)."""
        await self.start()
        q: asyncio.Queue = asyncio.Queue()
        self.waiting[req["id"]] = q
        try:
            await self.send(req)
            while True:
                ev = await q.get()
                yield ev
                if ev.get("event") in ("done", "cancelled", "error"):
                    return
        finally:
            self.waiting.pop(req["id"], None)

    def kill_now(self) -> None:
        if self.running():
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass


class Compare:
    def __init__(self, ls: TunelintServer):
        self.ls = ls
        self.worker = GenerateWorker()
        self.ids = itertools.count(1)
        self.current: dict[tuple[str, int], str] = {}  # (uri, line) → the compare running there

    # -- the command -------------------------------------------------------------------------

    async def compare(self, args: list) -> dict:
        uri, line, run_arg = self._arguments(args)
        src = self.ls.docs.get(uri)
        if src is None or src.doc is None:
            raise RunRefused(f"{uri} is not open: open the file, then compare on one of its lines")
        if line >= src.doc.content_lines:
            raise RunRefused(f"line {line + 1} is past the end of {os.path.basename(src.path)} "
                             f"({src.doc.content_lines} lines)")
        prompt, reference, tools = example_prompt(src.doc.lines[line])
        run = training_run_arg(self.ls.project.root, run_arg, "tunelint.compare")
        gen = generate_settings(self.ls.project.config.generate, self.ls.editor.generation)
        rid = f"compare-{next(self.ids)}"
        key = (uri, line)
        old = self.current.get(key)
        if old is not None:  # a new compare on the same line replaces the old one
            await self.worker.send({"cancel": old})
        self.current[key] = rid
        state = {"id": rid, "uri": uri, "line": line, "run": run.name, "prompt": prompt, "reference": reference,
                 "base": {"text": "", "done": False}, "tuned": {"text": "", "done": False}}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            CANCELLABLE[request_id] = asyncio.current_task()
        progress = await self._progress_begin(rid, f"Comparing line {line + 1} ({run.name})")
        try:
            final = await self._stream(rid, {"id": rid, "run": str(run.path), "messages": prompt, "tools": tools,
                                             **gen}, state, progress)
        except asyncio.CancelledError:  # the client cancelled the request
            await self.worker.send({"cancel": rid})
            self._progress_end(progress, "cancelled")
            raise
        finally:
            CANCELLABLE.pop(request_id, None)
            if self.current.get(key) == rid:
                del self.current[key]
        if final.get("event") == "cancelled":
            self._progress_end(progress, "replaced by a newer compare")
            raise RunRefused(f"this compare of line {line + 1} was replaced by a newer one")
        if final.get("event") != "done":
            self._progress_end(progress, "failed")
            raise RunRefused(f"compare failed: {final.get('message', 'the generation worker stopped')}")
        state["base"] = {"text": final["base"], "done": True}
        state["tuned"] = {"text": final["tuned"], "done": True}
        self._notify(state)
        view = self.write_view(src.path, line, state, gen)
        self._progress_end(progress, "done")
        if not self.ls.client_declares(PANEL_CAPABILITY):
            await self._show(view)
        return {"prompt": prompt, "reference": reference, "base": {"text": final["base"]},
                "tuned": {"text": final["tuned"]}, "run": run.name, "view": path_to_uri(str(view)),
                "settings": gen, "loads": final.get("loads")}

    def _arguments(self, args) -> tuple[str, int, str | None]:
        if not isinstance(args, (list, tuple)) or len(args) < 2:
            raise RunRefused("tunelint.compare takes (uri, line (0-based), run (optional))")
        uri, line = args[0], args[1]
        run = args[2] if len(args) > 2 else None
        if not isinstance(uri, str):
            raise RunRefused("tunelint.compare's first argument is the document's URI")
        if isinstance(line, bool) or not isinstance(line, int) or line < 0:
            raise RunRefused(f"tunelint.compare's line is a 0-based line number, not {line!r:.40}")
        if run is not None and not isinstance(run, str):
            raise RunRefused("tunelint.compare's run is a run folder's name, path or file URI")
        return uri, line, run or None

    def has_run(self) -> bool:
        root = self.ls.project.root
        return root is not None and latest_training_run(root) is not None

    # -- streaming ---------------------------------------------------------------------------

    async def _stream(self, rid: str, req: dict, state: dict, progress: str | None) -> dict:
        last_sent = 0.0
        pending = False
        final: dict = {}
        async for ev in self.worker.request(req):
            kind = ev.get("event")
            if kind in ("done", "cancelled", "error"):
                final = ev
                break
            which = ev.get("which")
            if kind == "loaded":
                self._progress_report(progress, f"{'loaded' if not ev.get('cached') else 'reusing'} the "
                                                f"{'fine-tuned' if which == 'tuned' else 'base'} model")
                if which == "tuned":
                    state["base"]["done"] = True
                continue
            if which in ("base", "tuned") and isinstance(ev.get("text"), str):
                state[which]["text"] = ev["text"]
                pending = True
                now = time.monotonic()
                if now - last_sent >= UPDATE_EVERY_S:
                    last_sent, pending = now, False
                    self._notify(state)
                    self._progress_report(progress, f"{'fine-tuned' if which == 'tuned' else 'base'}: "
                                                    f"{len(ev['text'])} characters")
        if pending:
            self._notify(state)
        return final

    def _notify(self, state: dict) -> None:
        try:
            self.ls.protocol.notify(UPDATE, json.loads(json.dumps(state)))
        except Exception:  # the client may be gone
            pass

    async def _show(self, view: Path) -> None:
        w = self.ls.client_capabilities.window
        if w is None or not w.show_document or not w.show_document.support:
            return
        try:
            await asyncio.wait_for(self.ls.window_show_document_async(types.ShowDocumentParams(
                uri=path_to_uri(str(view)), take_focus=False)), timeout=5)
        except Exception as e:
            self.ls.log(f"showDocument failed: {e}", types.MessageType.Warning)

    # -- progress ----------------------------------------------------------------------------

    async def _progress_begin(self, rid: str, title: str) -> str | None:
        w = self.ls.client_capabilities.window
        if w is None or not w.work_done_progress:
            return None
        token = f"tunelint-{rid}"
        progress = self.ls.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), timeout=5)
        except Exception:
            return None
        fut = progress.tokens.get(token)
        if fut is not None:  # the client's cancel button (window/workDoneProgress/cancel)
            loop = asyncio.get_running_loop()
            fut.add_done_callback(lambda f: f.cancelled() and loop.call_soon_threadsafe(
                lambda: loop.create_task(self.worker.send({"cancel": rid}))))
        progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, message="starting"))
        return token

    def _progress_report(self, token: str | None, message: str) -> None:
        if token is not None:
            self.ls.work_done_progress.report(token, types.WorkDoneProgressReport(message=message))

    def _progress_end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # -- the markdown view -------------------------------------------------------------------

    def write_view(self, path: str, line: int, state: dict, gen: dict) -> Path:
        """.tunelint/compare/<file>-line<N>.md: the prompt, then base | fine-tuned | reference."""
        root = self.ls.project.root or Path(path).parent
        folder = Path(root) / COMPARE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        view = folder / f"{Path(path).stem}-line{line + 1}.md"
        tmp = view.with_name(f".{view.name}.{os.getpid()}.tmp")
        tmp.write_text(markdown(os.path.basename(path), line, state, gen), encoding="utf-8")
        os.replace(tmp, view)
        return view

    def shutdown(self) -> None:
        self.worker.kill_now()


def markdown(name: str, line: int, state: dict, gen: dict) -> str:
    how = ("greedy" if gen["temperature"] == 0 else f"temperature {gen['temperature']}, top-p {gen['top_p']}")
    out = [f"# Compare: {name}, line {line + 1}", "",
           f"Run `{state['run']}` · {how} · at most {gen['max_new_tokens']} new tokens", "", "## Prompt", ""]
    for m in state["prompt"]:
        out += [f"**{m.get('role', '?')}**", "", _fence(_text(m)), ""]
    out += ["## Answers", "", "| base | fine-tuned | reference |", "| --- | --- | --- |",
            f"| {_cell(state['base']['text'])} | {_cell(state['tuned']['text'])} | {_cell(state['reference'])} |", ""]
    for title, text in (("Base", state["base"]["text"]), ("Fine-tuned", state["tuned"]["text"]),
                        ("Reference", state["reference"])):
        out += [f"### {title}", "", _fence(text or ""), ""]
    return "\n".join(out)


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def _cell(text: str | None) -> str:
    if not text:
        return "*(empty)*"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def actions(src, split: str | None, rng: types.Range, has_run: bool) -> list[types.CodeAction]:
    """"Compare base and fine-tuned on this line" on an example line of a train, validation or
    test file, once a fine-tune exists."""
    if not has_run or split not in ("train", "validation", "test") or src.doc is None:
        return []
    line = rng.start.line
    if line >= src.doc.content_lines:
        return []
    text = src.doc.lines[line].strip()
    if not text.startswith("{"):
        return []
    return [types.CodeAction(title=TITLE, kind=types.CodeActionKind.Empty,
                             command=types.Command(title=TITLE, command=CMD_COMPARE, arguments=[src.doc.uri, line]))]
