"""Shared helpers for the Python tests (stdlib only).

Imports ``smoothcache`` from ``<repo>/python`` unless it is already importable (an installed
package, or PYTHONPATH set by tests/python/run.sh).
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "smooth", "ffmpeg")

try:
    import smoothcache  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import smoothcache  # noqa: F401

MiB = 1 << 20


def url(n, host="origin.test"):
    """An opaque (not validated) URL."""
    return "http://%s/blob/%s" % (host, n)


def fixture(rel):
    with open(os.path.join(FIXTURES, rel), "rb") as f:
        return f.read()


def entry_files(cache_dir):
    """Entry files: <cache>/e/*/<32 hex chars>."""
    out = []
    e = os.path.join(cache_dir, "e")
    if not os.path.isdir(e):
        return out
    for sub in sorted(os.listdir(e)):
        d = os.path.join(e, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if len(name) == 32 and all(c in "0123456789abcdef" for c in name.lower()):
                out.append(os.path.join(d, name))
    return out


def open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def wait_until(pred, timeout=10.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class CacheTest(unittest.TestCase):
    """Each test gets its own temporary directory (self.tmp) and cache dir (self.dir)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smoothcache-pytest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "cache")

    def open(self, quota=0, path=None):
        c = smoothcache.Cache(path or self.dir, quota)
        self.addCleanup(c.close)
        return c

    def assertError(self, cls, status, err):
        """An Error of exactly `cls` carrying its status, name and a message for this failure."""
        self.assertIs(type(err), cls)
        self.assertIsInstance(err, smoothcache.Error)
        self.assertEqual(err.status, status)
        self.assertEqual(err.status_name, smoothcache.status_name(status))
        self.assertTrue(err.status_name.startswith("SSC_ERR_"), err.status_name)
        self.assertIsInstance(err.message, str)
        self.assertTrue(err.message.startswith(err.status_name + ":"), err.message)
        self.assertGreater(len(err.message), len(err.status_name) + 2)
        self.assertEqual(str(err), err.message)
