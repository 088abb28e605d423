#!/usr/bin/env python3
"""python_demo.py — the C harness's player loop (examples/harness.c) in Python.

Asks the cache about every request a Smooth Streaming player would make — the client
manifest, then every fragment of the first video and first audio quality level, in time
order — uses the bytes on a hit, and on a miss downloads from the origin with urllib and
persists what it got with the origin's Content-Type. Offline, every answer comes from the
cache and the network is never touched.

usage: python_demo.py [--offline] [--async|--poll] [--cache DIR] [--quota BYTES]
                      [--video-level N] [--audio-level N] MANIFEST_URL

  --offline        no network at all: a miss is reported as "miss (offline)"
  --async, --poll  fragments through retrieve_async/persist_async on an asyncio loop (the
                   tokens' fds in the loop), up to 4 in flight; downloads run in the loop's
                   default executor
  --video-level N / --audio-level N   the N-th QualityLevel as listed (default 0)
  --cache DIR      cache directory (default ./python-demo-cache)
  --quota BYTES    quota given to Cache() (default 0: the stored quota, 1 MiB for a new cache)

One line per request (hit / miss+persisted / miss+rejected STATUS: message / miss (offline) /
miss+failed (why)), then
  summary: requests=N hits=H misses=M persisted=P rejected=R failed=F bytes=B
  cache: used=U quota=Q entries=E
Exit status 0 when every request was answered (a hit or a persisted download), 1 otherwise,
2 on a usage error.

It takes the C harness's options, so scripts/demo.sh can drive it:
  HARNESS=examples/python_demo.py scripts/demo.sh

Try it by hand (from the repository root, after `make lib`):
  scripts/make-sample.sh target/sample/sample.ism
  python3 scripts/origin.py target/sample > /tmp/port & sleep 1
  python3 examples/python_demo.py --cache /tmp/pc --quota 4000000 \\
      http://127.0.0.1:$(head -n1 /tmp/port)/sample.ism/Manifest
  kill %1
  python3 examples/python_demo.py --offline --cache /tmp/pc http://127.0.0.1:PORT/sample.ism/Manifest
"""

import argparse
import asyncio
import os
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from fractions import Fraction

try:
    import smoothcache
except ImportError:  # run from a source checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
    import smoothcache

MAX_FRAGMENTS = 1000000
WINDOW = 4
DEFAULT_TIMESCALE = 10000000


class ManifestError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# a minimal client-manifest reader ([MS-SSTR] 2.2.2)


def _uint(value, what):
    if value is None or not value.isdigit():
        raise ManifestError("%s is not a non-negative integer: %r" % (what, value))
    return int(value)


def expand_timeline(kind, chunks):
    """Start times of the <c> elements: the first t defaults to 0, a missing t is the previous
    t + d*r, r is one-based (default 1), a missing d comes from the next element's t."""
    times = []
    t = None
    for i, c in enumerate(chunks):
        ct, cd, cr = c.get("t"), c.get("d"), c.get("r")
        if ct is None and cd is None:
            raise ManifestError("%s: c[%d] has neither t nor d" % (kind, i))
        if ct is not None:
            nt = _uint(ct, "%s c[%d] t" % (kind, i))
            if times and nt < times[-1]:
                raise ManifestError("%s: c[%d] t goes backwards" % (kind, i))
            t = nt
        elif t is None:
            t = 0
        if cd is not None:
            d = _uint(cd, "%s c[%d] d" % (kind, i))
        else:
            nxt = chunks[i + 1].get("t") if i + 1 < len(chunks) else None
            if nxt is None or _uint(nxt, "%s c[%d] t" % (kind, i + 1)) < t:
                raise ManifestError("%s: c[%d] has no d and no later t" % (kind, i))
            d = int(nxt) - t
        r = 1 if cr is None else _uint(cr, "%s c[%d] r" % (kind, i))
        if r == 0 or (r > 1 and cd is None):
            raise ManifestError("%s: c[%d] has a bad r" % (kind, i))
        if len(times) + r > MAX_FRAGMENTS:
            raise ManifestError("%s: more than %d fragments" % (kind, MAX_FRAGMENTS))
        for _ in range(r):
            times.append(t)
            t += d
    return times


def parse_manifest(data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ManifestError("not XML: %s" % e) from None
    if root.tag != "SmoothStreamingMedia":
        raise ManifestError("root element is <%s>, not <SmoothStreamingMedia>" % root.tag)
    timescale = _uint(root.get("TimeScale", str(DEFAULT_TIMESCALE)), "TimeScale")
    streams = []
    for si in root.findall("StreamIndex"):
        kind = si.get("Type")
        if not kind:
            raise ManifestError("<StreamIndex> without Type")
        bitrates = [_uint(q.get("Bitrate"), "%s QualityLevel Bitrate" % kind)
                    for q in si.findall("QualityLevel")]
        streams.append({
            "type": kind,
            "url": si.get("Url"),
            "timescale": _uint(si.get("TimeScale", str(timescale)), "%s TimeScale" % kind) or timescale,
            "bitrates": bitrates,
            "times": expand_timeline(kind, si.findall("c")),
        })
    return streams


def fragment_url(base, template, bitrate, t):
    for k in ("{bitrate}", "{Bitrate}"):
        template = template.replace(k, str(bitrate))
    for k in ("{start time}", "{start_time}"):
        template = template.replace(k, str(t))
    return base + template


def build_requests(streams, manifest_url, levels):
    """Fragment URLs of the chosen levels of the first video and first audio stream, merged in
    presentation-time order."""
    i = manifest_url.lower().rfind("/manifest")
    base = manifest_url[: i + 1] if i >= 0 else manifest_url[: manifest_url.rfind("/") + 1]
    if not base:
        raise ManifestError("cannot resolve fragment URLs against %s" % manifest_url)
    reqs = []
    found = False
    for kind in ("video", "audio"):
        s = next((s for s in streams if s["type"] == kind), None)
        if s is None:
            continue  # audio-only or video-only is fine
        found = True
        if not s["url"]:
            raise ManifestError("%s StreamIndex has no Url template" % kind)
        level = levels[kind]
        if level >= len(s["bitrates"]):
            raise ManifestError("--%s-level %d: the %s stream has %d QualityLevel(s)"
                                % (kind, level, kind, len(s["bitrates"])))
        for t in s["times"]:
            reqs.append((Fraction(t, s["timescale"]), 0 if kind == "video" else 1,
                         fragment_url(base, s["url"], s["bitrates"][level], t)))
    if not found:
        raise ManifestError("the manifest has no video or audio StreamIndex")
    reqs.sort()
    return [u for _, _, u in reqs]


# --------------------------------------------------------------------------------------------
# the player


def download(url):
    """(body, content type or None); raises OSError with a message on failure."""
    req = urllib.request.Request(url, headers={"User-Agent": "smoothcache-python-demo/1"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read(), resp.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        raise OSError("download failed: HTTP %d" % e.code) from None
    except (urllib.error.URLError, OSError) as e:
        raise OSError("download failed: %s" % getattr(e, "reason", e)) from None


def describe(err):
    """STATUS_NAME: message (the library's message already starts with the name)."""
    msg = err.message
    if msg.startswith(err.status_name + ": "):
        msg = msg[len(err.status_name) + 2:]
    return "%s: %s" % (err.status_name, msg)


class Player:
    """Counts and reports requests; the same decisions for the blocking and asyncio paths."""

    def __init__(self, cache, offline):
        self.cache = cache
        self.offline = offline
        self.requests = self.hits = self.misses = 0
        self.persisted = self.rejected = self.failed = self.bytes = 0

    def report(self, url, what):
        self.requests += 1
        print("[%3d] %s -> %s" % (self.requests, url, what), flush=True)

    def on_retrieved(self, url, body, error=None):
        """After a retrieve. True when the request is a miss that needs the origin."""
        if error is not None:  # a corrupt entry, I/O: the player treats it as a miss
            print("python_demo: retrieve of %s: %s (treated as a miss)" % (url, describe(error)),
                  file=sys.stderr)
        if body is not None:
            self.hits += 1
            self.bytes += len(body)
            self.report(url, "hit (%d bytes, %s)" % (len(body), body.content_type or "no content type"))
            return False
        self.misses += 1
        if self.offline:
            self.report(url, "miss (offline)")
            return False
        return True

    def on_downloaded(self, url, body, error=None):
        """After a download. True when there is something to persist."""
        if error is not None:
            self.failed += 1
            self.report(url, "miss+failed (%s)" % error)
            return False
        self.bytes += len(body)  # the player has the bytes, whatever the cache does
        return True

    def on_persisted(self, url, n, error=None):
        if error is not None:
            self.rejected += 1
            self.report(url, "miss+rejected %s" % describe(error))
        else:
            self.persisted += 1
            self.report(url, "miss+persisted (%d bytes)" % n)

    # The Silverlight pattern, blocking: End* waits for completion.
    def request(self, url):
        body = error = None
        try:
            body = self.cache.retrieve(url)
        except smoothcache.Error as e:
            error = e
        if not self.on_retrieved(url, body, error):
            return body
        try:
            body, ctype = download(url)
        except OSError as e:
            self.on_downloaded(url, None, e)
            return None
        self.on_downloaded(url, body)
        try:
            self.cache.persist(url, body, ctype)
        except smoothcache.Error as e:
            self.on_persisted(url, len(body), e)
        else:
            self.on_persisted(url, len(body))
        return body

    # --async: the coroutine forms (token fds in the event loop); downloads in the executor.
    async def request_async(self, url):
        body = error = None
        try:
            body = await self.cache.retrieve_async(url)
        except smoothcache.Error as e:
            error = e
        if not self.on_retrieved(url, body, error):
            return body
        try:
            body, ctype = await asyncio.get_running_loop().run_in_executor(None, download, url)
        except OSError as e:
            self.on_downloaded(url, None, e)
            return None
        self.on_downloaded(url, body)
        try:
            await self.cache.persist_async(url, body, ctype)
        except smoothcache.Error as e:
            self.on_persisted(url, len(body), e)
        else:
            self.on_persisted(url, len(body))
        return body

    async def run_async(self, urls):
        sem = asyncio.Semaphore(WINDOW)

        async def one(u):
            async with sem:
                await self.request_async(u)

        await asyncio.gather(*(one(u) for u in urls))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Play a Smooth Streaming presentation through smoothcache.")
    ap.add_argument("manifest_url")
    ap.add_argument("--offline", action="store_true", help="never touch the network")
    ap.add_argument("--async", "--poll", dest="use_async", action="store_true",
                    help="fragments through retrieve_async/persist_async, up to 4 in flight "
                         "(--poll: the C harness's name for its fd-polling mode)")
    ap.add_argument("--cache", default="python-demo-cache", help="cache directory")
    ap.add_argument("--quota", type=int, default=0, help="quota in bytes (0: stored / 1 MiB)")
    ap.add_argument("--video-level", type=int, default=0)
    ap.add_argument("--audio-level", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quota < 0 or args.video_level < 0 or args.audio_level < 0:
        ap.error("--quota and the levels must be non-negative")

    try:
        cache = smoothcache.Cache(args.cache, args.quota)
    except smoothcache.Error as e:
        print("python_demo: Cache(%s): %s" % (args.cache, describe(e)), file=sys.stderr)
        return 1
    except smoothcache.LibraryNotFoundError as e:
        print("python_demo: %s" % e, file=sys.stderr)
        return 1

    with cache:
        pl = Player(cache, args.offline)
        urls = None
        manifest = pl.request(args.manifest_url)
        if manifest is None:
            print("python_demo: no manifest, stopping", file=sys.stderr)
        else:
            try:
                streams = parse_manifest(manifest)
                urls = build_requests(streams, args.manifest_url,
                                      {"video": args.video_level, "audio": args.audio_level})
            except ManifestError as e:
                print("python_demo: bad manifest: %s" % e, file=sys.stderr)
        if urls is not None:
            if args.use_async:
                asyncio.run(pl.run_async(urls))
            else:
                for u in urls:
                    pl.request(u)

        print("summary: requests=%d hits=%d misses=%d persisted=%d rejected=%d failed=%d bytes=%d"
              % (pl.requests, pl.hits, pl.misses, pl.persisted, pl.rejected, pl.failed, pl.bytes))
        s = cache.stats()
        print("cache: used=%d quota=%d entries=%d" % (s.used_bytes, s.quota_bytes, s.entries))
        answered = (urls is not None and pl.requests == 1 + len(urls)
                    and pl.hits + pl.persisted == pl.requests)
    sys.stdout.flush()
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
