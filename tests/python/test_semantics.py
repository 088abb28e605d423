"""Quota, remove, clear, ignore_query_params, durability, eviction, presentations."""

import os

from support import MiB, CacheTest, smoothcache, url


class TestQuota(CacheTest):
    def test_new_cache_default_and_explicit(self):
        self.assertEqual(self.open().stats().quota_bytes, MiB)
        other = self.open(quota=5 * MiB, path=os.path.join(self.tmp, "other"))
        self.assertEqual(other.stats().quota_bytes, 5 * MiB)

    def test_increase_quota_lets_a_persist_fit(self):
        c = self.open()
        body = os.urandom(2 * MiB)
        with self.assertRaises(smoothcache.QuotaExceeded):
            c.persist(url(1), body)
        c.increase_quota(3 * MiB)
        self.assertEqual(c.stats().quota_bytes, 3 * MiB)
        c.increase_quota(3 * MiB)  # the same value is fine
        c.persist(url(1), body)
        self.assertEqual(c.retrieve(url(1)), body)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.increase_quota(2 * MiB)
        for bad in (-1, 1 << 64):
            with self.assertRaises(ValueError):
                c.increase_quota(bad)

    def test_quota_stored_and_never_shrinks(self):
        with smoothcache.Cache(self.dir, 4 * MiB) as c:
            self.assertEqual(c.stats().quota_bytes, 4 * MiB)
        with smoothcache.Cache(self.dir) as c:  # 0: keep the stored quota
            self.assertEqual(c.stats().quota_bytes, 4 * MiB)
        with smoothcache.Cache(self.dir, MiB) as c:  # smaller: ignored
            self.assertEqual(c.stats().quota_bytes, 4 * MiB)
        with smoothcache.Cache(self.dir, 6 * MiB) as c:  # larger: grows
            self.assertEqual(c.stats().quota_bytes, 6 * MiB)

    def test_fill_to_the_quota(self):
        c = self.open()
        stored = 0
        with self.assertRaises(smoothcache.QuotaExceeded):
            for i in range(100):
                c.persist(url(i), bytes(100000))
                stored += 1
        s = c.stats()
        self.assertEqual(s.entries, stored)
        self.assertLessEqual(s.used_bytes, s.quota_bytes)
        self.assertGreaterEqual(stored, 9)
        self.assertLess(stored, 11)


class TestRemoveClear(CacheTest):
    def test_remove(self):
        c = self.open()
        c.persist(url(1), b"one")
        c.persist(url(2), b"two")
        self.assertIs(c.remove(url(1)), True)
        self.assertIs(c.remove(url(1)), False)
        self.assertIs(c.remove(url(99)), False)
        self.assertIsNone(c.retrieve(url(1)))
        self.assertEqual(c.retrieve(url(2)), b"two")
        self.assertEqual(c.stats().entries, 1)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.remove("ftp://x/")

    def test_remove_frees_quota(self):
        c = self.open()
        c.persist(url(1), bytes(700000))
        with self.assertRaises(smoothcache.QuotaExceeded):
            c.persist(url(2), bytes(700000))
        self.assertTrue(c.remove(url(1)))
        self.assertEqual(c.stats().used_bytes, 0)
        c.persist(url(2), bytes(700000))

    def test_clear(self):
        c = self.open()
        for i in range(10):
            c.persist(url(i), b"x" * i)
        c.open_media("http://o.test/p.ism/Manifest")
        c.persist("http://o.test/p.ism/thing", b"in an open presentation")
        c.clear()
        s = c.stats()
        self.assertEqual((s.entries, s.used_bytes), (0, 0))
        for i in range(10):
            self.assertIsNone(c.retrieve(url(i)))
        self.assertIsNone(c.retrieve("http://o.test/p.ism/thing"))
        c.clear()  # on an empty cache
        c.persist(url(1), b"after clear")
        self.assertEqual(c.retrieve(url(1)), b"after clear")
        c.close_media("http://o.test/p.ism/Manifest")


class TestIgnoreQueryParams(CacheTest):
    def test_names_shared_entries(self):
        c = self.open()
        c.ignore_query_params("token")
        c.persist("http://o.test/a?token=111&q=1", b"signed")
        self.assertEqual(c.retrieve("http://o.test/a?token=222&q=1"), b"signed")
        self.assertEqual(c.retrieve("http://o.test/a?q=1"), b"signed")
        self.assertIsNone(c.retrieve("http://o.test/a?token=111&q=2"))  # q still counts

    def test_list_and_iterable(self):
        c = self.open()
        c.ignore_query_params(["sig", "exp"])
        c.persist("http://o.test/a?sig=1&exp=2&keep=3", b"list")
        self.assertEqual(c.retrieve("http://o.test/a?keep=3&sig=9&exp=8"), b"list")
        c.ignore_query_params("sig,exp")  # comma-separated str: the same
        self.assertEqual(c.retrieve("http://o.test/a?sig=7&exp=6&keep=3"), b"list")
        c.ignore_query_params(iter(("sig", "exp")))
        self.assertEqual(c.retrieve("http://o.test/a?sig=5&exp=4&keep=3"), b"list")
        with self.assertRaises(ValueError):
            c.ignore_query_params(["a,b"])
        with self.assertRaises(TypeError):
            c.ignore_query_params([1])

    def test_whole_query_and_none(self):
        c = self.open()
        c.ignore_query_params("*")
        c.persist("http://o.test/b?x=1", b"any query")
        self.assertEqual(c.retrieve("http://o.test/b?y=2"), b"any query")
        self.assertEqual(c.retrieve("http://o.test/b"), b"any query")
        c.ignore_query_params("")
        self.assertIsNone(c.retrieve("http://o.test/b?y=2"))
        c.ignore_query_params([])
        self.assertIsNone(c.retrieve("http://o.test/b?y=2"))

    def test_stored_with_the_cache(self):
        with smoothcache.Cache(self.dir) as c:
            c.ignore_query_params(["token"])
            c.persist("http://o.test/s?token=1", b"kept")
        with smoothcache.Cache(self.dir) as c:
            self.assertEqual(c.retrieve("http://o.test/s?token=2"), b"kept")

    def test_percent_decoded_names(self):
        c = self.open()
        c.ignore_query_params("my token")
        c.persist("http://o.test/p?my%20token=1", b"decoded")
        self.assertEqual(c.retrieve("http://o.test/p?my%20token=2"), b"decoded")


class TestSettings(CacheTest):
    def test_durability(self):
        c = self.open()
        for level in ("process", "power", "PROCESS", smoothcache.DURABILITY_PROCESS,
                      smoothcache.DURABILITY_POWER):
            c.set_durability(level)
            c.persist(url(level), b"durable %r" % (level,))
            self.assertEqual(c.retrieve(url(level)), b"durable %r" % (level,))

    def test_eviction_lru(self):
        c = self.open()
        c.set_eviction("lru")
        for i in range(30):
            c.persist(url(i), bytes(100000))  # 3 MB through a 1 MiB cache
        s = c.stats()
        self.assertGreater(s.evictions, 0)
        self.assertLessEqual(s.used_bytes, s.quota_bytes)
        self.assertEqual(s.entries + s.evictions, 30)
        self.assertEqual(c.retrieve(url(29)), bytes(100000))  # the newest is kept
        self.assertIsNone(c.retrieve(url(0)))  # the oldest went first
        c.set_eviction(smoothcache.EVICT_NONE)
        with self.assertRaises(smoothcache.QuotaExceeded):
            for i in range(30, 60):
                c.persist(url(i), bytes(100000))

    def test_lru_order_follows_use(self):
        c = self.open()
        c.set_eviction("lru")
        for i in range(9):
            c.persist(url(i), bytes(100000))
        self.assertIsNotNone(c.retrieve(url(0)))  # 0 is now the most recently used
        for i in range(9, 12):
            c.persist(url(i), bytes(100000))
        self.assertIsNotNone(c.retrieve(url(0)))
        self.assertIsNone(c.retrieve(url(1)))

    def test_open_media_protects_from_eviction(self):
        c = self.open()
        c.set_eviction("lru")
        manifest = "http://o.test/movie.ism/Manifest"
        with c.media(manifest) as same:
            self.assertIs(same, c)
            for i in range(6):
                c.persist("http://o.test/movie.ism/QualityLevels(1)/blob%d" % i, bytes(100000))
            for i in range(20):
                c.persist(url(i), bytes(100000))
            for i in range(6):
                self.assertIsNotNone(
                    c.retrieve("http://o.test/movie.ism/QualityLevels(1)/blob%d" % i), i)
        # closed again: its entries may go now
        for i in range(20, 40):
            c.persist(url(i), bytes(100000))
        kept = sum(c.retrieve("http://o.test/movie.ism/QualityLevels(1)/blob%d" % i) is not None
                   for i in range(6))
        self.assertLess(kept, 6)

    def test_media_reference_counted(self):
        c = self.open()
        m = "http://o.test/rc.ism/Manifest"
        c.open_media(m)
        c.open_media(m)
        c.close_media(m)
        c.close_media(m)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.close_media(m)
