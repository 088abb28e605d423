"""Finding and loading libsmoothcache, and the ctypes prototypes of its C API.

Nothing here is public: use the names re-exported by ``smoothcache``.

Search order (the first library that loads wins):

1. ``$SMOOTHCACHE_LIB``: a library file, or a directory holding ``libsmoothcache.so*``.
   When set, it is the only place looked at (a broken setting is an error, never skipped).
2. Next to this package: ``smoothcache/libsmoothcache.so*`` (a wheel that bundles it).
3. ``target/release/libsmoothcache.so*`` of a source checkout, walking up from this package.
4. The system loader: ``ctypes.util.find_library("smoothcache")``, then ``libsmoothcache.so.0``.
"""

import ctypes
import ctypes.util
import glob
import os
import threading

__all__ = [
    "LibraryNotFoundError",
    "get",
    "path",
    "CALLBACK",
    "StatsStruct",
    "QualityRefStruct",
    "DownloadOptionsStruct",
    "ProgressStruct",
    "PresentationInfoStruct",
    "VerifyReportStruct",
    "CacheReportStruct",
    "ServerOptionsStruct",
]

ENV_VAR = "SMOOTHCACHE_LIB"
SONAME = "libsmoothcache.so.0"


class LibraryNotFoundError(OSError):
    """libsmoothcache could not be found or loaded; the message lists every place tried."""

    __module__ = "smoothcache"


class StatsStruct(ctypes.Structure):
    """``struct ssc_stats``: nine uint64_t, in header order."""

    _fields_ = [
        ("quota_bytes", ctypes.c_uint64),
        ("used_bytes", ctypes.c_uint64),
        ("entries", ctypes.c_uint64),
        ("hits", ctypes.c_uint64),
        ("misses", ctypes.c_uint64),
        ("persists", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
        ("evictions", ctypes.c_uint64),
        ("corrupt", ctypes.c_uint64),
    ]


class QualityRefStruct(ctypes.Structure):
    """``struct ssc_quality_ref``: a (stream, quality level) pair, by position."""

    _fields_ = [
        ("stream", ctypes.c_size_t),
        ("quality", ctypes.c_size_t),
    ]


class DownloadOptionsStruct(ctypes.Structure):
    """``struct ssc_download_options``, in header order (fill it with
    ``ssc_download_options_init`` first: ``struct_size`` versions it)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("quality", ctypes.c_int32),  # ssc_quality_choice
        ("max_bitrate", ctypes.c_uint64),
        ("levels", ctypes.POINTER(QualityRefStruct)),
        ("level_count", ctypes.c_size_t),
        ("start_seconds", ctypes.c_double),
        ("end_seconds", ctypes.c_double),
        ("parallel", ctypes.c_uint32),
        ("retries", ctypes.c_uint32),
        ("backoff_ms", ctypes.c_uint32),
        ("connect_timeout_ms", ctypes.c_uint32),
        ("read_timeout_ms", ctypes.c_uint32),
        ("max_manifest_bytes", ctypes.c_uint64),
        ("max_fragment_bytes", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 4),
    ]


class ProgressStruct(ctypes.Structure):
    """``struct ssc_progress``."""

    _fields_ = [
        ("fragments_done", ctypes.c_uint64),
        ("fragments_total", ctypes.c_uint64),
        ("bytes_done", ctypes.c_uint64),
        ("bytes_expected", ctypes.c_uint64),
        ("bytes_expected_is_estimate", ctypes.c_bool),
        ("state", ctypes.c_int32),  # ssc_download_state
        ("reserved", ctypes.c_uint64 * 4),
    ]


class PresentationInfoStruct(ctypes.Structure):
    """``struct ssc_presentation_info`` (``manifest_url`` belongs to its list)."""

    _fields_ = [
        ("manifest_url", ctypes.c_char_p),
        ("complete", ctypes.c_bool),
        ("pinned", ctypes.c_bool),
        ("bytes", ctypes.c_uint64),
        ("fragments_stored", ctypes.c_uint64),
        ("fragments_expected", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 4),
    ]


class VerifyReportStruct(ctypes.Structure):
    """``struct ssc_verify_report``."""

    _fields_ = [
        ("checked", ctypes.c_uint64),
        ("ok", ctypes.c_uint64),
        ("missing", ctypes.c_uint64),
        ("corrupt", ctypes.c_uint64),
        ("repaired", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 3),
    ]


class CacheReportStruct(ctypes.Structure):
    """``struct ssc_cache_report``."""

    _fields_ = [
        ("entries", ctypes.c_uint64),
        ("added", ctypes.c_uint64),
        ("dropped", ctypes.c_uint64),
        ("corrupt", ctypes.c_uint64),
        ("temps_removed", ctypes.c_uint64),
        ("foreign", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 2),
    ]


class ServerOptionsStruct(ctypes.Structure):
    """``struct ssc_server_options``, in header order (fill it with ``ssc_server_options_init``
    first: ``struct_size`` versions it)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("fetch_through", ctypes.c_bool),
        ("max_connections", ctypes.c_uint32),
        ("max_requests_per_connection", ctypes.c_uint32),
        ("header_timeout_ms", ctypes.c_uint32),
        ("reserved", ctypes.c_uint64 * 4),
    ]


# typedef void (*ssc_callback)(struct ssc_token *token, void *state);
CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

# typedef void (*ssc_log_callback)(int level, const char *message, void *userdata);
LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

_status = ctypes.c_int32  # ssc_status
_ptr = ctypes.c_void_p  # every opaque handle
_str = ctypes.c_char_p  # NUL-terminated strings (in: bytes; out: copied to bytes)

# name: (restype, argtypes)
_PROTOTYPES = {
    "ssc_cache_open": (_status, [_str, ctypes.c_uint64, ctypes.POINTER(_ptr)]),
    "ssc_cache_close": (None, [_ptr]),
    "ssc_cache_increase_quota": (_status, [_ptr, ctypes.c_uint64]),
    "ssc_cache_stats": (_status, [_ptr, ctypes.POINTER(StatsStruct)]),
    "ssc_cache_remove": (_status, [_ptr, _str]),
    "ssc_cache_clear": (_status, [_ptr]),
    "ssc_cache_ignore_query_params": (_status, [_ptr, _str]),
    "ssc_cache_set_durability": (_status, [_ptr, ctypes.c_int32]),
    "ssc_cache_set_eviction": (_status, [_ptr, ctypes.c_int32]),
    "ssc_open_media": (_status, [_ptr, _str]),
    "ssc_close_media": (_status, [_ptr, _str]),
    "ssc_response_data": (_ptr, [_ptr, ctypes.POINTER(ctypes.c_size_t)]),
    "ssc_response_content_type": (_str, [_ptr]),
    "ssc_response_content_length": (ctypes.c_uint64, [_ptr]),
    "ssc_response_free": (None, [_ptr]),
    "ssc_status_name": (_str, [_status]),
    "ssc_last_error": (_str, []),
    "ssc_version": (_str, []),
    "ssc_begin_retrieve": (_ptr, [_ptr, _str, CALLBACK, _ptr]),
    "ssc_end_retrieve": (_status, [_ptr, ctypes.POINTER(_ptr)]),
    "ssc_begin_persist": (_ptr, [_ptr, _str, _str, _ptr, ctypes.c_size_t, CALLBACK, _ptr]),
    "ssc_end_persist": (_status, [_ptr]),
    "ssc_token_is_completed": (ctypes.c_bool, [_ptr]),
    "ssc_token_completed_synchronously": (ctypes.c_bool, [_ptr]),
    "ssc_token_state": (_ptr, [_ptr]),
    "ssc_token_wait": (_status, [_ptr, ctypes.c_int64]),
    "ssc_token_fd": (ctypes.c_int, [_ptr]),
    "ssc_token_free": (None, [_ptr]),
    # fetch-through
    "ssc_begin_fetch": (_ptr, [_ptr, _str, CALLBACK, _ptr]),
    "ssc_end_fetch": (_status, [_ptr, ctypes.POINTER(_ptr)]),
    # whole-presentation downloads
    "ssc_download_options_init": (None, [ctypes.POINTER(DownloadOptionsStruct)]),
    "ssc_begin_download": (_ptr, [_ptr, _str, ctypes.POINTER(DownloadOptionsStruct), CALLBACK, _ptr]),
    "ssc_end_download": (_status, [_ptr]),
    "ssc_download_progress": (_status, [_ptr, ctypes.POINTER(ProgressStruct)]),
    "ssc_token_cancel": (_status, [_ptr]),
    # downloaded presentations, verifies
    "ssc_cache_list_presentations": (_status, [_ptr, ctypes.POINTER(_ptr)]),
    "ssc_presentation_list_count": (ctypes.c_size_t, [_ptr]),
    "ssc_presentation_list_get": (_status, [_ptr, ctypes.c_size_t, ctypes.POINTER(PresentationInfoStruct)]),
    "ssc_presentation_list_free": (None, [_ptr]),
    "ssc_cache_remove_presentation": (_status, [_ptr, _str, ctypes.POINTER(ctypes.c_uint64)]),
    "ssc_cache_verify_presentation": (_status, [_ptr, _str, ctypes.c_uint32, ctypes.POINTER(VerifyReportStruct)]),
    "ssc_cache_verify": (_status, [_ptr, ctypes.POINTER(CacheReportStruct)]),
    # the loopback HTTP server
    "ssc_server_options_init": (None, [ctypes.POINTER(ServerOptionsStruct)]),
    "ssc_server_start": (_status, [_ptr, _str, ctypes.POINTER(ServerOptionsStruct), ctypes.POINTER(_ptr)]),
    "ssc_server_address": (_str, [_ptr]),
    # url_out: a c_char_p the library allocated; passed back as is to ssc_string_free
    "ssc_server_local_url": (_status, [_ptr, _str, ctypes.POINTER(ctypes.c_char_p)]),
    "ssc_server_stop": (None, [_ptr]),
    "ssc_set_log_callback": (_status, [ctypes.c_int, LOG_CALLBACK, _ptr]),
    "ssc_string_free": (None, [_str]),
}

_lock = threading.Lock()
_lib = None
_path = None


def _declare(lib, where):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryNotFoundError(
                "%s loaded but has no symbol %s: not a compatible libsmoothcache" % (where, name)
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _sorted_libs(directory):
    """libsmoothcache.so, then .so.0, then any other .so.* in `directory` that exists."""
    names = [os.path.join(directory, "libsmoothcache.so"), os.path.join(directory, SONAME)]
    names += sorted(set(glob.glob(os.path.join(glob.escape(directory), "libsmoothcache.so.*"))) - set(names))
    return [n for n in names if os.path.isfile(n)]


def _candidates():
    """(description, [paths or names to try], explicit) in search order."""
    env = os.environ.get(ENV_VAR)
    if env:
        if os.path.isdir(env):
            found = _sorted_libs(env)
            return [("$%s=%s (a directory)" % (ENV_VAR, env), found or [], True)]
        return [("$%s=%s" % (ENV_VAR, env), [env], True)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = [("next to the package: %s/libsmoothcache.so*" % here, _sorted_libs(here), False)]
    d = os.path.dirname(here)
    seen = set()
    while d not in seen:
        seen.add(d)
        rel = os.path.join(d, "target", "release")
        out.append(("source checkout: %s/libsmoothcache.so*" % rel, _sorted_libs(rel), False))
        d = os.path.dirname(d)
    system = []
    found = ctypes.util.find_library("smoothcache")
    if found:
        system.append(found)
    system.append(SONAME)
    out.append(("the system loader (find_library('smoothcache') -> %r)" % (found,), system, False))
    return out


def _load():
    tried = []
    for where, paths, explicit in _candidates():
        if not paths:
            tried.append("%s: nothing there" % where)
            if explicit:
                break
            continue
        for p in paths:
            try:
                lib = ctypes.CDLL(p)
            except OSError as e:
                tried.append("%s: %s: %s" % (where, p, e))
                continue
            return _declare(lib, p), p
        if explicit:
            break
    raise LibraryNotFoundError(
        "cannot load libsmoothcache; looked in:\n  "
        + "\n  ".join(tried)
        + "\nBuild it with `make lib` in a source checkout, install it where the loader finds it, "
        "or set %s to the library's path." % ENV_VAR
    )


def get():
    """The loaded library (a ctypes.CDLL with every prototype declared); loads it once."""
    global _lib, _path
    lib = _lib
    if lib is not None:
        return lib
    with _lock:
        if _lib is None:
            _lib, _path = _load()
        return _lib


def path():
    """Where the library was loaded from (loading it if needed)."""
    get()
    return _path
