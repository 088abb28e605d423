"""Fetch-through and whole-presentation downloads against scripts/origin.py serving the
FFmpeg-made sample (target/sample, made by `make sample`; skipped only when it cannot be made).
"""

import asyncio
import math
import os
import shutil
import tempfile
import threading
import time
import unittest

from support import (MiB, CacheTest, Origin, entry_files, file_for_url, sample_fragments,
                     sample_manifest_bytes, sample_problem, smoothcache, wait_until)

S = smoothcache


class OriginTest(CacheTest):
    """A shared origin for the class (self.origin); tests that take it down start their own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = sample_problem()
        if why:
            raise unittest.SkipTest(why)
        cls.logs = tempfile.mkdtemp(prefix="smoothcache-origin-")
        cls.origin = Origin(cls.logs)
        cls.fragments = sample_fragments()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        shutil.rmtree(cls.logs, True)
        super().tearDownClass()

    def private_origin(self):
        o = Origin(self.tmp)
        self.addCleanup(o.stop)
        return o

    def frags(self, stream=None, bitrate=None, start=0.0, end=math.inf):
        return [f for f in self.fragments
                if (stream is None or f.stream == stream) and (bitrate is None or f.bitrate == bitrate)
                and f.end > start and f.start < end]

    def lowest(self):
        """The fragments of the lowest video level and of the audio."""
        video = min(f.bitrate for f in self.fragments if f.type == "video")
        return [f for f in self.fragments if f.type == "audio" or f.bitrate == video]

    def follow(self, token, interval=0.005, timeout=120):
        """Polls a download's progress until it completes; checks nothing goes back. Answers
        every snapshot taken."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            done = token.wait(interval)
            p = token.progress()
            self.assertIsInstance(p, S.Progress)
            self.assertIsInstance(p.state, S.DownloadState)
            if seen:
                q = seen[-1]
                self.assertGreaterEqual(p.fragments_done, q.fragments_done)
                self.assertGreaterEqual(p.bytes_done, q.bytes_done)
                if q.fragments_total:
                    self.assertEqual(p.fragments_total, q.fragments_total)
            if p.fragments_total:
                self.assertLessEqual(p.fragments_done, p.fragments_total)
            seen.append(p)
            if done:
                return seen
            self.assertLess(time.monotonic(), deadline, "the download never ended")


class TestDownload(OriginTest):
    def test_download_with_progress_polled_to_the_end(self):
        c = self.open(quota=64 * MiB)
        mark = self.origin.mark()
        t = c.download(self.origin.manifest_url, quality="lowest", backoff=0.02)
        self.assertIsInstance(t, S.DownloadToken)
        self.assertIsInstance(t, S.Token)
        self.assertEqual((t.kind, t.url), ("download", self.origin.manifest_url))
        self.assertIn("download", repr(t))
        seen = self.follow(t)
        p = t.progress()
        want = self.lowest()
        self.assertEqual(p.state, S.DownloadState.DONE)
        self.assertEqual(p.state, "done")
        self.assertEqual(p.fragments_total, len(want))
        self.assertEqual(p.fragments_done, p.fragments_total)
        self.assertFalse(p.bytes_expected_is_estimate)
        self.assertEqual(p.bytes_expected, p.bytes_done)
        self.assertGreater(p.bytes_done, sum(len(f.data()) for f in want))
        for q in seen:
            if q.state in (S.DownloadState.RUNNING, S.DownloadState.FLUSHING):
                self.assertGreaterEqual(q.bytes_expected, q.bytes_done)
        self.assertIsNone(t.result())
        self.assertIsNone(t.result())  # the outcome is kept
        self.assertEqual(t.progress(), p)  # the final figures, after the end
        t.cancel()  # ended: nothing to do
        # the manifest and every selected fragment, once each
        got = sorted(p for _, p, _ in self.origin.requests(mark))
        self.assertEqual(got, sorted(["/sample.ism/Manifest"] + ["/sample.ism/" + f.rel for f in want]))

    def test_offline_byte_identical(self):
        origin = self.private_origin()
        c = self.open(quota=64 * MiB)
        c.download(origin.manifest_url).result(timeout=120)  # every level
        origin.stop()
        c.close()
        c = self.open()  # a fresh handle, the origin down
        m = c.retrieve(origin.manifest_url)
        self.assertEqual(m, sample_manifest_bytes())
        self.assertEqual(c.fetch(origin.manifest_url), m)
        for f in self.fragments:
            u = origin.url(f.rel)
            body = c.retrieve(u)
            self.assertIsNotNone(body, u)
            self.assertEqual(body, f.data(), u)
            self.assertEqual(body.content_type, "%s/mp4" % f.type)
            self.assertEqual(c.fetch(u), body)  # from the store: no origin needed
        # what was not downloaded cannot be fetched with the origin down
        info = origin.url(self.fragments[0].rel.replace("Fragments(", "FragmentInfo("))
        with self.assertRaises(S.NetworkError) as cm:
            c.fetch(info)
        self.assertError(S.NetworkError, S.Status.ERR_NETWORK, cm.exception)
        self.assertIsNone(c.retrieve(info))
        # the origin back on the same port: fetched, stored
        origin.start()
        body = c.fetch(info)
        with open(file_for_url(info), "rb") as fh:
            self.assertEqual(body, fh.read())
        self.assertEqual(c.retrieve(info), body)

    def test_cancel_then_resume(self):
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        murl = self.origin.manifest_url
        t = c.download(murl, parallel=1)
        self.assertTrue(wait_until(lambda: t.done() or t.progress().fragments_done >= 3,
                                   timeout=60, interval=0.001))
        t.cancel()
        t.cancel()  # idempotent
        total = len(self.fragments)
        try:
            t.result(timeout=60)
            cancelled = False  # it had finished before the cancel
        except S.Cancelled as e:
            self.assertError(S.Cancelled, S.Status.ERR_CANCELLED, e)
            cancelled = True
        p = t.progress()
        self.assertEqual(p.fragments_total, total)
        kept = p.fragments_done
        if cancelled:
            self.assertEqual(p.state, S.DownloadState.CANCELLED)
            self.assertLess(kept, total)
            (pr,) = c.presentations()
            self.assertEqual(pr.manifest_url, murl)
            self.assertFalse(pr.complete)
            self.assertEqual((pr.fragments_stored, pr.fragments_expected), (kept, total))
        else:
            self.assertEqual(p.state, S.DownloadState.DONE)
        # Resume: only what is missing is fetched, and the stored manifest is used.
        mark = self.origin.mark()
        t = c.download(murl, parallel=4)
        self.assertIsNone(t.result(timeout=120))
        p = t.progress()
        self.assertEqual((p.fragments_done, p.fragments_total), (total, total))
        reqs = self.origin.requests(mark)
        self.assertNotIn("/sample.ism/Manifest", [p for _, p, _ in reqs])
        self.assertEqual(len(self.origin.fragment_requests(mark)), total - kept)
        (pr,) = c.presentations()
        self.assertTrue(pr.complete)
        self.assertEqual((pr.fragments_stored, pr.fragments_expected), (total, total))
        for f in self.fragments:
            self.assertEqual(c.retrieve(self.origin.url(f.rel)), f.data())

    def test_quality_choices(self):
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        murl = self.origin.manifest_url
        # max_bitrate: per stream the highest level at or under it
        c.download(murl, max_bitrate=130000, end=4.0).result(timeout=60)
        want = self.frags(stream=0, bitrate=120000, end=4.0) + self.frags(stream=1, end=4.0)
        (pr,) = c.presentations()
        self.assertEqual(pr.fragments_expected, len(want))
        for f in want:
            self.assertEqual(c.retrieve(self.origin.url(f.rel)), f.data())
        for f in self.frags(stream=0, bitrate=240000, end=4.0):
            self.assertIsNone(c.retrieve(self.origin.url(f.rel)))
        self.assertEqual(c.remove_presentation(murl), len(want) + 2)  # + manifest + record
        # levels: exactly those (stream, quality) positions
        top = [f for f in self.fragments if f.bitrate == 240000][0].quality
        t = c.download(murl, levels=[(0, top)], start=20.0)
        t.result(timeout=60)
        want = self.frags(stream=0, bitrate=240000, start=20.0)
        self.assertEqual(t.progress().fragments_total, len(want))
        for f in want:
            self.assertEqual(c.retrieve(self.origin.url(f.rel)), f.data())
        c.remove_presentation(murl)
        # highest
        t = c.download(murl, quality="highest", end=2.0)
        t.result(timeout=60)
        self.assertEqual(t.progress().fragments_total,
                         len(self.frags(stream=0, bitrate=240000, end=2.0) + self.frags(stream=1, end=2.0)))

    def test_bad_options(self):
        c = self.open(quota=64 * MiB)
        murl = self.origin.manifest_url
        mark = self.origin.mark()
        for kw in (dict(parallel=0), dict(parallel=65), dict(quality=99), dict(start=-1.0),
                   dict(start=float("nan")), dict(connect_timeout=0), dict(levels=[])):
            with self.subTest(**{k: repr(v) for k, v in kw.items()}):
                with self.assertRaises(S.InvalidArgument) as cm:
                    c.download(murl, **kw)
                self.assertError(S.InvalidArgument, S.Status.ERR_INVALID_ARGUMENT, cm.exception)
        with self.assertRaises(S.InvalidArgument):
            c.download(self.origin.url(self.fragments[0].rel))  # not a manifest URL
        with self.assertRaises(S.InvalidArgument):
            c.download("ftp://127.0.0.1/x.ism/Manifest")
        for kw, exc in ((dict(quality="bogus"), ValueError), (dict(quality="list"), ValueError),
                        (dict(quality="max_bitrate"), ValueError),
                        (dict(levels=[(0, 0)], max_bitrate=1), ValueError),
                        (dict(levels=[(0, 0)], quality="highest"), ValueError),
                        (dict(levels=[(0,)]), TypeError), (dict(levels="00"), TypeError),
                        (dict(levels=[(-1, 0)]), ValueError), (dict(backoff=-1), ValueError),
                        (dict(read_timeout="x"), TypeError), (dict(retries=1 << 40), ValueError),
                        (dict(max_fragment_bytes=-1), ValueError)):
            with self.subTest(**{k: repr(v) for k, v in kw.items()}):
                self.assertRaises(exc, c.download, murl, **kw)
        self.assertRaises(TypeError, c.download, murl, "lowest")  # keywords only
        self.assertEqual(self.origin.requests(mark), [])  # nothing reached the network

    def test_quota_too_small(self):
        c = self.open(quota=256 * 1024)
        mark = self.origin.mark()
        t = c.download(self.origin.manifest_url, quality="lowest")
        with self.assertRaises(S.QuotaExceeded) as cm:
            t.result(timeout=60)
        self.assertError(S.QuotaExceeded, S.Status.ERR_QUOTA_EXCEEDED, cm.exception)
        p = t.progress()
        self.assertEqual(p.state, S.DownloadState.FAILED)
        self.assertEqual(p.fragments_done, 0)
        self.assertGreater(p.bytes_expected, 256 * 1024)
        self.assertEqual(self.origin.fragment_requests(mark), [])  # refused before any fragment

    def test_network_error(self):
        c = self.open(quota=64 * MiB)
        origin = self.private_origin()
        murl = origin.manifest_url
        origin.stop()
        t = c.download(murl, retries=1, backoff=0.01)
        with self.assertRaises(S.NetworkError) as cm:
            t.result(timeout=60)
        self.assertError(S.NetworkError, S.Status.ERR_NETWORK, cm.exception)
        self.assertEqual(t.progress().state, S.DownloadState.FAILED)

    def test_callback_and_fileno(self):
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        called = []
        ev = threading.Event()

        def cb(token):
            called.append((token, token.progress().state, token.result()))
            ev.set()

        t = c.download(self.origin.manifest_url, quality="lowest", end=2.0, callback=cb)
        self.assertGreaterEqual(t.fileno(), 0)
        self.assertTrue(ev.wait(60))
        self.assertEqual(called, [(t, S.DownloadState.DONE, None)])
        self.assertIsNone(t.result())


class TestFetch(OriginTest):
    def test_fetch_through(self):
        c = self.open(quota=64 * MiB)
        f = self.frags(stream=0, bitrate=120000)[2]
        u = self.origin.url(f.rel)
        mark = self.origin.mark()
        body = c.fetch(u)
        self.assertIsInstance(body, S.Response)
        self.assertEqual(body, f.data())
        self.assertEqual(body.content_type, "video/mp4")
        self.assertEqual(c.retrieve(u), body)  # stored
        self.assertEqual(c.fetch(u), body)  # answered from the store
        self.assertEqual(len(self.origin.requests(mark)), 1)
        # a 404 is a network error; nothing is stored
        missing = self.origin.url("QualityLevels(60000)/Fragments(video=1)")
        with self.assertRaises(S.NetworkError) as cm:
            c.fetch(missing)
        self.assertError(S.NetworkError, S.Status.ERR_NETWORK, cm.exception)
        self.assertIsNone(c.retrieve(missing))
        with self.assertRaises(S.InvalidArgument):
            c.fetch("ftp://127.0.0.1/a")
        with self.assertRaises(S.InvalidArgument):
            c.begin_fetch("not a url")
        self.assertRaises(TypeError, c.fetch, 5)

    def test_begin_fetch_token(self):
        c = self.open(quota=64 * MiB)
        f = self.frags(stream=1)[4]
        u = self.origin.url(f.rel)
        done = threading.Event()
        got = []

        def cb(token):
            got.append(token.result())
            done.set()

        t = c.begin_fetch(u, callback=cb)
        self.assertEqual((t.kind, t.url), ("fetch", u))
        self.assertFalse(hasattr(t, "progress"))
        self.assertTrue(done.wait(30))
        self.assertEqual(got, [f.data()])
        self.assertEqual(got[0].content_type, "audio/mp4")
        with c.begin_fetch(u) as t2:
            self.assertTrue(t2.wait(30))
            self.assertEqual(t2.result(), f.data())

    def test_concurrent_fetches_share_one_request(self):
        c = self.open(quota=64 * MiB)
        f = self.frags(stream=0, bitrate=240000)[5]
        u = self.origin.url(f.rel)
        mark = self.origin.mark()

        async def main():
            return await asyncio.gather(*(c.fetch_async(u) for _ in range(8)))

        bodies = asyncio.run(asyncio.wait_for(main(), 60))
        self.assertEqual(len(bodies), 8)
        for b in bodies:
            self.assertEqual(b, f.data())
            self.assertEqual(b.content_type, "video/mp4")
        self.assertEqual(self.origin.requests(mark), [("GET", "/sample.ism/" + f.rel, 200)])
        self.assertEqual(c.retrieve(u), f.data())


class TestPresentations(OriginTest):
    def test_presentations_remove_verify(self):
        c = self.open(quota=64 * MiB)
        murl = self.origin.manifest_url
        self.assertEqual(c.presentations(), [])
        self.assertIsNone(c.verify_presentation(murl))
        self.assertEqual(c.remove_presentation(murl), 0)
        c.download(murl, quality="lowest").result(timeout=120)
        n = len(self.lowest())
        (pr,) = c.presentations()
        self.assertIsInstance(pr, S.Presentation)
        self.assertEqual(pr.manifest_url, murl)
        self.assertTrue(pr.complete)
        self.assertTrue(pr.pinned)
        self.assertEqual((pr.fragments_stored, pr.fragments_expected), (n, n))
        self.assertGreater(pr.bytes, sum(len(f.data()) for f in self.lowest()))
        r = c.verify_presentation(murl)
        self.assertIsInstance(r, S.VerifyReport)
        self.assertEqual(r, S.VerifyReport(checked=n, ok=n, missing=0, corrupt=0, repaired=0))
        entries = c.stats().entries
        cr = c.verify()
        self.assertIsInstance(cr, S.CacheReport)
        self.assertEqual((cr.entries, cr.added, cr.dropped, cr.corrupt), (entries, 0, 0, 0))

        # a fragment removed: missing, the presentation no longer complete; a repair fetches it
        gone = self.origin.url(self.lowest()[3].rel)
        self.assertTrue(c.remove(gone))
        self.assertEqual(c.verify_presentation(murl), S.VerifyReport(n, n - 1, 1, 0, 0))
        (pr,) = c.presentations()
        self.assertFalse(pr.complete)
        self.assertEqual(pr.fragments_stored, n - 1)
        mark = self.origin.mark()
        self.assertEqual(c.verify_presentation(murl, repair=True), S.VerifyReport(n, n - 1, 1, 0, 1))
        self.assertEqual(self.origin.fragment_requests(mark), ["/sample.ism/" + self.lowest()[3].rel])
        self.assertEqual(c.verify_presentation(murl), S.VerifyReport(n, n, 0, 0, 0))
        self.assertTrue(c.presentations()[0].complete)

        # a damaged entry file: the whole-cache verify finds and drops it
        c.close()
        biggest = max(entry_files(self.dir), key=os.path.getsize)
        with open(biggest, "r+b") as fh:
            fh.seek(os.path.getsize(biggest) // 2)
            b = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([b[0] ^ 0xFF]))
        c = self.open()
        cr = c.verify()
        self.assertEqual((cr.corrupt, cr.entries), (1, entries - 1))
        r = c.verify_presentation(murl)
        self.assertEqual((r.checked, r.ok, r.missing + r.corrupt), (n, n - 1, 1))
        self.assertEqual(c.verify_presentation(murl, repair=True).repaired, 1)
        self.assertEqual(c.verify().corrupt, 0)

        # removed as a whole: manifest, fragments, record
        self.assertEqual(c.remove_presentation(murl), n + 2)
        self.assertEqual(c.remove_presentation(murl), 0)
        self.assertEqual(c.presentations(), [])
        self.assertIsNone(c.verify_presentation(murl))
        self.assertIsNone(c.retrieve(murl))
        self.assertEqual(c.stats().entries, 0)


class TestAsyncDownload(OriginTest):
    def test_download_async(self):
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        murl = self.origin.manifest_url

        async def main():
            return await c.download_async(murl, quality="lowest", end=6.0, parallel=2)

        self.assertIsNone(asyncio.run(asyncio.wait_for(main(), 60)))
        want = [f for f in self.lowest() if f.start < 6.0]
        (pr,) = c.presentations()
        self.assertTrue(pr.complete)
        self.assertEqual(pr.fragments_expected, len(want))
        for f in want:
            self.assertEqual(c.retrieve(self.origin.url(f.rel)), f.data())

    def test_download_async_failure_raises(self):
        c = self.open(quota=256 * 1024)

        async def main():
            return await c.download_async(self.origin.manifest_url, quality="lowest")

        with self.assertRaises(S.QuotaExceeded):
            asyncio.run(asyncio.wait_for(main(), 60))

    def test_cancelling_the_coroutine_cancels_the_download(self):
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        murl = self.origin.manifest_url
        cancels = []
        real_cancel = S.DownloadToken.cancel

        def counting_cancel(token):
            cancels.append(token)
            return real_cancel(token)

        S.DownloadToken.cancel = counting_cancel
        self.addCleanup(setattr, S.DownloadToken, "cancel", real_cancel)
        mark = self.origin.mark()

        async def main():
            task = asyncio.ensure_future(c.download_async(murl, parallel=1))
            await asyncio.sleep(0)  # the download has begun
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task

        asyncio.run(asyncio.wait_for(main(), 60))
        self.assertEqual(len(cancels), 1)
        # the download stops: the origin's log stops growing well short of every fragment
        def settled():
            before = self.origin.mark()
            time.sleep(0.3)
            return self.origin.mark() == before

        self.assertTrue(wait_until(settled, timeout=30))
        self.assertLess(len(self.origin.fragment_requests(mark)), len(self.fragments))
        for pr in c.presentations():
            self.assertFalse(pr.complete)


if __name__ == "__main__":
    unittest.main()
