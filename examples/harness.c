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
 * The manifest is parsed by the library (ssc_manifest_parse), the parser the
 * cache itself validates manifests with: the harness only walks its model
 * (ssc_manifest_stream, ssc_manifest_chunk) and asks it for fragment URLs
 * (ssc_manifest_fragment_url), resolved against MANIFEST_URL.
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smoothcache.h"

#define POLL_WINDOW 4               /* requests in flight with --poll */
#define POLL_TIMEOUT_MS 60000       /* give up on a library that never completes */
#define MAX_BODY (256u << 20)       /* refuse downloads larger than this */

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
/* the request list, from the library's manifest model                      */

typedef struct {
    char *url;          /* owned: free with ssc_string_free */
    uint64_t t, timescale;
} request;

static void requests_free(request *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ssc_string_free(r[i].url);
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
 * stream, merged in time order (video first on a tie). The manifest parsed the
 * timelines and resolves the URLs (ssc_manifest_chunk, ssc_manifest_fragment_url). */
static bool build_requests(const ssc_manifest *m, size_t video_level, size_t audio_level,
                           request **out, size_t *nout, char *err, size_t errlen)
{
    const char *kinds[2] = {"video", "audio"};
    const ssc_stream_type types[2] = {SSC_STREAM_VIDEO, SSC_STREAM_AUDIO};
    size_t levels[2] = {video_level, audio_level};
    bool found[2] = {false, false};
    size_t stream[2] = {0, 0}, n[2] = {0, 0};
    uint64_t timescale[2] = {0, 0};
    size_t nstreams = ssc_manifest_stream_count(m);
    ssc_status st;

    for (int k = 0; k < 2; k++) {
        ssc_stream_info si;
        memset(&si, 0, sizeof si);
        for (size_t i = 0; i < nstreams && !found[k]; i++) {
            st = ssc_manifest_stream(m, i, &si);
            if (st != SSC_OK) {
                char why[512];
                describe_failure(st, why, sizeof why);
                snprintf(err, errlen, "ssc_manifest_stream(%zu): %s", i, why);
                return false;
            }
            if (si.type == types[k]) {
                found[k] = true;
                stream[k] = i;
            }
        }
        if (!found[k])
            continue; /* an audio-only or video-only presentation is fine */
        if (!si.url_template) {
            snprintf(err, errlen, "%s StreamIndex has no Url template", kinds[k]);
            return false;
        }
        if (levels[k] >= si.quality_count) {
            snprintf(err, errlen, "--%s-level %zu: the %s stream has %zu QualityLevel(s)", kinds[k],
                     levels[k], kinds[k], si.quality_count);
            return false;
        }
        n[k] = si.chunk_count;
        timescale[k] = si.timescale;
    }
    if (!found[0] && !found[1]) {
        snprintf(err, errlen, "the manifest has no video or audio StreamIndex");
        return false;
    }

    if (n[0] > SIZE_MAX / sizeof(request) - 1 - n[1]) {
        snprintf(err, errlen, "too many fragments");
        return false;
    }
    request *r = calloc(n[0] + n[1] + 1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    size_t i[2] = {0, 0}, total = 0;
    while (i[0] < n[0] || i[1] < n[1]) {
        request cand[2];
        memset(cand, 0, sizeof cand);
        for (int k = 0; k < 2; k++) {
            if (i[k] >= n[k])
                continue;
            uint64_t duration;
            cand[k].timescale = timescale[k];
            st = ssc_manifest_chunk(m, stream[k], i[k], &cand[k].t, &duration);
            if (st != SSC_OK) {
                char why[512];
                describe_failure(st, why, sizeof why);
                snprintf(err, errlen, "%s chunk %zu: %s", kinds[k], i[k], why);
                requests_free(r, total);
                return false;
            }
        }
        int k;
        if (i[0] >= n[0])
            k = 1;
        else if (i[1] >= n[1])
            k = 0;
        else
            k = cmp_time(&cand[1], &cand[0]) < 0 ? 1 : 0;
        request *q = &r[total];
        *q = cand[k];
        st = ssc_manifest_fragment_url(m, stream[k], levels[k], i[k], &q->url);
        if (st != SSC_OK) {
            char why[512];
            describe_failure(st, why, sizeof why);
            snprintf(err, errlen, "%s chunk %zu: no fragment URL: %s", kinds[k], i[k], why);
            requests_free(r, total);
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
    ssc_manifest *m = NULL;
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
    st = ssc_manifest_parse(mtext.data, mtext.len, manifest_url, &m);
    if (st != SSC_OK) {
        describe_failure(st, err, sizeof err);
        fprintf(stderr, "harness: bad manifest: %s\n", err);
        goto summary;
    }
    if (!build_requests(m, (size_t)vlevel, (size_t)alevel, &reqs, &nreqs, err, sizeof err)) {
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
    ssc_manifest_free(m);
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
