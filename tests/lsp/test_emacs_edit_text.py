"""The README's Emacs "Edit message as text" block in a real Emacs (eglot, under a
pseudo-terminal, as tests/lsp/test_emacs.py drives it, with the README's eglot configuration):
`tunelint-edit-as-text` on a message opens it unescaped in a buffer; `tunelint-write-text`
writes it back, and the JSONL buffer's line then parses and holds exactly that text."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.lsp.test_emacs import README, Emacs, emacs, events_tail, readme_config, wait_for  # noqa: F401

pytestmark = pytest.mark.slow

LINE = json.dumps({"messages": [{"role": "user", "content": 'Say "hi"\nplease'},
                                {"role": "assistant", "content": "hi"}]})
NEW = 'A "quoted" line \\ with a backslash\na second line, é'

DRIVER_EL = r"""
;;; -*- lexical-binding: t -*-
(require 'json)
(defvar tl-out (getenv "TUNELINT_EMACS_OUT"))
(defvar tl-file-buffer nil)
(defvar tl-connected nil)
(defun tl-emit (&rest plist)
  (write-region (concat (json-encode plist) "\n") nil tl-out 'append 'silent))
(defun tl-poll ()
  (when (and tl-file-buffer (not tl-connected))
    (with-current-buffer tl-file-buffer
      (when (and (fboundp 'eglot-current-server) (eglot-current-server))
        (setq tl-connected t)
        (tl-emit :event "connected")))))
(defun tl-noop () (interactive))
(defun tl-edit ()
  (interactive)
  (set-buffer tl-file-buffer)
  (switch-to-buffer tl-file-buffer)
  (goto-char (point-min))
  (search-forward "please")
  (condition-case err
      (progn
        (tunelint-edit-as-text)
        (tl-emit :event "opened" :text (buffer-substring-no-properties (point-min) (point-max))
                 :name (buffer-name))
        (erase-buffer)
        (insert (getenv "TUNELINT_EMACS_NEW"))
        (tunelint-write-text)
        (tl-emit :event "written"
                 :line (with-current-buffer tl-file-buffer
                         (goto-char (point-min))
                         (buffer-substring-no-properties (line-beginning-position) (line-end-position)))))
    (error (tl-emit :event "error" :message (error-message-string err)))))
(setq eglot-confirm-server-initiated-edits nil eglot-confirm-server-edits nil)
(setq native-comp-async-report-warnings-errors 'silent)
(global-set-key (kbd "C-c a") #'tl-noop)
(global-set-key (kbd "C-c e") #'tl-edit)
(add-hook 'emacs-startup-hook
          (lambda ()
            (setq tl-file-buffer (get-file-buffer (getenv "TUNELINT_EMACS_FILE")))
            (tl-emit :event "started")
            (run-at-time 0 0.05 #'tl-poll)))
"""


def readme_block() -> str:
    m = re.search(r"<!-- emacs-edit-as-text -->\s*```elisp\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert m, "README.md has no ```elisp block after <!-- emacs-edit-as-text -->"
    return m.group(1)


def test_the_readme_block_edits_a_message_as_text_in_emacs(emacs, tmp_path: Path):  # noqa: F811
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    data = ws / "train.jsonl"
    data.write_text(LINE + "\n")
    home = tmp_path / "home"
    init = home / ".emacs.d" / "init.el"
    init.parent.mkdir(parents=True)
    init.write_text(readme_config() + "\n" + readme_block(), encoding="utf-8")
    driver = tmp_path / "driver.el"
    driver.write_text(DRIVER_EL, encoding="utf-8")
    out = tmp_path / "events.jsonl"
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ, HOME=str(home), TERM="xterm-256color",
               PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""),
               TUNELINT_EMACS_OUT=str(out), TUNELINT_EMACS_FILE=str(data), TUNELINT_EMACS_NEW=NEW)
    proc = Emacs([emacs, "-nw", "--no-splash", "-l", str(driver), str(data)], cwd=ws, env=env)
    try:
        wait_for(out, lambda e: e["event"] == "started", 60, proc, "start-up")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(e["event"] == "connected" for e in _events(out)):
            proc.keys(b"\x03a")  # eglot-ensure connects after a command
            time.sleep(0.5)
        wait_for(out, lambda e: e["event"] == "connected", 5, proc, "eglot connected")
        time.sleep(2.0)  # the server's start-up (its first diagnostics)
        proc.keys(b"\x03e")  # C-c e
        done = wait_for(out, lambda e: e["event"] in ("written", "error"), 60, proc, "the write-back")
        opened = next((e for e in _events(out) if e["event"] == "opened"), None)
        proc.keys(b"\x18\x03")  # C-x C-c
        time.sleep(0.5)
        proc.keys(b"yes\r")  # "modified buffers exist; exit anyway?"
        proc.wait(15)
    finally:
        proc.kill()
        for pid in _servers(ws):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert done["event"] == "written", f"{done}; events: {events_tail(out)}"
    assert opened and opened["text"] == 'Say "hi"\nplease', opened
    obj = json.loads(done["line"])
    assert obj["messages"][0]["content"] == NEW, done
    assert obj["messages"][1] == {"role": "assistant", "content": "hi"}, done


def _events(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _servers(ws: Path) -> list[int]:
    from tests.lsp.test_emacs import servers_in

    return servers_in(ws)
