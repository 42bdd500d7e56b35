#!/usr/bin/env bash
# Idempotent set-up for the benchmark: nginx from the OS packages and the peers' virtualenvs.
# Each venv is rebuilt only when its requirements file changed (stamp holds its checksum).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"

install_nginx() {
    if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
        return
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    echo "bench: nginx missing, installing it from the OS packages"
    $sudo apt-get update -qq
    # nginx-light is the smallest build with the http2 and ssl modules; older/newer releases
    # ship only "nginx", so pick whichever has an install candidate.
    local pkg=nginx
    if apt-cache policy nginx-light 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        pkg=nginx-light
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
    # The package starts the system service; the bench never uses it, so stop it again.
    $sudo systemctl stop nginx >/dev/null 2>&1 || $sudo service nginx stop >/dev/null 2>&1 || true
}

make_venv() {  # make_venv NAME REQUIREMENTS [optional-requirements]
    local venv=".venv-$1" req="$2" opt="${3:-}"
    local sum
    sum="$(cat "$req" ${opt:+"$opt"} | sha256sum | cut -d' ' -f1)"
    if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$sum" ]; then
        return
    fi
    echo "bench: building $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$req"
    if [ -n "$opt" ]; then
        # Optional extras (pycurl needs a C build against libcurl on some platforms): one at a
        # time, and a failure is reported by the bench as "unavailable", not fatal here.
        while read -r line; do
            [ -z "$line" ] && continue
            case "$line" in \#*) continue ;; esac
            "$venv/bin/python" -m pip install --quiet "$line" \
                || echo "bench: optional package $line did not install"
        done <"$opt"
    fi
    echo "$sum" >"$venv/.stamp"
}

install_nginx
make_venv peers requirements-peers.txt requirements-optional.txt
make_venv niquests requirements-niquests.txt
