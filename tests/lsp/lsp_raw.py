"""A raw LSP client over a real `tunelint server` process: framed JSON-RPC written and read as
bytes, so tests can send what a typed client refuses to build (negative positions, missing
params, requests out of the life cycle) and see exactly what comes back."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path


class RawServer:
    def __init__(self, cwd: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tunelint", "server"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self.ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                header = out.readline()
                if not header:
                    self.messages.put(None)
                    return
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
                elif header in (b"\r\n", b"\n") and length is not None:
                    break
            self.messages.put(json.loads(out.read(length)))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params=None) -> None:
        self.send({"method": method, **({} if params is None else {"params": params})})

    def request(self, method: str, params=None, timeout: float = 30.0) -> dict:
        """Send a request and return its response (result or error); fail if none comes."""
        msg_id = next(self.ids)
        self.send({"id": msg_id, "method": method, **({} if params is None else {"params": params})})
        return self.response(msg_id, timeout)

    def response(self, msg_id, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline, f"no reply to request {msg_id}")
            if message.get("id") == msg_id and "method" not in message:
                return message
            self._keep(message)

    def _next(self, deadline: float, why: str) -> dict:
        try:
            message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{why} (timed out)") from None
        if message is None:
            raise AssertionError(f"{why}: the server closed its output (exit code {self.proc.poll()})")
        return message

    def _keep(self, message: dict) -> None:
        if "method" in message and "id" in message:  # a request from the server: answer it as editors do
            result = [None for _ in message.get("params", {}).get("items", [])] \
                if message["method"] == "workspace/configuration" else None
            self.send({"id": message["id"], "result": result})
        elif "method" in message:
            self.notifications.append(message)

    def wait_notification(self, predicate, timeout: float = 30.0) -> dict:
        for n in self.notifications:
            if predicate(n):
                return n
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline, "no such notification")
            self._keep(message)
            if "method" in message and "id" not in message and predicate(message):
                return message

    def initialize(self, root: Path, capabilities: dict | None = None) -> dict:
        reply = self.request("initialize", {"processId": None, "rootUri": root.as_uri(),
                                            "capabilities": capabilities or {}})
        self.notify("initialized", {})
        return reply

    def diagnostics(self, uri: str, version: int, timeout: float = 30.0) -> list[dict]:
        n = self.wait_notification(lambda m: m["method"] == "textDocument/publishDiagnostics"
                                   and m["params"]["uri"] == uri and m["params"].get("version") == version, timeout)
        return n["params"]["diagnostics"]

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
