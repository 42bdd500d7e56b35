#!/usr/bin/env bash
# Idempotent set-up for the soak suite (bench/soak.py): the HTTP/2 servers from the OS packages.
# Installs only what is missing (apt-get update only then); the system services the packages
# start are stopped again, as the soak runs each server from its own config in a temp dir.
# A server that cannot be installed (no apt, no root and no password-less sudo, no network, no
# candidate) is skipped with a message here, and bench/soak.py reports it as skipped.
set -uo pipefail

# package -> the binary that proves it is installed
declare -A BINARY=(
    [nginx]=/usr/sbin/nginx
    [h2o]=/usr/bin/h2o
    [apache2]=/usr/sbin/apache2
    [caddy]=/usr/bin/caddy
    [lighttpd]=/usr/sbin/lighttpd
    [lighttpd-mod-openssl]=/usr/lib/lighttpd/mod_openssl.so
    [lighttpd-mod-deflate]=/usr/lib/lighttpd/mod_deflate.so
)
# lighttpd's TLS and compression live in their own packages; the service names to stop after an install.
PACKAGES=(nginx h2o apache2 caddy lighttpd lighttpd-mod-openssl lighttpd-mod-deflate)
SERVICES=(nginx h2o apache2 caddy lighttpd)

missing=()
for pkg in "${PACKAGES[@]}"; do
    [ -e "${BINARY[$pkg]}" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "soak-setup: all servers installed"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "soak-setup: apt-get not found; skipping ${missing[*]} (their soak cases will skip)"
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "soak-setup: not root and no password-less sudo; skipping ${missing[*]}"
        exit 0
    fi
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get)
echo "soak-setup: installing ${missing[*]}"
"${apt[@]}" update -qq || echo "soak-setup: apt-get update failed; trying the cached lists"
for pkg in "${missing[@]}"; do
    # One at a time so one package without a candidate does not stop the others.
    if "${apt[@]}" install -y -qq --no-install-recommends "$pkg" >/dev/null; then
        echo "soak-setup: installed $pkg"
    else
        echo "soak-setup: could not install $pkg; its soak cases will skip"
    fi
done
for svc in "${SERVICES[@]}"; do
    "${sudo[@]}" systemctl stop "$svc" >/dev/null 2>&1 \
        || "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
exit 0
