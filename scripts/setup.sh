#!/usr/bin/env bash
# What both README commands need first on a fresh machine (as root): the Debian packages the lab
# uses, the npm dependencies (again only when package-lock.json changed), the type check and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run typecheck --silent
npm run build --silent
