#!/usr/bin/env bash
# make-sample.sh OUTDIR — make a small, real H.264/AAC Smooth Streaming
# presentation with FFmpeg's smoothstreaming muxer, then check it.
#
# OUTDIR is the ".ism" directory: a static HTTP server rooted at its parent
# serves OUTDIR/Manifest as http://HOST:PORT/<name>.ism/Manifest and the
# fragments as .../QualityLevels(BITRATE)/Fragments(video=TIME).
#
# Content: 24 s of lavfi testsrc2 (25 fps) + a 440 Hz sine; three H.264
# levels (240k 640x360, 120k 426x240, 60k 320x180) and one AAC-LC track
# (48k), 2-second fragments (12 per track), both tracks starting at t=0.
#
# Idempotent: does nothing when OUTDIR/Manifest exists and is newer than
# this script. Quiet unless something fails (SAMPLE_VERBOSE=1 for progress).
#
# Env: FFMPEG (default ffmpeg), PYTHON (default python3).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR   (OUTDIR is the .ism directory, e.g. target/sample/sample.ism)" >&2
    exit 2
fi

out=${1%/}
script=${BASH_SOURCE[0]}
FFMPEG=${FFMPEG:-ffmpeg}
PYTHON=${PYTHON:-python3}

say() { if [ "${SAMPLE_VERBOSE:-0}" = 1 ]; then echo "make-sample: $*" >&2; fi; }

if [ -f "$out/Manifest" ] && [ "$out/Manifest" -nt "$script" ]; then
    say "$out/Manifest is up to date"
    exit 0
fi

# An old sample is replaced, but a directory that is not one is never deleted.
if [ -e "$out" ] && ! { [ -d "$out" ] && { [ -f "$out/Manifest" ] || [ -z "$(ls -A -- "$out")" ]; }; }; then
    echo "make-sample: $out exists and is not a sample directory; not replacing it" >&2
    exit 1
fi

for tool in "$FFMPEG" "$PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "make-sample: $tool not found" >&2; exit 1; }
done

parent=$(dirname -- "$out")
mkdir -p -- "$parent"
# Build next to the destination, then rename into place: an interrupted run
# never leaves a Manifest that would make the next run skip.
tmp=$(mktemp -d "$parent/.make-sample.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

say "encoding into $tmp"
# Notes on the options (each one was needed):
#  -avoid_negative_ts disabled    keep the encoder's timestamps; by default the
#                                 video would start at the B-frame delay and
#                                 the audio at the AAC priming offset while
#                                 the Manifest says 0 (players then 404 on
#                                 Fragments(video=0)).
#  asetpts=PTS+1024/(SR*TB)       shift the audio by the AAC encoder delay
#                                 (1024 samples) so its first packet is at 0.
#  -g 50 -keyint_min 50 -sc_threshold 0 + -min_frag_duration 2000000
#                                 a keyframe, hence a fragment, every 2 s.
#  -window_size 0                 on-demand: keep every fragment in the Manifest.
#  -threads 1 (x264)              byte-identical output from run to run (frame
#                                 threads make x264's rate control vary).
"$FFMPEG" -nostdin -hide_banner -loglevel error -nostats -y \
    -f lavfi -i "testsrc2=size=640x360:rate=25:duration=24" \
    -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=24" \
    -map 0:v -map 0:v -map 0:v -map 1:a \
    -c:v libx264 -threads 1 -preset veryfast -profile:v main -pix_fmt yuv420p \
    -g 50 -keyint_min 50 -sc_threshold 0 \
    -b:v:0 240k -maxrate:v:0 300k -bufsize:v:0 480k -s:v:0 640x360 \
    -b:v:1 120k -maxrate:v:1 150k -bufsize:v:1 240k -s:v:1 426x240 \
    -b:v:2 60k  -maxrate:v:2 75k  -bufsize:v:2 120k -s:v:2 320x180 \
    -c:a aac -b:a 48k -ac 2 -af "asetpts=PTS+1024/(SR*TB)" \
    -avoid_negative_ts disabled \
    -f smoothstreaming -window_size 0 -min_frag_duration 2000000 \
    "$tmp/sample.ism"

say "checking"
# Every fragment the Manifest implies must exist, start at 0 for each track,
# be moof+mdat, and carry a tfxd whose time is the one in its URL.
"$PYTHON" - "$tmp/sample.ism" <<'PY'
import os, struct, sys
import xml.etree.ElementTree as ET

root = sys.argv[1]
TFXD = bytes.fromhex("6D1D9B0542D544E680E2141DAFF757B2")
errors = []

def boxes(buf, start, end):
    pos = start
    while pos < end:
        if end - pos < 8:
            raise ValueError("truncated box header at %d" % pos)
        size, typ = struct.unpack(">I4s", buf[pos:pos + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", buf[pos + 8:pos + 16])[0]; hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise ValueError("bad size for %r at %d" % (typ, pos))
        yield typ, pos, hdr, size
        pos += size

def tfxd_time(buf):
    top = list(boxes(buf, 0, len(buf)))
    if [t for t, *_ in top] != [b"moof", b"mdat"]:
        raise ValueError("top-level boxes %r, want moof+mdat" % [t for t, *_ in top])
    _, mpos, mhdr, msize = top[0]
    for typ, pos, hdr, size in boxes(buf, mpos + mhdr, mpos + msize):
        if typ != b"traf":
            continue
        kids = {t: (p, h, s) for t, p, h, s in boxes(buf, pos + hdr, pos + size) if t != b"uuid"}
        for need in (b"tfhd", b"trun"):
            if need not in kids:
                raise ValueError("traf without %r" % need)
        for t, p, h, s in boxes(buf, pos + hdr, pos + size):
            if t == b"uuid" and buf[p + h:p + h + 16] == TFXD:
                v = buf[p + h + 16]
                body = p + h + 20
                return struct.unpack(">Q" if v == 1 else ">I", buf[body:body + (8 if v == 1 else 4)])[0]
    raise ValueError("no tfxd")

doc = ET.parse(os.path.join(root, "Manifest")).getroot()
if doc.tag != "SmoothStreamingMedia":
    sys.exit("make-sample: Manifest root is %s" % doc.tag)
summary = []
for si in doc.findall("StreamIndex"):
    typ, url = si.get("Type"), si.get("Url")
    times, t = [], None
    cs = si.findall("c")
    for i, c in enumerate(cs):
        if c.get("t") is not None:
            t = int(c.get("t"))
        elif t is None:
            t = 0
        d = c.get("d")
        if d is None:
            if i + 1 >= len(cs) or cs[i + 1].get("t") is None:
                errors.append("%s: c[%d] has no d" % (typ, i)); break
            d = int(cs[i + 1].get("t")) - t
        d = int(d); r = int(c.get("r", "1"))
        for _ in range(r):
            times.append(t); t += d
    if not times or times[0] != 0:
        errors.append("%s: first fragment time is %r, want 0" % (typ, times[:1]))
    levels = [q.get("Bitrate") for q in si.findall("QualityLevel")]
    for br in levels:
        for ft in times:
            rel = url.replace("{bitrate}", br).replace("{Bitrate}", br) \
                     .replace("{start time}", str(ft)).replace("{start_time}", str(ft))
            path = os.path.join(root, rel)
            if not os.path.isfile(path):
                errors.append("missing " + rel); continue
            with open(path, "rb") as f:
                buf = f.read()
            try:
                got = tfxd_time(buf)
                if got != ft:
                    errors.append("%s: tfxd time %d" % (rel, got))
            except ValueError as e:
                errors.append("%s: %s" % (rel, e))
    summary.append("%s %s x %d fragments" % (typ, "/".join(levels), len(times)))

if errors:
    for e in errors[:20]:
        print("make-sample: " + e, file=sys.stderr)
    sys.exit("make-sample: %d problem(s) in the generated sample" % len(errors))
if os.environ.get("SAMPLE_VERBOSE") == "1":
    print("make-sample: ok: " + "; ".join(summary), file=sys.stderr)
PY

rm -rf -- "$out"
mv -- "$tmp/sample.ism" "$out"
say "wrote $out"
