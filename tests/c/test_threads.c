/* 8 threads persisting and retrieving the same and different keys at once. Every body says
 * which key and version it is and carries its own checksum, so a hit that mixed two versions
 * or came back truncated is caught. */
#include "check.h"
#include <pthread.h>

#define THREADS 8
#define SHARED_KEYS 4

static ssc_cache *cache;
static int iterations;

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* body = key u32 | version u32 | len u32 | payload | fnv(everything before) u64 */
static uint8_t *make_body(uint32_t key, uint32_t version, size_t *len) {
    size_t payload = 64 + (size_t)((key * 7919u + version * 104729u) % 60000u);
    size_t n = 12 + payload + 8;
    uint8_t *b = malloc(n);
    CHECK(b != NULL);
    memcpy(b, &key, 4);
    memcpy(b + 4, &version, 4);
    uint32_t pl = (uint32_t)payload;
    memcpy(b + 8, &pl, 4);
    for (size_t i = 0; i < payload; i++) b[12 + i] = (uint8_t)(key ^ version ^ i);
    uint64_t h = fnv(b, 12 + payload);
    memcpy(b + 12 + payload, &h, 8);
    *len = n;
    return b;
}

static void check_body(uint32_t key, const uint8_t *b, size_t n) {
    CHECK(n >= 20);
    uint32_t k, pl;
    memcpy(&k, b, 4);
    memcpy(&pl, b + 8, 4);
    CHECK(k == key);
    CHECK(n == 12 + (size_t)pl + 8);
    uint64_t h;
    memcpy(&h, b + 12 + pl, 8);
    CHECK(h == fnv(b, 12 + pl));
}

static void url_of(char *out, size_t n, uint32_t key) {
    snprintf(out, n, "http://origin.test/threads/key-%u", key);
}

static void *worker(void *arg) {
    uint32_t id = (uint32_t)(uintptr_t)arg;
    uint32_t x = id * 2654435761u + 7;
    for (int i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* half the time a shared key, else this thread's own */
        uint32_t key = (x & 1) ? (x >> 8) % SHARED_KEYS : 100 + id * 10 + (x >> 8) % 4;
        char url[128];
        url_of(url, sizeof url, key);
        if (x & 2) {
            size_t len;
            uint8_t *b = make_body(key, (uint32_t)i, &len);
            ssc_token *t = ssc_begin_persist(cache, url, "application/x-test", b, len, NULL, NULL);
            free(b);
            CHECK(t != NULL);
            CHECK_STATUS(ssc_end_persist(t), SSC_OK);
        } else {
            ssc_token *t = ssc_begin_retrieve(cache, url, NULL, NULL);
            CHECK(t != NULL);
            ssc_response *r = NULL;
            ssc_status st = ssc_end_retrieve(t, &r);
            CHECK(st == SSC_OK || st == SSC_MISS);
            if (st == SSC_OK) {
                size_t len = 0;
                const uint8_t *d = ssc_response_data(r, &len);
                check_body(key, d, len);
                ssc_response_free(r);
            }
        }
    }
    return NULL;
}

int main(void) {
    char *dir = test_dir("threads");
    iterations = under_valgrind() ? 30 : 300;
    CHECK_STATUS(ssc_cache_open(dir, 256u << 20, &cache), SSC_OK);
    for (int round = 0; round < 2; round++) {
        /* round 0: power durability; round 1: process durability */
        CHECK_STATUS(ssc_cache_set_durability(cache, round ? SSC_DURABILITY_PROCESS : SSC_DURABILITY_POWER), SSC_OK);
        pthread_t th[THREADS];
        for (uintptr_t i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
        for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    }
    ssc_stats st;
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    uint64_t used = st.used_bytes, entries = st.entries;
    CHECK(entries <= SHARED_KEYS + THREADS * 4);
    CHECK(st.rejected == 0);
    ssc_cache_close(cache);
    /* A fresh open computes the same accounting. */
    CHECK_STATUS(ssc_cache_open(dir, 0, &cache), SSC_OK);
    CHECK_STATUS(ssc_cache_stats(cache, &st), SSC_OK);
    CHECK(st.used_bytes == used && st.entries == entries);
    ssc_cache_close(cache);
    printf("test_threads: %d threads x %d ops x 2 rounds, %llu entries, every hit whole\n", THREADS,
           iterations, (unsigned long long)entries);
    free(dir);
    return 0;
}
