/* The loopback server through the C API: start, address, local URL, a real HTTP exchange over a
 * socket (GET, HEAD, a range, a 404, the forward proxy), stop; and the options and NULLs. */
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Sends `req` to ip:port and reads the whole reply (the request asks Connection: close). */
static char *http(const char *addr, const char *req, size_t *len) {
    char host[64];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    CHECK(colon != NULL);
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    CHECK(inet_pton(AF_INET, host, &sa.sin_addr) == 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    buf_t b = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_put(&b, chunk, (size_t)n);
    close(fd);
    buf_u8(&b, 0);
    *len = b.len - 1;
    return (char *)b.p;
}

static const char *body_of(const char *reply) {
    const char *p = strstr(reply, "\r\n\r\n");
    CHECK(p != NULL);
    return p + 4;
}

int main(void) {
    char *dir = test_dir("server");
    ssc_cache *c = NULL;
    CHECK_STATUS(ssc_cache_open(dir, 0, &c), SSC_OK);
    const char *frag_url = "http://origin.test/v.ism/QualityLevels(100000)/Fragments(video=0)";
    size_t flen;
    uint8_t *frag = make_fragment(1, 0, 20, 50, 7, &flen);
    ssc_token *t = ssc_begin_persist(c, frag_url, "video/mp4", frag, flen, NULL, NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);
    char *m = make_manifest(1, 1);
    t = ssc_begin_persist(c, "http://origin.test/v.ism/Manifest", "text/xml", (const uint8_t *)m,
                          strlen(m), NULL, NULL);
    CHECK_STATUS(ssc_end_persist(t), SSC_OK);

    ssc_server_options o;
    ssc_server_options_init(&o);
    CHECK(o.struct_size == sizeof o && !o.fetch_through && o.max_connections > 0);
    ssc_server *s = NULL;
    CHECK_STATUS(ssc_server_start(c, NULL, &o, &s), SSC_OK);
    ssc_cache_close(c); /* the server keeps what it needs */
    const char *addr = ssc_server_address(s);
    CHECK(addr != NULL && strncmp(addr, "127.0.0.1:", 10) == 0);

    char *local = NULL;
    CHECK_STATUS(ssc_server_local_url(s, "http://origin.test/v.ism/Manifest", &local), SSC_OK);
    char want[256];
    snprintf(want, sizeof want, "http://%s/http/origin.test/v.ism/Manifest", addr);
    CHECK(strcmp(local, want) == 0);
    ssc_string_free(local);
    CHECK_STATUS(ssc_server_local_url(s, "http://origin.test/v.ism/notamanifest", &local), SSC_ERR_INVALID_ARGUMENT);
    CHECK(local == NULL);

    char req[512];
    size_t n;
    snprintf(req, sizeof req,
             "GET /http/origin.test/v.ism/QualityLevels(100000)/Fragments(video=0) HTTP/1.1\r\n"
             "Host: x\r\nConnection: close\r\n\r\n");
    char *r = http(addr, req, &n);
    CHECK(strncmp(r, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(r, "content-type: video/mp4") != NULL);
    CHECK(n - (size_t)(body_of(r) - r) == flen && memcmp(body_of(r), frag, flen) == 0);
    free(r);
    /* The forward proxy: the original URL as an absolute-form request, with a range. */
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: origin.test\r\nRange: bytes=4-11\r\nConnection: close\r\n\r\n", frag_url);
    r = http(addr, req, &n);
    CHECK(strncmp(r, "HTTP/1.1 206", 12) == 0);
    CHECK(memcmp(body_of(r), frag + 4, 8) == 0 && n - (size_t)(body_of(r) - r) == 8);
    free(r);
    snprintf(req, sizeof req, "HEAD /http/origin.test/v.ism/Manifest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    r = http(addr, req, &n);
    CHECK(strncmp(r, "HTTP/1.1 200", 12) == 0 && *body_of(r) == 0);
    free(r);
    snprintf(req, sizeof req, "GET /http/origin.test/v.ism/absent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    r = http(addr, req, &n);
    CHECK(strncmp(r, "HTTP/1.1 404", 12) == 0);
    free(r);
    ssc_server_stop(s);

    /* Bad arguments. */
    CHECK_STATUS(ssc_cache_open(dir, 0, &c), SSC_OK);
    s = (ssc_server *)1;
    CHECK_STATUS(ssc_server_start(NULL, NULL, NULL, &s), SSC_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_STATUS(ssc_server_start(c, NULL, NULL, NULL), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_server_start(c, "not an address", NULL, &s), SSC_ERR_INVALID_ARGUMENT);
    ssc_server_options bad = o;
    bad.struct_size = 0;
    CHECK_STATUS(ssc_server_start(c, NULL, &bad, &s), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_server_start(c, "127.0.0.1:0", NULL, &s), SSC_OK);
    ssc_server *s2 = NULL;
    CHECK_STATUS(ssc_server_start(c, ssc_server_address(s), NULL, &s2), SSC_ERR_IO); /* in use */
    CHECK(ssc_server_address(NULL) == NULL);
    CHECK_STATUS(ssc_server_local_url(NULL, "http://a/v.ism/Manifest", &local), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_server_local_url(s, NULL, &local), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_server_local_url(s, "http://a/v.ism/Manifest", NULL), SSC_ERR_INVALID_ARGUMENT);
    ssc_server_options_init(NULL);
    ssc_server_stop(NULL);
    ssc_server_stop(s);
    ssc_cache_close(c);
    free(frag);
    free(m);
    free(dir);
    printf("test_server: served stored bytes over HTTP, by local URL and by proxy\n");
    return 0;
}
