#!/usr/bin/env bash
# Every test infra has: unit tests, then end-to-end tests on a lab of real booted hosts
# (systemd-nspawn), brought up by the tests and brought down at their end. Needs root.
# Does its own set-up on a fresh machine: Debian packages, npm dependencies, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
npx vitest run "$@"
