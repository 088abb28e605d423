"""Tokens: done/wait/fileno (select, poll), result semantics, callbacks, abandoning."""

import gc
import os
import select
import selectors
import subprocess
import sys
import textwrap
import threading
import time
import unittest

from support import MiB, CacheTest, open_fds, smoothcache, url, wait_until


def readable_now(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


class TestTokenBasics(CacheTest):
    def test_miss_completes_synchronously(self):
        c = self.open()
        t = c.begin_retrieve(url(1))
        self.assertTrue(t.completed_synchronously)
        self.assertTrue(t.done())
        self.assertTrue(t.wait(0))
        self.assertIsNone(t.result())
        self.assertEqual((t.kind, t.url), ("retrieve", url(1)))

    def test_hit_via_wait_then_result(self):
        c = self.open()
        c.persist(url(1), b"hit body", "a/b")
        t = c.begin_retrieve(url(1))
        self.assertFalse(t.completed_synchronously)
        self.assertTrue(t.wait(10))
        self.assertTrue(t.done())
        got = t.result()
        self.assertEqual((got, got.content_type), (b"hit body", "a/b"))

    def test_result_twice_returns_the_same(self):
        c = self.open()
        c.persist(url(1), b"twice")
        t = c.begin_retrieve(url(1))
        first = t.result()
        self.assertIs(t.result(), first)
        self.assertTrue(t.done())
        self.assertTrue(t.wait())
        self.assertIn("ended", repr(t))
        t.close()  # no-op after result()
        self.assertIs(t.result(), first)

    def test_error_raised_again_the_same(self):
        c = self.open()
        t = c.begin_persist(url(1), bytes(2 * MiB))
        with self.assertRaises(smoothcache.QuotaExceeded) as a:
            t.result()
        with self.assertRaises(smoothcache.QuotaExceeded) as b:
            t.result()
        self.assertIs(a.exception, b.exception)

    def test_persist_token(self):
        c = self.open()
        t = c.begin_persist(url(1), b"persisted")
        self.assertEqual(t.kind, "persist")
        self.assertTrue(t.wait(10))
        self.assertIsNone(t.result())
        self.assertEqual(c.retrieve(url(1)), b"persisted")

    def test_result_timeout(self):
        c = self.open()
        c.persist(url(1), b"x")
        t = c.begin_retrieve(url(1))
        self.assertEqual(t.result(timeout=10), b"x")
        t2 = c.begin_retrieve(url(2))
        self.assertIsNone(t2.result(timeout=0))

    def test_closed_token(self):
        c = self.open()
        t = c.begin_retrieve(url(1))
        t.close()
        t.close()  # idempotent
        self.assertIn("closed", repr(t))
        for call in (t.done, t.wait, t.fileno, t.result):
            with self.assertRaises(ValueError):
                call()

    def test_fileno_after_result_refused(self):
        c = self.open()
        t = c.begin_retrieve(url(1))
        t.fileno()
        t.result()
        with self.assertRaises(ValueError):
            t.fileno()

    def test_context_manager_abandons(self):
        c = self.open()
        with c.begin_persist(url(1), b"ctx") as t:
            pass
        with self.assertRaises(ValueError):
            t.result()
        self.assertTrue(wait_until(lambda: c.retrieve(url(1)) == b"ctx"))

    def test_wait_timeout_conversion(self):
        self.assertEqual(smoothcache._timeout_ms(None), -1)
        self.assertEqual(smoothcache._timeout_ms(0), 0)
        self.assertEqual(smoothcache._timeout_ms(-5), 0)
        self.assertEqual(smoothcache._timeout_ms(0.0001), 1)  # never a poll by rounding
        self.assertEqual(smoothcache._timeout_ms(2.5), 2500)
        self.assertEqual(smoothcache._timeout_ms(1e30), -1)
        with self.assertRaises(ValueError):
            smoothcache._timeout_ms(float("nan"))

    def test_concurrent_waiters_and_one_ender(self):
        c = self.open()
        c.persist(url(1), b"shared")
        for _ in range(20):
            t = c.begin_retrieve(url(1))
            results = []

            def waiter():
                results.append(t.wait(10))
                results.append(t.done())

            def ender():
                results.append(t.result())

            ths = [threading.Thread(target=waiter) for _ in range(4)] + \
                  [threading.Thread(target=ender) for _ in range(2)]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            self.assertEqual(sorted(map(repr, results)),
                             sorted(["True"] * 8 + ["Response(b'shared', content_type=None)"] * 2))


class TestFileDescriptor(CacheTest):
    def test_select_on_fileno(self):
        c = self.open()
        c.persist(url(1), b"fd body")
        hit = c.begin_retrieve(url(1))
        miss = c.begin_retrieve(url(2))
        persist = c.begin_persist(url(3), b"three")
        toks = {t.fileno(): t for t in (hit, miss, persist)}
        self.assertEqual(len(toks), 3)
        self.assertEqual(hit.fileno(), hit.fileno(), "one fd per token")
        pending = dict(toks)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            r, _, _ = select.select(list(pending), [], [], 1.0)
            for fd in r:
                self.assertTrue(pending[fd].done())
                del pending[fd]
        self.assertEqual(pending, {})
        for fd in toks:
            self.assertTrue(readable_now(fd), "stays readable")
        self.assertEqual(hit.result(), b"fd body")
        self.assertIsNone(miss.result())
        self.assertIsNone(persist.result())

    def test_poll_and_selectors(self):
        c = self.open(quota=8 * MiB)
        for i in range(20):
            c.persist(url(i), b"%d" % i * 100)
        toks = [c.begin_retrieve(url(i)) for i in range(40)]
        sel = selectors.DefaultSelector()
        for t in toks:
            sel.register(t.fileno(), selectors.EVENT_READ, t)
        got = {}
        deadline = time.monotonic() + 10
        while len(got) < len(toks) and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                t = key.data
                sel.unregister(key.fd)  # before result() closes the fd
                got[t.url] = t.result()
        sel.close()
        self.assertEqual(len(got), 40)
        for i in range(40):
            self.assertEqual(got[url(i)], b"%d" % i * 100 if i < 20 else None)

    def test_fds_released(self):
        c = self.open()
        c.persist(url(1), b"x")
        before = open_fds()
        if before is None:
            self.skipTest("no /proc/self/fd")
        for _ in range(300):
            t = c.begin_retrieve(url(1))
            t.fileno()
            t.result()
            t2 = c.begin_retrieve(url(2))
            t2.fileno()
            t2.close()
        # Each token's eventfd is closed when the library lets go of the operation, which may
        # be a moment after the end (a worker may still hold a queued reference).
        settled = wait_until(lambda: open_fds() <= before + 2, timeout=10)
        self.assertTrue(settled, "fds: %d before, %d after" % (before, open_fds()))


class TestCallbacks(CacheTest):
    def test_callback_runs_once_on_a_library_thread(self):
        c = self.open()
        c.persist(url(1), b"cb hit", "c/t")
        calls = []
        done = threading.Event()
        lock = threading.Lock()
        n = 30

        def cb(token):
            with lock:
                calls.append((token, threading.get_ident(), token.done(), token.result()))
                if len(calls) == 2 * n:
                    done.set()

        toks = []
        for _ in range(n):
            toks.append(c.begin_retrieve(url(1), callback=cb))
            toks.append(c.begin_retrieve(url(2), callback=cb))  # a synchronous miss
        self.assertTrue(done.wait(10), "callbacks: %d of %d" % (len(calls), 2 * n))
        time.sleep(0.05)
        self.assertEqual(len(calls), 2 * n, "exactly once each")
        self.assertEqual({id(t) for t, *_ in calls}, {id(t) for t in toks})
        main = threading.get_ident()
        for token, ident, was_done, res in calls:
            self.assertNotEqual(ident, main)
            self.assertTrue(was_done)
            if token.url == url(1):
                self.assertEqual((res, res.content_type), (b"cb hit", "c/t"))
            else:
                self.assertIsNone(res)
            self.assertIs(token.result(), res)  # the callback ended it; same outcome here

    def test_persist_callback_and_error_in_result(self):
        c = self.open()
        seen = []
        done = threading.Event()

        def cb(token):
            try:
                token.result()
                seen.append("ok")
            except smoothcache.QuotaExceeded as e:
                seen.append(e.status_name)
            if len(seen) == 2:
                done.set()

        c.begin_persist(url(1), b"small", callback=cb)
        c.begin_persist(url(2), bytes(2 * MiB), callback=cb)
        self.assertTrue(done.wait(10))
        self.assertEqual(sorted(seen), ["SSC_ERR_QUOTA_EXCEEDED", "ok"])

    def test_callback_with_token_dropped(self):
        # The caller keeps no reference: the token (and the ctypes callback) stay alive until
        # the callback has run.
        c = self.open()
        c.persist(url(1), b"dropped")
        got = []
        done = threading.Event()

        def cb(token):
            got.append(token.result())
            done.set()

        c.begin_retrieve(url(1), callback=cb)
        gc.collect()
        self.assertTrue(done.wait(10))
        self.assertEqual(got, [b"dropped"])

    def test_callback_racing_result_on_caller(self):
        c = self.open()
        c.persist(url(1), b"race")
        for _ in range(50):
            got = []
            done = threading.Event()

            def cb(token):
                got.append(token.result())
                done.set()

            t = c.begin_retrieve(url(1), callback=cb)
            mine = t.result()
            self.assertTrue(done.wait(10))
            self.assertIs(got[0], mine)

    def test_callback_exception_is_reported_not_fatal(self):
        c = self.open()
        hook_args = []
        done = threading.Event()
        old = sys.unraisablehook

        def hook(args):
            hook_args.append(args.exc_type)
            done.set()

        sys.unraisablehook = hook
        self.addCleanup(setattr, sys, "unraisablehook", old)

        def cb(token):
            raise RuntimeError("boom in callback")

        t = c.begin_retrieve(url(1), callback=cb)
        self.assertTrue(done.wait(10))
        self.assertEqual(hook_args, [RuntimeError])
        self.assertIsNone(t.result())
        self.assertTrue(wait_until(lambda: not smoothcache._pending))
        # the library still works and calls back afterwards
        ok = threading.Event()
        c.begin_retrieve(url(2), callback=lambda tok: ok.set())
        self.assertTrue(ok.wait(10))

    def test_no_callback_for_unusable_arguments(self):
        c = self.open()
        called = []
        with self.assertRaises(smoothcache.InvalidArgument):
            c.begin_retrieve("ftp://x/", callback=called.append)
        with self.assertRaises(TypeError):
            c.begin_retrieve(url(1), callback="not callable")
        time.sleep(0.05)
        self.assertEqual(called, [])
        self.assertEqual(smoothcache._pending, {})

    def test_begin_from_inside_a_callback(self):
        # The APM chain: on completion of one request, start the next one from the callback.
        # Run in a child process: if begin_* never returns there, the test fails instead of
        # hanging the suite. (Fails with libsmoothcache 0.1.0 for every case but the hit: a
        # begin_* whose operation completes at once runs its callback inline, on the library
        # thread, and waits for the token it has not yet returned.)
        script = textwrap.dedent("""
            import os, sys, tempfile, threading
            sys.path.insert(0, %r)
            import smoothcache
            c = smoothcache.Cache(tempfile.mkdtemp())
            c.persist("http://o.test/hit", b"h")
            mode = sys.argv[1]
            done = threading.Event()
            out = []
            def second(t):
                try:
                    out.append(t.result())
                except smoothcache.Error as e:
                    out.append(e.status_name)
                done.set()
            def first(t):
                t.result()
                if mode == "hit":
                    c.begin_retrieve("http://o.test/hit", callback=second)
                elif mode == "miss":
                    c.begin_retrieve("http://o.test/a-miss", callback=second)
                elif mode == "persist-quota":
                    c.begin_persist("http://o.test/big", bytes(2 << 20), callback=second)
                elif mode == "persist-process":
                    c.set_durability("process")
                    c.begin_persist("http://o.test/p", b"p", callback=second)
                out.append("begun")
            c.begin_retrieve("http://o.test/first", callback=first)
            ok = done.wait(5)
            print("ok %%r" %% out if ok else "begin_* inside a callback did not return", flush=True)
            os._exit(0 if ok else 1)
        """ % os.path.dirname(os.path.dirname(os.path.abspath(smoothcache.__file__))))
        for mode in ("hit", "miss", "persist-quota", "persist-process"):
            with self.subTest(mode=mode):
                r = subprocess.run([sys.executable, "-c", script, mode], capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).strip())


    def test_exit_with_callbacks_due(self):
        # The interpreter exits while callbacks are still due: they run first (atexit), and
        # nothing crashes or hangs.
        script = textwrap.dedent("""
            import sys, tempfile
            sys.path.insert(0, %r)
            import smoothcache
            c = smoothcache.Cache(tempfile.mkdtemp(), 64 << 20)
            calls = []
            for i in range(200):
                c.begin_persist("http://o.test/%%d" %% i, b"x" * 10000, callback=calls.append)
                c.begin_retrieve("http://o.test/%%d" %% i, callback=calls.append)
            print("bye", flush=True)
        """ % os.path.dirname(os.path.dirname(os.path.abspath(smoothcache.__file__))))
        for _ in range(3):
            r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual((r.returncode, r.stdout.strip(), r.stderr.strip()), (0, "bye", ""))


class TestAbandon(CacheTest):
    def test_abandoned_persist_still_lands(self):
        c = self.open()
        body = os.urandom(200000)
        t = c.begin_persist(url(1), body, "a/b")
        t.close()  # ssc_token_free before the end
        got = wait_until(lambda: c.retrieve(url(1)), timeout=10)
        self.assertEqual(got, body)
        self.assertEqual(got.content_type, "a/b")

    def test_garbage_collected_tokens_abandon(self):
        c = self.open(quota=8 * MiB)
        for i in range(50):
            c.begin_persist(url(i), b"gc %d" % i)  # dropped at once: __del__ frees it
        c.begin_retrieve(url(0))
        gc.collect()
        for i in range(50):
            self.assertEqual(wait_until(lambda: c.retrieve(url(i)), timeout=10), b"gc %d" % i)

    def test_abandon_with_callback_still_calls_back(self):
        c = self.open()
        called = threading.Event()
        t = c.begin_persist(url(1), b"cb", callback=lambda tok: called.set())
        t.close()
        self.assertTrue(called.wait(10))
        self.assertEqual(wait_until(lambda: c.retrieve(url(1))), b"cb")


if __name__ == "__main__":
    unittest.main()
