"""asyncio: retrieve_async / persist_async wait on the token's fd with loop.add_reader."""

import asyncio
import os
import threading
import unittest

from support import MiB, CacheTest, open_fds, smoothcache, url, wait_until


class TestAsync(CacheTest):
    def run_async(self, coro, timeout=60):
        return asyncio.run(asyncio.wait_for(coro, timeout))

    def test_200_concurrent_retrieves(self):
        c = self.open(quota=16 * MiB)
        bodies = {}
        for i in range(0, 200, 2):  # every even URL is stored: 100 hits, 100 misses
            bodies[url(i)] = os.urandom(1000 + i * 37)
            c.persist(url(i), bodies[url(i)], "t/%d" % i)
        fds_before = open_fds()
        threads_before = threading.active_count()

        async def main():
            loop = asyncio.get_running_loop()
            real_add_reader = loop.add_reader
            added = []

            def counting_add_reader(fd, cb, *args):
                added.append(fd)
                return real_add_reader(fd, cb, *args)

            loop.add_reader = counting_add_reader
            urls = [url(i) for i in range(200)]
            results = await asyncio.gather(*(c.retrieve_async(u) for u in urls))
            return urls, results, added

        urls, results, added = self.run_async(main())
        self.assertEqual(len(results), 200)
        for i, (u, r) in enumerate(zip(urls, results)):
            if i % 2 == 0:
                self.assertEqual(r, bodies[u], u)
                self.assertEqual(r.content_type, "t/%d" % i)
            else:
                self.assertIsNone(r, u)
        # hits waited on their fd (misses complete synchronously and need none)
        self.assertGreater(len(added), 0)
        self.assertLessEqual(len(added), 100)
        # no thread per request; every fd given back
        self.assertLessEqual(threading.active_count(), threads_before)
        if fds_before is not None:
            self.assertLessEqual(open_fds(), fds_before + 4)
        s = c.stats()
        self.assertEqual((s.hits, s.misses), (100, 100))

    def test_persist_async_then_retrieve_async(self):
        c = self.open(quota=16 * MiB)

        async def main():
            data = {url(i): os.urandom(5000) for i in range(100)}
            await asyncio.gather(*(c.persist_async(u, d, "x/y") for u, d in data.items()))
            got = await asyncio.gather(*(c.retrieve_async(u) for u in data))
            return data, got

        data, got = self.run_async(main())
        self.assertEqual(list(data.values()), got)
        self.assertEqual(c.stats().entries, 100)

    def test_async_errors(self):
        c = self.open()

        async def main():
            with self.assertRaises(smoothcache.QuotaExceeded):
                await c.persist_async(url(1), bytes(2 * MiB))
            with self.assertRaises(smoothcache.Malformed):
                await c.persist_async("http://o.test/p.ism/QualityLevels(1)/Fragments(video=0)", b"junk")
            with self.assertRaises(smoothcache.InvalidArgument):
                await c.retrieve_async("ftp://o.test/x")
            self.assertIsNone(await c.retrieve_async(url(1)))

        self.run_async(main())

    def test_await_token(self):
        c = self.open()
        c.persist(url(1), b"awaited")

        async def main():
            t = c.begin_retrieve(url(1))
            r = await t
            self.assertIs(t.result(), r)
            return r

        self.assertEqual(self.run_async(main()), b"awaited")

    def test_cancelled_persist_still_lands(self):
        c = self.open()

        async def main():
            task = asyncio.ensure_future(c.persist_async(url(1), b"cancelled but stored"))
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

        self.run_async(main())
        self.assertEqual(wait_until(lambda: c.retrieve(url(1))), b"cancelled but stored")

    def test_loop_not_blocked(self):
        # While retrieves are pending, the loop keeps running other tasks.
        c = self.open(quota=64 * MiB)
        big = os.urandom(4 * MiB)
        for i in range(8):
            c.persist(url(i), big)

        async def main():
            ticks = 0
            stop = False

            async def ticker():
                nonlocal ticks
                while not stop:
                    ticks += 1
                    await asyncio.sleep(0)

            tick = asyncio.ensure_future(ticker())
            res = await asyncio.gather(*(c.retrieve_async(url(i)) for i in range(8)))
            stop = True
            await tick
            return res, ticks

        res, ticks = self.run_async(main())
        self.assertTrue(all(r == big for r in res))
        self.assertGreater(ticks, 0)


if __name__ == "__main__":
    unittest.main()
