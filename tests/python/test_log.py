"""The library's log reaches a Python callback; nothing is printed by default."""

import os
import subprocess
import sys
import tempfile
import threading
import unittest

import support  # noqa: F401  (puts the package on the path)
import smoothcache


class TestLog(unittest.TestCase):
    def tearDown(self):
        smoothcache.set_log_callback(None)

    def test_a_dropped_entry_is_logged(self):
        got = []
        lock = threading.Lock()

        def cb(level, message):
            with lock:
                got.append((level, message))

        smoothcache.set_log_callback(cb, level="warn")
        with tempfile.TemporaryDirectory() as d:
            with smoothcache.Cache(d) as c:
                c.persist("http://o.test/a", b"x" * 100)
                for root, _, files in os.walk(os.path.join(d, "e")):
                    for f in files:
                        p = os.path.join(root, f)
                        with open(p, "r+b") as fh:
                            fh.seek(-1, 2)
                            b = fh.read(1)
                            fh.seek(-1, 2)
                            fh.write(bytes([b[0] ^ 1]))
                with self.assertRaises(smoothcache.Corrupt):
                    c.retrieve("http://o.test/a")
        with lock:
            self.assertTrue(any(l == "warn" and "dropped" in m for l, m in got), got)

    def test_bad_level(self):
        with self.assertRaises(ValueError):
            smoothcache.set_log_callback(print, level="loud")

    def test_silent_by_default(self):
        code = (
            "import smoothcache, tempfile\n"
            "d = tempfile.mkdtemp()\n"
            "c = smoothcache.Cache(d); c.persist('http://o.test/a', b'x'); c.close()\n"
        )
        env = dict(os.environ)
        env.pop("SMOOTHCACHE_LOG", None)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                           cwd=os.path.dirname(support.__file__))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))


if __name__ == "__main__":
    unittest.main()
