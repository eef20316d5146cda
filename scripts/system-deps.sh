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
set -euo pipefail

PACKAGES=(systemd-container debootstrap dpkg-dev openssh-client iproute2 openssl mount util-linux)

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
apt-get install -y -q --no-install-recommends "${missing[@]}"
