/*
 * harness.c — a small Smooth Streaming "player loop" over the smoothcache C API,
 * mirroring the Silverlight offline-cache sample:
 *
 *   for each request (the manifest first, then the fragments of the chosen video
 *   and audio quality levels, in time order):
 *       ssc_begin_retrieve / ssc_end_retrieve
 *       hit  -> use the cached bytes (the manifest is parsed for fragment URLs)
 *       miss -> download from the origin with libcurl, then
 *               ssc_begin_persist / ssc_end_persist with the origin's Content-Type
 *
 * usage: harness [--offline] [--poll] [--cache DIR] [--quota BYTES]
 *                [--video-level N] [--audio-level N] MANIFEST_URL
 *
 *   --offline        never touch the network (libcurl is not even initialised);
 *                    a miss is reported as "miss (offline)"
 *   --poll           keep up to 4 fragment requests in flight: their tokens' fds
 *                    (ssc_token_fd) are waited on with poll(), the event-loop style
 *   --cache DIR      cache directory (default: ./harness-cache)
 *   --quota BYTES    quota passed to ssc_cache_open (default 0: the stored quota,
 *                    or 1 MiB for a new cache)
 *   --video-level N  the N-th video QualityLevel as listed (default 0: the first)
 *   --audio-level N  the same for audio
 *
 * One line per request, then
 *   summary: requests=N hits=H misses=M persisted=P rejected=R failed=F bytes=B
 * (bytes: body bytes the "player" got, from the cache or the network).
 * Exit status: 0 when every request was answered (a hit or a persisted download),
 * 1 otherwise, 2 on a usage error.
 *
 * Build: cc -std=c11 -Wall -Wextra -O2 -Iinclude examples/harness.c \
 *           -Ltarget/release -lsmoothcache -lcurl -o target/harness
 *
 * The manifest is parsed here with a small hand-written scanner until the
 * library exposes its own parser in the C API. It understands what a player
 * needs: <StreamIndex Type Url TimeScale>, <QualityLevel Bitrate> and
 * <c t d r> (chunk timeline per [MS-SSTR] 2.2.2.6), and it never trusts input.
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smoothcache.h"

#define POLL_WINDOW 4               /* requests in flight with --poll */
#define POLL_TIMEOUT_MS 60000       /* give up on a library that never completes */
#define MAX_BODY (256u << 20)       /* refuse downloads larger than this */
#define MAX_FRAGMENTS 1000000u      /* per stream, after expanding r */
#define DEFAULT_TIMESCALE 10000000u

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buf;

static bool buf_append(buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return false;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return false;
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0; /* always NUL-terminated, handy for text */
    return true;
}

static bool buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

static void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The status name and last-error message of a failed call. ssc_last_error()
 * is only valid until the next ssc_ call on this thread, so it is copied
 * before ssc_status_name() is called. */
static void describe_failure(ssc_status st, char *out, size_t outlen)
{
    char msg[512];
    const char *e = ssc_last_error();
    snprintf(msg, sizeof msg, "%s", e ? e : "(no message)");
    const char *name = ssc_status_name(st);
    if (name)
        snprintf(out, outlen, "%s: %s", name, msg);
    else
        snprintf(out, outlen, "status %" PRId32 ": %s", (int32_t)st, msg);
}

/* ------------------------------------------------------------------------ */
/* a minimal, careful client-manifest scanner                               */

typedef struct {
    bool has_t, has_d, has_r;
    uint64_t t, d, r;
} raw_chunk;

typedef struct {
    char *type;          /* "video", "audio", "text", ... */
    char *url;           /* the Url template */
    uint64_t timescale;  /* 0: inherit the root's */
    uint64_t *bitrates;  /* one per QualityLevel, in document order */
    size_t nbitrates;
    raw_chunk *chunks;
    size_t nchunks;
    uint64_t *times;     /* expanded start times */
    size_t ntimes;
} stream_index;

typedef struct {
    uint64_t timescale;
    stream_index *streams;
    size_t nstreams;
} manifest;

static void manifest_free(manifest *m)
{
    for (size_t i = 0; i < m->nstreams; i++) {
        stream_index *s = &m->streams[i];
        free(s->type);
        free(s->url);
        free(s->bitrates);
        free(s->chunks);
        free(s->times);
    }
    free(m->streams);
    memset(m, 0, sizeof *m);
}

/* grow *arr (of *n elements of size sz) by one zeroed element */
static void *grow(void **arr, size_t *n, size_t sz)
{
    if (*n >= SIZE_MAX / sz - 1)
        return NULL;
    void *p = realloc(*arr, (*n + 1) * sz);
    if (!p)
        return NULL;
    *arr = p;
    void *el = (char *)p + *n * sz;
    memset(el, 0, sz);
    (*n)++;
    return el;
}

typedef struct {
    const char *name;
    size_t name_len;
    const char *val; /* raw (still escaped), not NUL-terminated */
    size_t val_len;
} xml_attr;

#define MAX_ATTRS 64

/* Decode the five predefined entities and ASCII character references;
 * anything else is kept as it stands. */
static char *xml_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '&') {
            static const struct { const char *ent; char ch; } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            bool done = false;
            for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                size_t l = strlen(ents[k].ent);
                if (n - i >= l && memcmp(s + i, ents[k].ent, l) == 0) {
                    out[o++] = ents[k].ch;
                    i += l;
                    done = true;
                    break;
                }
            }
            if (!done && n - i >= 4 && s[i + 1] == '#') {
                size_t j = i + 2;
                int base = 10;
                if (j < n && (s[j] == 'x' || s[j] == 'X')) {
                    base = 16;
                    j++;
                }
                unsigned long v = 0;
                size_t start = j;
                while (j < n && j - start < 8) {
                    char c = s[j];
                    int dv;
                    if (c >= '0' && c <= '9')
                        dv = c - '0';
                    else if (base == 16 && c >= 'a' && c <= 'f')
                        dv = c - 'a' + 10;
                    else if (base == 16 && c >= 'A' && c <= 'F')
                        dv = c - 'A' + 10;
                    else
                        break;
                    v = v * (unsigned long)base + (unsigned long)dv;
                    j++;
                }
                if (j > start && j < n && s[j] == ';' && v > 0 && v < 0x80) {
                    out[o++] = (char)v;
                    i = j + 1;
                    done = true;
                }
            }
            if (done)
                continue;
        }
        out[o++] = s[i++];
    }
    out[o] = 0;
    return out;
}

static const xml_attr *find_attr(const xml_attr *a, size_t n, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (a[i].name_len == l && memcmp(a[i].name, name, l) == 0)
            return &a[i];
    return NULL;
}

/* attribute as a fresh string (NULL if absent); *oom set on allocation failure */
static char *attr_str(const xml_attr *a, size_t n, const char *name, bool *oom)
{
    const xml_attr *x = find_attr(a, n, name);
    if (!x)
        return NULL;
    char *s = xml_unescape(x->val, x->val_len);
    if (!s)
        *oom = true;
    return s;
}

/* 1: present and valid, 0: absent, -1: present but not a uint64 */
static int attr_u64(const xml_attr *a, size_t n, const char *name, uint64_t *out)
{
    bool oom = false;
    char *s = attr_str(a, n, name, &oom);
    if (!s)
        return oom ? -1 : 0;
    int rc = parse_u64(s, out) ? 1 : -1;
    free(s);
    return rc;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_name_end(char c) { return is_space(c) || c == '/' || c == '>' || c == '='; }

static const char *find_seq(const char *p, const char *end, const char *seq)
{
    size_t l = strlen(seq);
    for (; (size_t)(end - p) >= l; p++)
        if (memcmp(p, seq, l) == 0)
            return p;
    return NULL;
}

/* Expand the chunk list of one stream into start times ([MS-SSTR] 2.2.2.6,
 * 3.1.5.1; r is one-based). */
static bool expand_timeline(stream_index *s, char *err, size_t errlen)
{
    uint64_t t = 0, last_start = 0;
    bool have_prev = false;
    uint64_t prev_end = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        const raw_chunk *c = &s->chunks[i];
        if (!c->has_t && !c->has_d) {
            snprintf(err, errlen, "%s: c[%zu] has neither t nor d", s->type, i);
            return false;
        }
        if (c->has_t) {
            if (have_prev && c->t < last_start) {
                snprintf(err, errlen, "%s: c[%zu] t goes backwards", s->type, i);
                return false;
            }
            t = c->t;
        } else if (have_prev) {
            t = prev_end;
        } else {
            t = 0;
        }
        uint64_t d;
        if (c->has_d) {
            d = c->d;
        } else if (i + 1 < s->nchunks && s->chunks[i + 1].has_t && s->chunks[i + 1].t >= t) {
            d = s->chunks[i + 1].t - t;
        } else {
            snprintf(err, errlen, "%s: c[%zu] has no d and no later t", s->type, i);
            return false;
        }
        uint64_t r = c->has_r ? c->r : 1;
        if (r == 0 || (r > 1 && !c->has_d)) {
            snprintf(err, errlen, "%s: c[%zu] has a bad r", s->type, i);
            return false;
        }
        if (r > MAX_FRAGMENTS || s->ntimes + r > MAX_FRAGMENTS) {
            snprintf(err, errlen, "%s: more than %u fragments", s->type, MAX_FRAGMENTS);
            return false;
        }
        uint64_t *nt = realloc(s->times, (s->ntimes + (size_t)r) * sizeof *nt);
        if (!nt) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        s->times = nt;
        for (uint64_t k = 0; k < r; k++) {
            if (k > 0 && t > UINT64_MAX - d) {
                snprintf(err, errlen, "%s: c[%zu] time overflows", s->type, i);
                return false;
            }
            if (k > 0)
                t += d;
            s->times[s->ntimes++] = t;
        }
        last_start = t;
        if (t > UINT64_MAX - d) {
            snprintf(err, errlen, "%s: c[%zu] time overflows", s->type, i);
            return false;
        }
        prev_end = t + d;
        t = prev_end;
        have_prev = true;
    }
    return true;
}

static bool parse_manifest(const char *text, size_t len, manifest *m, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    stream_index *cur = NULL; /* the open StreamIndex, if any */
    bool saw_root = false;
    memset(m, 0, sizeof *m);

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            break;
        p = lt;
        if ((size_t)(end - p) >= 4 && memcmp(p, "<!--", 4) == 0) {
            const char *q = find_seq(p + 4, end, "-->");
            if (!q) {
                snprintf(err, errlen, "unterminated comment");
                goto fail;
            }
            p = q + 3;
            continue;
        }
        if ((size_t)(end - p) >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
            const char *q = find_seq(p + 9, end, "]]>");
            if (!q) {
                snprintf(err, errlen, "unterminated CDATA section");
                goto fail;
            }
            p = q + 3;
            continue;
        }
        if ((size_t)(end - p) >= 2 && (p[1] == '?' || p[1] == '!')) {
            const char *q = memchr(p, '>', (size_t)(end - p));
            if (!q) {
                snprintf(err, errlen, "unterminated declaration");
                goto fail;
            }
            p = q + 1;
            continue;
        }
        bool closing = false;
        p++;
        if (p < end && *p == '/') {
            closing = true;
            p++;
        }
        const char *name = p;
        while (p < end && !is_name_end(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0) {
            snprintf(err, errlen, "bad tag at offset %zu", (size_t)(lt - text));
            goto fail;
        }

        /* attributes */
        xml_attr attrs[MAX_ATTRS];
        size_t nattrs = 0;
        bool self_closing = false;
        for (;;) {
            while (p < end && is_space(*p))
                p++;
            if (p >= end) {
                snprintf(err, errlen, "unterminated tag at offset %zu", (size_t)(lt - text));
                goto fail;
            }
            if (*p == '>') {
                p++;
                break;
            }
            if (*p == '/') {
                if (p + 1 < end && p[1] == '>') {
                    self_closing = true;
                    p += 2;
                    break;
                }
                snprintf(err, errlen, "stray '/' in tag at offset %zu", (size_t)(p - text));
                goto fail;
            }
            if (closing) {
                snprintf(err, errlen, "attributes in an end tag at offset %zu", (size_t)(p - text));
                goto fail;
            }
            const char *an = p;
            while (p < end && !is_name_end(*p))
                p++;
            size_t an_len = (size_t)(p - an);
            while (p < end && is_space(*p))
                p++;
            if (an_len == 0 || p >= end || *p != '=') {
                snprintf(err, errlen, "bad attribute at offset %zu", (size_t)(an - text));
                goto fail;
            }
            p++;
            while (p < end && is_space(*p))
                p++;
            if (p >= end || (*p != '"' && *p != '\'')) {
                snprintf(err, errlen, "unquoted attribute value at offset %zu", (size_t)(an - text));
                goto fail;
            }
            char quote = *p++;
            const char *v = p;
            const char *q = memchr(p, quote, (size_t)(end - p));
            if (!q) {
                snprintf(err, errlen, "unterminated attribute value at offset %zu", (size_t)(an - text));
                goto fail;
            }
            p = q + 1;
            if (nattrs < MAX_ATTRS) {
                attrs[nattrs].name = an;
                attrs[nattrs].name_len = an_len;
                attrs[nattrs].val = v;
                attrs[nattrs].val_len = (size_t)(q - v);
                nattrs++;
            }
        }

#define IS(lit) (name_len == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)
        bool oom = false;
        if (closing) {
            if (IS("StreamIndex")) {
                if (!cur) {
                    snprintf(err, errlen, "</StreamIndex> without <StreamIndex>");
                    goto fail;
                }
                cur = NULL;
            }
            continue;
        }
        if (IS("SmoothStreamingMedia")) {
            if (saw_root) {
                snprintf(err, errlen, "two <SmoothStreamingMedia> elements");
                goto fail;
            }
            saw_root = true;
            uint64_t ts;
            int rc = attr_u64(attrs, nattrs, "TimeScale", &ts);
            if (rc < 0 || (rc == 1 && ts == 0)) {
                snprintf(err, errlen, "bad root TimeScale");
                goto fail;
            }
            m->timescale = rc == 1 ? ts : DEFAULT_TIMESCALE;
        } else if (IS("StreamIndex")) {
            if (!saw_root) {
                snprintf(err, errlen, "<StreamIndex> outside <SmoothStreamingMedia>");
                goto fail;
            }
            if (cur) {
                snprintf(err, errlen, "nested <StreamIndex>");
                goto fail;
            }
            stream_index *s = grow((void **)&m->streams, &m->nstreams, sizeof *s);
            if (!s) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            s->type = attr_str(attrs, nattrs, "Type", &oom);
            s->url = attr_str(attrs, nattrs, "Url", &oom);
            uint64_t ts;
            int rc = attr_u64(attrs, nattrs, "TimeScale", &ts);
            if (oom) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            if (rc < 0 || (rc == 1 && ts == 0)) {
                snprintf(err, errlen, "bad StreamIndex TimeScale");
                goto fail;
            }
            s->timescale = rc == 1 ? ts : 0;
            if (!s->type) {
                snprintf(err, errlen, "<StreamIndex> without Type");
                goto fail;
            }
            if (!self_closing)
                cur = s;
        } else if (IS("QualityLevel") && cur) {
            uint64_t br;
            if (attr_u64(attrs, nattrs, "Bitrate", &br) != 1) {
                snprintf(err, errlen, "%s: QualityLevel without a valid Bitrate", cur->type);
                goto fail;
            }
            uint64_t *slot = grow((void **)&cur->bitrates, &cur->nbitrates, sizeof *slot);
            if (!slot) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            *slot = br;
        } else if (IS("c") && cur) {
            raw_chunk c = {0};
            int rt = attr_u64(attrs, nattrs, "t", &c.t);
            int rd = attr_u64(attrs, nattrs, "d", &c.d);
            int rr = attr_u64(attrs, nattrs, "r", &c.r);
            if (rt < 0 || rd < 0 || rr < 0) {
                snprintf(err, errlen, "%s: c[%zu] has a bad t, d or r", cur->type, cur->nchunks);
                goto fail;
            }
            c.has_t = rt == 1;
            c.has_d = rd == 1;
            c.has_r = rr == 1;
            raw_chunk *slot = grow((void **)&cur->chunks, &cur->nchunks, sizeof *slot);
            if (!slot) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            *slot = c;
        }
#undef IS
    }
    if (!saw_root) {
        snprintf(err, errlen, "no <SmoothStreamingMedia> element");
        goto fail;
    }
    if (cur) {
        snprintf(err, errlen, "unterminated <StreamIndex>");
        goto fail;
    }
    for (size_t i = 0; i < m->nstreams; i++) {
        stream_index *s = &m->streams[i];
        if (s->timescale == 0)
            s->timescale = m->timescale;
        if (!expand_timeline(s, err, errlen))
            goto fail;
    }
    return true;
fail:
    manifest_free(m);
    return false;
}

/* base + template with {bitrate}/{Bitrate} and {start time}/{start_time} */
static char *build_fragment_url(const char *base, size_t base_len, const char *tmpl,
                                uint64_t bitrate, uint64_t time)
{
    buf b = {0};
    char num[32];
    bool ok = buf_append(&b, base, base_len);
    for (const char *p = tmpl; ok && *p;) {
        if (*p == '{') {
            if (strncmp(p, "{bitrate}", 9) == 0 || strncmp(p, "{Bitrate}", 9) == 0) {
                snprintf(num, sizeof num, "%" PRIu64, bitrate);
                ok = buf_puts(&b, num);
                p += 9;
                continue;
            }
            if (strncmp(p, "{start time}", 12) == 0 || strncmp(p, "{start_time}", 12) == 0) {
                snprintf(num, sizeof num, "%" PRIu64, time);
                ok = buf_puts(&b, num);
                p += 12;
                continue;
            }
        }
        ok = buf_append(&b, p, 1);
        p++;
    }
    if (!ok) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* ------------------------------------------------------------------------ */
/* the request list                                                         */

typedef struct {
    char *url;
    const char *kind;  /* "video" / "audio" (static) */
    uint64_t t, timescale;
} request;

static void requests_free(request *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].url);
    free(r);
}

/* does a (t_a / ts_a) start before b (t_b / ts_b)? exact, no floating point */
static int cmp_time(const request *a, const request *b)
{
    uint64_t qa = a->t / a->timescale, ra = a->t % a->timescale;
    uint64_t qb = b->t / b->timescale, rb = b->t % b->timescale;
    if (qa != qb)
        return qa < qb ? -1 : 1;
    /* compare ra/ts_a with rb/ts_b: both < 1; use long double, precise enough */
    long double fa = (long double)ra / (long double)a->timescale;
    long double fb = (long double)rb / (long double)b->timescale;
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return 0;
}

/* Fragment requests of the chosen levels of the first video and first audio
 * stream, merged in time order (video first on a tie). */
static bool build_requests(const manifest *m, const char *manifest_url, size_t video_level,
                           size_t audio_level, request **out, size_t *nout, char *err, size_t errlen)
{
    /* cut the manifest URL at its last "/Manifest" (any case); keep the '/' */
    size_t ulen = strlen(manifest_url), base_len = 0;
    for (size_t i = ulen; i >= 9; i--) {
        if (strncasecmp(manifest_url + i - 9, "/Manifest", 9) == 0) {
            base_len = i - 8;
            break;
        }
    }
    if (base_len == 0) {
        const char *slash = strrchr(manifest_url, '/');
        if (!slash) {
            snprintf(err, errlen, "cannot resolve fragment URLs against %s", manifest_url);
            return false;
        }
        base_len = (size_t)(slash - manifest_url) + 1;
    }

    const char *kinds[2] = {"video", "audio"};
    size_t levels[2] = {video_level, audio_level};
    const stream_index *chosen[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < m->nstreams && !chosen[k]; i++)
            if (strcmp(m->streams[i].type, kinds[k]) == 0)
                chosen[k] = &m->streams[i];
        if (!chosen[k])
            continue; /* an audio-only or video-only presentation is fine */
        if (!chosen[k]->url) {
            snprintf(err, errlen, "%s StreamIndex has no Url template", kinds[k]);
            return false;
        }
        if (levels[k] >= chosen[k]->nbitrates) {
            snprintf(err, errlen, "--%s-level %zu: the %s stream has %zu QualityLevel(s)", kinds[k],
                     levels[k], kinds[k], chosen[k]->nbitrates);
            return false;
        }
    }
    if (!chosen[0] && !chosen[1]) {
        snprintf(err, errlen, "the manifest has no video or audio StreamIndex");
        return false;
    }

    size_t n[2] = {chosen[0] ? chosen[0]->ntimes : 0, chosen[1] ? chosen[1]->ntimes : 0};
    request *r = calloc(n[0] + n[1] + 1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    size_t i[2] = {0, 0}, total = 0;
    while (i[0] < n[0] || i[1] < n[1]) {
        request cand[2];
        for (int k = 0; k < 2; k++)
            if (i[k] < n[k])
                cand[k] = (request){NULL, kinds[k], chosen[k]->times[i[k]], chosen[k]->timescale};
        int k;
        if (i[0] >= n[0])
            k = 1;
        else if (i[1] >= n[1])
            k = 0;
        else
            k = cmp_time(&cand[1], &cand[0]) < 0 ? 1 : 0;
        request *q = &r[total];
        *q = cand[k];
        q->url = build_fragment_url(manifest_url, base_len, chosen[k]->url,
                                    chosen[k]->bitrates[levels[k]], q->t);
        if (!q->url) {
            requests_free(r, total);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        total++;
        i[k]++;
    }
    *out = r;
    *nout = total;
    return true;
}

/* ------------------------------------------------------------------------ */
/* the origin (libcurl, one easy handle reused: keep-alive)                 */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    buf *b = userp;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY || !buf_append(b, data, n))
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    return n;
}

/* GET url into *body; *ctype gets a copy of the Content-Type (or NULL). */
static bool download(CURL *h, const char *url, buf *body, char **ctype, char *err, size_t errlen)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    *ctype = NULL;
    body->len = 0;
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK) {
        snprintf(err, errlen, "curl_easy_setopt failed");
        return false;
    }
    CURLcode rc = curl_easy_perform(h);
    bool ok = false;
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "download failed: %s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    } else {
        long code = 0;
        char *ct = NULL;
        if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) {
            snprintf(err, errlen, "no HTTP status");
        } else if (code != 200) {
            snprintf(err, errlen, "download failed: HTTP %ld", code);
        } else if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK) {
            snprintf(err, errlen, "no Content-Type info");
        } else if (ct && !(*ctype = strdup(ct))) {
            snprintf(err, errlen, "out of memory");
        } else {
            ok = true;
        }
    }
    /* the error buffer is on this stack frame: unset it before returning */
    if (curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL) != CURLE_OK && ok) {
        snprintf(err, errlen, "curl_easy_setopt failed");
        free(*ctype);
        *ctype = NULL;
        ok = false;
    }
    return ok;
}

static CURL *make_curl(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    if (curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "smoothcache-harness/1") != CURLE_OK) {
        curl_easy_cleanup(h);
        return NULL;
    }
    return h;
}

/* ------------------------------------------------------------------------ */
/* the player loop                                                          */

typedef struct {
    ssc_cache *cache;
    CURL *curl;    /* NULL with --offline */
    bool offline;
    size_t nreq;
    uint64_t hits, misses, persisted, rejected, failed, bytes;
    bool contract_broken;
} player;

static void report(player *pl, const char *url, const char *fmt, ...)
{
    va_list ap;
    pl->nreq++;
    printf("[%3zu] %s -> ", pl->nreq, url);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* A miss: download, then begin a persist. Returns the persist token (NULL if
 * the request is already settled: reported and counted). If keep is not NULL
 * the downloaded body is appended to it (the manifest). */
static ssc_token *download_and_begin_persist(player *pl, const char *url, void *state, buf *keep,
                                             size_t *len_out)
{
    char err[600];
    buf body = {0};
    char *ctype = NULL;
    if (!download(pl->curl, url, &body, &ctype, err, sizeof err)) {
        pl->failed++;
        report(pl, url, "miss+failed (%s)", err);
        buf_free(&body);
        return NULL;
    }
    pl->bytes += body.len; /* the player has the bytes, whatever the cache does */
    if (keep && !buf_append(keep, body.data, body.len)) {
        pl->failed++;
        report(pl, url, "miss+failed (out of memory)");
        buf_free(&body);
        free(ctype);
        return NULL;
    }
    *len_out = body.len;
    ssc_token *tok = ssc_begin_persist(pl->cache, url, ctype, body.data, body.len, NULL, state);
    if (!tok) {
        describe_failure(SSC_ERR_INVALID_ARGUMENT, err, sizeof err);
        pl->rejected++;
        report(pl, url, "miss+rejected (ssc_begin_persist) %s", err);
    }
    /* the library copied what it needs (API.md): our buffers can go now */
    buf_free(&body);
    free(ctype);
    return tok;
}

static void finish_persist(player *pl, const char *url, ssc_token *tok, size_t len)
{
    ssc_status st = ssc_end_persist(tok);
    if (st == SSC_OK) {
        pl->persisted++;
        report(pl, url, "miss+persisted (%zu bytes)", len);
    } else {
        char why[600];
        describe_failure(st, why, sizeof why);
        pl->rejected++;
        report(pl, url, "miss+rejected %s", why);
    }
}

/* What a hit or a failed retrieve means; returns true when the request is a
 * miss that still needs the origin. */
static bool finish_retrieve(player *pl, const char *url, ssc_token *tok, buf *keep)
{
    ssc_response *resp = NULL;
    ssc_status st = ssc_end_retrieve(tok, &resp);
    if (st == SSC_OK) {
        size_t len = 0;
        const uint8_t *data = resp ? ssc_response_data(resp, &len) : NULL;
        if (!data) {
            pl->failed++;
            pl->contract_broken = true;
            report(pl, url, "error: SSC_OK without response data");
        } else if (keep && !buf_append(keep, data, len)) {
            pl->failed++;
            report(pl, url, "hit, but out of memory");
        } else {
            const char *ct = ssc_response_content_type(resp);
            pl->hits++;
            pl->bytes += len;
            report(pl, url, "hit (%zu bytes, %s)", len, ct ? ct : "no content type");
        }
        ssc_response_free(resp);
        return false;
    }
    if (resp) { /* never expected: NULL on anything but SSC_OK */
        pl->contract_broken = true;
        ssc_response_free(resp);
    }
    pl->misses++;
    if (st != SSC_MISS) {
        /* a retrieve error (corrupt entry, I/O): the player treats it as a miss */
        char why[600];
        describe_failure(st, why, sizeof why);
        fprintf(stderr, "harness: retrieve of %s: %s (treated as a miss)\n", url, why);
    }
    if (pl->offline) {
        report(pl, url, "miss (offline)");
        return false;
    }
    return true;
}

/* The Silverlight pattern, blocking: End* waits for completion. */
static void do_request_blocking(player *pl, const char *url, buf *keep)
{
    ssc_token *tok = ssc_begin_retrieve(pl->cache, url, NULL, NULL);
    if (!tok) {
        char why[600];
        describe_failure(SSC_ERR_INVALID_ARGUMENT, why, sizeof why);
        pl->failed++;
        report(pl, url, "error (ssc_begin_retrieve) %s", why);
        return;
    }
    if (!finish_retrieve(pl, url, tok, keep))
        return;
    size_t len = 0;
    ssc_token *ptok = download_and_begin_persist(pl, url, NULL, keep, &len);
    if (ptok)
        finish_persist(pl, url, ptok, len);
}

/* --poll: up to POLL_WINDOW requests in flight, their tokens' fds in poll() */
typedef struct {
    ssc_token *tok;
    bool persisting; /* false: a retrieve is in flight */
    size_t req;
    size_t len;      /* bytes handed to the persist */
} slot;

static void run_polled(player *pl, const request *reqs, size_t n)
{
    slot slots[POLL_WINDOW];
    struct pollfd fds[POLL_WINDOW];
    size_t map[POLL_WINDOW];
    size_t next = 0;
    memset(slots, 0, sizeof slots);

    for (;;) {
        /* fill the window */
        for (size_t s = 0; s < POLL_WINDOW && next < n; s++) {
            if (slots[s].tok)
                continue;
            slots[s] = (slot){ssc_begin_retrieve(pl->cache, reqs[next].url, NULL, &slots[s]), false, next, 0};
            if (!slots[s].tok) {
                char why[600];
                describe_failure(SSC_ERR_INVALID_ARGUMENT, why, sizeof why);
                pl->failed++;
                report(pl, reqs[next].url, "error (ssc_begin_retrieve) %s", why);
            }
            next++;
        }
        nfds_t nfds = 0;
        for (size_t s = 0; s < POLL_WINDOW; s++) {
            if (!slots[s].tok)
                continue;
            int fd = ssc_token_fd(slots[s].tok);
            if (fd < 0) {
                const char *e = ssc_last_error();
                fprintf(stderr, "harness: ssc_token_fd failed: %s\n", e ? e : "(no message)");
                pl->contract_broken = true;
                fd = -1; /* poll ignores it; the token is ended below, blocking */
            }
            fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN, .revents = 0};
            map[nfds++] = s;
        }
        if (nfds == 0) {
            if (next >= n)
                break;
            continue;
        }
        bool any_bad_fd = false;
        for (nfds_t i = 0; i < nfds; i++)
            any_bad_fd |= fds[i].fd < 0;
        int rc = any_bad_fd ? 0 : poll(fds, nfds, POLL_TIMEOUT_MS);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || (rc == 0 && !any_bad_fd)) {
            fprintf(stderr, "harness: %s; abandoning %zu token(s)\n",
                    rc < 0 ? strerror(errno) : "no token completed in time", (size_t)nfds);
            for (nfds_t i = 0; i < nfds; i++) {
                slot *sl = &slots[map[i]];
                ssc_token_free(sl->tok);
                sl->tok = NULL;
                pl->failed++;
                report(pl, reqs[sl->req].url, "error (timed out)");
            }
            /* the rest are never attempted: count them as failed */
            for (; next < n; next++) {
                pl->failed++;
                report(pl, reqs[next].url, "error (not attempted)");
            }
            break;
        }
        for (nfds_t i = 0; i < nfds; i++) {
            if (fds[i].fd >= 0 && fds[i].revents == 0)
                continue;
            slot *sl = &slots[map[i]];
            const char *url = reqs[sl->req].url;
            /* the fd is readable only once the operation has completed */
            if (fds[i].fd >= 0 && !ssc_token_is_completed(sl->tok)) {
                fprintf(stderr, "harness: %s: fd readable but token not completed\n", url);
                pl->contract_broken = true;
            }
            if (ssc_token_state(sl->tok) != sl) {
                fprintf(stderr, "harness: %s: ssc_token_state is not what begin was given\n", url);
                pl->contract_broken = true;
            }
            ssc_token *tok = sl->tok;
            sl->tok = NULL;
            if (sl->persisting) {
                finish_persist(pl, url, tok, sl->len);
            } else if (finish_retrieve(pl, url, tok, NULL)) {
                /* a miss: download now, then the persist joins the poll set */
                sl->tok = download_and_begin_persist(pl, url, sl, NULL, &sl->len);
                sl->persisting = true;
            }
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: harness [--offline] [--poll] [--cache DIR] [--quota BYTES]\n"
               "               [--video-level N] [--audio-level N] MANIFEST_URL\n");
}

int main(int argc, char **argv)
{
    bool offline = false, use_poll = false;
    const char *cache_dir = "harness-cache", *manifest_url = NULL;
    uint64_t quota = 0, vlevel = 0, alevel = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *num = NULL;
        if (strcmp(a, "--offline") == 0) {
            offline = true;
        } else if (strcmp(a, "--poll") == 0) {
            use_poll = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--cache") == 0) {
            if (++i >= argc) {
                usage(stderr);
                return 2;
            }
            cache_dir = argv[i];
        } else if (strcmp(a, "--quota") == 0) {
            num = &quota;
        } else if (strcmp(a, "--video-level") == 0) {
            num = &vlevel;
        } else if (strcmp(a, "--audio-level") == 0) {
            num = &alevel;
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "harness: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!manifest_url) {
            manifest_url = a;
        } else {
            usage(stderr);
            return 2;
        }
        if (num) {
            if (++i >= argc || !parse_u64(argv[i], num)) {
                fprintf(stderr, "harness: %s needs a non-negative integer\n", a);
                return 2;
            }
        }
    }
    if (!manifest_url) {
        usage(stderr);
        return 2;
    }
    if (vlevel > SIZE_MAX || alevel > SIZE_MAX) {
        fprintf(stderr, "harness: level out of range\n");
        return 2;
    }

    player pl = {0};
    pl.offline = offline;
    int exit_code = 1;
    buf mtext = {0};
    manifest m = {0};
    request *reqs = NULL;
    size_t nreqs = 0;
    bool curl_inited = false;
    char err[600];

    ssc_status st = ssc_cache_open(cache_dir, quota, &pl.cache);
    if (st != SSC_OK) {
        describe_failure(st, err, sizeof err);
        fprintf(stderr, "harness: ssc_cache_open(%s): %s\n", cache_dir, err);
        return 1;
    }
    if (!offline) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "harness: curl_global_init failed\n");
            goto out;
        }
        curl_inited = true;
        pl.curl = make_curl();
        if (!pl.curl) {
            fprintf(stderr, "harness: curl_easy_init failed\n");
            goto out;
        }
    }

    /* 1. the manifest */
    do_request_blocking(&pl, manifest_url, &mtext);
    if (!mtext.data) {
        /* neither from the cache nor from the origin: nothing more to ask */
        fprintf(stderr, "harness: no manifest, stopping\n");
        goto summary;
    }
    if (!parse_manifest((const char *)mtext.data, mtext.len, &m, err, sizeof err)) {
        fprintf(stderr, "harness: bad manifest: %s\n", err);
        goto summary;
    }
    if (!build_requests(&m, manifest_url, (size_t)vlevel, (size_t)alevel, &reqs, &nreqs, err,
                        sizeof err)) {
        fprintf(stderr, "harness: %s\n", err);
        goto summary;
    }

    /* 2. the fragments, in time order */
    if (use_poll) {
        run_polled(&pl, reqs, nreqs);
    } else {
        for (size_t i = 0; i < nreqs; i++)
            do_request_blocking(&pl, reqs[i].url, NULL);
    }

summary:
    printf("summary: requests=%zu hits=%" PRIu64 " misses=%" PRIu64 " persisted=%" PRIu64
           " rejected=%" PRIu64 " failed=%" PRIu64 " bytes=%" PRIu64 "\n",
           pl.nreq, pl.hits, pl.misses, pl.persisted, pl.rejected, pl.failed, pl.bytes);
    {
        ssc_stats s;
        memset(&s, 0, sizeof s);
        st = ssc_cache_stats(pl.cache, &s);
        if (st == SSC_OK) {
            printf("cache: used=%" PRIu64 " quota=%" PRIu64 " entries=%" PRIu64 "\n", s.used_bytes,
                   s.quota_bytes, s.entries);
        } else {
            describe_failure(st, err, sizeof err);
            fprintf(stderr, "harness: ssc_cache_stats: %s\n", err);
        }
    }
    if (pl.contract_broken)
        fprintf(stderr, "harness: the library broke the API contract (see above)\n");
    /* answered: every request (manifest included) was a hit or was persisted */
    if (pl.nreq == 1 + nreqs && pl.hits + pl.persisted == pl.nreq && !pl.contract_broken &&
        reqs != NULL)
        exit_code = 0;

out:
    requests_free(reqs, nreqs);
    manifest_free(&m);
    buf_free(&mtext);
    if (pl.curl)
        curl_easy_cleanup(pl.curl);
    if (curl_inited)
        curl_global_cleanup();
    ssc_cache_close(pl.cache);
    if (fflush(stdout) != 0)
        exit_code = 1;
    return exit_code;
}
