#!/usr/bin/env bash
# demo.sh — what `make demo` runs: the offline-cache story end to end.
#
#   1. make (or reuse) the sample presentation in target/sample/sample.ism
#   2. start the static origin (scripts/origin.py) on a free port, with a request log
#   3. harness, online, fresh cache: every request a miss, downloaded and persisted
#   4. stop the origin
#   5. harness --offline, then harness --offline --poll: every request a hit,
#      and the origin's log shows no request after step 3
#
# Env: SSC_LIB_DIR (default target/release: holds libsmoothcache.so),
#      HARNESS (default target/harness), PYTHON (default python3),
#      DEMO_VERBOSE=1 to print every request line, KEEP_DEMO=1 to keep the work dir.
# Exit status 0 only when every check passed.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

SSC_LIB_DIR=${SSC_LIB_DIR:-target/release}
HARNESS=${HARNESS:-target/harness}
PYTHON=${PYTHON:-python3}
sample_parent=target/sample
sample=$sample_parent/sample.ism

fail() { echo "demo: FAIL: $*" >&2; exit 1; }

[ -x "$HARNESS" ] || fail "no harness at $HARNESS (build it first: make demo)"
[ -d "$SSC_LIB_DIR" ] || fail "no library directory $SSC_LIB_DIR"
ls "$SSC_LIB_DIR"/libsmoothcache.so* >/dev/null 2>&1 || fail "no libsmoothcache.so in $SSC_LIB_DIR"
export LD_LIBRARY_PATH="$SSC_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

scripts/make-sample.sh "$sample"

mkdir -p target
work=$(mktemp -d "$root/target/demo.XXXXXX")
origin_pid=
ok=0
cleanup() {
    if [ -n "$origin_pid" ]; then
        kill "$origin_pid" 2>/dev/null || true
        wait "$origin_pid" 2>/dev/null || true
        origin_pid=
    fi
    if [ "$ok" = 1 ] && [ "${KEEP_DEMO:-0}" != 1 ]; then
        rm -rf -- "$work"
    else
        echo "demo: work files kept in $work" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log=$work/origin.log
cache=$work/cache
: >"$log"

# --- the origin ------------------------------------------------------------
"$PYTHON" scripts/origin.py "$sample_parent" --log "$log" >"$work/origin.port" 2>"$work/origin.err" &
origin_pid=$!
for _ in $(seq 1 200); do
    [ -s "$work/origin.port" ] && break
    kill -0 "$origin_pid" 2>/dev/null || fail "origin exited: $(cat "$work/origin.err")"
    sleep 0.05
done
port=$(head -n1 "$work/origin.port" 2>/dev/null || true)
[[ "$port" =~ ^[0-9]+$ ]] || fail "origin did not report a port"
url="http://127.0.0.1:$port/sample.ism/Manifest"

# A quota the whole presentation fits in twice over, plus room for overhead.
sample_bytes=$(du -sb -- "$sample" | cut -f1)
quota=$((2 * sample_bytes + 1048576))

# summary field: field NAME FILE
field() {
    local v
    v=$(grep '^summary:' "$2" | tail -n1 | tr ' ' '\n' | sed -n "s/^$1=//p")
    [[ "$v" =~ ^[0-9]+$ ]] || fail "no $1= in the summary of $2"
    echo "$v"
}

run_pass() { # NAME ARGS... ; output in $work/NAME.out, exit status in $work/NAME.rc
    local name=$1
    shift
    local rc=0
    "$HARNESS" --cache "$cache" "$@" "$url" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    echo "$rc" >"$work/$name.rc"
    if [ "${DEMO_VERBOSE:-0}" = 1 ]; then
        cat "$work/$name.out"
    fi
    if ! grep -q '^summary:' "$work/$name.out"; then
        cat "$work/$name.err" >&2
        fail "$name pass printed no summary (exit status $rc)"
    fi
}

# --- pass 1: online ----------------------------------------------------------
echo "demo: origin on 127.0.0.1:$port serving $sample ($sample_bytes bytes); cache $cache, quota $quota"
run_pass online --quota "$quota"
online_summary=$(grep '^summary:' "$work/online.out" | tail -n1)

# --- stop the origin -----------------------------------------------------------
kill "$origin_pid"
wait "$origin_pid" 2>/dev/null || true
origin_pid=
lines_after_online=$(wc -l <"$log")

# --- pass 2 and 3: offline -----------------------------------------------------
run_pass offline --offline
run_pass offline-poll --offline --poll
lines_after_offline=$(wc -l <"$log")
offline_summary=$(grep '^summary:' "$work/offline.out" | tail -n1)
poll_summary=$(grep '^summary:' "$work/offline-poll.out" | tail -n1)

echo "online (origin up, fresh cache):  $online_summary"
echo "offline (origin stopped):         $offline_summary"
echo "offline --poll (origin stopped):  $poll_summary"
grep '^cache:' "$work/offline-poll.out" | tail -n1 | sed 's/^/cache after the passes:           /' || true

# --- checks -------------------------------------------------------------------
problems=0
check() { # DESCRIPTION TEST...
    local what=$1
    shift
    if "$@"; then
        echo "  ok   $what"
    else
        echo "  FAIL $what"
        problems=$((problems + 1))
    fi
}

req=$(field requests "$work/online.out")
check "online pass made requests ($req)" test "$req" -gt 1
check "online pass exit status 0" test "$(cat "$work/online.rc")" = 0
check "online pass: every request a miss" test "$(field misses "$work/online.out")" = "$req"
check "online pass: every miss persisted" test "$(field persisted "$work/online.out")" = "$req"
check "online pass: 0 rejected" test "$(field rejected "$work/online.out")" = 0
check "online pass: 0 failed" test "$(field failed "$work/online.out")" = 0
origin_gets=$(grep -c '^GET ' "$log" || true)
origin_200=$(grep -c '^GET .* 200$' "$log" || true)
check "origin served one GET per request ($origin_gets GET, $origin_200 with 200)" \
    test "$origin_gets" = "$req" -a "$origin_200" = "$req"
for pass in offline offline-poll; do
    check "$pass pass exit status 0" test "$(cat "$work/$pass.rc")" = 0
    check "$pass pass: same $req requests" test "$(field requests "$work/$pass.out")" = "$req"
    check "$pass pass: every request a hit" test "$(field hits "$work/$pass.out")" = "$req"
    check "$pass pass: same bytes as online" \
        test "$(field bytes "$work/$pass.out")" = "$(field bytes "$work/online.out")"
done
check "origin log: 0 requests after the online pass" test "$lines_after_offline" = "$lines_after_online"

if [ "$problems" -ne 0 ]; then
    echo "demo: $problems check(s) failed; see $work" >&2
    exit 1
fi
ok=1
echo "demo: ok: $req requests cached online, all $req answered offline with the origin down"
