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
# A second OS release and engine on booted hosts: Debian 13 with Oracle's MySQL (from the suite
# that ships it), then with MariaDB 11. The stack, check, rotation and switchover on MySQL run in
# full; the release file proves each combination from bare hosts.
INFRA_E2E_DISTRO=trixie INFRA_E2E_DB_ENGINE=mysql npx vitest run --project e2e \
  test/e2e/30-stack.test.ts test/e2e/35-check.test.ts test/e2e/40-rotate-certs.test.ts test/e2e/50-db-failover.test.ts test/e2e/70-release.test.ts
INFRA_E2E_DISTRO=trixie INFRA_E2E_DB_ENGINE=mariadb npx vitest run --project e2e test/e2e/70-release.test.ts
