"""The ctypes prototypes and struct layout match include/smoothcache.h (skipped without it)."""

import ctypes
import os
import re
import unittest

from support import REPO, smoothcache

HEADER = os.path.join(REPO, "include", "smoothcache.h")
_lib = smoothcache._lib

C_TYPES = {
    "void": None,
    "bool": ctypes.c_bool,
    "int": ctypes.c_int,
    "int64_t": ctypes.c_int64,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "double": ctypes.c_double,
    "ssc_status": ctypes.c_int32,
    "ssc_durability": ctypes.c_int32,
    "ssc_eviction": ctypes.c_int32,
    "ssc_quality_choice": ctypes.c_int32,
    "ssc_download_state": ctypes.c_int32,
    "ssc_callback": _lib.CALLBACK,
    "ssc_log_callback": _lib.LOG_CALLBACK,
    "char*": ctypes.c_char_p,
    "char**": ctypes.POINTER(ctypes.c_char_p),
    "uint8_t*": ctypes.c_void_p,
    "void*": ctypes.c_void_p,
    "size_t*": ctypes.POINTER(ctypes.c_size_t),
    "uint64_t*": ctypes.POINTER(ctypes.c_uint64),
    "struct ssc_stats*": ctypes.POINTER(_lib.StatsStruct),
    "struct ssc_quality_ref*": ctypes.POINTER(_lib.QualityRefStruct),
    "struct ssc_download_options*": ctypes.POINTER(_lib.DownloadOptionsStruct),
    "struct ssc_progress*": ctypes.POINTER(_lib.ProgressStruct),
    "struct ssc_presentation_info*": ctypes.POINTER(_lib.PresentationInfoStruct),
    "struct ssc_verify_report*": ctypes.POINTER(_lib.VerifyReportStruct),
    "struct ssc_cache_report*": ctypes.POINTER(_lib.CacheReportStruct),
    "struct ssc_server_options*": ctypes.POINTER(_lib.ServerOptionsStruct),
}

# The opaque handles: passed as void pointers.
OPAQUE = r"struct ssc_(cache|token|response|presentation_list|server)"

# Structs of the header that the binding lays out with ctypes, and the result types that
# mirror them field for field (reserved words excepted).
STRUCTS = {
    "ssc_stats": (_lib.StatsStruct, smoothcache.Stats),
    "ssc_quality_ref": (_lib.QualityRefStruct, None),
    "ssc_download_options": (_lib.DownloadOptionsStruct, None),
    "ssc_progress": (_lib.ProgressStruct, smoothcache.Progress),
    "ssc_presentation_info": (_lib.PresentationInfoStruct, smoothcache.Presentation),
    "ssc_verify_report": (_lib.VerifyReportStruct, smoothcache.VerifyReport),
    "ssc_cache_report": (_lib.CacheReportStruct, smoothcache.CacheReport),
    "ssc_server_options": (_lib.ServerOptionsStruct, None),
}


def c_to_ctypes(decl):
    """A parameter or return type (name stripped) -> the ctypes type the binding must use."""
    t = re.sub(r"\bconst\b", "", decl)
    t = re.sub(r"\s*\*", "*", t).strip()
    t = re.sub(r"\s+", " ", t)
    if re.fullmatch(OPAQUE + r"\*", t):
        return ctypes.c_void_p
    if re.fullmatch(OPAQUE + r"\*\*", t):
        return ctypes.POINTER(ctypes.c_void_p)
    return C_TYPES[t]


def struct_fields(text, name):
    """[(field name, ctypes type)] of `typedef struct name {...} name;` in the header."""
    m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), text, re.S)
    assert m, "no struct %s in the header" % name
    out = []
    for decl in m.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        dm = re.fullmatch(r"(.*?[\s*])(\w+)(?:\[(\d+)\])?", decl, re.S)
        assert dm, decl
        t = c_to_ctypes(dm.group(1))
        if dm.group(3):
            t = t * int(dm.group(3))
        out.append((dm.group(2), t))
    return out


def same_type(a, b):
    if issubclass(a, ctypes.Array) and issubclass(b, ctypes.Array):
        return a._type_ is b._type_ and a._length_ == b._length_
    return a is b


def strip_name(param):
    m = re.match(r"(.*?[\s*])(\w+)$", param.strip())
    return m.group(1) if m else param


@unittest.skipUnless(os.path.exists(HEADER), "no include/smoothcache.h (not a source checkout)")
class TestPrototypes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(HEADER) as f:
            text = f.read()
        text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
        cls.text = text
        cls.decls = {}
        code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
        for stmt in code.split(";"):
            stmt = re.split(r"[{}]", stmt)[-1]
            m = re.fullmatch(r"\s*([\w\s\*]+?)\b(ssc_\w+)\s*\(([^()]*)\)\s*", stmt)
            if m and "typedef" not in m.group(1):
                cls.decls[m.group(2)] = (m.group(1).strip(), m.group(3))

    def test_every_bound_function_matches_the_header(self):
        for name, (restype, argtypes) in _lib._PROTOTYPES.items():
            with self.subTest(name=name):
                self.assertIn(name, self.decls, "not declared in the header")
                ret, params = self.decls[name]
                self.assertEqual(c_to_ctypes(ret), restype, "return type %r" % ret)
                ps = [] if params.strip() in ("", "void") else params.split(",")
                want = [c_to_ctypes(strip_name(p)) for p in ps]
                self.assertEqual(want, list(argtypes), params)

    def test_the_cache_api_is_bound(self):
        # Everything of the cache/token/response, fetch, download, presentation and loopback
        # server API; the manifest and fragment inspection functions (and the strings and bytes
        # they return) and the log callback are not bound by this package (yet).
        for name in self.decls:
            if re.match(r"ssc_(manifest|fragment|bytes|string)_", name):
                continue
            self.assertIn(name, _lib._PROTOTYPES, "%s is in the header but not bound" % name)

    def test_stats_layout(self):
        m = re.search(r"typedef struct ssc_stats \{(.*?)\} ssc_stats;", self.text, re.S)
        fields = re.findall(r"uint64_t (\w+);", m.group(1))
        self.assertEqual(fields, [f for f, _ in _lib.StatsStruct._fields_])
        self.assertEqual(ctypes.sizeof(_lib.StatsStruct), 8 * len(fields))
        self.assertEqual(list(smoothcache.Stats._fields), fields)

    def test_struct_layouts(self):
        # Same fields, same order, same types: ctypes then lays them out as the C compiler does.
        for name, (struct, mirror) in STRUCTS.items():
            with self.subTest(struct=name):
                want = struct_fields(self.text, name)
                got = list(struct._fields_)
                self.assertEqual([f for f, _ in want], [f for f, _ in got])
                for (f, a), (_, b) in zip(want, got):
                    self.assertTrue(same_type(a, b), "%s.%s: header %r, binding %r" % (name, f, a, b))
                if mirror is not None:
                    self.assertEqual(list(mirror._fields), [f for f, _ in want if f != "reserved"])

    def test_download_options_size_is_the_librarys(self):
        o = _lib.DownloadOptionsStruct()
        _lib.get().ssc_download_options_init(ctypes.byref(o))
        self.assertEqual(o.struct_size, ctypes.sizeof(_lib.DownloadOptionsStruct))
        self.assertEqual((o.parallel, o.retries, o.backoff_ms), (4, 3, 200))

    def test_server_api_is_bound(self):
        for name in ("ssc_server_options_init", "ssc_server_start", "ssc_server_address",
                     "ssc_server_local_url", "ssc_server_stop", "ssc_string_free"):
            self.assertIn(name, _lib._PROTOTYPES, name)

    def test_server_options_size_is_the_librarys(self):
        o = _lib.ServerOptionsStruct()
        _lib.get().ssc_server_options_init(ctypes.byref(o))
        self.assertEqual(o.struct_size, ctypes.sizeof(_lib.ServerOptionsStruct))
        self.assertEqual((o.fetch_through, o.max_connections, o.max_requests_per_connection,
                          o.header_timeout_ms), (False, 256, 10000, 30000))

    def test_constants(self):
        consts = dict((k, int(v)) for k, v in re.findall(r"#define (SSC_\w+) (-?\d+)", self.text))
        for s in smoothcache.Status:
            self.assertEqual(consts["SSC_" + s.name], s.value, s.name)
        self.assertEqual(consts["SSC_DURABILITY_POWER"], smoothcache.DURABILITY_POWER)
        self.assertEqual(consts["SSC_DURABILITY_PROCESS"], smoothcache.DURABILITY_PROCESS)
        self.assertEqual(consts["SSC_EVICT_NONE"], smoothcache.EVICT_NONE)
        self.assertEqual(consts["SSC_EVICT_LRU"], smoothcache.EVICT_LRU)
        for q in ("ALL", "HIGHEST", "LOWEST", "MAX_BITRATE", "LIST"):
            self.assertEqual(consts["SSC_QUALITY_" + q], getattr(smoothcache, "QUALITY_" + q), q)
        self.assertEqual(consts["SSC_VERIFY_REPAIR"], smoothcache.VERIFY_REPAIR)
        states = [consts["SSC_DOWNLOAD_" + s.name] for s in smoothcache.DownloadState]
        self.assertEqual(states, list(range(len(smoothcache.DownloadState))))
        statuses = {k for k in consts
                    if k.startswith("SSC_ERR_") or k in ("SSC_OK", "SSC_MISS", "SSC_PENDING", "SSC_TIMED_OUT")}
        self.assertEqual(statuses, {"SSC_" + s.name for s in smoothcache.Status})
