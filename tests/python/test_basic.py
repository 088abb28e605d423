"""Round trips, misses, argument types, the cache handle, stats, version."""

import array
import os
import pathlib
import pickle
import random
import re
import threading

from support import MiB, CacheTest, fixture, smoothcache, url


class TestVersion(CacheTest):
    def test_version(self):
        v = smoothcache.version()
        self.assertIsInstance(v, str)
        self.assertRegex(v, r"^\d+\.\d+\.\d+$")
        self.assertEqual(v, smoothcache.version())

    def test_library_path(self):
        p = smoothcache.library_path()
        self.assertTrue(os.path.exists(p) or not os.path.isabs(p), p)
        self.assertIn("smoothcache", os.path.basename(p))

    def test_status_names(self):
        for s in smoothcache.Status:
            self.assertEqual(smoothcache.status_name(s), "SSC_" + s.name)
        self.assertEqual(smoothcache.status_name(12345), "SSC_UNKNOWN_STATUS")


class TestRoundTrip(CacheTest):
    def test_miss_then_hit_exact_bytes(self):
        c = self.open()
        rng = random.Random(1)
        sizes = [0, 1, 2, 7, 255, 4096, 65537, 300000]
        bodies = {}
        for i, n in enumerate(sizes):
            u = url(i)
            self.assertIsNone(c.retrieve(u))
            body = bytes(rng.getrandbits(8) for _ in range(n)) if n < 70000 else os.urandom(n)
            c.persist(u, body)
            bodies[u] = body
        for u, body in bodies.items():
            got = c.retrieve(u)
            self.assertIsInstance(got, bytes)
            self.assertIsInstance(got, smoothcache.Response)
            self.assertEqual(len(got), len(body))
            self.assertEqual(got, body)
            self.assertIsNone(got.content_type)
        # NUL bytes and every byte value survive
        allbytes = bytes(range(256)) * 3
        c.persist(url("all"), allbytes)
        self.assertEqual(c.retrieve(url("all")), allbytes)

    def test_content_type_verbatim(self):
        c = self.open()
        cases = [
            ("video/mp4", "video/mp4"),
            ("text/xml; charset=utf-8", "text/xml; charset=utf-8"),
            ('application/vnd.ms-sstr+xml; x-live-pointer="1,2"', 'application/vnd.ms-sstr+xml; x-live-pointer="1,2"'),
            (b"audio/mp4", "audio/mp4"),
            ("", ""),
            (None, None),
        ]
        for i, (ct, want) in enumerate(cases):
            c.persist(url(i), b"body%d" % i, ct)
            got = c.retrieve(url(i))
            self.assertEqual(got, b"body%d" % i)
            self.assertEqual(got.content_type, want, ct)

    def test_content_type_keyword_and_replace(self):
        c = self.open()
        u = url("r")
        c.persist(u, b"old", content_type="a/b")
        c.persist(u, b"new new", content_type="c/d")
        got = c.retrieve(u)
        self.assertEqual((got, got.content_type), (b"new new", "c/d"))
        self.assertEqual(c.stats().entries, 1)

    def test_data_types(self):
        c = self.open()
        base = bytes(range(200))
        writable_mv = memoryview(bytearray(base))
        cases = {
            "bytes": base,
            "bytearray": bytearray(base),
            "memoryview-bytes": memoryview(base),
            "memoryview-slice": memoryview(b"xx" + base + b"yy")[2:-2],
            "memoryview-writable": writable_mv,
            "memoryview-strided": memoryview(bytes(b for x in base for b in (x, 0)))[::2],
            "array-H": array.array("H", [0x0100 * (i % 256) + i % 256 for i in range(100)]),
            "empty-bytearray": bytearray(),
            "empty-memoryview": memoryview(b""),
        }
        for name, data in cases.items():
            c.persist(url(name), data, "x/y")
            want = bytes(data) if not isinstance(data, array.array) else data.tobytes()
            self.assertEqual(c.retrieve(url(name)), want, name)
        for bad in ("a str", 12, None, [1, 2]):
            with self.assertRaises(TypeError):
                c.persist(url("bad"), bad)

    def test_bytearray_not_resized_during_persist(self):
        c = self.open()
        data = bytearray(b"abc" * 1000)
        c.persist(url(1), data)
        data.extend(b"more")  # no buffer export left behind
        self.assertEqual(len(data), 3004)

    def test_url_forms(self):
        c = self.open()
        c.persist(url(1), b"one")
        self.assertEqual(c.retrieve(url(1).encode()), b"one")
        # canonical key: scheme/host case, default port, fragment identifier
        self.assertEqual(c.retrieve("HTTP://ORIGIN.test:80/blob/1#frag"), b"one")
        # non-ASCII URL: UTF-8 on the way in
        c.persist("http://origin.test/é/ü", b"unicode")
        self.assertEqual(c.retrieve("http://origin.test/é/ü"), b"unicode")
        with self.assertRaises(ValueError):
            c.retrieve("http://origin.test/a\0b")
        with self.assertRaises(TypeError):
            c.retrieve(12)
        with self.assertRaises(TypeError):
            c.persist(pathlib.Path("/x"), b"")

    def test_percent_encoding_is_one_key(self):
        c = self.open()
        body = fixture("QualityLevels(100000)/Fragments(video=0)")
        c.persist("http://o.test/s.ism/QualityLevels(100000)/Fragments(video=0)", body, "video/mp4")
        got = c.retrieve("http://o.test/s.ism/QualityLevels%28100000%29/Fragments%28video%3D0%29")
        self.assertEqual(got, body)

    def test_real_smooth_content(self):
        c = self.open(quota=4 * MiB)
        base = "http://o.test/ffmpeg.ism/"
        files = ["Manifest", "QualityLevels(100000)/Fragments(video=0)",
                 "QualityLevels(100000)/FragmentInfo(video=20000000)",
                 "QualityLevels(32000)/Fragments(audio=0)",
                 "QualityLevels(32000)/Fragments(audio=19272563)"]
        for f in files:
            c.persist(base + f, fixture(f), "text/xml" if f == "Manifest" else "video/mp4")
        for f in files:
            self.assertEqual(c.retrieve(base + f), fixture(f), f)

    def test_response_pickles(self):
        c = self.open()
        c.persist(url(1), b"p", "t/t")
        r = pickle.loads(pickle.dumps(c.retrieve(url(1))))
        self.assertEqual((r, r.content_type), (b"p", "t/t"))
        self.assertIn("content_type='t/t'", repr(r))


class TestCacheHandle(CacheTest):
    def test_path_types(self):
        for i, p in enumerate([
            os.path.join(self.tmp, "str"),
            os.fsencode(os.path.join(self.tmp, "bytes")),
            pathlib.Path(self.tmp) / "pathlike",
        ]):
            with smoothcache.Cache(p) as c:
                c.persist(url(i), b"x")
            self.assertTrue(os.path.isdir(os.fsdecode(p)))
            with smoothcache.Cache(p) as c:
                self.assertEqual(c.retrieve(url(i)), b"x")
        with self.assertRaises(TypeError):
            smoothcache.Cache(3.5)
        with self.assertRaises(ValueError):
            smoothcache.Cache(os.path.join(self.tmp, "a\0b"))

    def test_non_utf8_directory(self):
        p = os.path.join(os.fsencode(self.tmp), b"caf\xe9-\xff")
        with smoothcache.Cache(p) as c:
            c.persist(url(1), b"latin1 dir")
        self.assertIn(b"caf\xe9-\xff", os.listdir(os.fsencode(self.tmp)))
        with smoothcache.Cache(p) as c:
            self.assertEqual(c.retrieve(url(1)), b"latin1 dir")

    def test_persisted_survives_close(self):
        with smoothcache.Cache(self.dir) as c:
            c.persist(url(1), b"kept", "a/b")
        self.assertTrue(c.closed)
        with smoothcache.Cache(self.dir) as c:
            got = c.retrieve(url(1))
            self.assertEqual((got, got.content_type), (b"kept", "a/b"))

    def test_closed_cache(self):
        c = smoothcache.Cache(self.dir)
        self.assertFalse(c.closed)
        c.close()
        c.close()  # idempotent
        self.assertTrue(c.closed)
        self.assertIn("closed", repr(c))
        for call in (lambda: c.retrieve(url(1)), lambda: c.persist(url(1), b""), c.stats,
                     c.clear, lambda: c.remove(url(1)), lambda: c.begin_retrieve(url(1))):
            with self.assertRaises(ValueError):
                call()

    def test_token_outlives_cache(self):
        c = smoothcache.Cache(self.dir)
        c.persist(url(1), b"outlives")
        t = c.begin_retrieve(url(1))
        p = c.begin_persist(url(2), b"two")
        c.close()
        self.assertEqual(t.result(), b"outlives")
        self.assertIsNone(p.result())
        with smoothcache.Cache(self.dir) as c:
            self.assertEqual(c.retrieve(url(2)), b"two")

    def test_gc_closes(self):
        c = smoothcache.Cache(self.dir)
        c.persist(url(1), b"gc")
        del c
        with smoothcache.Cache(self.dir) as c2:
            self.assertEqual(c2.retrieve(url(1)), b"gc")

    def test_quota_argument_checked(self):
        for bad in (-1, 1 << 64):
            with self.assertRaises(ValueError):
                smoothcache.Cache(self.dir, bad)
        with self.assertRaises(TypeError):
            smoothcache.Cache(self.dir, 1.5)

    def test_threads_share_a_handle(self):
        c = self.open(quota=16 * MiB)
        errors = []

        def work(k):
            try:
                for i in range(50):
                    u = url("%d-%d" % (k, i))
                    body = os.urandom(100 + i)
                    c.persist(u, body, "t/%d" % k)
                    got = c.retrieve(u)
                    if got != body or got.content_type != "t/%d" % k:
                        errors.append(u)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(c.stats().entries, 400)


class TestStats(CacheTest):
    FIELDS = ("quota_bytes", "used_bytes", "entries", "hits", "misses",
              "persists", "rejected", "evictions", "corrupt")

    def test_fields(self):
        c = self.open()
        s = c.stats()
        self.assertEqual(s._fields, self.FIELDS)
        for f in self.FIELDS:
            self.assertIsInstance(getattr(s, f), int)
        self.assertEqual(s.quota_bytes, MiB)  # a new cache gets 1 MiB
        self.assertEqual((s.used_bytes, s.entries, s.hits, s.misses, s.persists, s.rejected,
                          s.evictions, s.corrupt), (0,) * 8)

    def test_counters(self):
        c = self.open()
        c.retrieve(url(1))  # miss
        c.persist(url(1), b"a" * 1000, "x/y")
        c.retrieve(url(1))  # hit
        c.retrieve(url(1))  # hit
        with self.assertRaises(smoothcache.QuotaExceeded):
            c.persist(url(2), bytes(2 * MiB))
        s = c.stats()
        self.assertEqual((s.hits, s.misses, s.persists, s.rejected, s.entries), (2, 1, 1, 1, 1))
        # used_bytes: the body plus a header, exact and stable across a fresh open
        self.assertGreater(s.used_bytes, 1000)
        self.assertLess(s.used_bytes, 1000 + 200)
        c.close()
        with smoothcache.Cache(self.dir) as c2:
            s2 = c2.stats()
            self.assertEqual((s2.used_bytes, s2.entries, s2.quota_bytes),
                             (s.used_bytes, s.entries, s.quota_bytes))
            self.assertEqual((s2.hits, s2.misses, s2.persists), (0, 0, 0))  # per handle

    def test_repr_and_dict(self):
        s = self.open().stats()
        self.assertTrue(re.match(r"Stats\(quota_bytes=\d+", repr(s)))
        self.assertEqual(set(s._asdict()), set(self.FIELDS))
