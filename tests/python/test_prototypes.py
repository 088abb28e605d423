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
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "ssc_status": ctypes.c_int32,
    "ssc_durability": ctypes.c_int32,
    "ssc_eviction": ctypes.c_int32,
    "ssc_callback": _lib.CALLBACK,
    "char*": ctypes.c_char_p,
    "uint8_t*": ctypes.c_void_p,
    "void*": ctypes.c_void_p,
    "size_t*": ctypes.POINTER(ctypes.c_size_t),
    "struct ssc_stats*": ctypes.POINTER(_lib.StatsStruct),
}


def c_to_ctypes(decl):
    """A parameter or return type (name stripped) -> the ctypes type the binding must use."""
    t = re.sub(r"\bconst\b", "", decl)
    t = re.sub(r"\s*\*", "*", t).strip()
    t = re.sub(r"\s+", " ", t)
    if re.fullmatch(r"struct ssc_(cache|token|response)\*", t):
        return ctypes.c_void_p
    if re.fullmatch(r"struct ssc_(cache|token|response)\*\*", t):
        return ctypes.POINTER(ctypes.c_void_p)
    return C_TYPES[t]


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
        # Everything of the cache/token/response API; the manifest and fragment inspection
        # functions are not bound by this package (yet).
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

    def test_constants(self):
        consts = dict((k, int(v)) for k, v in re.findall(r"#define (SSC_\w+) (-?\d+)", self.text))
        for s in smoothcache.Status:
            self.assertEqual(consts["SSC_" + s.name], s.value, s.name)
        self.assertEqual(consts["SSC_DURABILITY_POWER"], smoothcache.DURABILITY_POWER)
        self.assertEqual(consts["SSC_DURABILITY_PROCESS"], smoothcache.DURABILITY_PROCESS)
        self.assertEqual(consts["SSC_EVICT_NONE"], smoothcache.EVICT_NONE)
        self.assertEqual(consts["SSC_EVICT_LRU"], smoothcache.EVICT_LRU)
        statuses = {k for k in consts
                    if k.startswith("SSC_ERR_") or k in ("SSC_OK", "SSC_MISS", "SSC_PENDING", "SSC_TIMED_OUT")}
        self.assertEqual(statuses, {"SSC_" + s.name for s in smoothcache.Status})
