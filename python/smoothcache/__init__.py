"""smoothcache — an offline cache for Microsoft Smooth Streaming (Python binding).

A pure-Python binding (ctypes) over ``libsmoothcache``'s C API, modelled on Silverlight's
ISmoothStreamingCache: for every request of a session, retrieve it from the cache; on a miss
(``None``) download it and persist what you got; offline, the cache answers.

    import smoothcache

    with smoothcache.Cache("/var/cache/player", quota=64 << 20) as cache:
        body = cache.retrieve(url)              # bytes (a Response) or None on a miss
        if body is None:
            body, ctype = download(url)
            cache.persist(url, body, ctype)

Asynchronous forms: ``begin_retrieve``/``begin_persist`` return a :class:`Token` (the
IAsyncResult: ``done()``, ``wait()``, ``fileno()`` for select/poll, ``result()``, an optional
``callback=``), and ``retrieve_async``/``persist_async`` are coroutines that wait on the
token's file descriptor with ``loop.add_reader`` (no thread per request, no polling).

The library can also go to the origin itself:

    body = cache.fetch(url)                     # from the store, else downloaded and stored

    token = cache.download(manifest_url, quality="lowest")   # a whole presentation, offline
    while not token.wait(0.5):
        print(token.progress())
    token.result()                              # None, or raises (NetworkError, Cancelled...)

``fetch_async``/``download_async`` are their coroutine forms; :meth:`Cache.presentations`,
:meth:`Cache.remove_presentation`, :meth:`Cache.verify_presentation` and :meth:`Cache.verify`
manage what was downloaded.

Unmodified players (GStreamer, VLC) play what the cache holds through a loopback HTTP server:

    with cache.serve() as server:               # 127.0.0.1, a free port
        server.address                          # "127.0.0.1:41234": http_proxy=http://<address>
        server.local_url(manifest_url)          # "http://127.0.0.1:41234/http/origin/a.ism/Manifest"

Every failure the library reports raises a subclass of :class:`Error` carrying ``status``,
``status_name`` and ``message``. Misuse detected in Python (wrong types, NUL bytes in strings,
out-of-range integers, a closed cache or token) raises ``TypeError``/``ValueError``.

The library is found through ``$SMOOTHCACHE_LIB``, then next to this package, then in
``target/release`` of a source checkout, then by the system loader; see :func:`library_path`.
"""

import asyncio
import atexit
import contextlib
import ctypes
import enum
import itertools
import math
import operator
import os
import threading
from typing import NamedTuple

from . import _lib
from ._lib import LibraryNotFoundError

__all__ = [
    "set_log_callback",
    "Cache",
    "Server",
    "Token",
    "DownloadToken",
    "Response",
    "Stats",
    "Progress",
    "DownloadState",
    "Presentation",
    "VerifyReport",
    "CacheReport",
    "Status",
    "Error",
    "InvalidArgument",
    "QuotaExceeded",
    "Malformed",
    "StorageError",
    "Locked",
    "Corrupt",
    "Cancelled",
    "NetworkError",
    "InternalError",
    "LibraryNotFoundError",
    "version",
    "status_name",
    "library_path",
    "DURABILITY_POWER",
    "DURABILITY_PROCESS",
    "EVICT_NONE",
    "EVICT_LRU",
    "QUALITY_ALL",
    "QUALITY_HIGHEST",
    "QUALITY_LOWEST",
    "QUALITY_MAX_BITRATE",
    "QUALITY_LIST",
    "VERIFY_REPAIR",
]

__version__ = "0.1.0"


# --------------------------------------------------------------------------------------------
# Status codes and errors


class Status(enum.IntEnum):
    """The ``SSC_*`` status codes (``ssc_status``)."""

    OK = 0
    MISS = 1
    PENDING = 2
    TIMED_OUT = 3
    ERR_INVALID_ARGUMENT = -1
    ERR_QUOTA_EXCEEDED = -2
    ERR_MALFORMED = -3
    ERR_IO = -4
    ERR_LOCKED = -5
    ERR_CORRUPT = -6
    ERR_CANCELLED = -7
    ERR_NETWORK = -8
    ERR_INTERNAL = -99


DURABILITY_POWER = 0  # SSC_DURABILITY_POWER (default)
DURABILITY_PROCESS = 1  # SSC_DURABILITY_PROCESS
EVICT_NONE = 0  # SSC_EVICT_NONE (default)
EVICT_LRU = 1  # SSC_EVICT_LRU

QUALITY_ALL = 0  # SSC_QUALITY_ALL (default)
QUALITY_HIGHEST = 1  # SSC_QUALITY_HIGHEST
QUALITY_LOWEST = 2  # SSC_QUALITY_LOWEST
QUALITY_MAX_BITRATE = 3  # SSC_QUALITY_MAX_BITRATE
QUALITY_LIST = 4  # SSC_QUALITY_LIST
VERIFY_REPAIR = 1  # SSC_VERIFY_REPAIR

_DURABILITY = {"power": DURABILITY_POWER, "process": DURABILITY_PROCESS}
_EVICTION = {"none": EVICT_NONE, "lru": EVICT_LRU}
_QUALITY = {
    "all": QUALITY_ALL,
    "highest": QUALITY_HIGHEST,
    "lowest": QUALITY_LOWEST,
    "max_bitrate": QUALITY_MAX_BITRATE,
    "list": QUALITY_LIST,
}

_OK = 0
_MISS = 1
_TIMED_OUT = 3
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
_UINT32_MAX = (1 << 32) - 1
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


class Error(Exception):
    """A failure reported by libsmoothcache.

    ``status`` is the ``SSC_*`` code (an int), ``status_name`` its name from
    ``ssc_status_name`` (e.g. ``"SSC_ERR_QUOTA_EXCEEDED"``) and ``message`` what
    ``ssc_last_error`` said right after the failing call (it starts with the status name).
    ``str(error)`` is the message.
    """

    def __init__(self, status, status_name, message):
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.message = message

    def __reduce__(self):
        return (type(self), (self.status, self.status_name, self.message))


class InvalidArgument(Error, ValueError):
    """SSC_ERR_INVALID_ARGUMENT: not an http(s) URL, not UTF-8, a bad option value, a call out
    of order (also a ``ValueError``)."""


class QuotaExceeded(Error):
    """SSC_ERR_QUOTA_EXCEEDED: the persist does not fit under the quota; nothing was stored."""


class Malformed(Error):
    """SSC_ERR_MALFORMED: the data does not parse as what the URL says it is; nothing stored."""


class StorageError(Error):
    """SSC_ERR_IO: the file system failed; the message says how (ENOSPC, EACCES, ...)."""


class Locked(Error):
    """SSC_ERR_LOCKED: the directory is held in a way that forbids this open."""


class Corrupt(Error):
    """SSC_ERR_CORRUPT: a stored entry failed its integrity check; it has been dropped."""


class Cancelled(Error):
    """SSC_ERR_CANCELLED: the operation was cancelled."""


class NetworkError(Error):
    """SSC_ERR_NETWORK: a download failed (connection, HTTP status, timeout)."""


class InternalError(Error):
    """SSC_ERR_INTERNAL: a bug in the library (a caught panic); the message says where."""


_ERRORS = {
    Status.ERR_INVALID_ARGUMENT: InvalidArgument,
    Status.ERR_QUOTA_EXCEEDED: QuotaExceeded,
    Status.ERR_MALFORMED: Malformed,
    Status.ERR_IO: StorageError,
    Status.ERR_LOCKED: Locked,
    Status.ERR_CORRUPT: Corrupt,
    Status.ERR_CANCELLED: Cancelled,
    Status.ERR_NETWORK: NetworkError,
    Status.ERR_INTERNAL: InternalError,
}


def _decode(b):
    return None if b is None else b.decode("utf-8", "replace")


def status_name(status):
    """``ssc_status_name(status)``: e.g. ``"SSC_ERR_IO"``, ``"SSC_UNKNOWN_STATUS"`` if unknown."""
    return _decode(_lib.get().ssc_status_name(_int32(status, "status")))


def _error(status=None):
    """The exception for the call that just failed on this thread.

    Must be called right after the failing call: ``ssc_last_error`` is read first, before any
    other ``ssc_`` call. With ``status=None`` (a call that answers NULL or -1 rather than a
    status) the status is taken from the message's prefix, ``SSC_ERR_INVALID_ARGUMENT`` if none.
    """
    lib = _lib.get()
    message = _decode(lib.ssc_last_error())
    if status is None:
        status = Status.ERR_INVALID_ARGUMENT
        if message:
            prefix = message.split(":", 1)[0].strip()
            if prefix.startswith("SSC_") and prefix[4:] in Status.__members__:
                status = Status[prefix[4:]]
    name = _decode(lib.ssc_status_name(status))
    if not message or not message.startswith(name):
        # The library promises a message starting with the status name; never show a stale one.
        message = "%s: (the library gave no message for this failure)" % name
    return _ERRORS.get(status, Error)(int(status), name, message)


# --------------------------------------------------------------------------------------------
# Argument conversion (ctypes would silently truncate or wrap what is not checked here)


def _int_range(value, what, lo, hi):
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__)) from None
    if not lo <= v <= hi:
        raise ValueError("%s must be between %d and %d, not %d" % (what, lo, hi, v))
    return v


def _uint64(value, what):
    return _int_range(value, what, 0, _UINT64_MAX)


def _int32(value, what):
    return _int_range(value, what, -(1 << 31), (1 << 31) - 1)


def _cstr(value, what):
    """str (encoded as UTF-8) or bytes, without NUL, for a C string argument."""
    if isinstance(value, str):
        b = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        b = bytes(value)
    else:
        raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))
    if b"\0" in b:
        raise ValueError("%s contains a NUL character" % what)
    return b


def _path(value):
    try:
        b = os.fsencode(value)
    except TypeError:
        raise TypeError("path must be str, bytes or os.PathLike, not %s" % type(value).__name__) from None
    if b"\0" in b:
        raise ValueError("path contains a NUL byte")
    return b


def _buffer(data):
    """(object ctypes can pass as ``const uint8_t *``, length, keep-alive) for a bytes-like."""
    if isinstance(data, bytes):
        return (data if data else None), len(data)
    if isinstance(data, str):
        raise TypeError("data must be bytes-like (bytes, bytearray, memoryview), not str")
    try:
        mv = memoryview(data)
    except TypeError:
        raise TypeError("data must be bytes-like (bytes, bytearray, memoryview), not %s"
                        % type(data).__name__) from None
    n = mv.nbytes
    if n == 0:
        return None, 0
    if not mv.c_contiguous:
        b = mv.tobytes()
        return b, len(b)
    if mv.readonly:
        # ctypes cannot point at a read-only buffer without copying, except a whole bytes object.
        if isinstance(mv.obj, bytes) and len(mv.obj) == n:
            return mv.obj, n
        b = mv.tobytes()
        return b, n
    # A writable contiguous buffer (bytearray, array, mmap, numpy...): no copy. The ctypes array
    # holds a buffer export, so a bytearray cannot be resized under the call.
    return (ctypes.c_char * n).from_buffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv), n


def _timeout_ms(timeout):
    """seconds (None: forever) -> the int64 milliseconds of ``ssc_token_wait`` (-1: forever)."""
    if timeout is None:
        return -1
    t = float(timeout)
    if math.isnan(t):
        raise ValueError("timeout is NaN")
    if t <= 0:
        return 0
    if t * 1000 >= _INT64_MAX:
        return -1
    return max(1, math.ceil(t * 1000))


class _Handle:
    """A C handle shared between threads: calls in flight count as users, and ``take`` (which
    precedes freeing it) waits until none is left, so no thread ever passes a freed pointer."""

    __slots__ = ("ptr", "_users", "_cond")

    def __init__(self, ptr):
        self.ptr = ptr
        self._users = 0
        self._cond = threading.Condition(threading.Lock())

    def acquire(self):
        with self._cond:
            p = self.ptr
            if p is not None:
                self._users += 1
            return p

    def release(self):
        with self._cond:
            self._users -= 1
            if self._users == 0:
                self._cond.notify_all()

    def take(self):
        with self._cond:
            while self._users:
                self._cond.wait()
            p, self.ptr = self.ptr, None
            return p


# --------------------------------------------------------------------------------------------
# Results


class Response(bytes):
    """The body of a hit: exactly the bytes persisted (a ``bytes`` subclass), with the
    ``content_type`` they were persisted with (``str``, parameters included, or ``None``)."""

    content_type = None

    def __repr__(self):
        return "Response(%s, content_type=%r)" % (bytes.__repr__(self), self.content_type)

    def __reduce__(self):
        return (_make_response, (bytes(self), self.content_type))


def _make_response(data, content_type):
    r = Response(data)
    r.content_type = content_type
    return r


class Stats(NamedTuple):
    """``ssc_cache_stats``: sizes are the directory's (every process); counters are this
    handle's since it was opened."""

    quota_bytes: int
    used_bytes: int
    entries: int
    hits: int
    misses: int
    persists: int
    rejected: int
    evictions: int
    corrupt: int


class DownloadState(str, enum.Enum):
    """A download's state (``ssc_progress.state``); a ``str`` too: ``state == "done"``."""

    STARTING = "starting"  # fetching or reading the manifest, checking the store and quota
    RUNNING = "running"
    FLUSHING = "flushing"  # flushing what was stored to disk (durability "power")
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


# SSC_DOWNLOAD_* values, in order
_DOWNLOAD_STATES = [
    DownloadState.STARTING,
    DownloadState.RUNNING,
    DownloadState.FLUSHING,
    DownloadState.DONE,
    DownloadState.FAILED,
    DownloadState.CANCELLED,
]


class Progress(NamedTuple):
    """A download's progress (``ssc_download_progress``).

    ``fragments_done`` counts the selected fragments stored, those already stored when the
    download began included. ``bytes_expected`` is ``bytes_done`` plus an estimate (bitrate x
    duration) of what is left while ``bytes_expected_is_estimate``; exact once every fragment
    is stored. ``state`` is a :class:`DownloadState` (the raw int for a state this binding does
    not know)."""

    fragments_done: int
    fragments_total: int
    bytes_done: int
    bytes_expected: int
    bytes_expected_is_estimate: bool
    state: DownloadState


class Presentation(NamedTuple):
    """A downloaded (completely or partly) presentation (``ssc_presentation_info``)."""

    manifest_url: str
    complete: bool  # every selected fragment is stored
    pinned: bool  # never evicted
    bytes: int  # on disk: the manifest, the fragments, the record
    fragments_stored: int
    fragments_expected: int


class VerifyReport(NamedTuple):
    """What :meth:`Cache.verify_presentation` found: the fragments the download selected
    (``checked``) and of those intact, missing, damaged (and dropped); ``repaired``: downloaded
    again."""

    checked: int
    ok: int
    missing: int
    corrupt: int
    repaired: int


class CacheReport(NamedTuple):
    """What :meth:`Cache.verify` found (``ssc_cache_report``)."""

    entries: int  # intact after the verify
    added: int  # found on disk, unknown to the index (now indexed)
    dropped: int  # index records whose file was gone (now dropped)
    corrupt: int  # failed their checksum (removed)
    temps_removed: int  # temp files of dead processes
    foreign: int  # files that are not the cache's, left alone


def _progress(s):
    state = s.state
    state = _DOWNLOAD_STATES[state] if 0 <= state < len(_DOWNLOAD_STATES) else int(state)
    return Progress(int(s.fragments_done), int(s.fragments_total), int(s.bytes_done),
                    int(s.bytes_expected), bool(s.bytes_expected_is_estimate), state)


# --------------------------------------------------------------------------------------------
# Callbacks: one C trampoline for the whole process, alive as long as the module.
#
# ``state`` carries a key into _pending, which holds the Token (and so the user's callable)
# until its callback has run: the library calls back exactly once, after completion, on one of
# its worker threads, even for a token abandoned meanwhile. ctypes takes the GIL for the call.

_pending = {}
_pending_cond = threading.Condition(threading.Lock())
_keys = itertools.count(1)
_atexit_registered = False


def _trampoline(_token_ptr, state):
    with _pending_cond:
        token = _pending.get(state)
    if token is None:
        return
    try:
        # begin_* may still be returning on the thread that called it; the token is only
        # usable once it knows its pointer.
        token._started.wait()
        token._callback(token)  # an exception is reported by ctypes ("Exception ignored ...")
    finally:
        with _pending_cond:
            _pending.pop(state, None)
            if not _pending:
                _pending_cond.notify_all()


_C_TRAMPOLINE = _lib.CALLBACK(_trampoline)
_C_NO_CALLBACK = _lib.CALLBACK()  # a NULL ssc_callback (ctypes refuses None here)


def _wait_for_callbacks(timeout=5.0):
    """At exit: let callbacks still due run before the interpreter goes away (a ctypes callback
    entered during finalisation would crash or hang the library's thread)."""
    with _pending_cond:
        _pending_cond.wait_for(lambda: not _pending, timeout)


def _register_callback(token, callback):
    global _atexit_registered
    if not callable(callback):
        raise TypeError("callback must be callable")
    key = next(_keys)
    token._callback = callback
    with _pending_cond:
        _pending[key] = token
        if not _atexit_registered:
            atexit.register(_wait_for_callbacks)
            _atexit_registered = True
    return key


def _unregister_callback(key):
    with _pending_cond:
        _pending.pop(key, None)


def _end_retrieve(p):
    """ssc_end_retrieve on a live token: (True, Response or None) or (False, Error)."""
    lib = _lib.get()
    resp = ctypes.c_void_p()
    st = lib.ssc_end_retrieve(p, ctypes.byref(resp))
    if st == _MISS:
        return True, None
    if st != _OK:
        return False, _error(st)
    return True, _take_response(resp.value)


def _end_fetch(p):
    """ssc_end_fetch on a live token: (True, Response) or (False, Error)."""
    lib = _lib.get()
    resp = ctypes.c_void_p()
    st = lib.ssc_end_fetch(p, ctypes.byref(resp))
    if st != _OK:
        return False, _error(st)
    return True, _take_response(resp.value)


def _end_download(p):
    """ssc_end_download on a live token: (True, None) or (False, Error)."""
    st = _lib.get().ssc_end_download(p)
    if st == _OK:
        return True, None
    return False, _error(st)


def _take_response(r):
    """A Response copied from a live ssc_response, which is freed."""
    lib = _lib.get()
    try:
        n = ctypes.c_size_t()
        data = lib.ssc_response_data(r, ctypes.byref(n))
        # one copy, straight from the library's buffer into the bytes object
        body = Response((ctypes.c_char * n.value).from_address(data)) if n.value else Response()
        body.content_type = _decode(lib.ssc_response_content_type(r))
    finally:
        lib.ssc_response_free(r)
    return body


def _end_persist(p):
    """ssc_end_persist on a live token: (True, None) or (False, Error)."""
    st = _lib.get().ssc_end_persist(p)
    if st == _OK:
        return True, None
    return False, _error(st)


def _outcome(pair):
    ok, value = pair
    if ok:
        return value
    raise value


# --------------------------------------------------------------------------------------------
# Tokens


class Token:
    """A pending retrieve, persist, fetch or download: the IAsyncResult (``ssc_token``).

    Made by :meth:`Cache.begin_retrieve`, :meth:`Cache.begin_persist`, :meth:`Cache.begin_fetch`
    and :meth:`Cache.download` (a :class:`DownloadToken`). ``kind`` says which. Methods may be
    called from any thread.

    * ``done()`` — completed yet (IsCompleted); never blocks.
    * ``wait(timeout=None)`` — wait up to ``timeout`` seconds (``None``: forever); True once
      completed.
    * ``fileno()`` — a file descriptor that turns readable once completed and stays readable
      (for select/poll/selectors/asyncio). It belongs to the token: do not read or close it,
      and stop watching it before calling ``result()`` or ``close()``, which close it.
    * ``result(timeout=None)`` — waits, then ends the token (EndRetrieve/EndPersist): a
      retrieve answers a :class:`Response` or ``None`` on a miss, a fetch a :class:`Response`,
      a persist or a download ``None``; a failure raises an :class:`Error`. The outcome is kept: later calls return the same object or
      raise the same exception. With a ``timeout`` that expires, raises ``TimeoutError`` and
      leaves the token as it was.
    * ``completed_synchronously`` — the operation had completed when ``begin_*`` returned.
    * ``close()`` (and garbage collection) — abandon a token never ended (``ssc_token_free``):
      the operation still runs to its end (an abandoned persist still stores). A no-op after
      ``result()``. After ``close()``, ``done``/``wait``/``fileno``/``result`` raise
      ``ValueError``. Also a context manager that closes on exit.
    * ``await token`` — in a coroutine: waits on ``fileno()`` with the running loop's
      ``add_reader``, then returns ``result()``.
    """

    def __init__(self, kind, url):
        self.kind = kind  # "retrieve", "persist", "fetch" or "download"
        self.url = url
        self.completed_synchronously = False
        self._handle = _Handle(None)
        self._end_lock = threading.Lock()
        self._finished = threading.Event()  # set once ended or abandoned
        self._started = threading.Event()  # set once begin_* has returned (callbacks wait)
        self._outcome = None  # (True, value) or (False, exception)
        self._abandoned = False
        self._callback = None

    def _start(self, ptr):
        lib = _lib.get()
        self.completed_synchronously = bool(lib.ssc_token_completed_synchronously(ptr))
        self._handle.ptr = ptr
        self._started.set()

    def __repr__(self):
        if self._abandoned:
            state = "closed"
        elif self._finished.is_set():
            state = "ended"
        else:
            state = "pending"
        return "<smoothcache.Token %s %r %s>" % (self.kind, self.url, state)

    # -- using the live pointer

    def _use(self):
        p = self._handle.acquire()
        if p is None and self._abandoned:
            raise ValueError("the token is closed (abandoned)")
        return p

    def done(self):
        """True once the operation has completed (``ssc_token_is_completed``)."""
        p = self._use()
        if p is None:
            return self._finished.is_set()  # ended (or being ended by result())
        try:
            return bool(_lib.get().ssc_token_is_completed(p))
        finally:
            self._handle.release()

    def wait(self, timeout=None):
        """Waits until completed or ``timeout`` seconds passed (``None``: forever, ``0``: poll).
        True once completed. Does not end the token."""
        ms = _timeout_ms(timeout)
        p = self._use()
        if p is None:
            return self._finished.wait(timeout)
        try:
            st = _lib.get().ssc_token_wait(p, ms)
            if st == _OK:
                return True
            if st == _TIMED_OUT:
                return False
            raise _error(st)
        finally:
            self._handle.release()

    def fileno(self):
        """The token's file descriptor (``ssc_token_fd``); see the class doc for its rules."""
        p = self._use()
        if p is None:
            raise ValueError("the token has been ended: its file descriptor is closed")
        try:
            fd = _lib.get().ssc_token_fd(p)
            if fd < 0:
                raise _error(None)
            return fd
        finally:
            self._handle.release()

    # -- ending

    def result(self, timeout=None):
        """Ends the token and answers the outcome; see the class doc."""
        if timeout is not None and not self._finished.is_set() and not self.wait(timeout):
            raise TimeoutError("the %s of %r has not completed" % (self.kind, self.url))
        with self._end_lock:
            if self._outcome is None:
                if self._abandoned:
                    raise ValueError("the token is closed (abandoned)")
                p = self._handle.take()
                try:
                    self._outcome = self._end(p)
                finally:
                    self._finished.set()
        return _outcome(self._outcome)

    def _end(self, p):
        return _ENDERS[self.kind](p)

    def close(self):
        """Abandons the token if it was never ended (``ssc_token_free``); else does nothing."""
        with self._end_lock:
            if self._outcome is not None or self._abandoned:
                return
            p = self._handle.take()
            self._abandoned = True
            self._finished.set()
        if p is not None:
            _lib.get().ssc_token_free(p)

    def __del__(self):
        # No other reference exists, so no other thread is using the pointer.
        h = getattr(self, "_handle", None)
        p = h.ptr if h is not None else None
        if p is not None:
            h.ptr = None
            try:
                _lib.get().ssc_token_free(p)
            except Exception:  # interpreter shutdown
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- asyncio

    async def _wait_async(self):
        if self.done():
            return
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fd = self.fileno()

        def ready():
            loop.remove_reader(fd)  # the fd stays readable: stop watching at once
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            loop.remove_reader(fd)  # before result()/close() closes the fd

    async def _result_async(self):
        await self._wait_async()
        return self.result()

    def __await__(self):
        return self._result_async().__await__()


_ENDERS = {
    "retrieve": _end_retrieve,
    "persist": _end_persist,
    "fetch": _end_fetch,
    "download": _end_download,
}


class DownloadToken(Token):
    """A whole-presentation download under way (made by :meth:`Cache.download`): a
    :class:`Token` whose ``result()`` answers ``None`` once everything selected is stored, or
    raises (:class:`Cancelled`, :class:`NetworkError` after the retries, :class:`QuotaExceeded`,
    :class:`Malformed`, :class:`StorageError`), plus:

    * ``progress()`` — a :class:`Progress` snapshot; never blocks. After ``result()`` it answers
      the final figures.
    * ``cancel()`` — stops the download: requests in flight are dropped, what was stored is
      kept (downloading again fetches only the rest), and ``result()`` raises
      :class:`Cancelled`. Does nothing once the download has ended.

    ``close()`` (and garbage collection) abandons the token: the download runs on to its end in
    the background; call ``cancel()`` first to stop it.
    """

    def __init__(self, url):
        super().__init__("download", url)
        self._final_progress = None

    def _read_progress(self, p):
        s = _lib.ProgressStruct()
        st = _lib.get().ssc_download_progress(p, ctypes.byref(s))
        if st != _OK:
            raise _error(st)
        return _progress(s)

    def progress(self):
        """The download's progress now (:class:`Progress`)."""
        p = self._use()
        if p is None:
            return self._final_progress  # ended: the figures it ended with
        try:
            return self._read_progress(p)
        finally:
            self._handle.release()

    def cancel(self):
        """Stops the download (``ssc_token_cancel``); ``result()`` then raises
        :class:`Cancelled` unless it had already ended. Idempotent."""
        p = self._use()
        if p is None:
            return  # ended already
        try:
            st = _lib.get().ssc_token_cancel(p)
            if st != _OK:
                raise _error(st)
        finally:
            self._handle.release()

    def result(self, timeout=None):
        """Waits for the download to end, then ends the token: ``None`` when everything
        selected is stored, else raises; see the class doc."""
        if not self._finished.is_set():
            if not self.wait(timeout):
                raise TimeoutError("the download of %r has not completed" % (self.url,))
            # Completed: the figures are final; keep them for progress() after the end.
            p = self._handle.acquire()
            if p is not None:
                try:
                    self._final_progress = self._read_progress(p)
                finally:
                    self._handle.release()
        return super().result()


def _ms(value, what):
    """seconds -> uint32 milliseconds (rounded up, so a positive value never becomes 0)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(value).__name__)) from None
    if math.isnan(t) or t < 0:
        raise ValueError("%s must be a non-negative number of seconds, not %r" % (what, value))
    ms = math.ceil(t * 1000)
    if ms > _UINT32_MAX:
        raise ValueError("%s is too large: at most %d seconds" % (what, _UINT32_MAX // 1000))
    return ms


def _seconds(value, what):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(value).__name__)) from None


def _download_options(quality, max_bitrate, levels, start, end, parallel, retries, backoff,
                      connect_timeout, read_timeout, max_manifest_bytes, max_fragment_bytes):
    """(ssc_download_options, keep-alive) from Cache.download's keywords."""
    o = _lib.DownloadOptionsStruct()
    _lib.get().ssc_download_options_init(ctypes.byref(o))
    q = _enum_arg(quality, _QUALITY, "quality")
    keep = None
    if levels is not None:
        if max_bitrate is not None:
            raise ValueError("give levels= or max_bitrate=, not both")
        if q not in (QUALITY_ALL, QUALITY_LIST):
            raise ValueError("levels= selects the levels itself: leave quality= alone, not %r" % (quality,))
        if isinstance(levels, (str, bytes)):
            raise TypeError("levels must be a list of (stream, quality) pairs")
        pairs = list(levels)
        keep = (_lib.QualityRefStruct * max(1, len(pairs)))()
        for i, pair in enumerate(pairs):
            try:
                stream, level = pair
            except (TypeError, ValueError):
                raise TypeError("levels must be (stream, quality) pairs, not %r" % (pair,)) from None
            keep[i].stream = _int_range(stream, "stream position", 0, _SIZE_MAX)
            keep[i].quality = _int_range(level, "quality level position", 0, _SIZE_MAX)
        o.levels = ctypes.cast(keep, ctypes.POINTER(_lib.QualityRefStruct))
        o.level_count = len(pairs)
        q = QUALITY_LIST
    elif max_bitrate is not None:
        if q not in (QUALITY_ALL, QUALITY_MAX_BITRATE):
            raise ValueError("max_bitrate= selects the levels itself: leave quality= alone, not %r" % (quality,))
        o.max_bitrate = _uint64(max_bitrate, "max_bitrate")
        q = QUALITY_MAX_BITRATE
    elif q == QUALITY_LIST:
        raise ValueError("quality='list' needs levels=[(stream, quality), ...]")
    elif q == QUALITY_MAX_BITRATE:
        raise ValueError("quality='max_bitrate' needs max_bitrate=")
    o.quality = q
    o.start_seconds = _seconds(start, "start")
    o.end_seconds = _seconds(0.0 if end is None else end, "end")
    o.parallel = _int_range(parallel, "parallel", 0, _UINT32_MAX)
    o.retries = _int_range(retries, "retries", 0, _UINT32_MAX)
    o.backoff_ms = _ms(backoff, "backoff")
    o.connect_timeout_ms = _ms(connect_timeout, "connect_timeout")
    o.read_timeout_ms = _ms(read_timeout, "read_timeout")
    if max_manifest_bytes is not None:
        o.max_manifest_bytes = _uint64(max_manifest_bytes, "max_manifest_bytes")
    if max_fragment_bytes is not None:
        o.max_fragment_bytes = _uint64(max_fragment_bytes, "max_fragment_bytes")
    return o, keep


# --------------------------------------------------------------------------------------------
# The cache


class Cache:
    """An open cache directory (``ssc_cache``).

    ``Cache(path, quota=0)``: ``path`` is str, bytes or os.PathLike (created if missing; passed
    to the library as the OS's bytes). ``quota`` in bytes: 0 keeps the stored quota (1 MiB for
    a new cache); a larger value grows it; the quota never shrinks.

    A context manager; ``close()`` (or garbage collection) releases the handle. Tokens and
    responses stay valid after close; pending operations finish. A handle may be used from
    any number of threads; ``close()`` waits for calls in flight on other threads.
    """

    def __init__(self, path, quota=0):
        self._handle = _Handle(None)
        self.path = path
        p = _path(path)
        q = _uint64(quota, "quota")
        lib = _lib.get()
        out = ctypes.c_void_p()
        st = lib.ssc_cache_open(p, q, ctypes.byref(out))
        if st != _OK:
            raise _error(st)
        self._handle.ptr = out.value

    def __repr__(self):
        return "<smoothcache.Cache %r%s>" % (self.path, " closed" if self.closed else "")

    @property
    def closed(self):
        return self._handle.ptr is None

    def close(self):
        """Closes the handle (``ssc_cache_close``). Idempotent."""
        p = self._handle.take()
        if p is not None:
            _lib.get().ssc_cache_close(p)

    def __del__(self):
        h = getattr(self, "_handle", None)
        p = h.ptr if h is not None else None
        if p is not None:
            h.ptr = None
            try:
                _lib.get().ssc_cache_close(p)
            except Exception:  # interpreter shutdown
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def _use(self):
        p = self._handle.acquire()
        if p is None:
            raise ValueError("the cache is closed")
        try:
            yield p
        finally:
            self._handle.release()

    def _status_call(self, fn, *args):
        with self._use() as p:
            st = fn(p, *args)
            if st < 0:
                raise _error(st)
            return st

    # -- the four calls

    def begin_retrieve(self, url, callback=None):
        """Starts a retrieve of ``url`` (BeginRetrieve); returns a :class:`Token`.

        ``callback``, if given, is called once with the token after completion, on one of the
        library's worker threads (never inside this call). It may call ``token.result()``
        (it does not block then). It must not block for long: it holds a library thread and
        the GIL. Exceptions it raises are reported as unraisable and otherwise ignored.
        Raises :class:`InvalidArgument` for an unusable URL (not http(s), not UTF-8).

        Known issue (libsmoothcache 0.1.0): a ``begin_*`` call made from inside a callback
        never returns when its operation completes at once (a miss; a persist refused up
        front, or any persist under durability "process"): the library runs the new callback inline and waits for the token it has not
        returned yet. Until that is fixed, start follow-up work from another thread.
        """
        u = _cstr(url, "url")
        return self._begin("retrieve", url, callback,
                           lambda lib, p, cb, key: lib.ssc_begin_retrieve(p, u, cb, key))

    def begin_persist(self, url, data, content_type=None, callback=None):
        """Starts a persist of ``data`` (bytes-like) under ``url`` with ``content_type``
        (BeginPersist); returns a :class:`Token`. The data is validated and copied before this
        returns. ``callback`` as for :meth:`begin_retrieve`. Failures (quota, malformed data,
        I/O) are raised by ``token.result()``; an unusable URL or content type raises
        :class:`InvalidArgument` here."""
        u = _cstr(url, "url")
        ct = None if content_type is None else _cstr(content_type, "content_type")
        buf, n = _buffer(data)
        return self._begin("persist", url, callback,
                           lambda lib, p, cb, key: lib.ssc_begin_persist(p, u, ct, buf, n, cb, key))

    def _begin(self, kind, url, callback, call):
        token = DownloadToken(url) if kind == "download" else Token(kind, url)
        key = None
        if callback is not None:
            key = _register_callback(token, callback)
        lib = _lib.get()
        tp = None
        try:
            with self._use() as p:
                tp = call(lib, p, _C_TRAMPOLINE if key is not None else _C_NO_CALLBACK, key)
                if tp:
                    token._start(tp)  # at once: a pending callback waits for it
            if not tp:
                raise _error(None)
        except BaseException:
            if key is not None and not tp:  # never started: the callback will not be called
                _unregister_callback(key)
            raise
        return token

    def retrieve(self, url):
        """The stored body of ``url`` as a :class:`Response` (bytes with ``.content_type``),
        or ``None`` on a miss. Raises :class:`Corrupt` (the entry failed its checksum and was
        dropped), :class:`StorageError`, :class:`InvalidArgument`."""
        u = _cstr(url, "url")
        lib = _lib.get()
        with self._use() as p:
            tp = lib.ssc_begin_retrieve(p, u, _C_NO_CALLBACK, None)
            if not tp:
                raise _error(None)
        # Nobody else has seen the token: end it here, without a Token object.
        return _outcome(_end_retrieve(tp))

    def persist(self, url, data, content_type=None):
        """Stores ``data`` (bytes, bytearray, memoryview, any bytes-like) under ``url``; returns
        once it is as durable as the cache's durability level promises. Raises
        :class:`QuotaExceeded`, :class:`Malformed` (nothing stored), :class:`StorageError`,
        :class:`InvalidArgument`."""
        u = _cstr(url, "url")
        ct = None if content_type is None else _cstr(content_type, "content_type")
        buf, n = _buffer(data)
        lib = _lib.get()
        with self._use() as p:
            tp = lib.ssc_begin_persist(p, u, ct, buf, n, _C_NO_CALLBACK, None)
            if not tp:
                raise _error(None)
        _outcome(_end_persist(tp))

    async def retrieve_async(self, url):
        """Coroutine form of :meth:`retrieve`: waits on the token's fd with ``add_reader``.
        Cancelling it abandons the token."""
        with self.begin_retrieve(url) as token:
            return await token

    async def persist_async(self, url, data, content_type=None):
        """Coroutine form of :meth:`persist`. Cancelling it abandons the token: the persist
        still completes in the background."""
        with self.begin_persist(url, data, content_type) as token:
            return await token

    # -- fetch-through

    def begin_fetch(self, url, callback=None):
        """Starts a fetch-through of ``url``; returns a :class:`Token` whose ``result()`` is a
        :class:`Response`. A hit is answered from the store; a miss is downloaded from the
        origin (with ``url`` as given, ignored query parameters included), validated, stored
        and answered; concurrent fetches of one key share one download. Never blocks on the
        network. ``callback`` as for :meth:`begin_retrieve`. ``result()`` raises
        :class:`NetworkError` (connection, a non-2xx status, a timeout), :class:`Malformed`
        (the origin's bytes are not what the URL says; not stored), :class:`Corrupt`,
        :class:`StorageError`; an unusable URL raises :class:`InvalidArgument` here."""
        u = _cstr(url, "url")
        return self._begin("fetch", url, callback,
                           lambda lib, p, cb, key: lib.ssc_begin_fetch(p, u, cb, key))

    def fetch(self, url):
        """The body of ``url`` (a :class:`Response`): from the store, else from the origin
        (then stored; a body that does not fit the quota is still answered, only not stored).
        Blocks on the network on a miss. Raises as :meth:`begin_fetch`'s ``result()``."""
        u = _cstr(url, "url")
        lib = _lib.get()
        with self._use() as p:
            tp = lib.ssc_begin_fetch(p, u, _C_NO_CALLBACK, None)
            if not tp:
                raise _error(None)
        return _outcome(_end_fetch(tp))

    async def fetch_async(self, url):
        """Coroutine form of :meth:`fetch`: waits on the token's fd with ``add_reader``.
        Cancelling it abandons the token (a download it started still completes and stores)."""
        with self.begin_fetch(url) as token:
            return await token

    # -- whole-presentation downloads

    def download(self, manifest_url, *, quality="all", max_bitrate=None, levels=None, start=0.0,
                 end=0.0, parallel=4, retries=3, backoff=0.2, connect_timeout=10.0,
                 read_timeout=30.0, max_manifest_bytes=None, max_fragment_bytes=None,
                 callback=None):
        """Starts downloading the presentation of ``manifest_url`` (ending in ``/Manifest``)
        for offline use; returns a :class:`DownloadToken` (``progress()``, ``cancel()``,
        ``result()``, ``wait()``, ``fileno()``, ``await``).

        The manifest is used as stored when it is (else fetched and stored); the selected
        fragments not stored yet are fetched, validated and stored, so downloading again after
        a cancel or a crash fetches only what is missing. Everything it stores is pinned
        (never evicted). When the estimate (bitrate x duration) cannot fit under the quota,
        ``result()`` raises :class:`QuotaExceeded` before any fragment is fetched.

        Which quality levels: ``quality`` ``"all"`` (default), ``"highest"`` or ``"lowest"``
        level of each stream; ``max_bitrate=N``: per stream the highest level at or under N
        bits/s (the lowest if none is); ``levels=[(stream, quality), ...]``: exactly those
        (positions in the manifest). ``start``/``end`` (seconds): only chunks overlapping
        [start, end); ``end <= start`` means to the end. ``parallel``: requests in flight
        (1..64). ``retries`` after the first attempt, with exponential ``backoff`` (seconds).
        ``connect_timeout``/``read_timeout`` in seconds. ``max_manifest_bytes`` /
        ``max_fragment_bytes``: caps on one response (default 64 MiB). ``callback`` as for
        :meth:`begin_retrieve`. Bad values raise :class:`InvalidArgument` (or ``ValueError`` /
        ``TypeError``) here."""
        u = _cstr(manifest_url, "manifest_url")
        opts, keep = _download_options(quality, max_bitrate, levels, start, end, parallel,
                                       retries, backoff, connect_timeout, read_timeout,
                                       max_manifest_bytes, max_fragment_bytes)
        token = self._begin("download", manifest_url, callback,
                            lambda lib, p, cb, key: lib.ssc_begin_download(p, u, ctypes.byref(opts), cb, key))
        del keep  # the levels were copied by ssc_begin_download
        return token

    async def download_async(self, manifest_url, **options):
        """Coroutine form of :meth:`download` (the same keywords): ``None`` once everything
        selected is stored, else raises. Cancelling the coroutine cancels the download (what
        was stored is kept)."""
        token = self.download(manifest_url, **options)
        with token:
            try:
                return await token
            except asyncio.CancelledError:
                token.cancel()
                raise

    # -- management

    def stats(self):
        """The cache's figures (:class:`Stats`)."""
        s = _lib.StatsStruct()
        self._status_call(_lib.get().ssc_cache_stats, ctypes.byref(s))
        return Stats(*(getattr(s, f) for f, _ in _lib.StatsStruct._fields_))

    def increase_quota(self, new_quota_bytes):
        """Grows the quota to ``new_quota_bytes`` (IncreaseQuotaTo). Smaller than the current
        quota raises :class:`InvalidArgument`; equal is accepted."""
        self._status_call(_lib.get().ssc_cache_increase_quota, _uint64(new_quota_bytes, "quota"))

    def remove(self, url):
        """Removes the entry of ``url``: True if one was removed, False if none was stored."""
        return self._status_call(_lib.get().ssc_cache_remove, _cstr(url, "url")) == _OK

    def clear(self):
        """Removes every entry, pinned ones and those of open presentations included."""
        self._status_call(_lib.get().ssc_cache_clear)

    def ignore_query_params(self, names):
        """Sets the query parameters left out of cache keys: a str (one name, a comma-separated
        list, ``"*"`` for the whole query, ``""`` for none) or an iterable of names. Replaces
        the previous list; stored with the cache."""
        if isinstance(names, (str, bytes)):
            s = _cstr(names, "names")
        else:
            parts = []
            for n in names:
                b = _cstr(n, "query parameter name")
                if b"," in b:
                    raise ValueError("query parameter name %r contains a comma" % (n,))
                parts.append(b)
            s = b",".join(parts)
        self._status_call(_lib.get().ssc_cache_ignore_query_params, s)

    def set_durability(self, level):
        """``"power"`` (default: an acknowledged entry survives a power cut) or ``"process"``
        (it survives a crash of the process; no flush per entry). Also accepts the
        ``DURABILITY_*`` ints. Applies to persists begun afterwards."""
        self._status_call(_lib.get().ssc_cache_set_durability, _enum_arg(level, _DURABILITY, "durability"))

    def set_eviction(self, policy):
        """``"none"`` (default: a persist that does not fit fails) or ``"lru"`` (least recently
        used unpinned entries, outside open presentations, are evicted). Also accepts the
        ``EVICT_*`` ints."""
        self._status_call(_lib.get().ssc_cache_set_eviction, _enum_arg(policy, _EVICTION, "eviction policy"))

    def open_media(self, manifest_url):
        """Opens a presentation (OpenMedia): until the matching :meth:`close_media`, entries
        under it are never evicted. Reference counted."""
        self._status_call(_lib.get().ssc_open_media, _cstr(manifest_url, "manifest_url"))

    def close_media(self, manifest_url):
        """Closes a presentation (CloseMedia). More closes than opens through this handle raise
        :class:`InvalidArgument`."""
        self._status_call(_lib.get().ssc_close_media, _cstr(manifest_url, "manifest_url"))

    @contextlib.contextmanager
    def media(self, manifest_url):
        """``with cache.media(url):`` — open_media on entry, close_media on exit."""
        self.open_media(manifest_url)
        try:
            yield self
        finally:
            self.close_media(manifest_url)

    # -- downloaded presentations

    def presentations(self):
        """The presentations downloaded (completely or partly) into the cache, by any process:
        a list of :class:`Presentation`, by manifest URL."""
        lib = _lib.get()
        out = ctypes.c_void_p()
        self._status_call(lib.ssc_cache_list_presentations, ctypes.byref(out))
        lst = out.value
        try:
            items = []
            for i in range(lib.ssc_presentation_list_count(lst)):
                info = _lib.PresentationInfoStruct()
                st = lib.ssc_presentation_list_get(lst, i, ctypes.byref(info))
                if st != _OK:
                    raise _error(st)
                items.append(Presentation(_decode(info.manifest_url), bool(info.complete),
                                          bool(info.pinned), int(info.bytes),
                                          int(info.fragments_stored), int(info.fragments_expected)))
            return items
        finally:
            lib.ssc_presentation_list_free(lst)

    def remove_presentation(self, manifest_url):
        """Removes a presentation as a whole (its manifest, every entry under it, its download
        record; pinned or not). Answers how many entries were removed (0: nothing stored)."""
        n = ctypes.c_uint64()
        st = self._status_call(_lib.get().ssc_cache_remove_presentation,
                               _cstr(manifest_url, "manifest_url"), ctypes.byref(n))
        return int(n.value) if st == _OK else 0

    def verify_presentation(self, manifest_url, repair=False):
        """Re-reads every fragment a presentation's download selected and checks its checksum
        (damaged ones are dropped); with ``repair=True`` downloads again what is missing or was
        damaged (blocking, on the network). A :class:`VerifyReport`, or ``None`` when nothing is
        stored for ``manifest_url``. The repair's failures raise (:class:`NetworkError`...)."""
        r = _lib.VerifyReportStruct()
        st = self._status_call(_lib.get().ssc_cache_verify_presentation,
                               _cstr(manifest_url, "manifest_url"),
                               VERIFY_REPAIR if repair else 0, ctypes.byref(r))
        if st == _MISS:
            return None
        return VerifyReport(*(int(getattr(r, f)) for f in VerifyReport._fields))

    def verify(self):
        """Reads every entry and checks its checksums (damaged ones are dropped), then makes the
        index agree with the entry files; blocks as long as reading everything takes. A
        :class:`CacheReport`."""
        r = _lib.CacheReportStruct()
        self._status_call(_lib.get().ssc_cache_verify, ctypes.byref(r))
        return CacheReport(*(int(getattr(r, f)) for f in CacheReport._fields))

    # -- the loopback HTTP server

    def serve(self, listen=None, *, fetch_through=False, max_connections=None,
              max_requests_per_connection=None, header_timeout=None):
        """Serves the cache over HTTP (``ssc_server_start``) so unmodified players play what it
        holds; returns a running :class:`Server` (``.address``, ``.local_url()``, ``.stop()``,
        a context manager).

        ``listen``: ``"IP:port"``; ``None`` is ``"127.0.0.1:0"``, a free loopback port. Any other
        address is used as given (``"0.0.0.0:8080"`` exposes the cache to the network). Two ways
        in, both always on: a forward proxy (a player run with ``http_proxy=http://ADDRESS``
        plays its original URLs) and local URLs (:meth:`Server.local_url`). Stored bodies are
        served with their content type, Content-Length, an ETag, HEAD and byte ranges; what is
        not stored is a 404; when only some quality levels of a presentation are fully stored,
        its manifest is served trimmed to those. Requests only ever become cache keys.

        ``fetch_through=True``: what is not stored is fetched from the origin, stored (within
        the quota) and served — a first online viewing fills the cache. ``max_connections``:
        connections served at once (default 256; more are refused until one closes).
        ``max_requests_per_connection``: requests on one keep-alive connection before it is
        closed (default 10,000). ``header_timeout``: seconds to wait for a request's headers,
        also the life of an idle connection (default 30). Raises :class:`StorageError` when the
        address cannot be bound (in use, not permitted), :class:`InvalidArgument` for a bad
        address or a limit of 0.

        The server keeps running after this handle is closed; it stops with ``stop()``, at the
        end of a ``with`` block, or when the :class:`Server` object is garbage collected (keep a
        reference to it while it should serve).
        """
        lib = _lib.get()
        o = _lib.ServerOptionsStruct()
        lib.ssc_server_options_init(ctypes.byref(o))
        o.fetch_through = bool(fetch_through)
        if max_connections is not None:
            o.max_connections = _int_range(max_connections, "max_connections", 0, _UINT32_MAX)
        if max_requests_per_connection is not None:
            o.max_requests_per_connection = _int_range(
                max_requests_per_connection, "max_requests_per_connection", 0, _UINT32_MAX)
        if header_timeout is not None:
            o.header_timeout_ms = _ms(header_timeout, "header_timeout")
        addr = None if listen is None else _cstr(listen, "listen")
        out = ctypes.c_void_p()
        with self._use() as p:
            st = lib.ssc_server_start(p, addr, ctypes.byref(o), ctypes.byref(out))
            if st != _OK:
                raise _error(st)
        return Server(out.value)


class Server:
    """A running loopback HTTP server over a cache (``ssc_server``), made by
    :meth:`Cache.serve`.

    * ``address`` — where it listens, ``"IP:port"`` (the port chosen when 0 was asked for):
      run a player with ``http_proxy=http://`` + ``address`` and it plays its original URLs.
    * ``local_url(manifest_url)`` — the URL under this server at which a player plays
      ``manifest_url`` (``http://ADDRESS/http/origin/.../Name.ism/Manifest``): it ends in
      ``/Manifest`` with the fragments below it, as players expect.
    * ``stop()`` — stops accepting, closes open connections, waits (briefly) for them to end.
      Idempotent. Also at the end of a ``with`` block and when the object is garbage
      collected. Do not call it from a token callback (it may run on the library's threads).

    Methods may be called from any thread.
    """

    def __init__(self, ptr):
        self._handle = _Handle(ptr)
        self.address = _decode(_lib.get().ssc_server_address(ptr))

    def __repr__(self):
        return "<smoothcache.Server %s%s>" % (self.address, " stopped" if self.stopped else "")

    @property
    def stopped(self):
        return self._handle.ptr is None

    @contextlib.contextmanager
    def _use(self):
        p = self._handle.acquire()
        if p is None:
            raise ValueError("the server is stopped")
        try:
            yield p
        finally:
            self._handle.release()

    def local_url(self, manifest_url):
        """The local URL of ``manifest_url`` (an http(s) URL ending in ``/Manifest``; its query
        is kept) under this server, a ``str``. Raises :class:`InvalidArgument` for any other
        URL, ``ValueError`` once stopped."""
        u = _cstr(manifest_url, "manifest_url")
        lib = _lib.get()
        out = ctypes.c_char_p()
        with self._use() as p:
            st = lib.ssc_server_local_url(p, u, ctypes.byref(out))
            if st != _OK:
                raise _error(st)
        try:
            return _decode(out.value)
        finally:
            lib.ssc_string_free(out)

    def stop(self):
        """Stops the server (``ssc_server_stop``); waits for calls in flight on other threads.
        Idempotent."""
        p = self._handle.take()
        if p is not None:
            _lib.get().ssc_server_stop(p)

    def __del__(self):
        h = getattr(self, "_handle", None)
        p = h.ptr if h is not None else None
        if p is not None:
            h.ptr = None
            try:
                _lib.get().ssc_server_stop(p)
            except Exception:  # interpreter shutdown
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _enum_arg(value, names, what):
    if isinstance(value, str):
        try:
            return names[value.lower()]
        except KeyError:
            raise ValueError("unknown %s %r: one of %s" % (what, value, ", ".join(map(repr, names)))) from None
    return _int32(value, what)


def version():
    """The library's version, ``"MAJOR.MINOR.PATCH"`` (``ssc_version``)."""
    return _decode(_lib.get().ssc_version())


_LOG_LEVELS = {"error": 1, "warn": 2, "info": 3, "debug": 4}
# The ctypes callback must outlive its registration with the library.
_log_callback = None


def set_log_callback(callback, level="warn"):
    """Sends the library's log messages at ``level`` and above ("error", "warn", "info",
    "debug") to ``callback(level_name, message)``; ``None`` stops them. The callback runs on
    library threads: it must be quick, thread-safe, and must not call back into the cache.
    Exceptions it raises are reported through ``sys.unraisablehook``."""
    global _log_callback
    if level not in _LOG_LEVELS:
        raise ValueError(f"level must be one of {sorted(_LOG_LEVELS)}, not {level!r}")
    names = {v: k for k, v in _LOG_LEVELS.items()}
    if callback is None:
        fn = _lib.LOG_CALLBACK()
    else:

        def fn(lvl, message, _userdata):
            callback(names.get(lvl, str(lvl)), (message or b"").decode("utf-8", "replace"))

        fn = _lib.LOG_CALLBACK(fn)
    status = _lib.get().ssc_set_log_callback(_LOG_LEVELS[level], fn, None)
    if status != Status.OK:
        raise _error(status)
    _log_callback = fn if callback is not None else None


def library_path():
    """The path libsmoothcache was loaded from (loading it if needed)."""
    return _lib.path()
