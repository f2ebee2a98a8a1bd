"""End to end with a real Emacs: `emacs -nw` under a pseudo-terminal, configured with the README's
Emacs block (read from README.md, so the README cannot drift), runs tunelint's server through
eglot on a held-out-sized file with a few 500,000-character lines, driven by keystrokes.

A small driver (DRIVER_EL) binds a few `C-c` keys and polls, on a 20 ms timer, what flymake
shows; it appends each event to a JSON-lines file that this test reads. Keystrokes, not Lisp
calls, make the edit and its undo, so eglot's own post-command and idle-timer machinery runs as
for a user (eglot sends didChange after `eglot-send-changes-idle-time` of idleness, 0.5 s by
default, and that half second is inside the measured figures).

The figures (edit → its diagnostic shown, undo → cleared) are printed, not asserted: a timing on
a shared 2-core machine is a benchmark, not a pass/fail test (a 1 s bound failed at 1.81 s and
3.51 s under load). The test asserts that each step happens (within STEP_TIMEOUT_S); that long
lines get bounded ranges is tested exactly in test_long_lines.py. bench/README.md quotes the
figures. Debian bookworm's emacs-nox (28.2) and elpa-eglot (1.9) are what scripts/test.sh installs.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
CONNECT_TIMEOUT_S = 60
STEP_TIMEOUT_S = 30

# Defect lines (an unknown role), over-limit lines (several findings each, far along the line)
# and a clean line to break. 0-based.
N_LINES = 200
LONG = (40, 120, 170)
BAD = (10, 90, 150)
BREAK = 60


def long_line(i: int) -> str:
    return json.dumps({"messages": [
        {"role": "user", "content": f"Summarise {i}: " + "lorem ipsum dolor sit amet " * 20_000},
        {"role": "assistant", "content": "ok " * 2_000}]})


def dataset() -> str:
    lines = []
    for i in range(N_LINES):
        if i in LONG:
            lines.append(long_line(i))
        elif i in BAD:
            lines.append(json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                                  {"role": "bot", "content": f"Answer {i}."}]}))
        else:
            lines.append(json.dumps({"messages": [
                {"role": "user", "content": f"How do I pair lamp number {i}?"},
                {"role": "assistant", "content": f"Hold button {i} for five seconds."}]}))
    return "\n".join(lines) + "\n"


def readme_config() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- emacs-config -->\s*```elisp\n(.*?)```", text, re.S)
    assert m, "README.md has no ```elisp block after <!-- emacs-config -->"
    return m.group(1)


DRIVER_EL = r"""
;;; driver for tests/lsp/test_emacs.py -*- lexical-binding: t -*-
(require 'json)
(require 'cl-lib)
(defvar tl-out (getenv "TUNELINT_EMACS_OUT"))
(defvar tl-break-line (string-to-number (getenv "TUNELINT_EMACS_BREAK")))
(defvar tl-hover-line (string-to-number (getenv "TUNELINT_EMACS_HOVER")))
(defvar tl-file-buffer nil)
(defvar tl-last-diags 'none)
(defvar tl-connected nil)
(defvar tl-edit-t0 nil)
(defvar tl-undo-t0 nil)
(defvar tl-t0 (float-time))

(defun tl-emit (&rest plist)
  (let ((json-encoding-pretty-print nil))
    (write-region (concat (json-encode (append (list :t (- (float-time) tl-t0)) plist)) "\n")
                  nil tl-out 'append 'silent)))

(defun tl-code (d)
  (let ((text (flymake-diagnostic-text d)))
    (if (string-match "\\[\\(TL[0-9]+\\)\\]" text) (match-string 1 text)
      (let ((lsp (alist-get 'eglot-lsp-diag (ignore-errors (flymake-diagnostic-data d)))))
        (format "%s" (plist-get lsp :code))))))

(defun tl-diags ()
  (with-current-buffer tl-file-buffer
    (sort (mapcar (lambda (d) (list (1- (line-number-at-pos (flymake-diagnostic-beg d) t))
                                    (tl-code d)))
                  (flymake-diagnostics))
          (lambda (a b) (or (< (car a) (car b))
                            (and (= (car a) (car b)) (string< (cadr a) (cadr b))))))))

(defun tl-on-line (diags line code)
  (cl-some (lambda (d) (and (= (car d) line) (equal (cadr d) code))) diags))

(defun tl-poll ()
  (when (and tl-file-buffer (buffer-live-p tl-file-buffer))
    (with-current-buffer tl-file-buffer
      (let ((server (and (fboundp 'eglot-current-server) (eglot-current-server))))
        (when (and server (not tl-connected))
          (setq tl-connected t)
          (tl-emit :event "connected" :mode (symbol-name major-mode)
                   :root (let ((p (project-current))) (and p (expand-file-name
                                                             (if (fboundp 'project-root)
                                                                 (project-root p)
                                                               (car (project-roots p))))))
                   :pid (process-id (jsonrpc--process server))))
        (when server
          (let ((diags (tl-diags)))
            (unless (equal diags tl-last-diags)
              (setq tl-last-diags diags)
              (tl-emit :event "diagnostics" :diagnostics (vconcat (mapcar #'vconcat diags))))
            (when (and tl-edit-t0 (tl-on-line diags tl-break-line "TL104"))
              (tl-emit :event "edit-shown" :seconds (- (float-time) tl-edit-t0))
              (setq tl-edit-t0 nil))
            (when (and tl-undo-t0 (not (cl-some (lambda (d) (= (car d) tl-break-line)) diags)))
              (tl-emit :event "undo-cleared" :seconds (- (float-time) tl-undo-t0)
                       :modified (buffer-modified-p))
              (setq tl-undo-t0 nil))))))))

(defun tl-noop () (interactive))
(defun tl-messages ()
  (with-current-buffer (messages-buffer)
    (buffer-substring-no-properties (max (point-min) (- (point-max) 3000)) (point-max))))
(setq native-comp-async-report-warnings-errors 'silent)  ; no *Warnings* window over the file

(defun tl-break ()
  "Break the clean line: role \"user\" -> \"usr\"."
  (interactive)
  (set-buffer tl-file-buffer)
  (goto-char (point-min))
  (forward-line tl-break-line)
  (search-forward "\"user\"" (line-end-position))
  (setq tl-edit-t0 (float-time))
  (replace-match "\"usr\"" t t)
  (tl-emit :event "edited" :line (buffer-substring-no-properties
                                  (line-beginning-position) (line-end-position))))

(defun tl-pre-command ()
  (when (memq this-command '(undo undo-only undo-redo))
    (setq tl-undo-t0 (float-time))
    (tl-emit :event "undo-key" :command (symbol-name this-command))))

(defun tl-hover ()
  "Ask for hover on the unknown role, through eglot's own connection."
  (interactive)
  (set-buffer tl-file-buffer)
  (goto-char (point-min))
  (forward-line tl-hover-line)
  (search-forward "\"bot\"" (line-end-position))
  (backward-char 3)
  (let* ((t0 (float-time))
         (reply (jsonrpc-request (eglot--current-server-or-lose) :textDocument/hover
                                 (eglot--TextDocumentPositionParams)))
         (contents (plist-get reply :contents)))
    (tl-emit :event "hover" :seconds (- (float-time) t0)
             :contents (cond ((stringp contents) contents)
                             ((plist-get contents :value))
                             (t (format "%S" contents))))))

(add-hook 'pre-command-hook #'tl-pre-command)
(add-hook 'kill-emacs-hook (lambda () (tl-emit :event "exit")))
(global-set-key (kbd "C-c a") #'tl-noop)
(global-set-key (kbd "C-c m") (lambda () (interactive) (tl-emit :event "messages" :text (tl-messages))))
(global-set-key (kbd "C-c b") #'tl-break)
(global-set-key (kbd "C-c h") #'tl-hover)
(add-hook 'emacs-startup-hook
          (lambda ()
            (setq tl-file-buffer (get-file-buffer (getenv "TUNELINT_EMACS_FILE")))
            (tl-emit :event "started" :emacs emacs-version
                     :eglot (or (ignore-errors
                                  (require 'eglot)
                                  (let ((lib (locate-library "eglot")))
                                    (with-temp-buffer
                                      (insert-file-contents
                                       (replace-regexp-in-string "\\.elc\\'" ".el" lib))
                                      (and (re-search-forward "^;; Version: \\(.*\\)$" nil t)
                                           (match-string 1)))))
                                "?")
                     :mode (and tl-file-buffer
                                (symbol-name (buffer-local-value 'major-mode tl-file-buffer))))
            (run-at-time 0 0.02 #'tl-poll)))
"""


class Emacs:
    """`emacs -nw` on a pseudo-terminal; its screen output is drained (and kept) by a thread."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]):
        pid, fd = pty.fork()
        if pid == 0:  # child: the pty is its controlling terminal
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.screen = bytearray()
        self.status: int | None = None
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen += data
            del self.screen[:-20000]

    def keys(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        if self.status is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(10)
        try:
            os.close(self.fd)
        except OSError:
            pass


def events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(path: Path, pred, timeout: float, emacs: Emacs, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(path):
            if pred(e):
                return e
        if emacs.wait(0) is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"Emacs: no {what} within {timeout}s; events: {events_tail(path)}; "
                f"screen: {emacs.screen[-1500:].decode(errors='replace')!r}")


def events_tail(path: Path) -> str:
    return json.dumps(events(path)[-6:])[-3000:]


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def servers_in(ws: Path) -> list[int]:
    """tunelint server processes whose working folder is ws."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"tunelint" in cmd and b"server" in cmd and Path(cwd) == ws and process_alive(int(entry)):
            found.append(int(entry))
    return found


@pytest.fixture
def emacs() -> str:
    path = shutil.which("emacs")
    if path is None:
        pytest.skip("Emacs is not installed; scripts/test.sh installs Debian's `emacs-nox` and "
                    "`elpa-eglot` when it runs as root with apt-get")
    probe = subprocess.run([path, "--batch", "--eval",
                            "(progn (require 'eglot) (princ emacs-version))"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"Emacs has no eglot (scripts/test.sh installs `elpa-eglot`): "
                    f"{probe.stderr.strip()[-300:]}")
    return path


def expected_findings(ws: Path) -> list[tuple[int, str]]:
    out = subprocess.run([sys.executable, "-m", "tunelint", "check", "train.jsonl", "--format",
                          "json", "--exit-zero"], cwd=ws, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return sorted((f["line"] - 1, f["code"]) for f in json.loads(out.stdout)["findings"])


def test_emacs_eglot_with_the_readme_config_on_long_lines(emacs, tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    data = ws / "train.jsonl"
    data.write_text(dataset(), encoding="utf-8")
    expected = expected_findings(ws)
    assert {line for line, _ in expected} >= set(LONG) | set(BAD), expected
    assert BREAK not in {line for line, _ in expected}

    home = tmp_path / "home"
    config = home / ".emacs.d" / "init.el"  # a fresh Emacs whose init file is the README's block
    config.parent.mkdir(parents=True)
    config.write_text(readme_config(), encoding="utf-8")
    driver = tmp_path / "driver.el"
    driver.write_text(DRIVER_EL, encoding="utf-8")
    out = tmp_path / "emacs-events.jsonl"
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ, HOME=str(home), TERM="xterm-256color",
               PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""),
               TUNELINT_EMACS_OUT=str(out), TUNELINT_EMACS_FILE=str(data),
               TUNELINT_EMACS_BREAK=str(BREAK), TUNELINT_EMACS_HOVER=str(BAD[0]))
    assert shutil.which("tunelint", path=env["PATH"]), "no `tunelint` script next to sys.executable"
    # No -q: Emacs activates its packages (Debian's elpa-eglot, or eglot from ELPA) only when it
    # loads an init file, as a user's Emacs does.
    argv = [emacs, "-nw", "--no-splash", "-l", str(driver), str(data)]

    proc = Emacs(argv, cwd=ws / "sub", env=env)
    server_pid = None
    try:
        started = wait_for(out, lambda e: e["event"] == "started", 60, proc, "start-up")
        assert started["mode"] == "jsonl-mode", started
        # eglot-ensure connects after the first command: any key
        connected = None
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while connected is None and time.monotonic() < deadline:
            proc.keys(b"\x03a")  # C-c a: a no-op command
            try:
                connected = next(e for e in events(out) if e["event"] == "connected")
            except StopIteration:
                time.sleep(0.5)
        assert connected, f"eglot did not connect; events: {events_tail(out)}"
        server_pid = connected["pid"]
        assert Path(connected["root"]) == ws, connected  # tunelint.toml marks the root

        # 1. The findings on the right lines: what `tunelint check` reports, line for line.
        def complete(e):
            return e["event"] == "diagnostics" and sorted(map(tuple, e["diagnostics"])) == expected
        opened = wait_for(out, complete, STEP_TIMEOUT_S, proc, "complete diagnostics")

        # 2. Break a clean line, then undo it with the undo key.
        time.sleep(1.0)
        proc.keys(b"\x03b")  # C-c b
        edit = wait_for(out, lambda e: e["event"] == "edit-shown", STEP_TIMEOUT_S, proc,
                        f"TL104 on line {BREAK} after the edit")
        time.sleep(1.0)
        proc.keys(b"\x1f")  # C-/ (undo)
        undo = wait_for(out, lambda e: e["event"] == "undo-cleared", STEP_TIMEOUT_S, proc,
                        f"line {BREAK} cleared after the undo")
        final = [e for e in events(out) if e["event"] == "diagnostics"][-1]

        # 3. Hover on the unknown role: the rule's documentation.
        proc.keys(b"\x03h")  # C-c h
        hover = wait_for(out, lambda e: e["event"] == "hover", STEP_TIMEOUT_S, proc, "hover")

        # 4. Quit; the server goes with Emacs.
        time.sleep(0.3)
        proc.keys(b"\x18\x03")  # C-x C-c
        status = proc.wait(30)
        assert status is not None, f"Emacs did not quit: {proc.screen[-1500:]!r}"
        deadline = time.monotonic() + 10
        while (process_alive(server_pid) or servers_in(ws)) and time.monotonic() < deadline:
            time.sleep(0.05)
        leftover = [p for p in [server_pid, *servers_in(ws)] if process_alive(p)]
    finally:
        proc.kill()
        for pid in [server_pid, *servers_in(ws)] if server_pid else servers_in(ws):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass

    print(f"Emacs {started['emacs']}, eglot {started['eglot']}: complete diagnostics "
          f"{opened['t'] - connected['t']:.2f} s after connecting; edit -> shown "
          f"{edit['seconds']:.2f} s; undo -> cleared {undo['seconds']:.2f} s; hover "
          f"{hover['seconds']:.2f} s")
    assert "TL104" in hover["contents"] and "invalid-role" in hover["contents"], hover
    assert sorted(map(tuple, final["diagnostics"])) == expected, final
    assert status == 0, f"Emacs exited {status}"
    assert not leftover, f"tunelint server processes left after Emacs quit: {leftover}"
