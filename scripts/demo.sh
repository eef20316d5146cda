#!/usr/bin/env bash
# The main job on this machine, as root: a lab of 8 real hosts (systemd-nspawn), the whole stack
# provisioned on it by infra, and the site's answer through the VIP. The lab stays up afterwards
# so you can look around; `node bin/infra lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/infra lab up
node bin/infra provision lab/inventory.yaml --yes
vip=$(node bin/infra lab status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).vip))')
echo
echo "The site through the VIP, as a browser would see it once DNS points www.foobar.com at $vip:"
echo "\$ curl --cacert lab/.infra/ca/ca.crt --resolve www.foobar.com:443:$vip https://www.foobar.com/"
curl -fsS --cacert lab/.infra/ca/ca.crt --resolve "www.foobar.com:443:$vip" https://www.foobar.com/
# The count is read on the replica: a second visit shows the first one replicated.
sleep 1
curl -fsS --cacert lab/.infra/ca/ca.crt --resolve "www.foobar.com:443:$vip" https://www.foobar.com/
echo
echo "Next: node bin/infra check lab/inventory.yaml       (drift; exit 0, 2 or 1)"
echo "      node bin/infra provision lab/inventory.yaml   (a second run changes nothing)"
echo "      node bin/infra lab down                       (removes the lab)"
