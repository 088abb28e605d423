"""examples/python_demo.py: its manifest reading, and a full online/offline run against
scripts/origin.py serving the checked-in fixtures."""

import importlib.util
import os
import shutil
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

from support import FIXTURES, REPO, CacheTest, smoothcache

DEMO = os.path.join(REPO, "examples", "python_demo.py")
ORIGIN = os.path.join(REPO, "scripts", "origin.py")
CONFORMANCE = "/work/shared/conformance/dashjs-mss-manifest.xml"


def load_demo():
    spec = importlib.util.spec_from_file_location("python_demo", DEMO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@unittest.skipUnless(os.path.exists(DEMO), "no examples/python_demo.py")
class TestDemoManifest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = load_demo()

    def times(self, xml):
        return self.demo.expand_timeline("video", ET.fromstring("<s>%s</s>" % xml).findall("c"))

    def test_timeline_rules(self):
        self.assertEqual(self.times('<c d="10"/><c d="10"/><c d="5"/>'), [0, 10, 20])
        self.assertEqual(self.times('<c t="100" d="10" r="3"/><c d="7"/>'), [100, 110, 120, 130])
        self.assertEqual(self.times('<c t="5"/><c t="12" d="3"/>'), [5, 12])  # d from the next t
        self.assertEqual(self.times('<c t="0" d="4"/><c t="50" d="4"/>'), [0, 50])  # a gap
        for bad in ('<c/>', '<c d="1" r="0"/>', '<c t="9" d="1"/><c t="3" d="1"/>', '<c t="1"/>',
                    '<c d="x"/>'):
            with self.assertRaises(self.demo.ManifestError, msg=bad):
                self.times(bad)

    @unittest.skipUnless(os.path.exists(CONFORMANCE), "no conformance manifest")
    def test_conformance_manifest(self):
        with open(CONFORMANCE, "rb") as f:
            streams = self.demo.parse_manifest(f.read())
        video = next(s for s in streams if s["type"] == "video")
        audio = next(s for s in streams if s["type"] == "audio")
        self.assertEqual((len(streams), len(video["bitrates"]), len(video["times"])), (2, 6, 208))
        self.assertEqual(video["times"][207], 4075062858)
        self.assertEqual(len(audio["bitrates"]), 1)
        self.assertEqual(len(audio["times"]), 208)
        urls = self.demo.build_requests(streams, "http://example.test/media/movie.ism/Manifest",
                                        {"video": 0, "audio": 0})
        self.assertEqual(len(urls), 416)
        self.assertIn("http://example.test/media/movie.ism/QualityLevels(3000000)/Fragments(video=19686294)",
                      urls)


@unittest.skipUnless(os.path.exists(DEMO) and os.path.exists(ORIGIN), "no demo or origin script")
class TestDemoRun(CacheTest):
    def run_demo(self, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(smoothcache.__file__)))
        return subprocess.run([sys.executable, DEMO, "--cache", self.dir] + list(args),
                              capture_output=True, text=True, timeout=120, env=env)

    def test_online_then_offline(self):
        root = os.path.join(self.tmp, "www")
        shutil.copytree(FIXTURES, os.path.join(root, "ffmpeg.ism"))
        log = os.path.join(self.tmp, "origin.log")
        origin = subprocess.Popen([sys.executable, ORIGIN, root, "--log", log],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(origin.stdout.readline())
            url = "http://127.0.0.1:%d/ffmpeg.ism/Manifest" % port
            online = self.run_demo(url)
        finally:
            origin.terminate()
            origin.wait(10)
            origin.stdout.close()
        # The fixtures are a partial presentation: Fragments(video=20000000) is missing (only
        # its FragmentInfo is there), so that request fails online and misses offline.
        self.assertEqual(online.returncode, 1, online.stdout + online.stderr)
        self.assertIn("summary: requests=5 hits=0 misses=5 persisted=4 rejected=0 failed=1",
                      online.stdout)
        self.assertIn("Fragments(video=20000000) -> miss+failed (download failed: HTTP 404)",
                      online.stdout)
        with open(log) as f:
            gets = f.read().splitlines()
        self.assertEqual(len(gets), 5)
        for mode in ([], ["--async"]):
            offline = self.run_demo("--offline", *mode, url)
            self.assertEqual(offline.returncode, 1, offline.stdout + offline.stderr)
            self.assertIn("summary: requests=5 hits=4 misses=1 persisted=0 rejected=0 failed=0",
                          offline.stdout)
            self.assertEqual(offline.stdout.count(" -> hit ("), 4)
            self.assertIn("Fragments(video=20000000) -> miss (offline)", offline.stdout)
            self.assertIn("Manifest -> hit (858 bytes, text/xml)", offline.stdout)
        with open(log) as f:
            self.assertEqual(f.read().splitlines(), gets, "no request reached the origin offline")

    def test_offline_with_an_empty_cache_fails(self):
        r = self.run_demo("--offline", "http://127.0.0.1:9/x.ism/Manifest")
        self.assertEqual(r.returncode, 1)
        self.assertIn("-> miss (offline)", r.stdout)
        self.assertIn("summary: requests=1 hits=0 misses=1", r.stdout)
