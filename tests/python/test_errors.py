"""Every exception class, each raised by a real condition where one can be provoked."""

import os
import pickle
import unittest

from support import MiB, CacheTest, entry_files, fixture, smoothcache, url

S = smoothcache.Status


class TestErrors(CacheTest):
    def test_quota_exceeded(self):
        c = self.open()  # a new cache: 1 MiB
        self.assertEqual(c.stats().quota_bytes, MiB)
        with self.assertRaises(smoothcache.QuotaExceeded) as cm:
            c.persist(url(1), bytes(2 * MiB))
        self.assertError(smoothcache.QuotaExceeded, S.ERR_QUOTA_EXCEEDED, cm.exception)
        self.assertIsNone(c.retrieve(url(1)))  # nothing stored
        self.assertEqual(c.stats().entries, 0)
        self.assertEqual(c.stats().used_bytes, 0)

    def test_quota_exceeded_from_token(self):
        c = self.open()
        t = c.begin_persist(url(1), bytes(2 * MiB))  # begin accepts; end reports
        with self.assertRaises(smoothcache.QuotaExceeded):
            t.result()

    def test_malformed_fragment(self):
        c = self.open()
        u = "http://origin.test/pres.ism/QualityLevels(1)/Fragments(video=0)"
        with self.assertRaises(smoothcache.Malformed) as cm:
            c.persist(u, b"garbage, not a moof" * 10, "video/mp4")
        self.assertError(smoothcache.Malformed, S.ERR_MALFORMED, cm.exception)
        self.assertIsNone(c.retrieve(u))
        # the same bytes under an opaque URL are fine
        c.persist(url(1), b"garbage, not a moof" * 10)

    def test_malformed_manifest_and_wrong_time(self):
        c = self.open()
        with self.assertRaises(smoothcache.Malformed):
            c.persist("http://origin.test/pres.ism/Manifest", b"<html>not a manifest</html>")
        # a real fragment under the wrong time (its tfxd says 0)
        with self.assertRaises(smoothcache.Malformed):
            c.persist("http://o.test/f.ism/QualityLevels(100000)/Fragments(video=5)",
                      fixture("QualityLevels(100000)/Fragments(video=0)"))
        self.assertEqual(c.stats().rejected, 2)

    def test_invalid_argument_url(self):
        c = self.open()
        for bad in ("ftp://origin.test/x", "not a url", "file:///etc/passwd", ""):
            with self.assertRaises(smoothcache.InvalidArgument) as cm:
                c.retrieve(bad)
            self.assertError(smoothcache.InvalidArgument, S.ERR_INVALID_ARGUMENT, cm.exception)
            self.assertIsInstance(cm.exception, ValueError)
            with self.assertRaises(smoothcache.InvalidArgument):
                c.persist(bad, b"x")
        self.assertIn("ftp://origin.test/x", _msg(lambda: c.begin_retrieve("ftp://origin.test/x")))

    def test_invalid_argument_utf8_and_content_type(self):
        c = self.open()
        with self.assertRaises(smoothcache.InvalidArgument):
            c.retrieve(b"http://origin.test/\xff\xfe")
        with self.assertRaises(smoothcache.InvalidArgument):
            c.persist(url(1), b"x", "text/plain\r\nX-Injected: 1")

    def test_invalid_argument_settings(self):
        c = self.open(quota=2 * MiB)
        with self.assertRaises(smoothcache.InvalidArgument) as cm:
            c.increase_quota(MiB)  # smaller
        self.assertError(smoothcache.InvalidArgument, S.ERR_INVALID_ARGUMENT, cm.exception)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.set_durability(7)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.set_eviction(-3)
        with self.assertRaises(smoothcache.InvalidArgument):
            c.close_media("http://o.test/never.ism/Manifest")  # closed more than opened
        with self.assertRaises(ValueError):  # refused in Python, before the library
            c.set_durability("fast")
        with self.assertRaises(ValueError):
            c.set_eviction("fifo")

    def test_corrupt(self):
        c = self.open()
        body = os.urandom(5000)
        c.persist(url("victim"), body, "x/y")
        c.persist(url("bystander"), b"fine")
        files = entry_files(self.dir)
        self.assertEqual(len(files), 2, files)
        victim = [f for f in files if _file_tail(f) == body[-16:]]
        self.assertEqual(len(victim), 1)
        with open(victim[0], "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 0x01]))
        with self.assertRaises(smoothcache.Corrupt) as cm:
            c.retrieve(url("victim"))
        self.assertError(smoothcache.Corrupt, S.ERR_CORRUPT, cm.exception)
        # dropped, never a hit with wrong bytes
        self.assertIsNone(c.retrieve(url("victim")))
        self.assertEqual(c.retrieve(url("bystander")), b"fine")
        s = c.stats()
        self.assertEqual((s.corrupt, s.entries), (1, 1))
        self.assertEqual(len(entry_files(self.dir)), 1)

    def test_storage_error(self):
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w") as f:
            f.write("not a directory")
        with self.assertRaises(smoothcache.StorageError) as cm:
            smoothcache.Cache(os.path.join(blocker, "cache"))
        self.assertError(smoothcache.StorageError, S.ERR_IO, cm.exception)

    @unittest.skip("SSC_ERR_LOCKED needs another process holding the directory in a mode that "
                   "forbids sharing for more than 10 s; not provoked here (the class mapping is "
                   "checked in test_class_per_status)")
    def test_locked(self):
        pass

    def test_class_per_status(self):
        # Cancelled, NetworkError, InternalError (and Locked) cannot be provoked through the
        # four calls; check the mapping and the attributes with the library's own names.
        want = {
            S.ERR_INVALID_ARGUMENT: smoothcache.InvalidArgument,
            S.ERR_QUOTA_EXCEEDED: smoothcache.QuotaExceeded,
            S.ERR_MALFORMED: smoothcache.Malformed,
            S.ERR_IO: smoothcache.StorageError,
            S.ERR_LOCKED: smoothcache.Locked,
            S.ERR_CORRUPT: smoothcache.Corrupt,
            S.ERR_CANCELLED: smoothcache.Cancelled,
            S.ERR_NETWORK: smoothcache.NetworkError,
            S.ERR_INTERNAL: smoothcache.InternalError,
        }
        self.assertEqual(smoothcache._ERRORS, want)
        for status, cls in want.items():
            self.assertTrue(issubclass(cls, smoothcache.Error))
            e = cls(int(status), smoothcache.status_name(status), "%s: test" % smoothcache.status_name(status))
            e2 = pickle.loads(pickle.dumps(e))
            self.assertIs(type(e2), cls)
            self.assertEqual((e2.status, e2.status_name, e2.message), (e.status, e.status_name, e.message))

    def test_message_is_this_threads(self):
        # The message belongs to the failing call, not an earlier one.
        c = self.open()
        with self.assertRaises(smoothcache.InvalidArgument) as a:
            c.retrieve("ftp://first.test/")
        with self.assertRaises(smoothcache.QuotaExceeded) as b:
            c.persist(url(1), bytes(2 * MiB))
        self.assertIn("first.test", a.exception.message)
        self.assertNotIn("first.test", b.exception.message)


def _msg(call):
    try:
        call()
    except smoothcache.Error as e:
        return e.message
    raise AssertionError("no error")


def _file_tail(path):
    with open(path, "rb") as f:
        f.seek(-16, os.SEEK_END)
        return f.read()
