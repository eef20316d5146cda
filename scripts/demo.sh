#!/usr/bin/env bash
# The main job on this machine: a lab of 8 real hosts, provisioned by infra. Needs root.
# The lab stays up afterwards so you can look around; `node bin/infra lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/infra lab up
node bin/infra provision lab/inventory.yaml --yes
echo
echo "The monitoring agent of web1, through its firewall (this machine is a monitoring source):"
curl -fsS "http://$(node -e "const y=require('yaml');const d=y.parse(require('fs').readFileSync('lab/inventory.yaml','utf8'));process.stdout.write(d.hosts.web1.address)"):9100/metrics" | grep -m3 '^node_'
echo
echo "Next: node bin/infra provision lab/inventory.yaml   (a second run changes nothing)"
echo "      node bin/infra lab down                       (removes the lab)"
