"""The PEP 517 build backend of the smoothcache Python package (standard library only).

`pip install ./python` builds a wheel with this module (pyproject.toml: `backend-path`). It needs
nothing from the network — no setuptools, no wheel — so it works in a fresh virtual environment
offline, with or without build isolation.

The wheel holds the pure-Python package and, by default, the shared library it binds:

  SMOOTHCACHE_BUNDLE unset   the checkout's target/release/libsmoothcache.so (`cargo build
                             --release` is run first when cargo is on the PATH, so it is current)
  SMOOTHCACHE_BUNDLE=PATH    that library file
  SMOOTHCACHE_BUNDLE=0       no library: at run time the package finds it through
                             $SMOOTHCACHE_LIB or the system loader (after `make install`)

The bundled copy is installed as smoothcache/libsmoothcache.so.0 — the first place the package
looks after $SMOOTHCACHE_LIB — with its debug information stripped when `strip` is available
(SMOOTHCACHE_STRIP=0 keeps it). A wheel with a library is tagged for this platform
(py3-none-linux_x86_64); one without is py3-none-any.

The version is Cargo.toml's (the one source of truth); an sdist carries it in PKG-INFO.
"""

import base64
import ctypes
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)  # python/ (or the unpacked sdist)
PACKAGE = "smoothcache"
BUNDLED_NAME = "libsmoothcache.so.0"
WHEEL_VERSION = "1.0"


def _log(msg):
    print("smoothcache_build: " + msg, file=sys.stderr)


# ---- metadata -------------------------------------------------------------------------------

def _project_table():
    """The [project] table of pyproject.toml (tomllib when there is one; else the simple subset
    this file uses: strings, inline tables of strings, arrays of strings)."""
    path = os.path.join(PROJECT, "pyproject.toml")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(raw.decode("utf-8")).get("project", {})
    except ImportError:
        pass
    table, section, key, array = {}, None, None, None
    for line in raw.decode("utf-8").splitlines():
        line = line.split(" #", 1)[0].strip() if not line.strip().startswith('"') else line.strip()
        if not line or line.startswith("#"):
            continue
        if array is not None:
            if line.startswith("]"):
                table[key], array = array, None
            else:
                array += re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            continue
        m = re.match(r"\[(.+)\]$", line)
        if m:
            section = m.group(1).strip()
            continue
        if section != "project":
            continue
        m = re.match(r'([\w-]+)\s*=\s*(.*)$', line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if value.startswith('"'):
            table[key] = re.match(r'"((?:[^"\\]|\\.)*)"', value).group(1)
        elif value.startswith("{"):
            table[key] = dict(re.findall(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', value))
        elif value.startswith("["):
            items = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
            if value.endswith("]"):
                table[key] = items
            else:
                array = items
    return table


def _version():
    cargo = os.path.join(os.path.dirname(PROJECT), "Cargo.toml")
    if os.path.exists(cargo):
        in_pkg = False
        with open(cargo) as f:
            for line in f:
                line = line.strip()
                if line.startswith("["):
                    in_pkg = line == "[package]"
                m = re.match(r'version\s*=\s*"([^"]+)"', line)
                if in_pkg and m:
                    return m.group(1)
    pkg_info = os.path.join(PROJECT, "PKG-INFO")
    if os.path.exists(pkg_info):
        with open(pkg_info) as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    raise RuntimeError("smoothcache_build: no version: neither ../Cargo.toml nor PKG-INFO")


def _metadata(version):
    p = _project_table()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + p.get("name", PACKAGE),
        "Version: " + version,
    ]
    if "description" in p:
        lines.append("Summary: " + p["description"])
    lic = p.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append("License: " + lic["text"])
    if "requires-python" in p:
        lines.append("Requires-Python: " + p["requires-python"])
    for c in p.get("classifiers", []):
        lines.append("Classifier: " + c)
    return "\n".join(lines) + "\n"


def _dist_name(version):
    return "%s-%s" % (PACKAGE, version)


# ---- the library ----------------------------------------------------------------------------

def _library():
    """The library file to bundle, or None for a wheel without one."""
    choice = os.environ.get("SMOOTHCACHE_BUNDLE", "").strip()
    if choice in ("0", "none", "no"):
        _log("SMOOTHCACHE_BUNDLE=%s: no library in the wheel (found at run time)" % choice)
        return None
    if choice:
        if not os.path.isfile(choice):
            raise RuntimeError("SMOOTHCACHE_BUNDLE=%s is not a file" % choice)
        return os.path.realpath(choice)
    root = os.path.dirname(PROJECT)
    if not os.path.exists(os.path.join(root, "Cargo.toml")):
        raise RuntimeError(
            "smoothcache_build: not in a source checkout: set SMOOTHCACHE_BUNDLE to "
            "libsmoothcache.so, or to 0 to build a wheel that finds it at run time"
        )
    cargo = shutil.which(os.environ.get("CARGO", "cargo"))
    if cargo:
        _log("cargo build --release (in %s)" % root)
        # Its output goes to stderr: pip shows it with -v, and on failure.
        subprocess.run([cargo, "build", "--release", "--lib"], cwd=root, check=True, stdout=sys.stderr)
    lib = os.path.join(root, "target", "release", "libsmoothcache.so")
    if not os.path.isfile(lib):
        raise RuntimeError(
            "smoothcache_build: %s is missing and there is no cargo to build it: run `make lib`, "
            "or set SMOOTHCACHE_BUNDLE" % lib
        )
    return os.path.realpath(lib)


def _check_library(lib, version):
    """The library must load and be this version: a stale build is refused."""
    got = ctypes.CDLL(lib).ssc_version
    got.restype = ctypes.c_char_p
    got = got().decode()
    if got != version:
        raise RuntimeError(
            "smoothcache_build: %s is version %s, the package is %s: rebuild it" % (lib, got, version)
        )


def _stripped_copy(lib, tmpdir):
    if os.environ.get("SMOOTHCACHE_STRIP", "1") == "0":
        return lib
    strip = shutil.which("strip")
    if not strip:
        return lib
    out = os.path.join(tmpdir, BUNDLED_NAME)
    r = subprocess.run([strip, "--strip-debug", "-o", out, lib], stdout=sys.stderr, stderr=sys.stderr)
    return out if r.returncode == 0 else lib


# ---- wheel writing --------------------------------------------------------------------------

class _Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records = []

    def add(self, arcname, data, mode=0o644):
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def close(self, record_name):
        self.records.append(record_name + ",,")
        self.zip.writestr(
            zipfile.ZipInfo(record_name, date_time=(2020, 1, 1, 0, 0, 0)),
            "\n".join(self.records) + "\n",
        )
        self.zip.close()


def _package_files():
    """(arcname, path) of the package's own files: sources and py.typed, no caches, no library
    copies that happen to lie in the source tree."""
    src = os.path.join(PROJECT, PACKAGE)
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")) or name.startswith("libsmoothcache.so"):
                continue
            path = os.path.join(dirpath, name)
            out.append((os.path.relpath(path, PROJECT).replace(os.sep, "/"), path))
    return out


def _platform_tag():
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def _write_wheel(wheel_directory, version, files, tag, extra=()):
    dist = _dist_name(version)
    name = "%s-%s.whl" % (dist, tag)
    distinfo = dist + ".dist-info"
    w = _Wheel(os.path.join(wheel_directory, name))
    for arcname, path, mode in files:
        with open(path, "rb") as f:
            w.add(arcname, f.read(), mode)
    for arcname, data in extra:
        w.add(arcname, data.encode())
    w.add(distinfo + "/METADATA", _metadata(version).encode())
    w.add(
        distinfo + "/WHEEL",
        (
            "Wheel-Version: %s\nGenerator: smoothcache_build\nRoot-Is-Purelib: %s\nTag: %s\n"
            % (WHEEL_VERSION, "true" if tag.endswith("-any") else "false", tag)
        ).encode(),
    )
    w.add(distinfo + "/top_level.txt", (PACKAGE + "\n").encode())
    w.close(distinfo + "/RECORD")
    return name


# ---- PEP 517 / 660 hooks --------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    files = [(a, p, 0o644) for a, p in _package_files()]
    lib = _library()
    with tempfile.TemporaryDirectory() as tmp:
        if lib is None:
            tag = "py3-none-any"
        else:
            _check_library(lib, version)
            files.append(("%s/%s" % (PACKAGE, BUNDLED_NAME), _stripped_copy(lib, tmp), 0o755))
            tag = "py3-none-" + _platform_tag()
            _log("bundling %s as %s/%s" % (lib, PACKAGE, BUNDLED_NAME))
        return _write_wheel(wheel_directory, version, files, tag)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """An editable install: a .pth file puts python/ on sys.path; the package then finds the
    checkout's target/release library by itself (build it with `make lib`)."""
    version = _version()
    pth = PROJECT + "\n"
    return _write_wheel(wheel_directory, version, [], "py3-none-any", [("_smoothcache_editable.pth", pth)])


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    dist = _dist_name(version)
    name = dist + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:

        def add(arcname, data):
            info = tarfile.TarInfo("%s/%s" % (dist, arcname))
            info.size, info.mode, info.mtime = len(data), 0o644, 1577836800
            tar.addfile(info, io.BytesIO(data))

        with open(os.path.join(PROJECT, "pyproject.toml"), "rb") as f:
            add("pyproject.toml", f.read())
        with open(os.path.abspath(__file__), "rb") as f:
            add("backend/" + os.path.basename(__file__), f.read())
        for arcname, path in _package_files():
            with open(path, "rb") as f:
                add(arcname, f.read())
        add("PKG-INFO", _metadata(version).encode())
    return name
