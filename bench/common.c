/*
 * common.c - benchmark support; see common.h.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, dcmp);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_median(double *v, size_t n)
{
    return bench_percentile(v, n, 0.5);
}

const char *bench_machine(void)
{
    static char buf[256];
    char model[128] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                    for (char *p = model; *p; p++)
                        if (*p == ' ') *p = '_';
                }
                break;
            }
        }
        fclose(f);
    }
    snprintf(buf, sizeof buf, "cores=%ld cpu=%s", sysconf(_SC_NPROCESSORS_ONLN), model);
    return buf;
}

uint64_t bench_seed(uint64_t dflt)
{
    const char *s = getenv("BENCH_SEED");
    return s ? strtoull(s, NULL, 0) : dflt;
}

/* ---- text ------------------------------------------------------------------------ */

/* Word i of the vocabulary: 2..9 letters derived from a hash of i. */
static uint32_t vocab_word(uint32_t i, char *out)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    uint32_t len = 2 + (uint32_t)(h % 8);
    for (uint32_t k = 0; k < len; k++) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        out[k] = (char)('a' + (h >> 33) % 26);
    }
    return len;
}

char *bench_text(uint64_t nwords, uint32_t vocab, uint64_t seed, size_t *len)
{
    size_t cap = nwords * 11 + 16;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    uint64_t s = seed ? seed : 1;
    size_t n = 0;
    for (uint64_t w = 0; w < nwords; w++) {
        /* Zipf-like: the minimum of two uniform draws, squared, favours small ids. */
        double u = (double)(bench_rng(&s) >> 11) / 9007199254740992.0;
        uint32_t id = (uint32_t)(u * u * u * vocab);
        n += vocab_word(id, buf + n);
        buf[n++] = (w % 12 == 11) ? '\n' : ' ';
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ---- word table ---------------------------------------------------------------------- */

void bench_wordtab_init(bench_wordtab *t)
{
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->hashes = calloc(t->cap, sizeof *t->hashes);
    t->offs = calloc(t->cap, sizeof *t->offs);
    t->lens = calloc(t->cap, sizeof *t->lens);
    t->counts = calloc(t->cap, sizeof *t->counts);
    t->arena_cap = 1 << 16;
    t->arena = malloc(t->arena_cap);
}

void bench_wordtab_fini(bench_wordtab *t)
{
    free(t->hashes);
    free(t->offs);
    free(t->lens);
    free(t->counts);
    free(t->arena);
}

static void grow(bench_wordtab *t)
{
    bench_wordtab n = *t;
    n.cap = t->cap * 2;
    n.hashes = calloc(n.cap, sizeof *n.hashes);
    n.offs = calloc(n.cap, sizeof *n.offs);
    n.lens = calloc(n.cap, sizeof *n.lens);
    n.counts = calloc(n.cap, sizeof *n.counts);
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->hashes[i]) continue;
        uint32_t j = (uint32_t)(t->hashes[i] & (n.cap - 1));
        while (n.hashes[j]) j = (j + 1) & (n.cap - 1);
        n.hashes[j] = t->hashes[i];
        n.offs[j] = t->offs[i];
        n.lens[j] = t->lens[i];
        n.counts[j] = t->counts[i];
    }
    free(t->hashes);
    free(t->offs);
    free(t->lens);
    free(t->counts);
    *t = n;
}

void bench_wordtab_add(bench_wordtab *t, const char *w, uint32_t wl, uint64_t h, uint64_t n)
{
    if (h == 0) h = 1;
    uint32_t j = (uint32_t)(h & (t->cap - 1));
    while (t->hashes[j]) {
        if (t->hashes[j] == h && t->lens[j] == wl && memcmp(t->arena + t->offs[j], w, wl) == 0) {
            t->counts[j] += n;
            return;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->arena_len + wl > t->arena_cap) {
        t->arena_cap *= 2;
        t->arena = realloc(t->arena, t->arena_cap);
    }
    memcpy(t->arena + t->arena_len, w, wl);
    t->hashes[j] = h;
    t->offs[j] = (uint32_t)t->arena_len;
    t->lens[j] = wl;
    t->counts[j] = n;
    t->arena_len += wl;
    if (++t->len * 2 > t->cap) grow(t);
}

uint64_t bench_wordtab_total(const bench_wordtab *t)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < t->cap; i++) s += t->counts[i];
    return s;
}

static int port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

uint16_t bench_free_ports(uint32_t n)
{
    static uint64_t s;
    if (n == 0 || n > 1000) return 0;
    if (s == 0) s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ bench_now_ns();
    for (int attempt = 0; attempt < 200; attempt++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        /* Below the ephemeral range (32768..), where outgoing connections
         * take their ports between our check and the bind. */
        uint16_t base = (uint16_t)(20000 + s % (12000 - n));
        uint32_t i = 0;
        while (i < n && port_free((uint16_t)(base + i))) i++;
        if (i == n) return base;
    }
    return 0;
}
