#!/usr/bin/env bash
# run.sh — the Python binding's tests (stdlib unittest), from the repository root.
#
#   tests/python/run.sh [unittest args...]     e.g. tests/python/run.sh -k callback
#
# Uses the package in python/ (PYTHONPATH) and the library the package finds: $SMOOTHCACHE_LIB,
# else target/release of this checkout (build it with `make lib`). Set
# SMOOTHCACHE_TEST_INSTALLED=1 to test an installed package instead of python/.
# Env: PYTHON (default python3). Exit status non-zero when any test fails.
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$root"
PYTHON=${PYTHON:-python3}
if [ "${SMOOTHCACHE_TEST_INSTALLED:-0}" != 1 ]; then
    export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PYTHON" -m unittest discover -s tests/python -t tests/python -v "$@"
