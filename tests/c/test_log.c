/* Logging: ssc_set_log_callback delivers the library's messages by level (a damaged entry that
 * is dropped logs a WARN), a NULL callback stops them, and by default the library prints
 * nothing — on stdout or stderr — while SMOOTHCACHE_LOG=warn sends the same WARN to stderr.
 * The last two are checked on a copy of this program run with its output captured. */
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define URL "http://origin.test/media/movie.ism/QualityLevels(100000)/Fragments(video=0)"

typedef struct {
    pthread_mutex_t lock;
    int count[5]; /* by level */
    char warn[1024]; /* the first WARN */
} log_t;

/* May run on any thread: everything it touches is behind the lock. */
static void on_log(int level, const char *message, void *userdata) {
    log_t *l = userdata;
    CHECK(level >= SSC_LOG_ERROR && level <= SSC_LOG_DEBUG);
    CHECK(message != NULL && strchr(message, '\n') == NULL);
    pthread_mutex_lock(&l->lock);
    l->count[level]++;
    if (level == SSC_LOG_WARN && l->warn[0] == 0)
        snprintf(l->warn, sizeof l->warn, "%s", message);
    pthread_mutex_unlock(&l->lock);
}

/* Damages the one entry file of the cache in `dir` (flips its last byte). */
static void damage_the_entry(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/e", dir);
    DIR *e = opendir(path);
    CHECK(e != NULL);
    int damaged = 0;
    struct dirent *sub;
    while (!damaged && (sub = readdir(e)) != NULL) {
        if (sub->d_name[0] == '.')
            continue;
        char subpath[4096 + 300];
        snprintf(subpath, sizeof subpath, "%s/%s", path, sub->d_name);
        DIR *d = opendir(subpath);
        if (d == NULL)
            continue;
        struct dirent *f;
        while ((f = readdir(d)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            char file[4096 + 600];
            snprintf(file, sizeof file, "%s/%s", subpath, f->d_name);
            int fd = open(file, O_RDWR);
            CHECK(fd >= 0);
            struct stat st;
            CHECK(fstat(fd, &st) == 0 && st.st_size > 0);
            uint8_t b;
            CHECK(pread(fd, &b, 1, st.st_size - 1) == 1);
            b ^= 0xFF;
            CHECK(pwrite(fd, &b, 1, st.st_size - 1) == 1);
            close(fd);
            damaged = 1;
            break;
        }
        closedir(d);
    }
    closedir(e);
    CHECK(damaged);
}

/* Persists a fragment, damages its file, and retrieves it: SSC_ERR_CORRUPT, entry dropped. */
static void persist_damage_retrieve(const char *dir) {
    ssc_cache *cache = NULL;
    CHECK_STATUS(ssc_cache_open(dir, 0, &cache), SSC_OK);
    size_t len;
    uint8_t *frag = make_fragment(1, 0, 10, 100, 7, &len);
    CHECK_STATUS(ssc_end_persist(ssc_begin_persist(cache, URL, "video/mp4", frag, len, NULL, NULL)),
                 SSC_OK);
    free(frag);
    damage_the_entry(dir);
    ssc_response *r = NULL;
    CHECK_STATUS(ssc_end_retrieve(ssc_begin_retrieve(cache, URL, NULL, NULL), &r), SSC_ERR_CORRUPT);
    CHECK(r == NULL);
    CHECK_STATUS(ssc_end_retrieve(ssc_begin_retrieve(cache, URL, NULL, NULL), &r), SSC_MISS);
    ssc_cache_close(cache);
}

/* Runs this program as `child`, with SMOOTHCACHE_LOG set to `env` (unset when NULL); returns
 * what it wrote to stdout and stderr together (malloc'd, NUL-terminated). */
static char *run_child(const char *self, const char *env) {
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (env)
            setenv("SMOOTHCACHE_LOG", env, 1);
        else
            unsetenv("SMOOTHCACHE_LOG");
        execl(self, self, "child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    buf_t out = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof chunk)) > 0)
        buf_put(&out, chunk, (size_t)n);
    close(p[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    buf_u8(&out, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child (SMOOTHCACHE_LOG=%s) failed; its output:\n%s\n", env ? env : "unset",
                (char *)out.p);
        exit(1);
    }
    return (char *)out.p;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        /* No callback installed: the library's only output would be SMOOTHCACHE_LOG's. */
        char *dir = test_dir("log-child");
        persist_damage_retrieve(dir);
        free(dir);
        return 0;
    }

    static log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    CHECK_STATUS(ssc_set_log_callback(0, on_log, &log), SSC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ssc_set_log_callback(SSC_LOG_DEBUG + 1, on_log, &log), SSC_ERR_INVALID_ARGUMENT);

    /* At WARN: the damaged entry is reported; the INFO of opening the cache is not. */
    CHECK_STATUS(ssc_set_log_callback(SSC_LOG_WARN, on_log, &log), SSC_OK);
    char *dir = test_dir("log");
    persist_damage_retrieve(dir);
    pthread_mutex_lock(&log.lock);
    CHECK(log.count[SSC_LOG_WARN] == 1);
    CHECK(log.count[SSC_LOG_INFO] == 0 && log.count[SSC_LOG_DEBUG] == 0);
    CHECK(strstr(log.warn, "dropped") != NULL);
    pthread_mutex_unlock(&log.lock);

    /* At INFO: opening a cache is reported too. */
    CHECK_STATUS(ssc_set_log_callback(SSC_LOG_INFO, on_log, &log), SSC_OK);
    ssc_cache *cache = NULL;
    CHECK_STATUS(ssc_cache_open(dir, 0, &cache), SSC_OK);
    ssc_cache_close(cache);
    pthread_mutex_lock(&log.lock);
    CHECK(log.count[SSC_LOG_INFO] >= 1);
    int total = log.count[1] + log.count[2] + log.count[3] + log.count[4];
    pthread_mutex_unlock(&log.lock);

    /* NULL: no more calls (level and userdata ignored). */
    CHECK_STATUS(ssc_set_log_callback(SSC_LOG_DEBUG, NULL, NULL), SSC_OK);
    char *dir2 = test_dir("log-off");
    persist_damage_retrieve(dir2);
    pthread_mutex_lock(&log.lock);
    CHECK(log.count[1] + log.count[2] + log.count[3] + log.count[4] == total);
    pthread_mutex_unlock(&log.lock);

    /* By default nothing is printed; SMOOTHCACHE_LOG=warn prints the WARN line to stderr. */
    const char *self = "/proc/self/exe";
    char exe[4096];
    ssize_t n = readlink(self, exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    char *quiet = run_child(exe, NULL);
    if (quiet[0] != 0) {
        fprintf(stderr, "the library printed without being asked to:\n%s\n", quiet);
        exit(1);
    }
    char *loud = run_child(exe, "warn");
    CHECK(strstr(loud, "WARN") != NULL && strstr(loud, "dropped") != NULL);
    CHECK(strstr(loud, "INFO") == NULL);
    free(quiet);
    free(loud);
    free(dir);
    free(dir2);
    printf("test_log: ok\n");
    return 0;
}
