/*
 * cluster_run.c - N real processes on loopback for tests (see cluster_run.h).
 */
#define _GNU_SOURCE
#include "cluster_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tide_test_bin(const char *name)
{
    static char buf[4][PATH_MAX];
    static int which;
    char self[PATH_MAX];
    char *b = buf[which++ & 3];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return name;
    self[n] = '\0';
    snprintf(b, PATH_MAX, "%s/%s", dirname(self), name);
    return b;
}

uint64_t tide_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

uint16_t tide_test_free_ports(uint32_t n)
{
    static uint64_t s;
    if (s == 0) s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ tide_test_now_ms();
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

int tide_test_cluster_start(tide_test_cluster *c, uint32_t n, uint32_t w, uint32_t timeout_ms,
                            const char *prog, const char *const *args)
{
    static unsigned seq;
    memset(c, 0, sizeof *c);
    if (n == 0 || n > TIDE_TEST_MAX_PROCS) return -1;
    c->port = n > 1 ? tide_test_free_ports(n) : 0;
    if (n > 1 && c->port == 0) return -1;
    char nb[16], wb[16], pb[16], portb[16], tb[16];
    snprintf(nb, sizeof nb, "%u", n);
    snprintf(wb, sizeof wb, "%u", w);
    snprintf(portb, sizeof portb, "%u", c->port);
    snprintf(tb, sizeof tb, "%u", timeout_ms);
    const char *argv[64];
    int k = 0;
    argv[k++] = prog;
    for (int i = 0; args && args[i] && k < 48; i++) argv[k++] = args[i];
    argv[k++] = "-n", argv[k++] = nb, argv[k++] = "-w", argv[k++] = wb;
    argv[k++] = "-p", argv[k++] = pb;
    if (n > 1) argv[k++] = "--port", argv[k++] = portb;
    argv[k++] = "--no-pin", argv[k++] = "--peer-timeout", argv[k++] = tb;
    argv[k] = NULL;
    fflush(NULL);
    pid_t parent = getpid();
    for (uint32_t i = 0; i < n; i++) {
        snprintf(pb, sizeof pb, "%u", i);
        snprintf(c->out[i], sizeof c->out[i], "/tmp/tide_cr_%d_%u_%u.out", (int)parent, seq, i);
        snprintf(c->err[i], sizeof c->err[i], "/tmp/tide_cr_%d_%u_%u.err", (int)parent, seq, i);
        pid_t pid = fork();
        if (pid < 0) {
            c->n = i;
            tide_test_cluster_cleanup(c);
            return -1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(126);
            int fo = open(c->out[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int fe = open(c->err[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fo < 0 || fe < 0) _exit(126);
            dup2(fo, 1);
            dup2(fe, 2);
            execv(prog, (char *const *)argv);
            fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
            _exit(127);
        }
        c->pid[i] = pid;
        c->n = i + 1;
    }
    seq++;
    return 0;
}

static void reap(tide_test_cluster *c, uint32_t i, int flags)
{
    if (c->pid[i] <= 0) return;
    int st;
    pid_t r = waitpid(c->pid[i], &st, flags);
    if (r == c->pid[i]) {
        c->pid[i] = 0;
        c->status[i] = st;
        c->exit_ms[i] = tide_test_now_ms();
    }
}

int tide_test_cluster_wait(tide_test_cluster *c, uint32_t deadline_ms)
{
    uint64_t end = tide_test_now_ms() + deadline_ms;
    for (;;) {
        uint32_t alive = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            reap(c, i, WNOHANG);
            alive += c->pid[i] > 0;
        }
        if (alive == 0) break;
        if (tide_test_now_ms() >= end) {
            for (uint32_t i = 0; i < c->n; i++)
                if (c->pid[i] > 0) kill(c->pid[i], SIGKILL);
            for (uint32_t i = 0; i < c->n; i++) reap(c, i, 0);
            break;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (tide_test_cluster_code(c, i) != 0) return -1;
    return 0;
}

int tide_test_cluster_code(const tide_test_cluster *c, uint32_t i)
{
    if (c->pid[i] > 0) return -1;
    int st = c->status[i];
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

char *tide_test_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t len = 0, cap = 4096;
    char *b = malloc(cap);
    if (b == NULL) return NULL;
    if (f) {
        size_t k;
        while ((k = fread(b + len, 1, cap - len - 1, f)) > 0) {
            len += k;
            if (cap - len < 2) {
                char *nb = realloc(b, cap *= 2);
                if (nb == NULL) break;
                b = nb;
            }
        }
        fclose(f);
    }
    b[len] = '\0';
    return b;
}

char *tide_test_cluster_stdout(const tide_test_cluster *c)
{
    size_t len = 0;
    char *all = calloc(1, 1);
    for (uint32_t i = 0; i < c->n && all; i++) {
        char *s = tide_test_slurp(c->out[i]);
        size_t k = s ? strlen(s) : 0;
        char *na = realloc(all, len + k + 1);
        if (na) {
            memcpy(na + len, s ? s : "", k + 1);
            len += k;
        }
        all = na;
        free(s);
    }
    return all;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tide_test_sorted_lines(const char *text)
{
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    char *copy = strdup(text);
    char **lines = calloc(n + 1, sizeof *lines);
    char *out = malloc(len + 2);
    if (copy == NULL || lines == NULL || out == NULL) {
        free(copy), free(lines), free(out);
        return NULL;
    }
    size_t k = 0;
    for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (k <= n) lines[k++] = l;
    qsort(lines, k, sizeof *lines, cmp_str);
    size_t o = 0;
    for (size_t i = 0; i < k; i++) {
        size_t m = strlen(lines[i]);
        memcpy(out + o, lines[i], m);
        o += m;
        out[o++] = '\n';
    }
    out[o] = '\0';
    free(copy);
    free(lines);
    return out;
}

void tide_test_cluster_cleanup(tide_test_cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->pid[i] > 0) kill(c->pid[i], SIGKILL);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->pid[i] > 0) kill(c->pid[i], SIGCONT);
        reap(c, i, 0);
        unlink(c->out[i]);
        unlink(c->err[i]);
    }
}

char *tide_test_run_sorted(uint32_t n, uint32_t w, const char *prog, const char *const *args,
                           int *rc, char **err)
{
    tide_test_cluster c;
    if (tide_test_cluster_start(&c, n, w, 10000, prog, args) < 0) {
        *rc = -1;
        if (err) *err = strdup("cannot start the processes");
        return strdup("");
    }
    *rc = tide_test_cluster_wait(&c, 30000);
    char *out = tide_test_cluster_stdout(&c);
    char *sorted = tide_test_sorted_lines(out ? out : "");
    free(out);
    if (err) {
        size_t len = 0;
        *err = calloc(1, 1);
        for (uint32_t i = 0; i < c.n && *err; i++) {
            char *s = tide_test_slurp(c.err[i]);
            size_t k = strlen(s);
            char *ne = realloc(*err, len + k + 1);
            if (ne) memcpy(ne + len, s, k + 1), len += k;
            *err = ne;
            free(s);
        }
    }
    tide_test_cluster_cleanup(&c);
    return sorted;
}
