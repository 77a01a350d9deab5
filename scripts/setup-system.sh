#!/usr/bin/env bash
# Installs the system packages examnet and its tests use (Debian 12), once.
# Real parts, not mocks: net-snmp agents, fping for comparison, iproute2 and
# nftables for the lab, PostgreSQL, Prometheus and Alertmanager for the tests,
# headless Chromium and its driver (the web pages' browser test, reports as PDF)
# and poppler's pdftoppm (the PDF test looks at a page).
set -euo pipefail

packages=(iproute2 nftables iputils-ping fping snmpd snmp postgresql prometheus
          prometheus-alertmanager util-linux python3-venv faketime
          chromium chromium-driver poppler-utils)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

# Debian starts some of these as services; examnet's tests run their own
# private instances on loopback, so the system ones are stopped.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for unit in snmpd postgresql prometheus prometheus-alertmanager prometheus-node-exporter; do
        $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
fi
