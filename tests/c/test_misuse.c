/* Every function called with NULL and with invalid strings: a clear status and message, never a
 * crash. */
#include "check.h"

#define INVALID SSC_ERR_INVALID_ARGUMENT

static void check_message(const char *needle) {
    const char *e = ssc_last_error();
    CHECK(e != NULL);
    if (!strstr(e, needle)) {
        fprintf(stderr, "last error %s lacks %s\n", e, needle);
        exit(1);
    }
}

int main(void) {
    char *dir = test_dir("misuse");
    ssc_cache *c = (ssc_cache *)1;
    const char *bad_utf8 = "http://origin.test/\xff\xfe";

    CHECK(ssc_version() != NULL && strcmp(ssc_version(), "0.1.0") == 0);
    CHECK(strcmp(ssc_status_name(SSC_ERR_QUOTA_EXCEEDED), "SSC_ERR_QUOTA_EXCEEDED") == 0);
    CHECK(strcmp(ssc_status_name(SSC_MISS), "SSC_MISS") == 0);
    CHECK(strcmp(ssc_status_name(SSC_ERR_INTERNAL), "SSC_ERR_INTERNAL") == 0);
    CHECK(strcmp(ssc_status_name(12345), "SSC_UNKNOWN_STATUS") == 0);

    /* open */
    CHECK_STATUS(ssc_cache_open(NULL, 0, &c), INVALID);
    CHECK(c == NULL);
    check_message("dir is NULL");
    CHECK_STATUS(ssc_cache_open(dir, 0, NULL), INVALID);
    CHECK_STATUS(ssc_cache_open("", 0, &c), INVALID);
    CHECK_STATUS(ssc_cache_open("/proc/version/not-a-dir", 0, &c), SSC_ERR_IO);
    check_message("SSC_ERR_IO");
    CHECK(c == NULL);
    CHECK_STATUS(ssc_cache_open(dir, 0, &c), SSC_OK);

    /* cache functions with NULL handles and bad strings */
    ssc_stats st;
    CHECK_STATUS(ssc_cache_increase_quota(NULL, 5), INVALID);
    CHECK_STATUS(ssc_cache_stats(NULL, &st), INVALID);
    CHECK_STATUS(ssc_cache_stats(c, NULL), INVALID);
    CHECK_STATUS(ssc_cache_remove(NULL, "http://a/b"), INVALID);
    CHECK_STATUS(ssc_cache_remove(c, NULL), INVALID);
    CHECK_STATUS(ssc_cache_remove(c, bad_utf8), INVALID);
    check_message("UTF-8");
    CHECK_STATUS(ssc_cache_remove(c, "ftp://a/b"), INVALID);
    check_message("http");
    CHECK_STATUS(ssc_cache_remove(c, "relative/path"), INVALID);
    CHECK_STATUS(ssc_cache_clear(NULL), INVALID);
    CHECK_STATUS(ssc_cache_ignore_query_params(NULL, "a"), INVALID);
    CHECK_STATUS(ssc_cache_ignore_query_params(c, NULL), INVALID);
    CHECK_STATUS(ssc_cache_ignore_query_params(c, "\xc3"), INVALID);
    CHECK_STATUS(ssc_cache_set_durability(NULL, SSC_DURABILITY_POWER), INVALID);
    CHECK_STATUS(ssc_cache_set_durability(c, 7), INVALID);
    CHECK_STATUS(ssc_cache_set_durability(c, -1), INVALID);
    CHECK_STATUS(ssc_cache_set_eviction(NULL, SSC_EVICT_LRU), INVALID);
    CHECK_STATUS(ssc_cache_set_eviction(c, 2), INVALID);
    CHECK_STATUS(ssc_open_media(NULL, "http://a/v.ism/Manifest"), INVALID);
    CHECK_STATUS(ssc_open_media(c, NULL), INVALID);
    CHECK_STATUS(ssc_open_media(c, bad_utf8), INVALID);
    CHECK_STATUS(ssc_close_media(c, "http://a/v.ism/Manifest"), INVALID); /* never opened */
    CHECK_STATUS(ssc_open_media(c, "http://a/v.ism/Manifest"), SSC_OK);
    CHECK_STATUS(ssc_close_media(c, "http://a/v.ism/Manifest"), SSC_OK);
    CHECK_STATUS(ssc_close_media(c, "http://a/v.ism/Manifest"), INVALID);
    ssc_cache_close(NULL);

    /* begin_* with unusable arguments returns NULL and says why */
    CHECK(ssc_begin_retrieve(NULL, "http://a/b", NULL, NULL) == NULL);
    check_message("cache is NULL");
    CHECK(ssc_begin_retrieve(c, NULL, NULL, NULL) == NULL);
    check_message("url is NULL");
    CHECK(ssc_begin_retrieve(c, bad_utf8, NULL, NULL) == NULL);
    CHECK(ssc_begin_retrieve(c, "not a url", NULL, NULL) == NULL);
    CHECK(ssc_begin_retrieve(c, "http://a/b\x01", NULL, NULL) == NULL);
    CHECK(ssc_begin_persist(NULL, "http://a/b", NULL, (const uint8_t *)"x", 1, NULL, NULL) == NULL);
    CHECK(ssc_begin_persist(c, NULL, NULL, (const uint8_t *)"x", 1, NULL, NULL) == NULL);
    CHECK(ssc_begin_persist(c, "http://a/b", bad_utf8, (const uint8_t *)"x", 1, NULL, NULL) == NULL);
    CHECK(ssc_begin_persist(c, "http://a/b", "text/plain\r\nX-Evil: 1", (const uint8_t *)"x", 1, NULL, NULL) == NULL);
    check_message("control character");
    CHECK(ssc_begin_persist(c, "http://a/b", NULL, NULL, 5, NULL, NULL) == NULL);
    check_message("data is NULL");
    CHECK(ssc_begin_persist(c, "http://a/b", NULL, (const uint8_t *)"x", (size_t)-1, NULL, NULL) == NULL);
    /* an empty body with a NULL pointer is fine */
    ssc_token *t = ssc_begin_persist(c, "http://a/empty", NULL, NULL, 0, NULL, NULL);
    CHECK(t != NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);
    t = ssc_begin_retrieve(c, "http://a/empty", NULL, NULL);
    ssc_response *r = (ssc_response *)1;
    CHECK_STATUS(ssc_end_retrieve(t, &r), SSC_OK);
    size_t len = 99;
    CHECK(ssc_response_data(r, &len) != NULL && len == 0);
    CHECK(ssc_response_data(r, NULL) != NULL);
    CHECK(ssc_response_content_type(r) == NULL);
    ssc_response_free(r);

    /* end_* with NULLs */
    r = (ssc_response *)1;
    CHECK_STATUS(ssc_end_retrieve(NULL, &r), INVALID);
    CHECK(r == NULL);
    CHECK_STATUS(ssc_end_persist(NULL), INVALID);
    t = ssc_begin_retrieve(c, "http://a/empty", NULL, NULL);
    CHECK_STATUS(ssc_end_retrieve(t, NULL), INVALID); /* still ends (frees) the token */

    /* token functions with NULL */
    CHECK(!ssc_token_is_completed(NULL));
    CHECK(!ssc_token_completed_synchronously(NULL));
    CHECK(ssc_token_state(NULL) == NULL);
    CHECK_STATUS(ssc_token_wait(NULL, 0), INVALID);
    CHECK(ssc_token_fd(NULL) == -1);
    check_message("token is NULL");
    ssc_token_free(NULL);

    /* response functions with NULL */
    len = 7;
    CHECK(ssc_response_data(NULL, &len) == NULL && len == 0);
    CHECK(ssc_response_content_type(NULL) == NULL);
    CHECK(ssc_response_content_length(NULL) == 0);
    ssc_response_free(NULL);

    /* A failing call leaves a message; a succeeding one does not erase it. */
    CHECK_STATUS(ssc_cache_remove(c, NULL), INVALID);
    CHECK_STATUS(ssc_cache_stats(c, &st), SSC_OK);
    check_message("url is NULL");

    ssc_cache_close(c);
    printf("test_misuse: NULLs and invalid strings answered with statuses\n");
    free(dir);
    return 0;
}
