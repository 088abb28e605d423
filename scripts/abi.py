#!/usr/bin/env python3
"""abi.py — the ABI guard of libsmoothcache (`make test-abi`).

    scripts/abi.py check    compare the built library and the header with abi/*.txt
    scripts/abi.py update   rewrite abi/*.txt from the built library and the header

What is recorded, each file headed by the major version it describes (`# major N`):

  abi/symbols.txt    the exported functions: nm -D --defined-only libsmoothcache.so, type T, ssc_*
  abi/constants.txt  every `#define SSC_... value` of include/smoothcache.h
  abi/layout.txt     every public struct: its size, and each field's offset and size (compiled
                     with the C compiler from the header, for this machine's ABI)

`check` fails when, with the same major version in Cargo.toml as in the files:
  - a recorded symbol is gone, a constant is gone or has another value, a struct is gone or has
    another size, or a field is gone or has moved or changed size (breaking changes: they need
    a new major version, which gives the library a new soname);
  - something new is not recorded yet (a symbol, a constant, a struct, a field — additions are
    compatible, but must be deliberate: run `scripts/abi.py update` and commit abi/).
Fields named `reserved` are exempt: the header's growth rule turns reserved words into new fields
while the struct's size and every other offset stay the same.
When Cargo.toml's major differs from the files', `check` fails until `update` records the new one.
It also checks that the header declares exactly the functions the library exports.

Env: CC (default cc), NM (default nm), SSC_LIB (default target/release/libsmoothcache.so).
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "include", "smoothcache.h")
ABI = os.path.join(ROOT, "abi")
FILES = {
    "symbols": "symbols.txt",
    "constants": "constants.txt",
    "layout": "layout.txt",
}
PREAMBLE = {
    "symbols": "The functions libsmoothcache.so exports (nm -D --defined-only: T ssc_*).",
    "constants": "Every #define SSC_* of include/smoothcache.h and its value.",
    "layout": "Public structs: `STRUCT sizeof N`, then `STRUCT.FIELD offset O size S` (x86_64 Linux).",
}


def cargo_major():
    in_pkg = False
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                in_pkg = line == "[package]"
            m = re.match(r'version\s*=\s*"(\d+)\.(\d+)\.(\d+)"', line)
            if in_pkg and m:
                return int(m.group(1))
    sys.exit("abi: no version in Cargo.toml's [package]")


def library():
    return os.environ.get("SSC_LIB", os.path.join(ROOT, "target", "release", "libsmoothcache.so"))


def exported_symbols():
    lib = library()
    if not os.path.exists(lib):
        sys.exit("abi: %s is missing: run `make lib` first" % lib)
    out = subprocess.run(
        [os.environ.get("NM", "nm"), "-D", "--defined-only", lib],
        check=True, capture_output=True, text=True,
    ).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "T" and parts[2].startswith("ssc_"):
            syms.add(parts[2])
    return {s: "" for s in syms}


def header_text():
    with open(HEADER) as f:
        return f.read()


def header_constants(text):
    consts = {}
    for m in re.finditer(r"^#define (SSC_\w+) (.+?)\s*$", text, re.M):
        consts[m.group(1)] = m.group(2)
    return consts


def header_functions(text):
    """Names of the functions the header declares (top-level prototypes)."""
    names = set()
    for m in re.finditer(r"^(?![/#\s}])[^;(]*?\b(ssc_\w+)\(", text, re.M):
        if not m.group(0).startswith("typedef"):
            names.add(m.group(1))
    return names


def header_structs(text):
    """{struct name: [field names]} for every `typedef struct NAME { ... } NAME;`."""
    structs = {}
    for m in re.finditer(r"^typedef struct (\w+) \{\n(.*?)^\} \1;", text, re.M | re.S):
        fields = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            f = re.search(r"(\w+)(\[\w+\])?;$", line)
            if not f:
                sys.exit("abi: cannot read a field of struct %s: %r" % (m.group(1), line))
            fields.append(f.group(1))
        structs[m.group(1)] = fields
    return structs


def layout(text):
    """{'STRUCT': 'sizeof N', 'STRUCT.FIELD': 'offset O size S'} from the compiler."""
    structs = header_structs(text)
    lines = ['#include "smoothcache.h"', "#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    for s, fields in structs.items():
        lines.append('    printf("%s sizeof %%zu\\n", sizeof(struct %s));' % (s, s))
        for f in fields:
            lines.append(
                '    printf("%s.%s offset %%zu size %%zu\\n", offsetof(struct %s, %s), sizeof(((struct %s *)0)->%s));'
                % (s, f, s, f, s, f)
            )
    lines += ["    return 0;", "}"]
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-std=c11", "-I", os.path.dirname(HEADER), src, "-o", exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        name, rest = line.split(" ", 1)
        result[name] = rest
    return result


def current():
    text = header_text()
    return {
        "symbols": exported_symbols(),
        "constants": header_constants(text),
        "layout": layout(text),
    }, text


def read_recorded(kind):
    path = os.path.join(ABI, FILES[kind])
    major, entries = None, {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"# major (\d+)$", line)
            if m:
                major = int(m.group(1))
                continue
            if not line.strip() or line.startswith("#"):
                continue
            name, _, value = line.partition(" ")
            entries[name] = value
    if major is None:
        sys.exit("abi: %s has no `# major N` line" % path)
    return major, entries


def write(kind, major, entries):
    path = os.path.join(ABI, FILES[kind])
    with open(path, "w") as f:
        f.write("# %s\n" % PREAMBLE[kind])
        f.write("# Checked by `make test-abi`; rewritten by `scripts/abi.py update` (see docs/abi.md).\n")
        f.write("# major %d\n" % major)
        if kind == "layout":
            # Each struct's size, then its fields in declaration (offset) order.
            structs = [k for k in entries if "." not in k]
            for s in sorted(structs):
                f.write("%s %s\n" % (s, entries[s]))
                fields = [k for k in entries if k.startswith(s + ".")]
                fields.sort(key=lambda k: int(entries[k].split()[1]))
                for k in fields:
                    f.write("%s %s\n" % (k, entries[k]))
        else:
            for name in sorted(entries):
                f.write(("%s %s" % (name, entries[name])).rstrip() + "\n")


def is_reserved(kind, name):
    return kind == "layout" and name.endswith(".reserved")


def check():
    now, text = current()
    major = cargo_major()
    problems, additions = [], []

    exported = set(now["symbols"])
    declared = header_functions(text)
    for s in sorted(declared - exported):
        problems.append("the header declares %s but the library does not export it" % s)
    for s in sorted(exported - declared):
        problems.append("the library exports %s but the header does not declare it" % s)

    for kind in FILES:
        rec_major, rec = read_recorded(kind)
        if rec_major != major:
            problems.append(
                "abi/%s describes major version %d but Cargo.toml says %d: once the breaking "
                "changes are intended, record the new ABI with `scripts/abi.py update`"
                % (FILES[kind], rec_major, major)
            )
            continue
        cur = now[kind]
        for name, value in rec.items():
            if is_reserved(kind, name):
                continue
            if name not in cur:
                problems.append("BREAKING: %s %s is gone (abi/%s)" % (kind.rstrip("s"), name, FILES[kind]))
            elif cur[name] != value:
                problems.append(
                    "BREAKING: %s %s was `%s`, is now `%s` (abi/%s)"
                    % (kind.rstrip("s"), name, value, cur[name], FILES[kind])
                )
        for name in sorted(set(cur) - set(rec)):
            if is_reserved(kind, name):
                continue
            additions.append("new %s %s (%s) is not in abi/%s" % (kind.rstrip("s"), name, cur[name] or "function", FILES[kind]))

    for p in problems:
        print("abi: " + p, file=sys.stderr)
    for a in additions:
        print("abi: " + a, file=sys.stderr)
    if any(p.startswith("BREAKING") for p in problems):
        print(
            "abi: a breaking change needs a new major version: bump it in Cargo.toml (the soname\n"
            "     follows), then `scripts/abi.py update`. Otherwise keep the old symbol/value/layout.",
            file=sys.stderr,
        )
    if additions and not problems:
        print(
            "abi: additions are compatible; record them deliberately with `scripts/abi.py update`\n"
            "     and commit abi/ with the change.",
            file=sys.stderr,
        )
    if problems or additions:
        sys.exit(1)
    n = {k: len(v) for k, v in now.items()}
    print(
        "abi: ok (major %d: %d symbols, %d constants, %d layout lines match abi/)"
        % (major, n["symbols"], n["constants"], n["layout"])
    )


def update():
    now, _ = current()
    major = cargo_major()
    os.makedirs(ABI, exist_ok=True)
    for kind in FILES:
        write(kind, major, now[kind])
    print("abi: wrote abi/%s for major %d" % (", abi/".join(FILES.values()), major))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("check", "update"):
        sys.exit(__doc__)
    check() if sys.argv[1] == "check" else update()
