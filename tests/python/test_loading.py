"""Finding the library: $SMOOTHCACHE_LIB, next to the package, a source checkout, the loader.

Each case runs in a child process (a process loads the library once).
"""

import os
import shutil
import subprocess
import sys

from support import CacheTest, smoothcache

PKG_DIR = os.path.dirname(os.path.abspath(smoothcache.__file__))

PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import smoothcache
try:
    v = smoothcache.version()
except smoothcache.LibraryNotFoundError as e:
    print("NOTFOUND"); print(e); sys.exit(3)
print("LOADED", smoothcache.library_path(), v)
"""


class TestLoading(CacheTest):
    def setUp(self):
        super().setUp()
        self.lib = os.path.realpath(smoothcache.library_path())

    def probe(self, pkg_parent, env_lib=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("SMOOTHCACHE_LIB", "LD_LIBRARY_PATH", "PYTHONPATH")}
        if env_lib is not None:
            env["SMOOTHCACHE_LIB"] = env_lib
        r = subprocess.run([sys.executable, "-c", PROBE, pkg_parent], env=env,
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def copy_package(self, with_lib=False):
        parent = os.path.join(self.tmp, "site")
        dst = os.path.join(parent, "smoothcache")
        shutil.copytree(PKG_DIR, dst, ignore=shutil.ignore_patterns("__pycache__", "libsmoothcache.so*"))
        if with_lib:
            shutil.copy(self.lib, os.path.join(dst, "libsmoothcache.so.0"))
        return parent, dst

    def test_env_var_file(self):
        parent, _ = self.copy_package()
        rc, out = self.probe(parent, self.lib)
        self.assertEqual(rc, 0, out)
        self.assertIn("LOADED %s %s" % (self.lib, smoothcache.version()), out)

    def test_env_var_directory(self):
        parent, _ = self.copy_package()
        rc, out = self.probe(parent, os.path.dirname(self.lib))
        self.assertEqual(rc, 0, out)
        self.assertIn("LOADED " + os.path.dirname(self.lib), out)

    def test_env_var_wrong_is_an_error_not_skipped(self):
        # Even with a loadable library in the source checkout, a broken setting is reported.
        missing = os.path.join(self.tmp, "nope", "libsmoothcache.so")
        rc, out = self.probe(os.path.dirname(PKG_DIR), missing)
        self.assertEqual(rc, 3, out)
        self.assertIn("SMOOTHCACHE_LIB", out)
        self.assertIn(missing, out)

    def test_next_to_the_package(self):
        parent, dst = self.copy_package(with_lib=True)
        rc, out = self.probe(parent)
        self.assertEqual(rc, 0, out)
        self.assertIn("LOADED " + os.path.join(dst, "libsmoothcache.so.0"), out)

    def test_source_checkout(self):
        d, checkout = os.path.dirname(PKG_DIR), None
        while checkout is None and d != os.path.dirname(d):
            rel = os.path.join(d, "target", "release")
            if any(n.startswith("libsmoothcache.so") for n in (os.listdir(rel) if os.path.isdir(rel) else [])):
                checkout = rel
            d = os.path.dirname(d)
        if checkout is None:
            self.skipTest("the package under test is not inside a built source checkout")
        rc, out = self.probe(os.path.dirname(PKG_DIR))
        self.assertEqual(rc, 0, out)
        self.assertIn("LOADED " + os.path.join(checkout, "libsmoothcache.so"), out)

    def test_not_found_lists_every_place(self):
        parent, dst = self.copy_package()
        rc, out = self.probe(parent)
        if rc == 0:
            self.skipTest("the system loader finds an installed libsmoothcache: " + out.strip())
        self.assertEqual(rc, 3, out)
        self.assertIn("next to the package: " + dst, out)
        self.assertIn("source checkout: " + os.path.join(self.tmp, "target", "release"), out)
        self.assertIn("the system loader", out)
        self.assertIn("libsmoothcache.so.0", out)
        self.assertIn("SMOOTHCACHE_LIB", out)

    def test_import_without_library_succeeds(self):
        # Loading is lazy: importing works, the first call reports.
        parent, _ = self.copy_package()
        code = "import sys; sys.path.insert(0, %r); import smoothcache; print('imported')" % parent
        env = {k: v for k, v in os.environ.items() if k not in ("SMOOTHCACHE_LIB", "LD_LIBRARY_PATH")}
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "imported"), r.stderr)
