#!/usr/bin/env bash
# Installs what `npm test` and `npm run demo` need on a fresh Debian 12 + Node 20
# machine (run as root): pnpm, then the workspace's pinned dependencies.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "[lowrank] installing pnpm@$PNPM_VERSION" >&2
  npm install -g "pnpm@$PNPM_VERSION" >&2
fi

# Reinstall when node_modules is missing or older than the lock file.
stamp=node_modules/.lowrank-install-stamp
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "[lowrank] installing workspace dependencies" >&2
  # onnxruntime-node's install script would try to download CUDA libraries.
  ONNXRUNTIME_NODE_INSTALL=skip pnpm install --frozen-lockfile >&2
  touch "$stamp"
fi

if [ -x scripts/ensure-system-deps.sh ]; then
  bash scripts/ensure-system-deps.sh
fi
