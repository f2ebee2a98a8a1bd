#!/usr/bin/env bash
# The VS Code extension end to end, in a real VS Code: code-server (VS Code 1.100 in a browser)
# on 127.0.0.1, driven by Playwright through Debian's Chromium, with the freshly built .vsix and
# the tunelint language server and trainer from a local Python. See suite.js for the steps.
#
#   bash editor-client/e2e/run.sh                 # the suite; screenshots in editor-client/e2e/screenshots/
#   bash editor-client/e2e/run.sh --readme        # also refresh docs/screenshots/*.png for README.md
#   bash editor-client/e2e/run.sh --screenshots DIR --keep
#
# Environment: TUNELINT_PYTHON (the Python with tunelint and its `train` extra; default: the
# repository's .venv), TUNELINT_E2E_CACHE (default ~/.cache/tunelint-e2e: code-server is
# installed there once), CHROMIUM (default /usr/bin/chromium), TUNELINT_E2E_TIMEOUT (seconds for
# the Playwright part, default 600), TUNELINT_E2E_STEPS (only these steps, by number, comma
# separated, e.g. "10": step 0 always runs; --readme then refreshes those steps' pictures).
#
# Exit status: 0 passed; 1 failed; 2 usage; 3 skipped: code-server or Chromium cannot be
# installed on this machine (no apt-get / npm / registry), with the reason on stderr after "SKIP:".
#
# Everything started here runs with TUNELINT_E2E_MARK=<id> in its environment; on exit the
# script stops code-server's process group (code-server, extension host, language server), the
# groups of anything else carrying the mark (Chromium, a trainer in its own session), and fails
# if any such process is still alive.
set -euo pipefail

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLIENT=$(dirname "$E2E")
REPO=$(dirname "$CLIENT")
CACHE=${TUNELINT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tunelint-e2e}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SUITE_TIMEOUT=${TUNELINT_E2E_TIMEOUT:-600}
SHOTS="$E2E/screenshots"
README=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --readme) README=1 ;;
    --keep) KEEP=1 ;;
    --screenshots) SHOTS=${2:?--screenshots needs a folder}; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$SHOTS"
SHOTS=$(cd "$SHOTS" && pwd)

T0=$(date +%s)
say() { printf '[e2e %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
skip() { echo "SKIP: $*" >&2; exit 3; }
die() { echo "FAILED: $*" >&2; exit 1; }

# -- prerequisites ---------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || skip "node and npm are needed (code-server comes from the npm registry)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || skip "node >= 20 is needed for code-server 4.100 (found $(node --version))"

mkdir -p "$CACHE"
# Debian packages: Chromium always; the build tools and headers only to install code-server.
NEED_PKGS=(chromium)
if [ ! -f "$CACHE/code-server/.installed-${CS_VERSION:-4.100.3}" ]; then
  NEED_PKGS+=(build-essential python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep)
fi
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${NEED_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi  # not Debian: CHROMIUM must name a Chromium, and setup-code-server.sh checks its tools
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || skip "Debian packages missing (${missing[*]}) and no apt-get to install them"
  [ "$(id -u)" = 0 ] || skip "Debian packages missing (${missing[*]}); installing them needs root"
  say "apt-get install ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}"; } \
    >"$CACHE/apt.log" 2>&1 || skip "apt-get could not install ${missing[*]} (see $CACHE/apt.log)"
fi
[ -x "$CHROMIUM" ] || skip "no Chromium at $CHROMIUM"

# The Python with tunelint and the trainer.
PY=${TUNELINT_PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; else PY=$(command -v python3); fi
fi
"$PY" -c 'import tunelint, torch, transformers, trl' 2>/dev/null \
  || die "$PY lacks tunelint or its train extra: run \`bash scripts/setup.sh dev,train\` or set TUNELINT_PYTHON"

# code-server, installed once into the cache.
CS_ROOT="$CACHE/code-server"
if ! ROOT="$CS_ROOT" bash "$E2E/setup-code-server.sh" >"$CACHE/setup.log" 2>&1; then
  if grep -q "^setup-code-server: '.*' not found" "$CACHE/setup.log"; then
    skip "code-server cannot be built here: $(grep "^setup-code-server:" "$CACHE/setup.log" | head -1)"
  fi
  tail -20 "$CACHE/setup.log" >&2
  if ! npm ping >/dev/null 2>&1; then skip "code-server cannot be installed: the npm registry is unreachable"; fi
  die "code-server setup failed (log: $CACHE/setup.log)"
fi
say "$(tail -1 "$CACHE/setup.log")"

# playwright-core for the suite.
if [ ! -f "$E2E/node_modules/playwright-core/package.json" ] || [ "$E2E/package-lock.json" -nt "$E2E/node_modules/.package-lock.json" ]; then
  say "npm ci (editor-client/e2e)"
  (cd "$E2E" && npm ci --no-audit --no-fund >"$CACHE/npm-e2e.log" 2>&1) \
    || { tail -20 "$CACHE/npm-e2e.log" >&2; npm ping >/dev/null 2>&1 || skip "the npm registry is unreachable"; die "npm ci failed in editor-client/e2e"; }
fi

# -- the run ---------------------------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tunelint-e2e.XXXXXX")
MARK="tunelint-e2e-$$-$RANDOM"
CS_PID=""
SUITE_PID=""

# PIDs of processes carrying our mark (never this shell: it does not carry it).
marked_pids() {
  grep -lzx "TUNELINT_E2E_MARK=$MARK" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}
describe() { local p; for p in "$@"; do ps -o pid=,pgid=,args= -p "$p" 2>/dev/null | cut -c1-160; done; }

kill_groups() {  # signal, pids: signal each pid's process group
  local sig=$1; shift
  local p g
  for p in "$@"; do
    g=$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ') || continue
    [ -n "$g" ] && [ "$g" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] && kill "-$sig" -- "-$g" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$SUITE_PID" ]; then  # interrupted: stop the suite (`timeout` leads its own group)
    kill -TERM -- "-$SUITE_PID" "$SUITE_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$SUITE_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$SUITE_PID" "$SUITE_PID" 2>/dev/null
  fi
  if [ -n "$CS_PID" ]; then
    kill -TERM -- "-$CS_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 -- "-$CS_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$CS_PID" 2>/dev/null
  fi
  # anything else we started: Chromium, a trainer in its own session
  local left
  left=$(marked_pids)
  if [ -n "$left" ]; then
    echo "still running after code-server stopped (stopping their process groups):" >&2
    describe $left >&2
    kill_groups TERM $left
    for _ in $(seq 1 40); do [ -z "$(marked_pids)" ] && break; sleep 0.25; done
    left=$(marked_pids)
    [ -n "$left" ] && kill_groups KILL $left && sleep 1
  fi
  left=$(marked_pids)
  if [ -n "$left" ]; then
    echo "FAILED: processes left after the suite:" >&2
    describe $left >&2
    rc=1
  else
    say "no process left behind"
  fi
  if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  if [ "$rc" = 0 ]; then say "PASSED in $(( $(date +%s) - T0 ))s"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the extension (into the temporary folder; dist/ is rebuilt by vscode:prepublish).
if [ ! -d "$CLIENT/node_modules/@vscode/vsce" ] || [ "$CLIENT/package-lock.json" -nt "$CLIENT/node_modules/.package-lock.json" ]; then
  say "npm ci (editor-client)"
  (cd "$CLIENT" && npm ci --no-audit --no-fund >"$TMP/npm-client.log" 2>&1) || { tail -20 "$TMP/npm-client.log" >&2; die "npm ci failed in editor-client"; }
fi
say "building the .vsix"
(cd "$CLIENT" && npm run package -- -o "$TMP/tunelint.vsix" >"$TMP/package.log" 2>&1) \
  || { tail -30 "$TMP/package.log" >&2; die "npm run package failed"; }

# Hermetic code-server: user data, extensions and XDG folders under $TMP.
mkdir -p "$TMP/ud/User" "$TMP/ext" "$TMP/xdg/config" "$TMP/xdg/data" "$TMP/ws"
export XDG_CONFIG_HOME="$TMP/xdg/config" XDG_DATA_HOME="$TMP/xdg/data"
CS_ENTRY="$CS_ROOT/node_modules/code-server/out/node/entry.js"
say "installing the .vsix into code-server"
node "$CS_ENTRY" --user-data-dir "$TMP/ud" --extensions-dir "$TMP/ext" --install-extension "$TMP/tunelint.vsix" \
  >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; die "code-server --install-extension failed"; }
grep -q "was successfully installed" "$TMP/install.log" || { cat "$TMP/install.log" >&2; die "the extension did not install"; }

INFO=$(node "$E2E/make-workspace.js" "$TMP/ws")
# the Preview step's tiny Hugging Face tokenizer (a chat template that renders tool calls)
(cd "$REPO" && "$PY" -c 'import sys; from tests import hf_fixtures as F; F.build_tokenizer(sys.argv[1], F.CHATML_TOOL_CALLS)' \
  "$TMP/ws/preview-tokenizer") || die "could not build the preview step's tokenizer"
SETTINGS="$TMP/ud/User/settings.json"
PY="$PY" SETTINGS="$SETTINGS" node -e '
const s = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "workbench.colorTheme": "Default Dark Modern",
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "security.workspace.trust.enabled": false,
  "git.enabled": false,
  "npm.fetchOnlinePackageInfo": false,
  "chat.disableAIFeatures": true,
  "editor.inlayHints.enabled": "on",
  "editor.wordWrap": "on",
  "editor.minimap.enabled": false,
  "editor.lightbulb.enabled": "on",
  "files.autoSave": "off",
  "tunelint.trace.server": "messages",
  "tunelint.interpreter": process.env.PY,
  "tunelint.train.model": "tiny",
  "tunelint.train.maxSteps": 8,
  "tunelint.train.method": "full",
  "tunelint.train.maxLength": 128,
};
require("fs").writeFileSync(process.env.SETTINGS, JSON.stringify(s, null, 2) + "\n");'

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/config.yaml" <<EOC
bind-addr: 127.0.0.1:$PORT
auth: none
cert: false
EOC
say "starting code-server on 127.0.0.1:$PORT"
# setsid: code-server leads its own process group (the extension host and language server join it)
TUNELINT_E2E_MARK="$MARK" TUNELINT_CACHE_DIR="$TMP/tunelint-cache" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  setsid node "$CS_ENTRY" \
  --config "$TMP/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --user-data-dir "$TMP/ud" --extensions-dir "$TMP/ext" "$TMP/ws" \
  >"$TMP/code-server.log" 2>&1 </dev/null &
CS_PID=$!
"$PY" - "$PORT" <<'EOP' || { cat "$TMP/code-server.log" >&2; die "code-server did not answer on /healthz"; }
import sys, time, urllib.request
for _ in range(120):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2).read()
        sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit(1)
EOP

say "running the Playwright suite (screenshots: $SHOTS)"
set +e
# in the background + wait: a signal to this script is handled at once, not after the suite
TUNELINT_E2E_MARK="$MARK" CS_URL="http://127.0.0.1:$PORT" WS="$TMP/ws" USER_SETTINGS="$SETTINGS" SHOTS="$SHOTS" \
  INFO="$INFO" CHROMIUM="$CHROMIUM" EXT_LOGS="$TMP/ud/logs" \
  timeout -k 10 "$SUITE_TIMEOUT" node "$E2E/suite.js" &
SUITE_PID=$!
wait "$SUITE_PID"
SUITE_RC=$?
SUITE_PID=""
set -e
if [ "$SUITE_RC" != 0 ]; then
  [ "$SUITE_RC" = 124 ] && echo "FAILED: the suite ran past ${SUITE_TIMEOUT}s" >&2
  # the logs, next to the screenshots (the temporary folder goes away)
  mkdir -p "$SHOTS/logs"
  cp "$TMP/code-server.log" "$SHOTS/logs/" 2>/dev/null
  find "$TMP/ud/logs" -name '*tunelint*.log' -exec cp {} "$SHOTS/logs/" \; 2>/dev/null
  echo "--- the tunelint output channel (tail; all logs in $SHOTS/logs) ---" >&2
  tail -30 "$SHOTS/logs/"*-tunelint.log >&2 2>/dev/null
  exit 1
fi

if [ "$README" = 1 ]; then
  mkdir -p "$REPO/docs/screenshots"
  copied=()
  for pair in readme-diagnostics:diagnostics readme-results:results compare-panel:compare run-view-live:run-view \
              preview-chat:preview preview-model:preview-model; do
    from=${pair%%:*} to=${pair##*:}
    # this run's pictures only (TUNELINT_E2E_STEPS: the steps it ran; none left from an earlier run)
    if [ "$SHOTS/$from.png" -nt "$TMP/config.yaml" ]; then cp "$SHOTS/$from.png" "$REPO/docs/screenshots/$to.png"; copied+=("docs/screenshots/$to.png"); fi
  done
  say "README screenshots: ${copied[*]}"
fi
exit 0
