"""End to end with a real editor: headless Neovim runs the tunelint language server, shows its
diagnostics, and updates them after an edit.

Neovim drives everything from a generated init.lua: it starts the server on train.jsonl, waits
for the diagnostics Neovim itself has stored (vim.diagnostic.get), edits the buffer, waits
again, and writes what it saw to a JSON file that this test checks. The Lua works on Neovim 0.7
(Debian bookworm: vim.lsp.start_client + vim.lsp.buf_attach_client) and on 0.8+ (vim.lsp.start).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lsp.conftest import GOOD, jsonl

pytestmark = pytest.mark.slow

NVIM_TIMEOUT_S = 60
WAIT_MS = 30_000  # per wait inside Neovim; well under NVIM_TIMEOUT_S in total

# The bad line carries non-ASCII text before the unknown role, so a column off by a UTF-8/UTF-16
# mix-up between server and editor would show: "é" is 2 bytes and 1 UTF-16 unit, the emoji 4
# bytes and 2 units. Neovim stores diagnostic columns as byte offsets.
BAD_LINE = json.dumps({"messages": [{"role": "user", "content": "Is there a hub? café 🙂"},
                                    {"role": "bot", "content": "No hub."}]}, ensure_ascii=False)

INIT_LUA = r"""
local cfg = vim.fn.json_decode(table.concat(vim.fn.readfile(vim.env.TUNELINT_NVIM_CONFIG), "\n"))
local out = { nvim = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "."
              .. tostring(vim.version().patch), api = {}, log = {}, steps = {} }
local t0 = vim.loop.hrtime()

local function ms() return math.floor((vim.loop.hrtime() - t0) / 1e6) end

local function write()
  vim.fn.writefile({ vim.fn.json_encode(out) }, cfg.output)
end

local function snapshot(bufnr)
  local items = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(items, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      code = d.code ~= nil and tostring(d.code) or vim.NIL,
      source = d.source or vim.NIL, message = d.message, severity = d.severity,
    })
  end
  table.sort(items, function(a, b)
    if a.lnum ~= b.lnum then return a.lnum < b.lnum end
    return a.col < b.col
  end)
  return items
end

local function has(bufnr, code, lnum)
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if tostring(d.code) == code and (lnum == nil or d.lnum == lnum) then return true end
  end
  return false
end

local function start(bufnr)
  local config = {
    name = "tunelint",
    cmd = cfg.cmd,
    root_dir = cfg.root,
    init_options = { profile = "hf" },
    handlers = {
      ["window/logMessage"] = function(_, result)
        table.insert(out.log, result and result.message or "?")
      end,
      ["window/showMessage"] = function(_, result)
        table.insert(out.log, "showMessage: " .. (result and result.message or "?"))
      end,
    },
    on_exit = function(code, signal) out.server_exit = { code = code, signal = signal } end,
  }
  if vim.lsp.start then  -- Neovim 0.8+
    out.api = "vim.lsp.start"
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  out.api = "vim.lsp.start_client"  -- Neovim 0.7
  local id = vim.lsp.start_client(config)
  assert(id, "vim.lsp.start_client failed")
  assert(vim.lsp.buf_attach_client(bufnr, id), "vim.lsp.buf_attach_client failed")
  return id
end

local function main()
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "jsonl"
  local id = start(bufnr)
  local client = vim.lsp.get_client_by_id(id)
  out.server_pid = client and client.rpc and client.rpc.pid or vim.NIL

  local ok = vim.wait(cfg.wait_ms, function() return has(bufnr, "TL104") end, 20)
  table.insert(out.steps, { name = "open", ok = ok, ms = ms(), diagnostics = snapshot(bufnr) })
  if not ok then return end
  client = vim.lsp.get_client_by_id(id)
  if client then
    local caps = client.server_capabilities or client.resolved_capabilities or {}
    out.offset_encoding = client.offset_encoding or vim.NIL
    out.pull_provider = caps.diagnosticProvider ~= nil
  end

  -- Break line 0: role "user" -> "usr".
  local line = vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1]
  local s = line:find('"user"', 1, true)
  assert(s, "no \"user\" on line 0: " .. line)
  local t1 = ms()
  vim.api.nvim_buf_set_text(bufnr, 0, s, 0, s + 4, { "usr" })  -- 0-based, end exclusive
  out.edited_line = vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1]
  ok = vim.wait(cfg.wait_ms, function() return has(bufnr, "TL104", 0) end, 20)
  table.insert(out.steps, { name = "edit", ok = ok, ms = ms() - t1, diagnostics = snapshot(bufnr) })
end

vim.schedule(function()
  local ok, err = pcall(main)
  if not ok then out.error = tostring(err) end
  out.total_ms = ms()
  write()
  vim.cmd("qa!")
end)
"""


def nvim_version(nvim: str) -> str:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"NVIM v(\S+)", first)
    return m.group(1) if m else first.splitlines()[0] if first else "?"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def nvim() -> str:
    path = shutil.which("nvim")
    if path is None:
        pytest.skip("Neovim (nvim) is not installed; scripts/test.sh installs Debian's `neovim` "
                    "when it runs as root with apt-get")
    return path


def test_neovim_shows_diagnostics_and_updates_them_after_an_edit(nvim, tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    (ws / "train.jsonl").write_text(jsonl(GOOD + [BAD_LINE]), encoding="utf-8")
    (ws / "validation.jsonl").write_text(jsonl([{"messages": [
        {"role": "user", "content": "Does it work outdoors?"},
        {"role": "assistant", "content": "Only under a roof."}]}]))
    output = tmp_path / "nvim-result.json"
    config = tmp_path / "nvim-config.json"
    config.write_text(json.dumps({
        "cmd": [sys.executable, "-m", "tunelint", "server"],
        "root": str(ws),
        "file": str(ws / "train.jsonl"),
        "output": str(output),
        "wait_ms": WAIT_MS,
    }))
    init = tmp_path / "init.lua"
    init.write_text(INIT_LUA)
    assert os.environ["TUNELINT_CACHE_DIR"].startswith(str(tmp_path))  # conftest's isolated cache
    env = dict(os.environ, TUNELINT_NVIM_CONFIG=str(config), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    log = tmp_path / "nvim-output.txt"
    version = nvim_version(nvim)

    started = time.monotonic()
    with log.open("wb") as log_file:
        proc = subprocess.Popen([nvim, "--headless", "--clean", "-u", str(init)], cwd=ws, env=env,
                                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                # its own process group, which the server joins
                                start_new_session=True)
        try:
            try:
                proc.wait(timeout=NVIM_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"Neovim {version} did not finish within {NVIM_TIMEOUT_S}s; "
                            f"output: {log.read_text(errors='replace')[-2000:]}; "
                            f"result so far: {output.read_text() if output.exists() else None}")
            elapsed = time.monotonic() - started
            # Neovim stops its LSP clients on exit; the server (and any helper it forked)
            # should go too.
            deadline = time.monotonic() + 10
            while group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            leftover = group_alive(proc.pid)
        finally:
            if proc.poll() is None or group_alive(proc.pid):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(timeout=10)

    assert output.exists(), (f"Neovim {version} wrote no result (exit {proc.returncode}); "
                             f"output: {log.read_text(errors='replace')[-2000:]}")
    result = json.loads(output.read_text())
    context = (f"Neovim {version} via {result.get('api')}; server log: {result.get('log')}; "
               f"steps: {json.dumps(result.get('steps'), ensure_ascii=False)}")
    assert "error" not in result, f"Lua error: {result['error']}; {context}"
    steps = {s["name"]: s for s in result["steps"]}

    # 1. Opening train.jsonl: the unknown role on its third line, at the byte column of `"bot"`.
    assert steps["open"]["ok"], f"no TL104 within {WAIT_MS} ms of opening; {context}"
    role = [d for d in steps["open"]["diagnostics"] if d["code"] == "TL104"]
    bot_col = BAD_LINE.encode("utf-8").index(b'"bot"')
    assert [(d["lnum"], d["col"], d["end_lnum"], d["end_col"]) for d in role] == \
        [(2, bot_col, 2, bot_col + len('"bot"'))], context
    assert role[0]["source"] == "tunelint" and "bot" in role[0]["message"], context
    assert role[0]["severity"] == 1, context  # vim.diagnostic.severity.ERROR

    # 2. After breaking line 0 ("user" -> "usr"): a new TL104 there; the old one stays put.
    assert result["edited_line"] == json.dumps(GOOD[0]).replace('"user"', '"usr"', 1), context
    assert steps["edit"]["ok"], f"no TL104 on line 0 within {WAIT_MS} ms of the edit; {context}"
    role = [d for d in steps["edit"]["diagnostics"] if d["code"] == "TL104"]
    usr_col = result["edited_line"].index('"usr"')
    assert [(d["lnum"], d["col"], d["end_col"]) for d in role] == \
        [(0, usr_col, usr_col + len('"usr"')), (2, bot_col, bot_col + len('"bot"'))], context

    # 3. A clean exit: Neovim quit by itself and left no server process behind.
    assert proc.returncode == 0, f"Neovim exited {proc.returncode}; {context}"
    assert not leftover, f"processes of Neovim's group still alive 10 s after it quit; {context}"
    print(f"Neovim {version} ({result['api']}): first diagnostics {steps['open']['ms']} ms "
          f"after start, after the edit {steps['edit']['ms']} ms; nvim ran {elapsed:.1f} s")


def test_neovim_on_long_lines_edit_latency(nvim, tmp_path: Path):
    """The held-out-sized file of tests/lsp/test_emacs.py (200 lines, three of 546,000 characters
    with several findings each): breaking line 0 shows its diagnostic within 1 s."""
    from tests.lsp.test_emacs import dataset

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    (ws / "train.jsonl").write_text(dataset(), encoding="utf-8")
    output = tmp_path / "nvim-result.json"
    config = tmp_path / "nvim-config.json"
    config.write_text(json.dumps({"cmd": [sys.executable, "-m", "tunelint", "server"],
                                  "root": str(ws), "file": str(ws / "train.jsonl"),
                                  "output": str(output), "wait_ms": WAIT_MS}))
    init = tmp_path / "init.lua"
    init.write_text(INIT_LUA)
    env = dict(os.environ, TUNELINT_NVIM_CONFIG=str(config), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    proc = subprocess.Popen([nvim, "--headless", "--clean", "-u", str(init)], cwd=ws, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=NVIM_TIMEOUT_S)
    finally:
        if proc.poll() is None or group_alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)
    result = json.loads(output.read_text())
    assert "error" not in result, result["error"]
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["open"]["ok"] and steps["edit"]["ok"], result["steps"][-1]["name"]
    lines = {d["lnum"] for d in steps["open"]["diagnostics"]}
    assert {10, 40, 90, 120, 150, 170} <= lines and 0 not in lines, sorted(lines)
    print(f"Neovim {nvim_version(nvim)} on long lines: first diagnostics "
          f"{steps['open']['ms']} ms after start; edit -> shown {steps['edit']['ms']} ms")
