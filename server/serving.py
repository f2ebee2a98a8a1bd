"""Serve a run from the editor (`tunelint.serve`, `tunelint.stopServe`): `tunelint serve RUN` as a
managed subprocess (the same interpreter; the server never imports torch), announced once its
`/v1/models` lists the run and its base, with the URL shown (window/showMessage). One at a time;
stopped by `tunelint.stopServe`, by a new `tunelint.serve`, and when the server shuts down."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.children import die_with_parent

from .runs import RunRefused, training_run_arg

if TYPE_CHECKING:
    from .main import TunelintServer

READY_TIMEOUT_S = 1800.0  # a first merge and load of a real model can take minutes


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(url: str) -> list[str] | None:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
            return [m.get("id") for m in json.loads(r.read()).get("data", [])]
    except (OSError, ValueError):
        return None



URL_CAPABILITY = "tunelintShowsServeUrl"  # experimental client capability: it shows the URL itself

class Serving:
    def __init__(self, ls: TunelintServer):
        self.ls = ls
        self.proc: asyncio.subprocess.Process | None = None
        self.info: dict | None = None
        self.stderr_tail: list[str] = []

    async def serve(self, args: list) -> dict:
        run = training_run_arg(self.ls.project.root, args[0] if args else None, "tunelint.serve")
        port = args[1] if len(args) > 1 else None
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
            raise RunRefused(f"tunelint.serve's port is a number 1-65535, not {port!r:.60}")
        await self.stop()
        if port is None:
            port = 8000 if _port_free(8000) else _free_port()
        elif not _port_free(port):
            raise RunRefused(f"port {port} on 127.0.0.1 is in use; stop what listens there or pick another port")
        argv = [sys.executable, "-m", "tunelint", "serve", str(run.path), "--port", str(port), "--ready-json"]
        self.stderr_tail = []
        self.proc = proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent, cwd=str(self.ls.project.root))
        asyncio.get_running_loop().create_task(self._read_stderr(proc))
        try:
            ready = await asyncio.wait_for(self._ready(proc), READY_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise
        if ready is None:
            code = await proc.wait()
            self.proc = None
            tail = "\n".join(line for line in self.stderr_tail[-5:] if not line.startswith("INFO:"))
            raise RunRefused(f"tunelint serve {run.name} stopped (exit {code}): {tail}")
        url = ready["url"]
        listed = await asyncio.get_running_loop().run_in_executor(None, _models, url)
        if listed is None or not set(ready["models"]) <= set(listed):
            await self.stop()
            raise RunRefused(f"tunelint serve {run.name} did not answer GET {url}/models")
        self.info = {"url": url, "models": ready["models"], "pid": proc.pid, "run": run.name}
        if not self.ls.client_declares(URL_CAPABILITY):  # the extension shows the URL with a Copy button
            self.ls.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Info,
                message=f"tunelint: serving {run.name} at {url} (models: {', '.join(ready['models'])})"))
        return {"url": url, "models": ready["models"], "pid": proc.pid}

    async def _ready(self, proc) -> dict | None:
        assert proc.stdout
        while True:
            line = await proc.stdout.readline()
            if not line:
                return None
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "url" in obj:
                return obj

    async def _read_stderr(self, proc) -> None:
        assert proc.stderr
        while line := await proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail = (self.stderr_tail + [text])[-20:]

    async def stop(self, args: list | None = None, grace: float = 15.0) -> dict:
        proc, self.proc, self.info = self.proc, None, None
        if proc is None or proc.returncode is not None:
            return {"stopped": False}
        self._signal(proc, signal.SIGTERM)  # tunelint serve stops its engine
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except asyncio.TimeoutError:
            self._signal(proc, signal.SIGKILL)
            await proc.wait()
        return {"stopped": True}

    @staticmethod
    def _signal(proc, sig) -> None:
        try:
            os.killpg(proc.pid, sig)  # its whole group: the engine with it
        except (ProcessLookupError, PermissionError):
            pass

    def shutdown(self) -> None:
        """No server outlives the language server: SIGTERM now (tunelint serve stops its engine)."""
        if self.proc is not None and self.proc.returncode is None:
            self._signal(self.proc, signal.SIGTERM)
