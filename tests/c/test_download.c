/* Fetch-through and whole-presentation downloads against a real origin: scripts/origin.py
 * serving the FFmpeg-made sample (make sample). A download with progress followed on the
 * token's fd, offline playback byte-identical to the origin's files, the presentation list,
 * both verifies, fetch with the origin down and up, an explicit level list, bad options, the
 * quota check, cancel and resume, tokens of the wrong kind, removal, and NULL arguments. */
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#define INVALID SSC_ERR_INVALID_ARGUMENT
#define SAMPLE_ROOT "target/sample"

/* ---------------------------------------------------------------------------------------- */
/* The origin: python3 scripts/origin.py target/sample --log LOG [--port N]                  */

static pid_t origin_pid = -1;
static char origin_log[4096];

static void origin_stop(void) {
    if (origin_pid > 0) {
        kill(origin_pid, SIGTERM);
        int st;
        while (waitpid(origin_pid, &st, 0) < 0 && errno == EINTR) {
        }
        origin_pid = -1;
    }
}

/* Starts the origin (on `port`, or a free one when 0) and answers its port, or 0 when it did
 * not start (e.g. the port is taken). */
static int origin_start(int port) {
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    char *argv[] = {"python3", "scripts/origin.py", SAMPLE_ROOT, "--log", origin_log,
                    "--port",  port_arg,            NULL};
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    CHECK(f != NULL);
    char line[64];
    int got = 0;
    if (fgets(line, sizeof line, f) != NULL)
        got = atoi(line);
    fclose(f); /* the origin writes nothing else to stdout */
    if (got <= 0) {
        int st;
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        return 0;
    }
    origin_pid = pid;
    return got;
}

/* Lines of the origin's log containing `needle` (after the first `skip` lines). */
static int log_count(const char *needle, int skip, int *lines_out) {
    FILE *f = fopen(origin_log, "r");
    CHECK(f != NULL);
    char line[4096];
    int n = 0, lines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (lines++ >= skip && strstr(line, needle) != NULL)
            n++;
    }
    fclose(f);
    if (lines_out)
        *lines_out = lines;
    return n;
}

static int log_lines(void) {
    int lines = 0;
    log_count("", 0, &lines);
    return lines;
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void check_invalid_message(void) {
    const char *e = ssc_last_error();
    CHECK(e != NULL);
    if (strncmp(e, "SSC_ERR_INVALID_ARGUMENT", 24) != 0) {
        fprintf(stderr, "last error %s is not an invalid argument's\n", e);
        exit(1);
    }
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    buf_t b = {0};
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.p;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The file the origin serves for `url` (http://127.0.0.1:PORT/rest): target/sample/rest,
 * percent-decoded. */
static void url_to_path(const char *url, char *path, size_t cap) {
    const char *p = strstr(url, "://");
    CHECK(p != NULL);
    p = strchr(p + 3, '/');
    CHECK(p != NULL);
    size_t n = (size_t)snprintf(path, cap, "%s", SAMPLE_ROOT);
    for (; *p && n + 1 < cap; p++) {
        if (p[0] == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            path[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            path[n++] = *p;
        }
    }
    path[n] = 0;
}

/* Retrieves `url`: SSC_OK with a response, SSC_MISS, or an error. */
static ssc_status retrieve(ssc_cache *c, const char *url, ssc_response **out) {
    ssc_token *t = ssc_begin_retrieve(c, url, NULL, NULL);
    CHECK(t != NULL);
    return ssc_end_retrieve(t, out);
}

/* Checks that `r` holds exactly the bytes of the origin's file for `url`; frees `r`. */
static void check_same_as_origin(ssc_response *r, const char *url) {
    char path[4096];
    url_to_path(url, path, sizeof path);
    size_t want_len = 0;
    uint8_t *want = read_file(path, &want_len);
    size_t len = 0;
    const uint8_t *data = ssc_response_data(r, &len);
    if (len != want_len || memcmp(data, want, len) != 0) {
        fprintf(stderr, "%s: %zu bytes stored, %s has %zu (or they differ)\n", url, len, path,
                want_len);
        exit(1);
    }
    free(want);
    ssc_response_free(r);
}

/* A hit with the origin's bytes. */
static void check_hit(ssc_cache *c, const char *url) {
    ssc_response *r = NULL;
    ssc_status st = retrieve(c, url, &r);
    if (st != SSC_OK) {
        fprintf(stderr, "retrieve %s = %s, want SSC_OK\n", url, ssc_status_name(st));
        exit(1);
    }
    check_same_as_origin(r, url);
}

static void check_miss(ssc_cache *c, const char *url) {
    ssc_response *r = (ssc_response *)1;
    ssc_status st = retrieve(c, url, &r);
    if (st != SSC_MISS || r != NULL) {
        fprintf(stderr, "retrieve %s = %s, want SSC_MISS\n", url, ssc_status_name(st));
        exit(1);
    }
}

/* The sample's manifest, parsed with `manifest_url` so it builds that origin's fragment URLs. */
static ssc_manifest *sample_manifest(const char *manifest_url) {
    size_t len = 0;
    uint8_t *bytes = read_file(SAMPLE_ROOT "/sample.ism/Manifest", &len);
    ssc_manifest *m = NULL;
    CHECK_STATUS(ssc_manifest_parse(bytes, len, manifest_url, &m), SSC_OK);
    free(bytes);
    return m;
}

/* The position of the lowest- or highest-bitrate level of `stream`. */
static size_t level_by_rate(const ssc_manifest *m, size_t stream, int highest) {
    ssc_stream_info s;
    CHECK_STATUS(ssc_manifest_stream(m, stream, &s), SSC_OK);
    size_t best = 0;
    uint64_t best_rate = 0;
    for (size_t q = 0; q < s.quality_count; q++) {
        ssc_quality_info qi;
        CHECK_STATUS(ssc_manifest_quality(m, stream, q, &qi), SSC_OK);
        if (q == 0 || (highest ? qi.bitrate > best_rate : qi.bitrate < best_rate)) {
            best = q;
            best_rate = qi.bitrate;
        }
    }
    return best;
}

static char *fragment_url(const ssc_manifest *m, size_t stream, size_t quality, size_t chunk) {
    char *u = NULL;
    CHECK_STATUS(ssc_manifest_fragment_url(m, stream, quality, chunk, &u), SSC_OK);
    CHECK(u != NULL);
    return u;
}

static void check_progress_reserved(const ssc_progress *p) {
    for (size_t i = 0; i < sizeof p->reserved / sizeof p->reserved[0]; i++)
        CHECK(p->reserved[i] == 0);
}

/* Follows a download with poll() on its fd, reading its progress at every wake-up, until it
 * has completed. Checks the figures never go back. Answers the last progress. */
static ssc_progress follow(ssc_token *t) {
    int fd = ssc_token_fd(t);
    CHECK(fd >= 0);
    ssc_progress prev;
    memset(&prev, 0, sizeof prev);
    int polls_since_done = 0;
    for (int polls = 0;; polls++) {
        CHECK(polls < 6000); /* 2 minutes */
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        int r = poll(&pfd, 1, 20);
        CHECK(r >= 0 || errno == EINTR);
        ssc_progress p;
        memset(&p, 0xAB, sizeof p);
        CHECK_STATUS(ssc_download_progress(t, &p), SSC_OK);
        check_progress_reserved(&p);
        CHECK(p.state >= SSC_DOWNLOAD_STARTING && p.state <= SSC_DOWNLOAD_CANCELLED);
        CHECK(p.fragments_done >= prev.fragments_done);
        CHECK(p.bytes_done >= prev.bytes_done);
        CHECK(p.fragments_total == 0 || p.fragments_done <= p.fragments_total);
        CHECK(prev.fragments_total == 0 || p.fragments_total == prev.fragments_total);
        if (p.state == SSC_DOWNLOAD_RUNNING || p.state == SSC_DOWNLOAD_FLUSHING)
            CHECK(p.bytes_expected >= p.bytes_done);
        prev = p;
        if (r > 0) {
            CHECK(pfd.revents & POLLIN);
            break;
        }
        /* a final state is set just before completion: the fd follows promptly */
        if (p.state >= SSC_DOWNLOAD_DONE)
            CHECK(++polls_since_done < 250);
    }
    CHECK(ssc_token_is_completed(t));
    CHECK_STATUS(ssc_token_wait(t, 0), SSC_OK);
    ssc_progress last;
    CHECK_STATUS(ssc_download_progress(t, &last), SSC_OK);
    CHECK(last.fragments_done >= prev.fragments_done);
    return last;
}

static ssc_download_options options(int quality) {
    ssc_download_options o;
    ssc_download_options_init(&o);
    o.quality = quality;
    o.backoff_ms = 20;
    return o;
}

static ssc_presentation_info only_presentation(ssc_cache *c, ssc_presentation_list **keep) {
    ssc_presentation_list *l = NULL;
    CHECK_STATUS(ssc_cache_list_presentations(c, &l), SSC_OK);
    CHECK(l != NULL);
    CHECK(ssc_presentation_list_count(l) == 1);
    ssc_presentation_info pi;
    CHECK_STATUS(ssc_presentation_list_get(l, 0, &pi), SSC_OK);
    CHECK_STATUS(ssc_presentation_list_get(l, 1, &pi), INVALID); /* out of range */
    CHECK_STATUS(ssc_presentation_list_get(l, 0, &pi), SSC_OK);
    for (size_t i = 0; i < 4; i++)
        CHECK(pi.reserved[i] == 0);
    *keep = l; /* pi.manifest_url lives as long as the list */
    return pi;
}

/* ---------------------------------------------------------------------------------------- */

static void test_defaults(void) {
    ssc_download_options o;
    memset(&o, 0xEE, sizeof o);
    ssc_download_options_init(&o);
    CHECK(o.struct_size == sizeof(ssc_download_options));
    CHECK(o.quality == SSC_QUALITY_ALL);
    CHECK(o.max_bitrate == 0);
    CHECK(o.levels == NULL && o.level_count == 0);
    CHECK(o.start_seconds == 0.0 && o.end_seconds == 0.0);
    CHECK(o.parallel == 4);
    CHECK(o.retries == 3);
    CHECK(o.backoff_ms == 200);
    CHECK(o.connect_timeout_ms == 10000);
    CHECK(o.read_timeout_ms == 30000);
    CHECK(o.max_manifest_bytes == 64ull << 20);
    CHECK(o.max_fragment_bytes == 64ull << 20);
    for (size_t i = 0; i < 4; i++)
        CHECK(o.reserved[i] == 0);
    ssc_download_options_init(NULL); /* ignored */
}

static void test_null_arguments(ssc_cache *c, const char *manifest_url) {
    ssc_download_options o;
    ssc_download_options_init(&o);
    ssc_response *r = (ssc_response *)1;

    CHECK(ssc_begin_fetch(NULL, manifest_url, NULL, NULL) == NULL);
    check_invalid_message();
    CHECK(ssc_begin_fetch(c, NULL, NULL, NULL) == NULL);
    check_invalid_message();
    CHECK(ssc_begin_fetch(c, "ftp://127.0.0.1/x.ism/Manifest", NULL, NULL) == NULL);
    check_invalid_message();
    CHECK(ssc_begin_fetch(c, "http://127.0.0.1/\xff\xfe", NULL, NULL) == NULL);
    check_invalid_message();
    CHECK_STATUS(ssc_end_fetch(NULL, &r), INVALID);
    CHECK(r == NULL);
    CHECK_STATUS(ssc_end_fetch(NULL, NULL), INVALID);

    CHECK(ssc_begin_download(NULL, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();
    CHECK(ssc_begin_download(c, NULL, &o, NULL, NULL) == NULL);
    check_invalid_message();
    CHECK(ssc_begin_download(c, "http://127.0.0.1/\xff.ism/Manifest", &o, NULL, NULL) == NULL);
    check_invalid_message();
    CHECK_STATUS(ssc_end_download(NULL), INVALID);
    ssc_progress p;
    CHECK_STATUS(ssc_download_progress(NULL, &p), INVALID);
    CHECK_STATUS(ssc_token_cancel(NULL), INVALID);

    ssc_presentation_list *l = (ssc_presentation_list *)1;
    CHECK_STATUS(ssc_cache_list_presentations(NULL, &l), INVALID);
    CHECK(l == NULL);
    CHECK_STATUS(ssc_cache_list_presentations(c, NULL), INVALID);
    CHECK(ssc_presentation_list_count(NULL) == 0);
    ssc_presentation_info pi;
    CHECK_STATUS(ssc_presentation_list_get(NULL, 0, &pi), INVALID);
    CHECK_STATUS(ssc_cache_list_presentations(c, &l), SSC_OK);
    CHECK_STATUS(ssc_presentation_list_get(l, 0, NULL), INVALID);
    ssc_presentation_list_free(l);
    ssc_presentation_list_free(NULL);

    uint64_t n = 77;
    CHECK_STATUS(ssc_cache_remove_presentation(NULL, manifest_url, &n), INVALID);
    CHECK_STATUS(ssc_cache_remove_presentation(c, NULL, &n), INVALID);
    CHECK(n == 77);
    ssc_verify_report vr;
    CHECK_STATUS(ssc_cache_verify_presentation(NULL, manifest_url, 0, &vr), INVALID);
    CHECK_STATUS(ssc_cache_verify_presentation(c, NULL, 0, &vr), INVALID);
    CHECK_STATUS(ssc_cache_verify_presentation(c, manifest_url, 0, NULL), INVALID);
    ssc_cache_report cr;
    CHECK_STATUS(ssc_cache_verify(NULL, &cr), INVALID);
    CHECK_STATUS(ssc_cache_verify(c, NULL), INVALID);
}

static void test_bad_options(ssc_cache *c, const char *manifest_url, const char *fragment) {
    ssc_download_options o;

    ssc_download_options_init(&o);
    o.struct_size = 0;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.struct_size = (uint32_t)sizeof o - 8; /* an older, smaller struct than this library's */
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.quality = 99;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();
    o.quality = -1;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.parallel = 0;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();
    o.parallel = 65;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.quality = SSC_QUALITY_LIST; /* without levels */
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();
    ssc_quality_ref ref = {0, 0};
    o.levels = &ref;
    o.level_count = 0;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.connect_timeout_ms = 0;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    ssc_download_options_init(&o);
    o.start_seconds = -1.0;
    CHECK(ssc_begin_download(c, manifest_url, &o, NULL, NULL) == NULL);
    check_invalid_message();

    /* not a manifest URL */
    ssc_download_options_init(&o);
    CHECK(ssc_begin_download(c, fragment, &o, NULL, NULL) == NULL);
    check_invalid_message();
}

int main(void) {
    char *dir = test_dir("download");
    snprintf(origin_log, sizeof origin_log, "%s/origin.log", dir);
    atexit(origin_stop);

    test_defaults();

    int port = origin_start(0);
    CHECK(port > 0);
    char base[128], manifest_url[160];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/sample.ism", port);
    snprintf(manifest_url, sizeof manifest_url, "%s/Manifest", base);

    ssc_manifest *m = sample_manifest(manifest_url);
    CHECK(ssc_manifest_stream_count(m) == 2);
    ssc_stream_info video, audio;
    CHECK_STATUS(ssc_manifest_stream(m, 0, &video), SSC_OK);
    CHECK_STATUS(ssc_manifest_stream(m, 1, &audio), SSC_OK);
    CHECK(video.type == SSC_STREAM_VIDEO && audio.type == SSC_STREAM_AUDIO);
    CHECK(video.quality_count == 3 && audio.quality_count == 1);
    CHECK(video.chunk_count == 12 && audio.chunk_count == 12);
    size_t lowest = level_by_rate(m, 0, 0), highest = level_by_rate(m, 0, 1);
    {
        ssc_quality_info qi;
        CHECK_STATUS(ssc_manifest_quality(m, 0, lowest, &qi), SSC_OK);
        CHECK(qi.bitrate == 60000);
    }
    uint64_t lowest_total = (uint64_t)(video.chunk_count + audio.chunk_count);

    /* ---- a download of the lowest levels, followed on the token's fd ---- */
    char *cache_dir = test_dir("download-cache");
    ssc_cache *c = NULL;
    CHECK_STATUS(ssc_cache_open(cache_dir, 64ull << 20, &c), SSC_OK);
    test_null_arguments(c, manifest_url);
    {
        char *frag = fragment_url(m, 0, lowest, 0);
        test_bad_options(c, manifest_url, frag);
        ssc_string_free(frag);
    }
    CHECK(log_lines() == 0); /* bad options never reach the network */

    ssc_download_options o = options(SSC_QUALITY_LOWEST);
    ssc_token *t = ssc_begin_download(c, manifest_url, &o, NULL, NULL);
    CHECK(t != NULL);
    ssc_progress p = follow(t);
    CHECK(p.state == SSC_DOWNLOAD_DONE);
    CHECK(p.fragments_total == lowest_total);
    CHECK(p.fragments_done == p.fragments_total);
    CHECK(!p.bytes_expected_is_estimate);
    CHECK(p.bytes_expected == p.bytes_done);
    CHECK(p.bytes_done > 0);
    CHECK_STATUS(ssc_token_cancel(t), SSC_OK); /* ended already: changes nothing */
    CHECK_STATUS(ssc_download_progress(t, &p), SSC_OK);
    CHECK(p.state == SSC_DOWNLOAD_DONE);
    CHECK_STATUS(ssc_end_download(t), SSC_OK);
    /* the manifest once, every selected fragment once, nothing else */
    CHECK(log_count("/Manifest ", 0, NULL) == 1);
    CHECK(log_count(" 200", 0, NULL) == (int)lowest_total + 1);
    CHECK(log_lines() == (int)lowest_total + 1);

    /* ---- offline: every lowest-level and audio fragment is a byte-identical hit ---- */
    origin_stop();
    check_hit(c, manifest_url);
    for (size_t k = 0; k < video.chunk_count; k++) {
        char *u = fragment_url(m, 0, lowest, k);
        check_hit(c, u);
        ssc_string_free(u);
        u = fragment_url(m, 0, highest, k);
        check_miss(c, u); /* not selected */
        ssc_string_free(u);
    }
    for (size_t k = 0; k < audio.chunk_count; k++) {
        char *u = fragment_url(m, 1, 0, k);
        check_hit(c, u);
        ssc_string_free(u);
    }

    /* ---- the presentation list ---- */
    ssc_presentation_list *list = NULL;
    ssc_presentation_info pi = only_presentation(c, &list);
    CHECK(strcmp(pi.manifest_url, manifest_url) == 0);
    CHECK(pi.complete);
    CHECK(pi.pinned);
    CHECK(pi.fragments_expected == lowest_total);
    CHECK(pi.fragments_stored == lowest_total);
    CHECK(pi.bytes >= p.bytes_done);
    ssc_presentation_list_free(list);

    /* ---- verifies ---- */
    ssc_verify_report vr;
    memset(&vr, 0xAB, sizeof vr);
    CHECK_STATUS(ssc_cache_verify_presentation(c, manifest_url, 0, &vr), SSC_OK);
    CHECK(vr.checked == lowest_total && vr.ok == lowest_total);
    CHECK(vr.missing == 0 && vr.corrupt == 0 && vr.repaired == 0);
    for (size_t i = 0; i < 3; i++)
        CHECK(vr.reserved[i] == 0);
    CHECK_STATUS(ssc_cache_verify_presentation(c, manifest_url, 0x80, &vr), INVALID);
    CHECK_STATUS(ssc_cache_verify_presentation(c, "http://127.0.0.1:1/none.ism/Manifest", 0, &vr),
                 SSC_MISS);
    ssc_stats stats;
    CHECK_STATUS(ssc_cache_stats(c, &stats), SSC_OK);
    ssc_cache_report cr;
    memset(&cr, 0xAB, sizeof cr);
    CHECK_STATUS(ssc_cache_verify(c, &cr), SSC_OK);
    CHECK(cr.corrupt == 0 && cr.dropped == 0 && cr.added == 0 && cr.temps_removed == 0);
    CHECK(cr.entries == stats.entries);
    CHECK(cr.reserved[0] == 0 && cr.reserved[1] == 0);

    /* ---- fetch-through with the origin down ---- */
    char *stored = fragment_url(m, 0, lowest, 3);
    char *unstored = fragment_url(m, 0, highest, 3);
    ssc_response *r = NULL;
    t = ssc_begin_fetch(c, stored, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_OK);
    CHECK(r != NULL);
    CHECK(ssc_response_content_type(r) != NULL &&
          strcmp(ssc_response_content_type(r), "video/mp4") == 0);
    check_same_as_origin(r, stored);
    t = ssc_begin_fetch(c, unstored, NULL, NULL);
    CHECK(t != NULL);
    r = (ssc_response *)1;
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_ERR_NETWORK);
    CHECK(r == NULL);
    check_miss(c, unstored);
    /* a NULL response_out still ends the token (as with ssc_end_retrieve) */
    t = ssc_begin_fetch(c, stored, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_fetch(t, NULL), INVALID);

    /* ---- tokens of the wrong kind ---- */
    t = ssc_begin_fetch(c, stored, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_download(t), INVALID); /* left alone */
    CHECK_STATUS(ssc_download_progress(t, &p), INVALID);
    CHECK_STATUS(ssc_token_cancel(t), INVALID);
    CHECK_STATUS(ssc_end_retrieve(t, &r), INVALID);
    CHECK_STATUS(ssc_end_persist(t), INVALID);
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_OK);
    ssc_response_free(r);
    t = ssc_begin_retrieve(c, stored, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_token_cancel(t), INVALID);
    check_invalid_message();
    CHECK_STATUS(ssc_download_progress(t, &p), INVALID);
    CHECK_STATUS(ssc_end_fetch(t, &r), INVALID);
    CHECK_STATUS(ssc_end_download(t), INVALID);
    CHECK_STATUS(ssc_end_retrieve(t, &r), SSC_OK);
    ssc_response_free(r);

    /* ---- the origin back (on the same port, so URLs and keys stay the same) ---- */
    int port2 = 0;
    for (int i = 0; i < 50 && port2 == 0; i++) {
        port2 = origin_start(port);
        if (port2 == 0)
            sleep_ms(100);
    }
    CHECK(port2 == port);
    int mark = log_lines();
    t = ssc_begin_fetch(c, unstored, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_OK);
    check_same_as_origin(r, unstored);
    check_hit(c, unstored); /* stored by the fetch */
    t = ssc_begin_fetch(c, unstored, NULL, NULL); /* now answered from the store */
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_OK);
    check_same_as_origin(r, unstored);
    CHECK(log_count("Fragments", mark, NULL) == 1);
    /* a 404 is a network error, nothing stored */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/QualityLevels(60000)/Fragments(video=1)", base);
    t = ssc_begin_fetch(c, missing, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_fetch(t, &r), SSC_ERR_NETWORK);
    check_miss(c, missing);

    /* ---- removing the presentation ---- */
    uint64_t removed = 0;
    CHECK_STATUS(ssc_cache_stats(c, &stats), SSC_OK);
    CHECK_STATUS(ssc_cache_remove_presentation(c, manifest_url, &removed), SSC_OK);
    /* the manifest, the fragments, the fetched one and the download record */
    CHECK(removed == lowest_total + 3);
    CHECK(removed == stats.entries);
    check_miss(c, manifest_url);
    check_miss(c, stored);
    check_miss(c, unstored);
    removed = 99;
    CHECK_STATUS(ssc_cache_remove_presentation(c, manifest_url, &removed), SSC_MISS);
    CHECK(removed == 0);
    CHECK_STATUS(ssc_cache_remove_presentation(c, manifest_url, NULL), SSC_MISS);
    CHECK_STATUS(ssc_cache_list_presentations(c, &list), SSC_OK);
    CHECK(ssc_presentation_list_count(list) == 0);
    ssc_presentation_list_free(list);
    CHECK_STATUS(ssc_cache_verify_presentation(c, manifest_url, 0, &vr), SSC_MISS);
    CHECK_STATUS(ssc_cache_stats(c, &stats), SSC_OK);
    CHECK(stats.entries == 0 && stats.used_bytes == 0);
    ssc_string_free(stored);
    ssc_string_free(unstored);
    ssc_cache_close(c);
    free(cache_dir);

    /* ---- an explicit level list: the middle video level, seconds [2, 6) ---- */
    cache_dir = test_dir("download-list");
    CHECK_STATUS(ssc_cache_open(cache_dir, 64ull << 20, &c), SSC_OK);
    CHECK_STATUS(ssc_cache_set_durability(c, SSC_DURABILITY_PROCESS), SSC_OK);
    size_t middle = 3 - lowest - highest; /* positions 0, 1, 2 */
    ssc_quality_ref refs[2] = {{0, middle}, {0, middle}}; /* a duplicate is harmless */
    o = options(SSC_QUALITY_LIST);
    o.levels = refs;
    o.level_count = 2;
    o.start_seconds = 2.0;
    o.end_seconds = 6.0;
    t = ssc_begin_download(c, manifest_url, &o, NULL, NULL);
    CHECK(t != NULL);
    memset(refs, 0xFF, sizeof refs); /* copied by ssc_begin_download */
    p = follow(t);
    CHECK_STATUS(ssc_end_download(t), SSC_OK);
    CHECK(p.state == SSC_DOWNLOAD_DONE);
    CHECK(p.fragments_total == 2 && p.fragments_done == 2);
    CHECK(p.bytes_done == p.bytes_expected && !p.bytes_expected_is_estimate);
    for (size_t k = 0; k < 4; k++) {
        char *u = fragment_url(m, 0, middle, k);
        if (k == 1 || k == 2)
            check_hit(c, u);
        else
            check_miss(c, u);
        ssc_string_free(u);
        u = fragment_url(m, 1, 0, k);
        check_miss(c, u);
        ssc_string_free(u);
    }
    pi = only_presentation(c, &list);
    CHECK(pi.complete && pi.fragments_expected == 2 && pi.fragments_stored == 2);
    ssc_presentation_list_free(list);
    CHECK_STATUS(ssc_cache_verify_presentation(c, manifest_url, 0, &vr), SSC_OK);
    CHECK(vr.checked == 2 && vr.ok == 2 && vr.missing == 0);
    ssc_cache_close(c);
    free(cache_dir);

    /* ---- a quota too small: refused before any fragment is fetched ---- */
    cache_dir = test_dir("download-quota");
    CHECK_STATUS(ssc_cache_open(cache_dir, 256 * 1024, &c), SSC_OK);
    CHECK_STATUS(ssc_cache_set_durability(c, SSC_DURABILITY_PROCESS), SSC_OK);
    mark = log_lines();
    o = options(SSC_QUALITY_LOWEST);
    t = ssc_begin_download(c, manifest_url, &o, NULL, NULL);
    CHECK(t != NULL);
    p = follow(t);
    CHECK(p.state == SSC_DOWNLOAD_FAILED);
    CHECK(p.fragments_done == 0);
    CHECK(p.bytes_expected > 256 * 1024);
    CHECK_STATUS(ssc_end_download(t), SSC_ERR_QUOTA_EXCEEDED);
    CHECK(log_count("Fragments", mark, NULL) == 0);
    ssc_cache_close(c);
    free(cache_dir);

    /* ---- cancel at once, then resume ---- */
    cache_dir = test_dir("download-cancel");
    CHECK_STATUS(ssc_cache_open(cache_dir, 64ull << 20, &c), SSC_OK);
    CHECK_STATUS(ssc_cache_set_durability(c, SSC_DURABILITY_PROCESS), SSC_OK);
    o = options(SSC_QUALITY_LOWEST);
    o.parallel = 1;
    t = ssc_begin_download(c, manifest_url, &o, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_token_cancel(t), SSC_OK);
    CHECK_STATUS(ssc_token_cancel(t), SSC_OK); /* twice is fine */
    CHECK_STATUS(ssc_token_wait(t, 60000), SSC_OK);
    CHECK_STATUS(ssc_download_progress(t, &p), SSC_OK);
    ssc_status st = ssc_end_download(t);
    if (st != SSC_ERR_CANCELLED && st != SSC_OK) {
        fprintf(stderr, "cancelled download ended with %s (%s)\n", ssc_status_name(st),
                ssc_last_error() ? ssc_last_error() : "no message");
        exit(1);
    }
    CHECK(p.state == (st == SSC_OK ? SSC_DOWNLOAD_DONE : SSC_DOWNLOAD_CANCELLED));
    uint64_t kept = p.fragments_done;
    CHECK(kept <= lowest_total);
    if (st == SSC_ERR_CANCELLED) {
        CHECK_STATUS(ssc_cache_list_presentations(c, &list), SSC_OK);
        CHECK(ssc_presentation_list_count(list) <= 1);
        if (ssc_presentation_list_count(list) == 1) {
            CHECK_STATUS(ssc_presentation_list_get(list, 0, &pi), SSC_OK);
            CHECK(!pi.complete);
            CHECK(pi.fragments_stored == kept);
        }
        ssc_presentation_list_free(list);
    }
    /* resuming fetches only what is missing (the manifest too if the cancel came first) */
    int manifest_stored = 0;
    {
        ssc_response *mr = NULL;
        st = retrieve(c, manifest_url, &mr);
        CHECK(st == SSC_OK || st == SSC_MISS);
        manifest_stored = st == SSC_OK;
        ssc_response_free(mr);
    }
    CHECK(manifest_stored || kept == 0);
    mark = log_lines();
    t = ssc_begin_download(c, manifest_url, &o, NULL, NULL);
    CHECK(t != NULL);
    p = follow(t);
    CHECK_STATUS(ssc_end_download(t), SSC_OK);
    CHECK(p.fragments_done == lowest_total && p.fragments_total == lowest_total);
    CHECK(log_count("Fragments", mark, NULL) == (int)(lowest_total - kept));
    CHECK(log_count("/Manifest ", mark, NULL) == (manifest_stored ? 0 : 1));
    pi = only_presentation(c, &list);
    CHECK(pi.complete && pi.fragments_stored == lowest_total);
    ssc_presentation_list_free(list);
    ssc_cache_close(c);
    free(cache_dir);

    origin_stop();
    ssc_manifest_free(m);
    free(dir);
    printf("test_download: ok\n");
    return 0;
}
