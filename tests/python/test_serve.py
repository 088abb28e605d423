"""The loopback HTTP server from Python (Cache.serve / Server), read with urllib.request: by
local URL and as a forward proxy (ProxyHandler), 404, HEAD, Range, ETag, the options, errors,
stopping. The presentation tests use the FFmpeg-made sample served by scripts/origin.py."""

import http.client
import os
import re
import socket
import time
import unittest
import urllib.error
import urllib.request
from unittest import mock

from support import MiB, CacheTest, Origin, sample_fragments, sample_problem, smoothcache

S = smoothcache

# A player's environment may name a proxy, or exempt 127.0.0.1 from one: neither applies here.
_NO_PROXY_ENV = {k: "" for k in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")}


def direct():
    """An opener that connects to the URL's host itself (no proxy from the environment)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def via(server):
    """An opener that sends every http:// request to `server` as a forward proxy."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://" + server.address}))


def fetch(opener, url, method="GET", headers=None):
    """(status, headers, body) of one request; an HTTP error status is answered, not raised."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


class ServeTest(CacheTest):
    def setUp(self):
        super().setUp()
        patcher = mock.patch.dict(os.environ, _NO_PROXY_ENV)
        patcher.start()
        self.addCleanup(patcher.stop)

    def serve(self, cache, *args, **kwargs):
        s = cache.serve(*args, **kwargs)
        self.addCleanup(s.stop)
        return s


class TestServeEntries(ServeTest):
    """Entries persisted directly (no origin needed)."""

    URL = "http://origin.test/v.ism/notes.txt"
    LOCAL_PATH = "/http/origin.test/v.ism/notes.txt"
    BODY = b"hello, world"

    def setUp(self):
        super().setUp()
        self.cache = self.open()
        self.cache.persist(self.URL, self.BODY, "text/plain")

    def test_local_path_and_proxy_serve_the_stored_bytes(self):
        with self.cache.serve() as s:
            self.assertIsInstance(s, S.Server)
            self.assertRegex(s.address, r"^127\.0\.0\.1:\d+$")
            self.assertNotEqual(s.address, "127.0.0.1:0")
            self.assertIn(s.address, repr(s))
            st, h, body = fetch(direct(), "http://%s%s" % (s.address, self.LOCAL_PATH))
            self.assertEqual((st, body), (200, self.BODY))
            self.assertEqual(h["Content-Type"], "text/plain")
            self.assertEqual(h["Content-Length"], str(len(self.BODY)))
            # Through the proxy, with the original URL (origin.test never resolved).
            st, h2, body = fetch(via(s), self.URL)
            self.assertEqual((st, body), (200, self.BODY))
            self.assertEqual(h2["ETag"], h["ETag"])
        self.assertTrue(s.stopped)

    def test_missing_is_404_both_ways(self):
        s = self.serve(self.cache)
        st, _, body = fetch(via(s), "http://origin.test/v.ism/other.txt")
        self.assertEqual(st, 404)
        st, _, _ = fetch(direct(), "http://%s/http/origin.test/v.ism/other.txt" % s.address)
        self.assertEqual(st, 404)
        # Nothing outside the store: a path is never a file.
        for bad in ("/", "/etc/passwd", "/http/../../etc/passwd", "/file/etc/passwd"):
            st, _, body = fetch(direct(), "http://%s%s" % (s.address, bad))
            self.assertIn(st, (400, 404), bad)
            self.assertNotIn(b"root:", body)

    def test_head_range_etag_and_methods(self):
        s = self.serve(self.cache)
        st, h, body = fetch(via(s), self.URL, method="HEAD")
        self.assertEqual((st, body), (200, b""))
        self.assertEqual(h["Content-Length"], str(len(self.BODY)))
        self.assertEqual(h["Accept-Ranges"], "bytes")
        etag = h["ETag"]
        self.assertTrue(etag)
        st, h, body = fetch(via(s), self.URL, headers={"Range": "bytes=7-"})
        self.assertEqual((st, body), (206, b"world"))
        self.assertEqual(h["Content-Range"], "bytes 7-11/12")
        st, _, body = fetch(via(s), self.URL, headers={"Range": "bytes=0-4"})
        self.assertEqual((st, body), (206, b"hello"))
        st, _, body = fetch(via(s), self.URL, headers={"Range": "bytes=-5"})
        self.assertEqual((st, body), (206, b"world"))
        st, h, _ = fetch(via(s), self.URL, headers={"Range": "bytes=12-"})
        self.assertEqual(st, 416)
        self.assertEqual(h["Content-Range"], "bytes */12")
        st, _, body = fetch(via(s), self.URL, headers={"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        st, h, _ = fetch(via(s), self.URL, method="DELETE")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "GET, HEAD")
        self.assertEqual(self.cache.retrieve(self.URL), self.BODY, "still stored")

    def test_local_url(self):
        s = self.serve(self.cache)
        u = s.local_url("http://Origin.test:8080/a/v.ism/Manifest?token=1#frag")
        self.assertIsInstance(u, str)
        self.assertEqual(u, "http://%s/http/Origin.test:8080/a/v.ism/Manifest?token=1" % s.address)
        self.assertEqual(s.local_url(b"https://cdn.test/v.ism/Manifest"),
                         "http://%s/https/cdn.test/v.ism/Manifest" % s.address)
        for bad in ("http://origin.test/v.ism/notes.txt", "ftp://h/v.ism/Manifest", "nonsense"):
            with self.assertRaises(S.InvalidArgument) as cm:
                s.local_url(bad)
            self.assertError(S.InvalidArgument, S.Status.ERR_INVALID_ARGUMENT, cm.exception)
        with self.assertRaises(TypeError):
            s.local_url(None)
        with self.assertRaises(ValueError):
            s.local_url("http://h/v.ism/Manifest\0")

    def test_stop_is_idempotent_and_prompt(self):
        s = self.cache.serve()
        addr = s.address
        idle = socket.create_connection(addr.rsplit(":", 1))
        self.addCleanup(idle.close)
        t = time.monotonic()
        s.stop()
        self.assertLess(time.monotonic() - t, 3)
        s.stop()
        self.assertTrue(s.stopped)
        self.assertIn("stopped", repr(s))
        self.assertEqual(s.address, addr, "still readable")
        with self.assertRaises(ValueError):
            s.local_url("http://h/v.ism/Manifest")
        with self.assertRaises(OSError):
            socket.create_connection(addr.rsplit(":", 1), timeout=2).close()

    def test_garbage_collection_stops_it(self):
        addr = self.cache.serve().address  # the Server is dropped at once
        with self.assertRaises(OSError):
            socket.create_connection(addr.rsplit(":", 1), timeout=2).close()

    def test_it_outlives_the_cache_handle(self):
        s = self.serve(self.cache)
        self.cache.close()
        st, _, body = fetch(via(s), self.URL)
        self.assertEqual((st, body), (200, self.BODY))
        with self.assertRaises(ValueError):
            self.cache.serve()

    def test_listen_address_and_errors(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        s = self.serve(self.cache, "127.0.0.1:%d" % port)
        self.assertEqual(s.address, "127.0.0.1:%d" % port)
        with self.assertRaises(S.StorageError) as cm:
            self.cache.serve("127.0.0.1:%d" % port)  # in use
        self.assertError(S.StorageError, S.Status.ERR_IO, cm.exception)
        for bad in ("localhost:80", "127.0.0.1", ""):
            with self.assertRaises(S.InvalidArgument, msg=bad):
                self.cache.serve(bad)
        with self.assertRaises(S.InvalidArgument):
            self.cache.serve(max_connections=0)
        with self.assertRaises(S.InvalidArgument):
            self.cache.serve(max_requests_per_connection=0)
        with self.assertRaises(S.InvalidArgument):
            self.cache.serve(header_timeout=0)
        with self.assertRaises(ValueError):
            self.cache.serve(max_connections=-1)
        with self.assertRaises(ValueError):
            self.cache.serve(max_connections=1 << 32)
        with self.assertRaises(ValueError):
            self.cache.serve(header_timeout=-1)
        with self.assertRaises(TypeError):
            self.cache.serve(max_connections="8")
        with self.assertRaises(TypeError):
            self.cache.serve(0)
        with self.assertRaises(TypeError):
            self.cache.serve(None, True)  # the options are keywords

    def test_limits_are_passed_on(self):
        s = self.serve(self.cache, max_requests_per_connection=2, header_timeout=0.3, max_connections=1)
        host, port = s.address.rsplit(":", 1)
        # Keep-alive: the second request on a connection is its last.
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self.addCleanup(conn.close)
        for i in range(2):
            conn.request("GET", self.LOCAL_PATH)
            r = conn.getresponse()
            self.assertEqual(r.read(), self.BODY)
            self.assertEqual(r.getheader("Connection"), None if i == 0 else "close")
        conn.close()
        # A client that never finishes its headers holds the only slot until the header timeout:
        # meanwhile another connection is refused; after it, served again.
        slow = socket.create_connection((host, int(port)))
        self.addCleanup(slow.close)
        slow.sendall(b"GET " + self.LOCAL_PATH.encode() + b" HTTP/1.1\r\n")
        time.sleep(0.1)
        with socket.create_connection((host, int(port)), timeout=5) as other:
            try:
                other.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(other.recv(64), b"", "refused over the limit")
            except ConnectionResetError:
                pass
        slow.settimeout(5)
        try:
            self.assertNotIn(b"200 OK", slow.recv(4096), "closed by the header timeout")
        except ConnectionResetError:
            pass
        deadline = time.monotonic() + 5
        while True:
            st, _, body = fetch(direct(), "http://%s%s" % (s.address, self.LOCAL_PATH))
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual((st, body), (200, self.BODY))


class SampleServeTest(ServeTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = sample_problem()
        if why:
            raise unittest.SkipTest(why)
        cls.fragments = sample_fragments()

    def origin(self):
        o = Origin(self.tmp)
        self.addCleanup(o.stop)
        return o


class TestServePresentation(SampleServeTest):
    def test_a_downloaded_presentation_offline_by_local_url_and_by_proxy(self):
        origin = self.origin()
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        c.download(origin.manifest_url, quality="lowest").result()
        origin.stop()  # offline from here on
        lowest = min(f.bitrate for f in self.fragments if f.type == "video")
        highest = max(f.bitrate for f in self.fragments if f.type == "video")
        with c.serve() as s:
            local = s.local_url(origin.manifest_url)
            self.assertTrue(local.startswith("http://%s/http/127.0.0.1:" % s.address), local)
            self.assertTrue(local.endswith("/sample.ism/Manifest"), local)
            # The manifest lists only the stored video level (and the audio), both ways.
            for opener, url in ((direct(), local), (via(s), origin.manifest_url)):
                st, _, body = fetch(opener, url)
                self.assertEqual(st, 200)
                self.assertIn(b'Bitrate="%d"' % lowest, body)
                self.assertNotIn(b'Bitrate="%d"' % highest, body)
            stored = [f for f in self.fragments if f.type == "audio" or f.bitrate == lowest]
            for f in stored[::9]:
                want = f.data()
                st, h, body = fetch(direct(), local.replace("Manifest", f.rel))
                self.assertEqual(st, 200, f.rel)
                self.assertTrue(body == want, f.rel)
                self.assertEqual(h["Content-Type"], "%s/mp4" % f.type)
                st, _, body = fetch(via(s), origin.url(f.rel))
                self.assertEqual(st, 200, f.rel)
                self.assertTrue(body == want, f.rel)
            absent = next(f for f in self.fragments if f.bitrate == highest)
            self.assertEqual(fetch(direct(), local.replace("Manifest", absent.rel))[0], 404)
            self.assertEqual(fetch(via(s), origin.url(absent.rel))[0], 404)
            f = stored[0]
            st, h, body = fetch(via(s), origin.url(f.rel), headers={"Range": "bytes=8-15"})
            self.assertEqual((st, body), (206, f.data()[8:16]))
            st, h, body = fetch(direct(), local.replace("Manifest", f.rel), method="HEAD")
            self.assertEqual((st, body, h["Content-Length"]), (200, b"", str(len(f.data()))))

    def test_fetch_through_stores_what_it_serves(self):
        origin = self.origin()
        c = self.open(quota=64 * MiB)
        c.set_durability("process")
        f = self.fragments[1]
        url = origin.url(f.rel)
        self.assertIsNone(c.retrieve(url))
        with c.serve(fetch_through=True) as s:
            mark = origin.mark()
            st, _, body = fetch(via(s), url)
            self.assertEqual((st, body), (200, f.data()))
            self.assertEqual(origin.fragment_requests(mark), ["/sample.ism/" + f.rel])
            st, _, body = fetch(direct(), s.local_url(origin.manifest_url).replace("Manifest", f.rel))
            self.assertEqual((st, body), (200, f.data()))
            self.assertEqual(len(origin.fragment_requests(mark)), 1, "the second from the store")
            st, _, _ = fetch(via(s), origin.url("QualityLevels(1)/Fragments(video=0)"))
            self.assertEqual(st, 404, "the origin's 404 is passed on")
        self.assertEqual(c.retrieve(url), f.data())
        # Without fetch-through, what is not stored is a 404 and the origin is not asked.
        with c.serve() as s:
            mark = origin.mark()
            other = self.fragments[2]
            self.assertEqual(fetch(via(s), origin.url(other.rel))[0], 404)
            self.assertEqual(origin.requests(mark), [])


if __name__ == "__main__":
    unittest.main()
