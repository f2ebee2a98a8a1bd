"""The README's Neovim "Edit message as text" block in a real headless Neovim: on a message
string it opens the message unescaped in a scratch buffer; `:write` there sends
tunelint.writeText, the server's workspace/applyEdit changes the JSONL buffer's line, and that
line then parses and holds exactly the text written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.lsp.test_neovim import nvim, nvim_version  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

LINE = json.dumps({"messages": [{"role": "user", "content": 'Say "hi"\nplease'},
                                {"role": "assistant", "content": "hi"}]})
NEW = ['A "quoted" line \\ with a backslash', "a second line, é 🙂"]

DRIVER = r"""
local cfg = vim.fn.json_decode(table.concat(vim.fn.readfile(vim.env.TUNELINT_NVIM_CONFIG), "\n"))
local out = { steps = {} }
local function write() vim.fn.writefile({ vim.fn.json_encode(out) }, cfg.output) end

local function main()
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "jsonl"
  local config = { name = "tunelint", cmd = cfg.cmd, root_dir = cfg.root }
  if vim.lsp.start then
    vim.lsp.start(config, { bufnr = bufnr })
  else
    local id = vim.lsp.start_client(config)
    vim.lsp.buf_attach_client(bufnr, id)
  end
  -- the server is up once it has published the line's diagnostics (or none) once
  local ready = vim.wait(cfg.wait_ms, function()
    local c = vim.lsp.get_active_clients()[1]
    return c ~= nil and c.initialized ~= false and #vim.lsp.buf_get_clients(bufnr) > 0
  end, 50)
  table.insert(out.steps, "started " .. tostring(ready))
  vim.wait(2000, function() return false end, 50)
  -- the README's block
  assert(loadstring(cfg.readme))()
  local line = vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1]
  local col = line:find("please", 1, true)
  vim.api.nvim_win_set_cursor(0, { 1, col })
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<leader>te", true, false, true), "x", false)
  local text_buf
  local opened = vim.wait(cfg.wait_ms, function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(b):find("tunelint://", 1, true) then text_buf = b return true end
    end
    return false
  end, 50)
  table.insert(out.steps, "opened " .. tostring(opened))
  if not opened then return end
  out.opened = vim.api.nvim_buf_get_lines(text_buf, 0, -1, false)
  out.filetype = vim.bo[text_buf].filetype
  vim.api.nvim_buf_set_lines(text_buf, 0, -1, false, cfg.new)
  vim.api.nvim_buf_call(text_buf, function() vim.cmd("write") end)
  local before = line
  local changed = vim.wait(cfg.wait_ms, function()
    return vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1] ~= before
  end, 50)
  table.insert(out.steps, "written " .. tostring(changed))
  out.line = vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1]
  -- the answer to writeText comes after the edit: then the scratch buffer is saved
  vim.wait(cfg.wait_ms, function() return not vim.bo[text_buf].modified end, 50)
  out.modified = vim.bo[text_buf].modified
end

vim.schedule(function()
  local ok, err = pcall(main)
  if not ok then out.error = tostring(err) end
  write()
  vim.cmd("qa!")
end)
"""


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- neovim-edit-as-text -->\s*```lua\n(.*?)```", text, re.S)
    assert m, "README.md has no ```lua block after <!-- neovim-edit-as-text -->"
    return m.group(1)


def test_the_readme_block_edits_a_message_as_text_in_neovim(nvim, tmp_path: Path):  # noqa: F811
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    (ws / "train.jsonl").write_text(LINE + "\n")
    output = tmp_path / "out.json"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"cmd": [sys.executable, "-m", "tunelint", "server"], "root": str(ws),
                                  "file": str(ws / "train.jsonl"), "output": str(output), "wait_ms": 30_000,
                                  "readme": readme_block(), "new": NEW}))
    init = tmp_path / "init.lua"
    init.write_text(DRIVER)
    env = dict(os.environ, TUNELINT_NVIM_CONFIG=str(config), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    log = tmp_path / "nvim.txt"
    with log.open("wb") as f:
        proc = subprocess.Popen([nvim, "--headless", "--clean", "-u", str(init)], cwd=ws, env=env,
                                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"Neovim did not finish: {log.read_text(errors='replace')[-2000:]}")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert output.exists(), log.read_text(errors="replace")[-2000:]
    result = json.loads(output.read_text())
    context = f"Neovim {nvim_version(nvim)}: {result}; {log.read_text(errors='replace')[-1500:]}"
    assert "error" not in result, context
    assert result["opened"] == ['Say "hi"', "please"], context  # unescaped, a real newline
    assert result["filetype"] == "markdown", context
    obj = json.loads(result["line"])
    assert obj["messages"][0]["content"] == "\n".join(NEW), context
    assert obj["messages"][1] == {"role": "assistant", "content": "hi"}, context
    assert result["modified"] is False, context
