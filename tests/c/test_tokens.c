/* Token semantics: wait, poll, fd, callback with state, completed_synchronously, abandon. */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static pthread_t main_thread;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fd_readable(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* ---- a callback that ends its own token (the usual APM pattern) ---- */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    ssc_status status;
    size_t len;
    int on_main_thread;
    void *state_seen;
} end_in_cb_t;

static void end_retrieve_cb(ssc_token *t, void *state) {
    end_in_cb_t *s = state;
    ssc_response *r = NULL;
    s->state_seen = ssc_token_state(t);
    s->on_main_thread = pthread_equal(pthread_self(), main_thread);
    ssc_status st = ssc_end_retrieve(t, &r);
    size_t len = 0;
    if (r) ssc_response_data(r, &len);
    ssc_response_free(r);
    pthread_mutex_lock(&s->mu);
    s->status = st;
    s->len = len;
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void run_end_in_callback(ssc_cache *c, const char *url, ssc_status want, size_t want_len) {
    end_in_cb_t s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, -1, NULL};
    ssc_token *t = ssc_begin_retrieve(c, url, end_retrieve_cb, &s);
    CHECK(t != NULL);
    /* From here the token belongs to the callback. */
    pthread_mutex_lock(&s.mu);
    while (!s.done) pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    CHECK_STATUS(s.status, want);
    CHECK(s.len == want_len);
    CHECK(s.on_main_thread == 0); /* always a library thread, never inside begin */
    CHECK(s.state_seen == &s);
}

/* ---- a callback that begins another operation (which finishes inside its begin) ---- */
static ssc_cache *nest_cache;
static void nested_done_cb(ssc_token *t, void *state) {
    end_in_cb_t *s = state;
    ssc_response *r = NULL;
    ssc_status st = ssc_end_retrieve(t, &r);
    ssc_response_free(r);
    pthread_mutex_lock(&s->mu);
    s->status = st;
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}
static void begin_in_cb(ssc_token *t, void *state) {
    ssc_response *r = NULL;
    ssc_end_retrieve(t, &r);
    ssc_response_free(r);
    /* a miss completes inside begin; its callback must still come later, not in here */
    ssc_token *inner = ssc_begin_retrieve(nest_cache, "http://origin.test/nested-miss", nested_done_cb, state);
    CHECK(inner != NULL);
}

/* ---- callbacks counted ---- */
static atomic_int calls;
static void count_cb(ssc_token *t, void *state) {
    (void)t;
    atomic_fetch_add(&calls, 1);
    atomic_fetch_add((atomic_int *)state, 1);
}

/* ---- end on another thread ---- */
typedef struct {
    ssc_token *t;
    ssc_status st;
} ender_t;
static void *ender(void *arg) {
    ender_t *e = arg;
    e->st = ssc_end_persist(e->t);
    return NULL;
}

int main(void) {
    main_thread = pthread_self();
    char *dir = test_dir("tokens");
    ssc_cache *c = NULL;
    CHECK_STATUS(ssc_cache_open(dir, 64u << 20, &c), SSC_OK);
    const char *url = "http://origin.test/v.ism/blob.bin";
    uint8_t body[5000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(i * 7);

    /* A miss completes inside begin; its fd is readable at once and stays readable. */
    int marker;
    ssc_token *t = ssc_begin_retrieve(c, url, NULL, &marker);
    CHECK(t != NULL);
    CHECK(ssc_token_completed_synchronously(t));
    CHECK(ssc_token_is_completed(t));
    CHECK(ssc_token_state(t) == &marker);
    CHECK_STATUS(ssc_token_wait(t, 0), SSC_OK);
    int fd = ssc_token_fd(t);
    CHECK(fd >= 0);
    CHECK(ssc_token_fd(t) == fd);
    CHECK(fd_readable(fd, 0));
    CHECK(fd_readable(fd, 0));
    ssc_response *r = NULL;
    CHECK_STATUS(ssc_end_retrieve(t, &r), SSC_MISS);

    /* A persist at the power level completes on a worker: the fd turns readable. */
    t = ssc_begin_persist(c, url, "application/octet-stream", body, sizeof body, NULL, &marker);
    CHECK(t != NULL);
    CHECK(!ssc_token_completed_synchronously(t));
    fd = ssc_token_fd(t);
    CHECK(fd >= 0);
    CHECK(fd_readable(fd, 10000));
    CHECK(ssc_token_is_completed(t));
    CHECK(fd_readable(fd, 0));
    CHECK(!ssc_token_completed_synchronously(t)); /* never changes */
    CHECK_STATUS(ssc_token_wait(t, 0), SSC_OK);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);

    /* A hit read by a worker (or by end): wait(-1) then end. */
    t = ssc_begin_retrieve(c, url, NULL, NULL);
    CHECK_STATUS(ssc_token_wait(t, -1), SSC_OK);
    CHECK(ssc_token_is_completed(t));
    CHECK_STATUS(ssc_end_retrieve(t, &r), SSC_OK);
    ssc_response_free(r);

    /* Polling a pending token answers TIMED_OUT only while it is not complete. */
    size_t big_len = 8u << 20;
    uint8_t *big = malloc(big_len);
    CHECK(big != NULL);
    memset(big, 0x5a, big_len);
    t = ssc_begin_persist(c, "http://origin.test/big.bin", NULL, big, big_len, NULL, NULL);
    free(big); /* the library copied it */
    ssc_status w = ssc_token_wait(t, 0);
    CHECK(w == SSC_OK || w == SSC_TIMED_OUT);
    if (w == SSC_OK) CHECK(ssc_token_is_completed(t));
    CHECK_STATUS(ssc_token_wait(t, 30000), SSC_OK);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);

    /* Ending the wrong kind of token is refused and leaves the token usable. */
    t = ssc_begin_retrieve(c, url, NULL, NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_end_retrieve(t, &r), SSC_OK);
    ssc_response_free(r);

    /* The callback ends its own token, for a hit and for a miss. */
    run_end_in_callback(c, url, SSC_OK, sizeof body);
    run_end_in_callback(c, "http://origin.test/none", SSC_MISS, 0);

    /* A callback may begin another operation, even one that completes inside its begin. */
    {
        nest_cache = c;
        end_in_cb_t s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, -1, NULL};
        ssc_token *outer = ssc_begin_retrieve(c, url, begin_in_cb, &s);
        CHECK(outer != NULL);
        pthread_mutex_lock(&s.mu);
        while (!s.done) pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        CHECK_STATUS(s.status, SSC_MISS);
    }

    /* Callbacks run exactly once each, for hits, misses, persists, and abandoned tokens. */
    atomic_int mine = 0;
    int n = under_valgrind() ? 40 : 400;
    for (int i = 0; i < n; i++) {
        char u[128];
        snprintf(u, sizeof u, "http://origin.test/cb/%d", i % 7);
        ssc_token *tk;
        switch (i % 4) {
        case 0:
            tk = ssc_begin_retrieve(c, url, count_cb, &mine);
            CHECK(tk != NULL);
            CHECK_STATUS(ssc_end_retrieve(tk, &r), SSC_OK);
            ssc_response_free(r);
            break;
        case 1:
            tk = ssc_begin_retrieve(c, "http://origin.test/absent", count_cb, &mine);
            CHECK(tk != NULL);
            ssc_token_free(tk); /* abandoned: the callback still runs */
            break;
        case 2:
            tk = ssc_begin_persist(c, u, NULL, body, 100, count_cb, &mine);
            CHECK(tk != NULL);
            CHECK_STATUS(ssc_end_persist(tk), SSC_OK);
            break;
        default:
            tk = ssc_begin_persist(c, u, NULL, body, 200, count_cb, &mine);
            CHECK(tk != NULL);
            ssc_token_free(tk);
            break;
        }
    }
    for (int i = 0; i < 1000 && atomic_load(&mine) < n; i++) sleep_ms(10);
    sleep_ms(50);
    CHECK(atomic_load(&mine) == n);

    /* ssc_end_* on another thread than ssc_begin_*. */
    t = ssc_begin_persist(c, "http://origin.test/other-thread", NULL, body, 300, NULL, NULL);
    ender_t e = {t, -100};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, ender, &e) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_STATUS(e.st, SSC_OK);

    /* An abandoned persist still lands, even when the cache is closed right away. */
    t = ssc_begin_persist(c, "http://origin.test/abandoned", "x/y", body, sizeof body, NULL, NULL);
    CHECK(t != NULL);
    ssc_token_free(t);
    /* A retrieve token and a response outlive the cache handle. */
    ssc_token *late = ssc_begin_retrieve(c, url, NULL, NULL);
    ssc_cache_close(c);
    CHECK_STATUS(ssc_end_retrieve(late, &r), SSC_OK);
    size_t len = 0;
    const uint8_t *d = ssc_response_data(r, &len);
    CHECK(len == sizeof body && memcmp(d, body, len) == 0);

    CHECK_STATUS(ssc_cache_open(dir, 0, &c), SSC_OK);
    ssc_response *r2 = NULL;
    for (int i = 0; i < 500; i++) {
        t = ssc_begin_retrieve(c, "http://origin.test/abandoned", NULL, NULL);
        if (ssc_end_retrieve(t, &r2) == SSC_OK) break;
        sleep_ms(10);
    }
    CHECK(r2 != NULL);
    CHECK(strcmp(ssc_response_content_type(r2), "x/y") == 0);
    ssc_response_free(r2);
    ssc_response_free(r); /* after the cache it came from was closed */
    ssc_cache_close(c);
    printf("test_tokens: wait/poll/fd/callback/abandon semantics hold (%d callbacks)\n", n);
    free(dir);
    return 0;
}
