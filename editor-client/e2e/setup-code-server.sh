#!/usr/bin/env bash
# Install code-server (VS Code in a browser) from the npm registry, without the two downloads
# from outside the registries its install scripts would make (ripgrep and argon2 prebuilts from
# GitHub): Debian's `rg`, and argon2 / the native modules built from source with node-gyp.
# Adapted from a verified recipe (code-server 4.100.3 = VS Code 1.100.3, node 20, Debian 12).
#
#   ROOT=DIR CS_VERSION=X bash setup-code-server.sh
#
# Needs Debian packages build-essential python3 libkrb5-dev libx11-dev libxkbfile-dev
# libsecret-1-dev ripgrep (run.sh installs them). Idempotent: a finished install (marker file
# $ROOT/.installed-$CS_VERSION) is left alone; a half-finished one is redone.
set -euo pipefail
ROOT=${ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/tunelint-e2e/code-server}
CS_VERSION=${CS_VERSION:-4.100.3}          # last line that supports node 20 (4.139.x needs node 24)
MARKER="$ROOT/.installed-$CS_VERSION"
if [ -f "$MARKER" ] && [ -f "$ROOT/node_modules/code-server/out/node/entry.js" ]; then
  echo "code-server $CS_VERSION already installed in $ROOT"
  exit 0
fi
for tool in node npm rg make g++ python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-code-server: '$tool' not found" >&2; exit 3; }
done
export npm_config_yes=true                 # node-pty's postinstall runs `npx node-gyp ...`
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# node-gyp builds against the system node's headers instead of downloading them
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
[ -f "$npm_config_nodedir/include/node/node.h" ] || unset npm_config_nodedir
rm -rf "$ROOT" && mkdir -p "$ROOT" && cd "$ROOT"
echo '{"name":"tunelint-e2e-code-server","private":true}' > package.json

# 1) code-server + its own deps, without lifecycle scripts (its postinstall would hit GitHub)
npm install --ignore-scripts --no-audit --no-fund "code-server@${CS_VERSION}"
# argon2 (required at startup): the prebuilt download fails offline -> node-gyp build
npm rebuild --foreground-scripts argon2

CS="$ROOT/node_modules/code-server"
VS="$CS/lib/vscode"

# 2) what code-server's postinstall.sh does for lib/vscode, minus the ripgrep download
cd "$VS"
npm install --omit=dev --ignore-scripts --no-audit --no-fund
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild --foreground-scripts kerberos node-pty @vscode/spdlog native-watchdog @vscode/deviceid \
  @vscode/windows-process-tree @vscode/windows-registry @parcel/watcher
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --no-audit --no-fund)

# 3) sanity: the native modules load
cd "$VS" && node -e 'for (const m of ["kerberos","node-pty","@vscode/spdlog","native-watchdog","@vscode/deviceid","@parcel/watcher"]) require(m); console.log("native modules OK")'
cd "$ROOT" && node -e 'require("argon2"); console.log("argon2 OK")'
touch "$MARKER"
echo "code-server $CS_VERSION installed in $ROOT"
