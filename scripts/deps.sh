#!/usr/bin/env bash
# The one set-up step shared by `make demo` and `make test`: installs the Debian packages that
# are missing (apt-get install -y, through sudo when not root). Quiet when all are present.
set -euo pipefail

packages=(
    gcc make pkg-config python3 curl      # building and driving the C and Python tests
    valgrind                              # C tests run again under valgrind
    python3-venv                          # make test-pip: pip install into a fresh venv
    libcurl4-openssl-dev                  # the C harness downloads with libcurl
    ffmpeg                                # makes the real Smooth Streaming sample
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-libav   # unmodified players, played through the server
)

if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: no cargo on the PATH: install a Rust toolchain >= 1.81 (https://rustup.rs), then run make again" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# A stale package list makes installs fail on a fresh machine; refresh it once.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
