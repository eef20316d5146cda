#!/usr/bin/env bash
# Every test infra has: unit tests, then end-to-end tests on a lab of real booted hosts
# (systemd-nspawn), brought up by the tests and brought down at their end. Needs root.
# Does its own set-up on a fresh machine: Debian packages, npm dependencies, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -gt 0 ]; then
  exec npx vitest run "$@"
fi
# The code as the formatter writes it (npm run format rewrites it so).
npm run -s format:check
# Unit tests first, then the end-to-end files on the lab, so the two never compete for the 2 cores
# the lab's hosts share (a load test through the VIP counts requests per second).
npx vitest run --project unit
npx vitest run --project e2e
