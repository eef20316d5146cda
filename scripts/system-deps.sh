#!/usr/bin/env bash
# Installs the Debian packages the lab (`infra lab`) needs on the controller, only those missing.
# Idempotent: when everything is installed it changes nothing and touches no network.
#   systemd-container  systemd-nspawn (boots the lab hosts)
#   debootstrap        builds the bare Debian 12 base image
#   dpkg-dev           dpkg-scanpackages (indexes the lab's local apt repository)
#   openssh-client     ssh, ssh-keygen (lab key, host keys, reaching the hosts)
#   iproute2           ip (the lab bridge)
#   openssl            the ops user's password hash
#   mount, util-linux  overlay mounts
#   haproxy nginx keepalived  only their config checkers, used by the unit tests that validate the
#                      rendered templates (haproxy -c, nginx -t, keepalived -t); their services are
#                      kept from starting on this machine (policy-rc.d during the install)
#   prometheus prometheus-alertmanager  only promtool and amtool, used by the unit tests that check
#                      the monitor role's config and run its alert rules' tests (promtool test rules);
#                      their services are kept from starting like haproxy's
#   time               /usr/bin/time for the benchmarks
#   age                encrypts the shared state (state.file; the lab's inventory uses one)
#   python3 python3-jinja2 python3-yaml  the Ansible port's inventory script and its templates,
#                      rendered without Ansible by the unit test that keeps them equal to infra's
#                      (test/unit/ansible-parity.test.ts, bench/ansible/render.py)
set -euo pipefail

PACKAGES=(systemd-container debootstrap dpkg-dev openssh-client iproute2 openssl mount util-linux haproxy nginx keepalived prometheus prometheus-alertmanager curl time age python3 python3-jinja2 python3-yaml)

if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps.sh: run as root (it installs packages with apt-get)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all present (${PACKAGES[*]})"
  exit 0
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Installing the role packages here must not start their daemons on this machine.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
