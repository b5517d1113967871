#!/usr/bin/env bash
# Install the system packages the test suite needs: the real PACS peers
# (tests/peers/): Orthanc (Debian package `orthanc`) with its DICOMweb plugin
# (`orthanc-dicomweb`), DCMTK (`dcmtk`) and nginx (`nginx`, the TLS / CORS
# front of the DICOMweb peers), stunnel (`stunnel4`, TLS fronts with anonymous
# and legacy cipher suites for the tls.* checks), and headless Chromium
# (`chromium`) for the HTML report's browser test, and nmap (`nmap`, with its
# dicom-ping script) whose XML output `--targets` reads and which
# benchmarks/bench_fleet.py races.
#
# Idempotent: does nothing when Orthanc, the DICOMweb plugin, dcmqrscp,
# dcmqridx, storescp, storescu, wlmscpfs, nginx, stunnel4, chromium and nmap
# are already present. The tests start their own Orthanc, nginx and stunnel
# instances on loopback; the packages' system services are neither needed nor
# left running.
set -euo pipefail

need_install=0
for bin in Orthanc dcmqrscp dcmqridx storescp storescu wlmscpfs echoscu nginx stunnel4; do
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

dicomweb_plugin=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
if [ ! -f "$dicomweb_plugin" ]; then
    echo "install-peers: Orthanc DICOMweb plugin ($dicomweb_plugin) missing" >&2
    need_install=1
fi

if [ "$need_install" -eq 0 ]; then
    echo "install-peers: Orthanc (+ DICOMweb), DCMTK, nginx, stunnel4, Chromium and nmap already installed"
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
# the install (the postinsts of `orthanc` and `nginx` would otherwise try on
# a systemd or sysvinit host). Only added when absent, and removed afterwards.
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

"${SUDO[@]}" apt-get install -y --no-install-recommends orthanc orthanc-dicomweb dcmtk nginx stunnel4 chromium nmap

# On a host with systemd, make sure the packaged services are not running nor
# started at boot; in a container without systemd there is nothing to stop
# (policy-rc.d kept them from starting), but a stale init script is stopped.
for service in orthanc nginx stunnel4; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$service" ]; then
        "${SUDO[@]}" "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    fi
done

echo "install-peers: installed $(/usr/sbin/Orthanc --version 2>/dev/null | head -1 || echo Orthanc), $(dcmqrscp --version 2>/dev/null | head -1 || echo dcmtk), $(nginx -v 2>&1 | head -1 || echo nginx)"
