#!/usr/bin/env bash
# run.sh — what `make test-install` runs: install into a temporary prefix, then build and run a C
# program against the installed library the way a user would, dynamically and statically:
#
#   1. Libs.private of smoothcache.pc.in equals rustc's native-static-libs for the staticlib
#   2. make install PREFIX=TMP: the files, the soname and links, the .pc file, the CLI
#   3. cc main.c $(pkg-config --cflags --libs smoothcache), run with an rpath to TMP/lib
#   4. cc main.c, static: pkg-config --static --libs, libsmoothcache.a; no libsmoothcache.so needed
#   5. make install DESTDIR=STAGE PREFIX=/usr: everything under STAGE, the .pc names /usr
#   6. make uninstall (PREFIX, then DESTDIR): nothing of ours is left
#
# Env: CC (default cc), MAKE (default make), CARGO (default cargo), KEEP_INSTALL_TEST=1 keeps the
# temporary directory. Exit status 0 only when every check passed.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$root"
CC=${CC:-cc}
MAKE=${MAKE:-make}
CARGO=${CARGO:-cargo}

fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { echo "== test-install: $*"; }

work=$(mktemp -d)
if [ "${KEEP_INSTALL_TEST:-0}" = 1 ]; then
    echo "test-install: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi

version=$(scripts/install.sh version)
major=${version%%.*}
# Built like the project's C tests: warnings are errors.
cflags=(-std=c11 -Wall -Wextra -Werror -O1)

step "Libs.private matches rustc's native-static-libs"
want=$(sed -n 's/^Libs\.private: *//p' smoothcache.pc.in)
got=$("$CARGO" rustc --release --lib --crate-type staticlib --quiet -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: *//p' | tail -n 1)
[ -n "$got" ] || fail "rustc printed no native-static-libs"
[ "$want" = "$got" ] || fail "smoothcache.pc.in has Libs.private: $want
but a static link needs: $got
Update the Libs.private line of smoothcache.pc.in."

prefix=$work/prefix
step "make install PREFIX=$prefix"
"$MAKE" --no-print-directory -s install PREFIX="$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "make install failed"; }
lib=$prefix/lib
for f in "lib/libsmoothcache.so.$version" lib/libsmoothcache.a include/smoothcache.h \
    lib/pkgconfig/smoothcache.pc bin/smoothcache; do
    [ -f "$prefix/$f" ] || fail "make install did not install $f"
done
[ "$(readlink "$lib/libsmoothcache.so.$major")" = "libsmoothcache.so.$version" ] ||
    fail "libsmoothcache.so.$major does not link to libsmoothcache.so.$version"
[ "$(readlink "$lib/libsmoothcache.so")" = "libsmoothcache.so.$major" ] ||
    fail "libsmoothcache.so does not link to libsmoothcache.so.$major"
soname=$(readelf -d "$lib/libsmoothcache.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsmoothcache.so.$major" ] || fail "soname is '$soname', not libsmoothcache.so.$major"
cmp -s include/smoothcache.h "$prefix/include/smoothcache.h" || fail "the installed header differs"
[ "$("$prefix/bin/smoothcache" --version)" = "smoothcache $version" ] || fail "the installed CLI's --version"

export PKG_CONFIG_PATH=$lib/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
pkg-config --validate smoothcache || fail "pkg-config --validate smoothcache"
[ "$(pkg-config --modversion smoothcache)" = "$version" ] || fail "pkg-config --modversion"
[ "$(pkg-config --variable=libdir smoothcache)" = "$lib" ] || fail "pkg-config libdir"

step "dynamic: cc main.c \$(pkg-config --cflags --libs smoothcache)"
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
"$CC" "${cflags[@]}" tests/install/main.c -o "$work/main-dynamic" \
    $(pkg-config --cflags --libs smoothcache) -Wl,-rpath,"$lib"
readelf -d "$work/main-dynamic" | grep -q "NEEDED.*\[libsmoothcache.so.$major\]" ||
    fail "the program does not need libsmoothcache.so.$major"
# The loader must take the installed library, not a checkout's.
loaded=$(env -u LD_LIBRARY_PATH ldd "$work/main-dynamic" | sed -n 's/.*libsmoothcache.so[^ ]* => \([^ ]*\).*/\1/p')
[ "$loaded" = "$lib/libsmoothcache.so.$major" ] || fail "the program loads '$loaded', not $lib/libsmoothcache.so.$major"
env -u LD_LIBRARY_PATH "$work/main-dynamic" "$work/cache-dynamic" "$version" || fail "the dynamic program"

step "static: cc main.c \$(pkg-config --static --libs smoothcache), libsmoothcache.a"
# -l:libsmoothcache.a takes the archive where -lsmoothcache would prefer the .so beside it.
# shellcheck disable=SC2046
"$CC" "${cflags[@]}" $(pkg-config --cflags smoothcache) tests/install/main.c -o "$work/main-static" \
    $(pkg-config --static --libs smoothcache | sed 's/-lsmoothcache\b/-l:libsmoothcache.a/')
if readelf -d "$work/main-static" | grep -q "NEEDED.*libsmoothcache"; then
    fail "the static program still needs libsmoothcache.so"
fi
# Nothing can find a libsmoothcache.so for it: it must run on its own.
env -u LD_LIBRARY_PATH "$work/main-static" "$work/cache-static" "$version" || fail "the static program"

stage=$work/stage
step "make install DESTDIR=$stage PREFIX=/usr"
"$MAKE" --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "make install DESTDIR=... failed"; }
[ -f "$stage/usr/lib/libsmoothcache.so.$version" ] || fail "DESTDIR: no $stage/usr/lib/libsmoothcache.so.$version"
grep -qx 'prefix=/usr' "$stage/usr/lib/pkgconfig/smoothcache.pc" || fail "DESTDIR: the .pc file does not say prefix=/usr"
if grep -q "$stage" "$stage/usr/lib/pkgconfig/smoothcache.pc"; then fail "DESTDIR: the .pc file names the staging dir"; fi

step "make uninstall"
"$MAKE" --no-print-directory -s uninstall PREFIX="$prefix" >/dev/null
"$MAKE" --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr >/dev/null
left=$(find "$prefix" "$stage" \( -type f -o -type l \) | sed "s|^$work/||")
[ -z "$left" ] || fail "make uninstall left: $left"

echo "test-install: all passed (smoothcache $version: shared, static, DESTDIR, uninstall)"
