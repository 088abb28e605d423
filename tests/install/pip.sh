#!/usr/bin/env bash
# pip.sh — what `make test-pip` runs: the Python package installed with pip into fresh virtual
# environments, offline (`--no-index`: the in-tree build backend needs nothing from PyPI), and
# used from another directory:
#
#   1. pip install ./python: the wheel bundles target/release's library; import, version, a
#      persist/retrieve round trip; the library loaded is the venv's copy; pip uninstall removes all
#   2. SMOOTHCACHE_BUNDLE=0 pip install ./python: no library in the wheel; it is found by the
#      system loader after `make install` (LD_LIBRARY_PATH to the temporary prefix), and its
#      absence is a clear LibraryNotFoundError
#   3. pip install -e ./python: an editable install that uses the checkout's target/release
#
# Env: PYTHON (default python3), KEEP_PIP_TEST=1 keeps the temporary directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$root"
PYTHON=${PYTHON:-python3}

fail() { echo "test-pip: FAIL: $*" >&2; exit 1; }
step() { echo "== test-pip: $*"; }

work=$(mktemp -d)
if [ "${KEEP_PIP_TEST:-0}" = 1 ]; then
    echo "test-pip: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
version=$(scripts/install.sh version)

# A fresh venv; pip's own messages go to a log shown on failure.
new_venv() {
    "$PYTHON" -m venv "$1" || fail "$PYTHON -m venv failed (Debian: apt-get install python3-venv)"
}
pip_install() {
    local venv=$1
    shift
    "$venv/bin/python" -m pip install --no-index --disable-pip-version-check --no-cache-dir "$@" \
        >"$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; fail "pip install $*"; }
}

# Run from a directory that is neither the checkout nor python/: only the installed package can
# be imported. PYTHONPATH and SMOOTHCACHE_LIB must not help.
elsewhere=$work/elsewhere
mkdir -p "$elsewhere"
run_py() {
    local venv=$1
    shift
    (cd "$elsewhere" && env -u PYTHONPATH -u SMOOTHCACHE_LIB "$@" "$venv/bin/python" -c "$PROBE")
}
PROBE='
import os, sys, tempfile
import smoothcache
print("version", smoothcache.version())
# The file actually mapped (library_path() may be a bare name given to the loader).
maps = [l.split()[-1] for l in open("/proc/self/maps") if "libsmoothcache" in l]
print("library", os.path.realpath(maps[0]) if maps else "none")
print("package", os.path.dirname(os.path.realpath(smoothcache.__file__)))
print("__version__", getattr(smoothcache, "__version__", "none"))
with tempfile.TemporaryDirectory() as d:
    with smoothcache.Cache(d) as cache:
        url = "http://origin.test/a.ism/notes.txt"
        assert cache.retrieve(url) is None
        cache.persist(url, b"stored bytes", "text/plain")
        got = cache.retrieve(url)
        assert bytes(got) == b"stored bytes", got
print("roundtrip ok")
'
field() { sed -n "s/^$1 //p" <<<"$2"; }

step "pip install ./python (bundled library) in a fresh venv, offline"
v1=$work/venv-bundled
new_venv "$v1"
pip_install "$v1" ./python
out=$(run_py "$v1") || fail "importing the installed package: $out"
echo "$out" | sed 's/^/   /'
# A wheel with a library is not pure: it goes to platlib (the same directory in a venv).
site=$("$v1/bin/python" -c 'import os, sysconfig; print(os.path.realpath(sysconfig.get_paths()["platlib"]))')
[ "$(field version "$out")" = "$version" ] || fail "smoothcache.version() is not $version"
[ "$(field __version__ "$out")" = "$version" ] || fail "smoothcache.__version__ is not $version (Cargo.toml's)"
[ "$(field package "$out")" = "$site/smoothcache" ] || fail "the package imported is not the venv's"
[ "$(field library "$out")" = "$site/smoothcache/libsmoothcache.so.0" ] || fail "the library loaded is not the bundled copy"
"$v1/bin/python" -m pip uninstall -y --disable-pip-version-check smoothcache >/dev/null
[ ! -e "$site/smoothcache" ] || fail "pip uninstall left $site/smoothcache"

step "SMOOTHCACHE_BUNDLE=0: no library in the wheel; found by the loader after make install"
v2=$work/venv-system
new_venv "$v2"
SMOOTHCACHE_BUNDLE=0 pip_install "$v2" ./python
if ldconfig -p 2>/dev/null | grep -q libsmoothcache; then
    echo "   (a libsmoothcache is installed system-wide: not checking the not-found error)"
elif out=$(run_py "$v2" LD_LIBRARY_PATH= 2>&1); then
    fail "the package loaded a library that should not be found: $out"
else
    grep -q LibraryNotFoundError <<<"$out" || fail "without a library: not a LibraryNotFoundError: $out"
fi
prefix=$work/prefix
PREFIX=$prefix scripts/install.sh install >/dev/null
out=$(run_py "$v2" LD_LIBRARY_PATH="$prefix/lib") || fail "with the installed library: $out"
[ "$(field library "$out")" = "$(realpath "$prefix/lib/libsmoothcache.so.$version")" ] ||
    fail "the library loaded is not the installed one: $out"

step "pip install -e ./python (editable: the checkout's library)"
v3=$work/venv-editable
new_venv "$v3"
pip_install "$v3" -e ./python
out=$(run_py "$v3") || fail "the editable install: $out"
[ "$(field package "$out")" = "$root/python/smoothcache" ] || fail "editable: the package is not python/: $out"
[ "$(field library "$out")" = "$(realpath target/release/libsmoothcache.so)" ] ||
    fail "editable: the library is not target/release's: $out"

echo "test-pip: all passed (smoothcache $version: bundled, system library, editable)"
