"""Shared helpers for the Python tests (stdlib only).

Imports ``smoothcache`` from ``<repo>/python`` unless it is already importable (an installed
package, or PYTHONPATH set by tests/python/run.sh).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from typing import NamedTuple

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


# --------------------------------------------------------------------------------------------
# The FFmpeg-made sample (make sample) and scripts/origin.py serving it

SAMPLE_ROOT = os.path.join(REPO, "target", "sample")
SAMPLE_ISM = os.path.join(SAMPLE_ROOT, "sample.ism")
ORIGIN_SCRIPT = os.path.join(REPO, "scripts", "origin.py")

_sample_lock = threading.Lock()
_sample_problem = []  # [] not tried yet; [None] made; [reason] cannot be made


def sample_problem():
    """Makes target/sample once per process (scripts/make-sample.sh: does nothing when it is up
    to date). None when it is there, else why it cannot be made (a skip reason)."""
    with _sample_lock:
        if not _sample_problem:
            script = os.path.join(REPO, "scripts", "make-sample.sh")
            try:
                r = subprocess.run([script, SAMPLE_ISM], cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=600)
                ok = r.returncode == 0 and os.path.isfile(os.path.join(SAMPLE_ISM, "Manifest"))
                why = None if ok else r.stdout.strip().splitlines()[-3:]
            except (OSError, subprocess.SubprocessError) as e:
                why = [str(e)]
            _sample_problem.append(
                None if why is None else
                "target/sample cannot be made (`make sample` needs ffmpeg): %s" % " / ".join(why))
        return _sample_problem[0]


class Fragment(NamedTuple):
    """One fragment of the sample: positions in the manifest, its URL path and its file."""

    stream: int  # StreamIndex position
    type: str  # "video", "audio"
    quality: int  # QualityLevel position
    bitrate: int
    chunk: int
    start: float  # seconds
    end: float
    rel: str  # "QualityLevels(60000)/Fragments(video=0)", relative to sample.ism/

    @property
    def path(self):
        return os.path.join(SAMPLE_ISM, self.rel)

    def data(self):
        with open(self.path, "rb") as f:
            return f.read()


def sample_fragments():
    """Every fragment the sample's manifest lists, in document order."""
    doc = ET.parse(os.path.join(SAMPLE_ISM, "Manifest")).getroot()
    ts_root = int(doc.get("TimeScale", "10000000"))
    out = []
    for si, st in enumerate(doc.findall("StreamIndex")):
        ts = int(st.get("TimeScale", ts_root))
        times, t = [], 0
        cs = st.findall("c")
        for i, c in enumerate(cs):
            if c.get("t") is not None:
                t = int(c.get("t"))
            d = c.get("d")
            d = int(d) if d is not None else int(cs[i + 1].get("t")) - t
            for _ in range(int(c.get("r", "1"))):
                times.append((t, d))
                t += d
        for qi, q in enumerate(st.findall("QualityLevel")):
            br = q.get("Bitrate")
            for k, (t, d) in enumerate(times):
                rel = st.get("Url").replace("{bitrate}", br).replace("{start time}", str(t))
                out.append(Fragment(si, st.get("Type"), qi, int(br), k, t / ts, (t + d) / ts, rel))
    return out


def sample_manifest_bytes():
    with open(os.path.join(SAMPLE_ISM, "Manifest"), "rb") as f:
        return f.read()


class Origin:
    """scripts/origin.py serving target/sample on 127.0.0.1, logging requests to a file.

    ``url(rel)`` is ``http://127.0.0.1:PORT/sample.ism/<rel>``; ``requests(since)`` the
    logged (method, path, status) lines from line ``since`` on; ``stop()`` / ``start()``
    (the same port again)."""

    def __init__(self, log_dir):
        self.log = os.path.join(log_dir, "origin-%d.log" % id(self))
        open(self.log, "a").close()
        self.port = 0
        self.proc = None
        self.start()

    def start(self):
        assert self.proc is None
        deadline = time.monotonic() + 10
        while True:
            proc = subprocess.Popen(
                [sys.executable, ORIGIN_SCRIPT, SAMPLE_ROOT, "--log", self.log, "--port", str(self.port)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
            line = proc.stdout.readline()
            proc.stdout.close()
            if line.strip():
                self.port = int(line)
                self.proc = proc
                return self
            proc.wait()
            if self.port == 0 or time.monotonic() > deadline:
                raise RuntimeError("scripts/origin.py did not start (port %d)" % self.port)
            time.sleep(0.1)  # the old socket of a restart on the same port

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    @property
    def base(self):
        return "http://127.0.0.1:%d/sample.ism" % self.port

    @property
    def manifest_url(self):
        return self.base + "/Manifest"

    def url(self, rel):
        return "%s/%s" % (self.base, rel)

    def requests(self, since=0):
        """[(method, path percent-decoded, status)] logged from line `since` on."""
        with open(self.log) as f:
            lines = f.read().splitlines()[since:]
        out = []
        for l in lines:
            m, p, st = l.split(" ")
            out.append((m, urllib.parse.unquote(p), int(st)))
        return out

    def mark(self):
        """The number of lines logged so far (for requests(since=...))."""
        with open(self.log) as f:
            return len(f.read().splitlines())

    def fragment_requests(self, since=0):
        return [p for _, p, _ in self.requests(since) if "/Fragments(" in p]


def file_for_url(u):
    """The sample file the origin serves for URL `u`."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(u).path)
    return os.path.join(SAMPLE_ROOT, *[s for s in path.split("/") if s])
