#!/usr/bin/env bash
# Install the system packages the test suite needs: the real PACS peers
# (tests/peers/): Orthanc (Debian package `orthanc`) and DCMTK (`dcmtk`), and
# headless Chromium (`chromium`) for the HTML report's browser test, and nmap
# (`nmap`, with its dicom-ping script) whose XML output `--targets` reads and
# which benchmarks/bench_fleet.py races.
#
# Idempotent: does nothing when Orthanc, dcmqrscp, dcmqridx, storescp,
# storescu and wlmscpfs are already present. The tests start their own
# Orthanc instances on loopback; the package's system service is neither
# needed nor left running.
set -euo pipefail

need_install=0
for bin in Orthanc dcmqrscp dcmqridx storescp storescu wlmscpfs echoscu; do
    if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ] && [ ! -x "/usr/bin/$bin" ]; then
        echo "install-peers: $bin missing" >&2
        need_install=1
    fi
done

for bin in chromium nmap; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "install-peers: $bin missing" >&2
        need_install=1
    fi
done

if [ "$need_install" -eq 0 ]; then
    echo "install-peers: Orthanc, DCMTK, Chromium and nmap already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-peers: need root or sudo to install packages" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
# policy-rc.d exit code 101 tells invoke-rc.d not to start services during
# the install (the postinst of `orthanc` would otherwise try on a systemd or
# sysvinit host). Only added when absent, and removed afterwards.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    added_policy=1
fi
cleanup() {
    if [ "$added_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

"${SUDO[@]}" apt-get install -y --no-install-recommends orthanc dcmtk chromium nmap

# On a host with systemd, make sure the packaged service is not running nor
# started at boot; in a container without systemd there is nothing to stop.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now orthanc.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/orthanc ]; then
    "${SUDO[@]}" /etc/init.d/orthanc stop >/dev/null 2>&1 || true
fi

echo "install-peers: installed $(/usr/sbin/Orthanc --version 2>/dev/null | head -1 || echo Orthanc), $(dcmqrscp --version 2>/dev/null | head -1 || echo dcmtk)"
