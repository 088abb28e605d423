/* A program built against an installed libsmoothcache (tests/install/run.sh builds it twice:
 * with `pkg-config --cflags --libs smoothcache`, and statically with `--static --libs`).
 *
 *   main DIR VERSION   opens a cache in DIR, persists, retrieves and compares; checks that the
 *                      library loaded is VERSION. Prints "ok" and exits 0 when all is well. */
#include <smoothcache.h>
#include <stdio.h>
#include <string.h>

#define URL "http://origin.test/media/movie.ism/extra/notes.txt"
#define BODY "bytes that are not Smooth Streaming, stored as they are"
#define TYPE "text/plain; charset=utf-8"

static int fail(const char *what, ssc_status s) {
    const char *e = ssc_last_error();
    fprintf(stderr, "install test: %s: %s (%s)\n", what, ssc_status_name(s), e ? e : "no message");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR VERSION\n", argv[0]);
        return 2;
    }
    if (strcmp(ssc_version(), argv[2]) != 0) {
        fprintf(stderr, "install test: library version %s, want %s\n", ssc_version(), argv[2]);
        return 1;
    }
    ssc_cache *cache = NULL;
    ssc_status s = ssc_cache_open(argv[1], 0, &cache);
    if (s != SSC_OK)
        return fail("ssc_cache_open", s);

    ssc_response *resp = NULL;
    s = ssc_end_retrieve(ssc_begin_retrieve(cache, URL, NULL, NULL), &resp);
    if (s != SSC_MISS)
        return fail("first retrieve (want SSC_MISS)", s);

    s = ssc_end_persist(ssc_begin_persist(cache, URL, TYPE, (const uint8_t *)BODY, strlen(BODY),
                                          NULL, NULL));
    if (s != SSC_OK)
        return fail("persist", s);

    s = ssc_end_retrieve(ssc_begin_retrieve(cache, URL, NULL, NULL), &resp);
    if (s != SSC_OK)
        return fail("retrieve after persist", s);
    size_t len = 0;
    const uint8_t *data = ssc_response_data(resp, &len);
    const char *type = ssc_response_content_type(resp);
    int same = len == strlen(BODY) && memcmp(data, BODY, len) == 0 && type != NULL &&
               strcmp(type, TYPE) == 0;
    ssc_response_free(resp);

    ssc_stats st;
    s = ssc_cache_stats(cache, &st);
    ssc_cache_close(cache);
    if (s != SSC_OK)
        return fail("stats", s);
    if (!same || st.entries != 1) {
        fprintf(stderr, "install test: retrieved bytes differ from those persisted\n");
        return 1;
    }
    printf("ok: smoothcache %s, %llu bytes used\n", ssc_version(), (unsigned long long)st.used_bytes);
    return 0;
}
