#!/usr/bin/env bash
# install.sh — what `make install` / `make uninstall` run.
#
#   scripts/install.sh install      copy the built library, header, pkg-config file and CLI
#   scripts/install.sh uninstall    remove what `install` put there
#   scripts/install.sh version      print the version (from Cargo.toml, the one source of truth)
#
# Env (make passes its variables of the same names):
#   PREFIX   default /usr/local
#   DESTDIR  default empty: a staging root prepended to every path (packaging); the installed
#            files (the .pc file) still name PREFIX
#   INSTALL_LIBDIR, INSTALL_INCLUDEDIR, INSTALL_BINDIR
#            default $PREFIX/lib, $PREFIX/include, $PREFIX/bin (e.g. INSTALL_LIBDIR=/usr/lib/x86_64-linux-gnu)
#   CARGO    default cargo; used only when on the PATH, to build what is missing or stale
#
# What it installs (MAJOR.MINOR.PATCH from Cargo.toml; the soname carries MAJOR, see build.rs):
#   LIBDIR/libsmoothcache.so.MAJOR.MINOR.PATCH   the shared library (soname libsmoothcache.so.MAJOR)
#   LIBDIR/libsmoothcache.so.MAJOR -> ...        the soname link the loader looks for
#   LIBDIR/libsmoothcache.so -> ...so.MAJOR      the link `-lsmoothcache` finds
#   LIBDIR/libsmoothcache.a                      the static library
#   LIBDIR/pkgconfig/smoothcache.pc              from smoothcache.pc.in
#   INCLUDEDIR/smoothcache.h
#   BINDIR/smoothcache                           the command-line tool
# As root with no DESTDIR, it runs ldconfig afterwards when LIBDIR is /usr/lib or /usr/local/lib.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

fail() { echo "install.sh: $*" >&2; exit 1; }

# The [package] version of Cargo.toml.
version=$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }
' Cargo.toml)
[[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || fail "cannot read the version from Cargo.toml (got '$version')"
major=${BASH_REMATCH[1]}

PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
libdir=${INSTALL_LIBDIR:-$PREFIX/lib}
includedir=${INSTALL_INCLUDEDIR:-$PREFIX/include}
bindir=${INSTALL_BINDIR:-$PREFIX/bin}
pcdir=$libdir/pkgconfig
CARGO=${CARGO:-cargo}
built=target/release

real=libsmoothcache.so.$version
soname=libsmoothcache.so.$major

# The .pc file names directories relative to ${prefix} where it can, so that
# `pkg-config --define-prefix` can relocate it.
relative() {
    case $1 in
        "$PREFIX") echo '${prefix}' ;;
        "$PREFIX"/*) echo "\${prefix}${1#"$PREFIX"}" ;;
        *) echo "$1" ;;
    esac
}

do_install() {
    if command -v "$CARGO" >/dev/null 2>&1; then
        "$CARGO" build --release --quiet
    else
        echo "install.sh: no $CARGO on the PATH: installing what is in $built as it is" >&2
    fi
    for f in libsmoothcache.so libsmoothcache.a smoothcache; do
        [ -f "$built/$f" ] || fail "$built/$f is missing: run \`make lib\` first"
    done
    # The library must say what the links promise.
    if command -v readelf >/dev/null 2>&1; then
        got=$(readelf -d "$built/libsmoothcache.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
        [ "$got" = "$soname" ] || fail "$built/libsmoothcache.so has soname '$got', not $soname"
    fi

    install -d "$DESTDIR$libdir" "$DESTDIR$pcdir" "$DESTDIR$includedir" "$DESTDIR$bindir"
    install -m 0755 "$built/libsmoothcache.so" "$DESTDIR$libdir/$real"
    ln -sfn "$real" "$DESTDIR$libdir/$soname"
    ln -sfn "$soname" "$DESTDIR$libdir/libsmoothcache.so"
    install -m 0644 "$built/libsmoothcache.a" "$DESTDIR$libdir/libsmoothcache.a"
    install -m 0644 include/smoothcache.h "$DESTDIR$includedir/smoothcache.h"
    install -m 0755 "$built/smoothcache" "$DESTDIR$bindir/smoothcache"
    local tmp
    tmp=$(mktemp)
    sed -e "s|@PREFIX@|$PREFIX|g" \
        -e "s|@LIBDIR@|$(relative "$libdir")|g" \
        -e "s|@INCLUDEDIR@|$(relative "$includedir")|g" \
        -e "s|@VERSION@|$version|g" \
        smoothcache.pc.in >"$tmp"
    install -m 0644 "$tmp" "$DESTDIR$pcdir/smoothcache.pc"
    rm -f "$tmp"
    echo "installed smoothcache $version under $DESTDIR$PREFIX"
    maybe_ldconfig
}

do_uninstall() {
    local d=$DESTDIR$libdir
    rm -f "$d/libsmoothcache.a" "$d/$soname" "$DESTDIR$pcdir/smoothcache.pc" \
        "$DESTDIR$includedir/smoothcache.h" "$DESTDIR$bindir/smoothcache"
    # Every MAJOR.x.y of this major (an older one left by an install of a previous version).
    rm -f "$d"/libsmoothcache.so."$major".*
    # The development link, unless it now names another major's library that is still there.
    if [ -L "$d/libsmoothcache.so" ] && [ ! -e "$d/libsmoothcache.so" ]; then
        rm -f "$d/libsmoothcache.so"
    fi
    rmdir "$DESTDIR$pcdir" 2>/dev/null || true
    echo "removed smoothcache $major.x from $DESTDIR$PREFIX"
    maybe_ldconfig
}

maybe_ldconfig() {
    if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null 2>&1; then
        case $libdir in
            /usr/lib | /usr/local/lib) ldconfig ;;
        esac
    fi
    return 0
}

case ${1:-} in
    install) do_install ;;
    uninstall) do_uninstall ;;
    version) echo "$version" ;;
    *) fail "usage: $0 install|uninstall|version" ;;
esac
