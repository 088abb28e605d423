/* The original Silverlight offline sample's flow, through the C API: a player session where
 * every request first goes to the cache. First pass: every request misses and is persisted.
 * Second pass (cache reopened, "offline"): every request hits with identical bytes. */
#include "check.h"

#define CHUNKS 6
#define BASE "http://origin.test/media/movie.ism"

typedef struct {
    char url[256];
    const char *ctype;
    uint8_t *data;
    size_t len;
} request_t;

static int make_requests(request_t *r) {
    int n = 0;
    char *m = make_manifest(1, CHUNKS);
    snprintf(r[n].url, sizeof r[n].url, "%s/Manifest", BASE);
    r[n].ctype = "text/xml; charset=utf-8";
    r[n].data = (uint8_t *)m;
    r[n].len = strlen(m);
    n++;
    for (int i = 0; i < CHUNKS; i++) {
        uint64_t t = (uint64_t)i * 20000000ULL;
        snprintf(r[n].url, sizeof r[n].url, "%s/QualityLevels(100000)/Fragments(video=%llu)", BASE,
                 (unsigned long long)t);
        r[n].ctype = "video/mp4";
        r[n].data = make_fragment((uint32_t)i + 1, t, 25, 200, (uint32_t)i, &r[n].len);
        n++;
        snprintf(r[n].url, sizeof r[n].url, "%s/QualityLevels(48000)/Fragments(audio=%llu)", BASE,
                 (unsigned long long)t);
        r[n].ctype = "audio/mp4";
        r[n].data = make_fragment((uint32_t)i + 1, t, 40, 30, (uint32_t)i + 100, &r[n].len);
        n++;
    }
    return n;
}

int main(void) {
    char *dir = test_dir("flow");
    request_t req[1 + 2 * CHUNKS];
    int n = make_requests(req);
    ssc_cache *cache = NULL;

    /* Online: every request misses; the "download" is persisted. */
    CHECK_STATUS(ssc_cache_open(dir, 0, &cache), SSC_OK);
    CHECK_STATUS(ssc_open_media(cache, BASE "/Manifest"), SSC_OK);
    for (int i = 0; i < n; i++) {
        ssc_token *t = ssc_begin_retrieve(cache, req[i].url, NULL, NULL);
        CHECK(t != NULL);
        CHECK(ssc_token_completed_synchronously(t)); /* a miss is answered from the index */
        ssc_response *resp = (ssc_response *)1;
        CHECK_STATUS(ssc_end_retrieve(t, &resp), SSC_MISS);
        CHECK(resp == NULL);
        t = ssc_begin_persist(cache, req[i].url, req[i].ctype, req[i].data, req[i].len, NULL, NULL);
        CHECK(t != NULL);
        CHECK_STATUS(ssc_end_persist(t), SSC_OK);
    }
    ssc_stats st;
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.entries == (uint64_t)n);
    CHECK(st.misses == (uint64_t)n && st.persists == (uint64_t)n && st.rejected == 0);
    CHECK(st.quota_bytes == 1024 * 1024);
    uint64_t used = st.used_bytes;
    CHECK_STATUS(ssc_close_media(cache, BASE "/Manifest"), SSC_OK);
    ssc_cache_close(cache);

    /* Offline: a fresh handle; every request hits with the same bytes and content type. */
    CHECK_STATUS(ssc_cache_open(dir, 0, &cache), SSC_OK);
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.used_bytes == used);
    for (int i = 0; i < n; i++) {
        ssc_token *t = ssc_begin_retrieve(cache, req[i].url, NULL, NULL);
        CHECK(t != NULL);
        ssc_response *resp = NULL;
        CHECK_STATUS(ssc_end_retrieve(t, &resp), SSC_OK);
        size_t len = 0;
        const uint8_t *data = ssc_response_data(resp, &len);
        CHECK(len == req[i].len);
        CHECK(ssc_response_content_length(resp) == req[i].len);
        CHECK(memcmp(data, req[i].data, len) == 0);
        CHECK(strcmp(ssc_response_content_type(resp), req[i].ctype) == 0);
        ssc_response_free(resp);
    }
    /* The same request spelled differently is the same entry. */
    ssc_token *t = ssc_begin_retrieve(
        cache, "HTTP://ORIGIN.TEST:80/media/movie.ism/QualityLevels%28100000%29/Fragments%28video%3D0%29#x",
        NULL, NULL);
    ssc_response *resp = NULL;
    CHECK_STATUS(ssc_end_retrieve(t, &resp), SSC_OK);
    ssc_response_free(resp);
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.hits == (uint64_t)n + 1 && st.misses == 0);

    /* A persist that does not fit stores nothing and says so. */
    size_t big_len = 2u << 20;
    uint8_t *big = calloc(1, big_len);
    t = ssc_begin_persist(cache, "http://origin.test/big.bin", NULL, big, big_len, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_ERR_QUOTA_EXCEEDED);
    CHECK(strstr(ssc_last_error(), "SSC_ERR_QUOTA_EXCEEDED") != NULL);
    CHECK_STATUS(ssc_cache_increase_quota(cache, 8u << 20), SSC_OK);
    t = ssc_begin_persist(cache, "http://origin.test/big.bin", NULL, big, big_len, NULL, NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);
    CHECK_STATUS(ssc_cache_increase_quota(cache, 1u << 20), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_cache_remove(cache, "http://origin.test/big.bin"), SSC_OK);
    CHECK_STATUS(ssc_cache_remove(cache, "http://origin.test/big.bin"), SSC_MISS);
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.used_bytes == used && st.quota_bytes == 8u << 20);
    free(big);

    /* Malformed data for a fragment URL is refused and nothing is stored. */
    t = ssc_begin_persist(cache, BASE "/QualityLevels(100000)/Fragments(video=999)", "video/mp4",
                          (const uint8_t *)"garbage", 7, NULL, NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_ERR_MALFORMED);
    t = ssc_begin_retrieve(cache, BASE "/QualityLevels(100000)/Fragments(video=999)", NULL, NULL);
    CHECK_STATUS(ssc_end_retrieve(t, &resp), SSC_MISS);

    CHECK_STATUS(ssc_cache_clear(cache), SSC_OK);
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.entries == 0 && st.used_bytes == 0);
    ssc_cache_close(cache);

    for (int i = 0; i < n; i++) free(req[i].data);
    printf("test_flow: %d requests missed then hit with identical bytes\n", n);
    free(dir);
    return 0;
}
