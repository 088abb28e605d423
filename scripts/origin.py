#!/usr/bin/env python3
"""origin.py DIR [--log FILE] [--port N] — a tiny static Smooth Streaming origin.

Serves the files under DIR over HTTP/1.1 on 127.0.0.1 (keep-alive, HEAD,
Content-Length), one thread per connection. The port (a free one unless
--port is given) is printed as the first line of stdout and flushed, so a
script can do:

    python3 scripts/origin.py target/sample --log origin.log > port.txt &
    until [ -s port.txt ]; do sleep 0.05; done; port=$(head -n1 port.txt)

Request paths are percent-decoded before they name a file, so
/sample.ism/QualityLevels(60000)/Fragments(video=0) and
/sample.ism/QualityLevels%2860000%29/Fragments%28video%3D0%29 are the same file.
The query string is ignored for the file look-up (signed URLs still work).
No directory listing; a ".." segment is refused (400); nothing outside DIR
is ever served (symlinks included).

--log FILE appends one line per request, written and flushed as the status
line is sent:  METHOD PATH STATUS   (PATH as the client sent it).

Content-Type follows what IIS sends: text/xml for .../Manifest,
video/mp4 or audio/mp4 for Fragments(video=..)/Fragments(audio=..),
application/octet-stream otherwise.
"""

import argparse
import os
import re
import signal
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FRAGMENT_RE = re.compile(r"/(?:Fragments|FragmentInfo|KeyFrames|RawFragments)\(([^=)]*)=", re.I)


def content_type_for(path):
    if path.lower().endswith("/manifest"):
        return "text/xml"
    m = _FRAGMENT_RE.search(path)
    if m:
        name = m.group(1).lower()
        if name.startswith("audio"):
            return "audio/mp4"
        if name.startswith("video"):
            return "video/mp4"
        return "application/octet-stream"
    return "application/octet-stream"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smoothcache-origin/1"

    def version_string(self):
        return self.server_version
    timeout = 30  # seconds an idle keep-alive connection is kept

    # --- logging: one line per request to --log, nothing on stderr -------
    def log_request(self, code="-", size="-"):
        log = self.server.request_log
        if log is None:
            return
        if isinstance(code, HTTPStatus):
            code = code.value
        method = getattr(self, "command", None) or "-"
        path = getattr(self, "path", None) or "-"
        # Keep the line parseable: no spaces or control characters in fields.
        path = "".join(c if c.isprintable() and c != " " else "%%%02X" % ord(c) for c in path)
        with self.server.log_lock:
            log.write("%s %s %s\n" % (method, path, code))
            log.flush()

    def log_message(self, format, *args):  # silence the default stderr log
        pass

    # --- request handling ----------------------------------------------
    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _resolve(self):
        """Return (status, filesystem path or None, decoded URL path)."""
        target = self.path
        if not target.startswith("/"):
            # absolute-form request target (a proxy-style request)
            parts = urllib.parse.urlsplit(target)
            if parts.scheme not in ("http", "https"):
                return HTTPStatus.BAD_REQUEST, None, ""
            target = parts.path or "/"
        target = target.split("?", 1)[0].split("#", 1)[0]
        raw = urllib.parse.unquote_to_bytes(target)
        decoded = raw.decode("utf-8", "replace")
        if b"\0" in raw:
            return HTTPStatus.BAD_REQUEST, None, decoded
        segments = [s for s in raw.split(b"/") if s not in (b"", b".")]
        if any(s == b".." for s in segments):
            return HTTPStatus.BAD_REQUEST, None, decoded
        root = self.server.root
        path = os.path.join(os.fsencode(root), *segments) if segments else os.fsencode(root)
        real = os.path.realpath(path)
        if real != os.fsencode(root) and not real.startswith(os.fsencode(root) + b"/"):
            return HTTPStatus.NOT_FOUND, None, decoded
        if not os.path.isfile(real):
            return HTTPStatus.NOT_FOUND, None, decoded  # includes directories: no listing
        return HTTPStatus.OK, real, decoded

    def _serve(self, send_body):
        status, path, decoded = self._resolve()
        if status != HTTPStatus.OK:
            self.send_error(status)
            return
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type_for(decoded))
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if not send_body:
                return
            remaining = size
            while remaining > 0:
                chunk = f.read(min(65536, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
            if remaining:
                # the file shrank under us: the length we promised is wrong
                self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="Static HTTP/1.1 origin for Smooth Streaming tests.")
    ap.add_argument("dir", help="directory to serve (e.g. the parent of sample.ism)")
    ap.add_argument("--log", metavar="FILE", help="append 'METHOD PATH STATUS' per request")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = ap.parse_args()

    root = os.path.realpath(args.dir)
    if not os.path.isdir(root):
        print("origin.py: %s is not a directory" % args.dir, file=sys.stderr)
        return 2

    httpd = Server(("127.0.0.1", args.port), Handler)
    httpd.root = root
    httpd.log_lock = threading.Lock()
    httpd.request_log = open(args.log, "a", encoding="utf-8") if args.log else None

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)

    print(httpd.server_address[1], flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        if httpd.request_log is not None:
            httpd.request_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
