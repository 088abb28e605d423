/* Helpers for the C tests: checks that print the library's last error, a fresh cache directory,
 * and real Smooth Streaming bytes (a client manifest, fragments built box by box). */
#ifndef SSC_CHECK_H
#define SSC_CHECK_H

#define _POSIX_C_SOURCE 200809L
#include "smoothcache.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            const char *le_ = ssc_last_error();                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, le_ ? le_ : "none");                                              \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#define CHECK_STATUS(expr, want)                                                             \
    do {                                                                                     \
        ssc_status got_ = (expr);                                                            \
        if (got_ != (want)) {                                                                \
            const char *le_ = ssc_last_error();                                              \
            fprintf(stderr, "%s:%d: %s = %s, want %s (last error: %s)\n", __FILE__, __LINE__, \
                    #expr, ssc_status_name(got_), ssc_status_name(want), le_ ? le_ : "none"); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* A fresh directory under $SSC_TEST_TMP (or /tmp); the caller frees the string. */
static inline char *test_dir(const char *name) {
    const char *base = getenv("SSC_TEST_TMP");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", base ? base : "/tmp", name);
    char *d = mkdtemp(tmpl);
    CHECK(d != NULL);
    return strdup(d);
}

static inline int under_valgrind(void) { return getenv("SSC_UNDER_VALGRIND") != NULL; }

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static inline void buf_put(buf_t *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p != NULL);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void buf_u8(buf_t *b, uint8_t v) { buf_put(b, &v, 1); }
static inline void buf_u32(buf_t *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(b, x, 4);
}
static inline void buf_u64(buf_t *b, uint64_t v) {
    buf_u32(b, (uint32_t)(v >> 32));
    buf_u32(b, (uint32_t)v);
}
/* Starts a box; returns its offset for box_end to patch the size. */
static inline size_t box_begin(buf_t *b, const char *type) {
    size_t at = b->len;
    buf_u32(b, 0);
    buf_put(b, type, 4);
    return at;
}
static inline void box_end(buf_t *b, size_t at) {
    uint32_t n = (uint32_t)(b->len - at);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

/* A fragment: moof(mfhd, traf(tfhd, trun, tfxd v1)) then mdat with `samples` samples of
 * `sample_size` bytes whose contents derive from `seed`. Returns malloc'd bytes. */
static inline uint8_t *make_fragment(uint32_t seq, uint64_t time, uint32_t samples,
                                     uint32_t sample_size, uint32_t seed, size_t *len) {
    static const uint8_t tfxd[16] = {0x6D, 0x1D, 0x9B, 0x05, 0x42, 0xD5, 0x44, 0xE6,
                                     0x80, 0xE2, 0x14, 0x1D, 0xAF, 0xF7, 0x57, 0xB2};
    buf_t b = {0};
    size_t moof = box_begin(&b, "moof");
    size_t mfhd = box_begin(&b, "mfhd");
    buf_u32(&b, 0);
    buf_u32(&b, seq);
    box_end(&b, mfhd);
    size_t traf = box_begin(&b, "traf");
    size_t tfhd = box_begin(&b, "tfhd");
    buf_u32(&b, 0x10); /* version 0, default-sample-size present */
    buf_u32(&b, 1);    /* track_ID */
    buf_u32(&b, sample_size);
    box_end(&b, tfhd);
    size_t trun = box_begin(&b, "trun");
    buf_u32(&b, 0x001); /* data-offset present */
    buf_u32(&b, samples);
    size_t data_offset_at = b.len;
    buf_u32(&b, 0);
    box_end(&b, trun);
    size_t uuid = box_begin(&b, "uuid");
    buf_put(&b, tfxd, 16);
    buf_u32(&b, 0x01000000); /* version 1 */
    buf_u64(&b, time);
    buf_u64(&b, 20000000);
    box_end(&b, uuid);
    box_end(&b, traf);
    box_end(&b, moof);
    uint32_t off = (uint32_t)(b.len - moof + 8);
    b.p[data_offset_at] = (uint8_t)(off >> 24);
    b.p[data_offset_at + 1] = (uint8_t)(off >> 16);
    b.p[data_offset_at + 2] = (uint8_t)(off >> 8);
    b.p[data_offset_at + 3] = (uint8_t)off;
    size_t mdat = box_begin(&b, "mdat");
    uint32_t x = seed * 2654435761u + 1;
    for (uint64_t i = 0; i < (uint64_t)samples * sample_size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf_u8(&b, (uint8_t)x);
    }
    box_end(&b, mdat);
    *len = b.len;
    return b.p;
}

/* A client manifest with one video stream (`levels` levels) and one audio stream, `chunks`
 * chunks of 2 s each. Returns a malloc'd NUL-terminated string. */
static inline char *make_manifest(int levels, int chunks) {
    buf_t b = {0};
    char line[512];
    int n = snprintf(line, sizeof line,
                     "<?xml version=\"1.0\"?><SmoothStreamingMedia MajorVersion=\"2\" "
                     "MinorVersion=\"2\" Duration=\"%llu\"><StreamIndex Type=\"video\" "
                     "Name=\"video\" Url=\"QualityLevels({bitrate})/Fragments(video={start time})\">",
                     (unsigned long long)chunks * 20000000ULL);
    buf_put(&b, line, (size_t)n);
    for (int i = 0; i < levels; i++) {
        n = snprintf(line, sizeof line,
                     "<QualityLevel Index=\"%d\" Bitrate=\"%d\" FourCC=\"H264\" MaxWidth=\"640\" "
                     "MaxHeight=\"360\" CodecPrivateData=\"\"/>",
                     i, (i + 1) * 100000);
        buf_put(&b, line, (size_t)n);
    }
    n = snprintf(line, sizeof line,
                 "<c t=\"0\" d=\"20000000\" r=\"%d\"/></StreamIndex><StreamIndex Type=\"audio\" "
                 "Name=\"audio\" Url=\"QualityLevels({bitrate})/Fragments(audio={start time})\">"
                 "<QualityLevel Index=\"0\" Bitrate=\"48000\" FourCC=\"AACL\" SamplingRate=\"44100\" "
                 "Channels=\"2\" BitsPerSample=\"16\" PacketSize=\"4\" AudioTag=\"255\" "
                 "CodecPrivateData=\"\"/><c t=\"0\" d=\"20000000\" r=\"%d\"/></StreamIndex>"
                 "</SmoothStreamingMedia>",
                 chunks, chunks);
    buf_put(&b, line, (size_t)n);
    buf_u8(&b, 0);
    return (char *)b.p;
}

#endif
