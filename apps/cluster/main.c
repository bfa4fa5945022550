/*
 * tide-cluster - run N processes of a tide program on this machine.
 *
 *   tide-cluster -n N [-w W] [--port P] [-h FILE] [--prefix=none|process] -- PROGRAM ARGS...
 *
 * starts PROGRAM ARGS -n N -w W -p i (plus the other cluster flags given)
 * for i = 0..N-1, forwards each child's stdout and stderr line by line with
 * a "[i] " prefix (none with --prefix=none, for machine-readable output; a
 * line is still written whole, so lines of children never mix), and exits
 * with the first failing child's status; once one
 * fails the others get a short grace period, then SIGTERM, then SIGKILL.
 * Uses only libtide's flag parser; one poll loop, no threads.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tide/config.h"

#define PROG         "tide-cluster"
#define VERSION      "0.1.0"
#define GRACE_MS     1000 /* after a failure, before SIGTERM to the others */
#define TERM_KILL_MS 5000 /* after SIGTERM, before SIGKILL */
#define LINE_BUF     8192 /* longer lines are forwarded in pieces */

typedef struct stream {
    int fd;     /* read end, -1 once at EOF */
    int out;    /* 1 = stdout, 2 = stderr */
    size_t len; /* bytes buffered */
    char buf[LINE_BUF];
} stream;

typedef struct child {
    pid_t pid;   /* 0 once reaped */
    int status;  /* wait status once reaped */
    stream s[2]; /* stdout, stderr */
} child;

static volatile sig_atomic_t got_signal;
static int prefix_lines = 1; /* --prefix=process (default) or none */

static void on_signal(int sig)
{
    got_signal = sig;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " -n N [-w W] [--port P] [-h FILE] -- PROGRAM [ARGS...]\n"
            "Run N processes of a tide program on this machine: process i runs\n"
            "  PROGRAM ARGS... -n N -w W -p i [--port P] [-h FILE]\n"
            "Each line a child prints is forwarded with a \"[i] \" prefix (stdout to\n"
            "stdout, stderr to stderr). The exit status is that of the first child to\n"
            "fail (128+signal if killed); the others are then stopped with SIGTERM.\n"
            "\n"
            "%s"
            "\n"
            "      --prefix=process  prefix each forwarded line with \"[i] \" (default)\n"
            "      --prefix=none     forward lines unchanged (each line still whole)\n"
            "      --help     display this help and exit\n"
            "      --version  output version information and exit\n",
            tide_config_usage());
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
    return 2;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return; /* our own output is gone: nothing sensible left to do */
        p += k;
        n -= (size_t)k;
    }
}

/* Write one line (without its newline) of child @i with its prefix. */
static void emit(int out, int i, const char *p, size_t n)
{
    char pre[24];
    int k = prefix_lines ? snprintf(pre, sizeof pre, "[%d] ", i) : 0;
    /* One write per line when it fits, so lines of children never interleave. */
    char line[LINE_BUF + 32];
    if (n + (size_t)k + 1 <= sizeof line) {
        memcpy(line, pre, (size_t)k);
        memcpy(line + k, p, n);
        line[(size_t)k + n] = '\n';
        write_all(out, line, (size_t)k + n + 1);
        return;
    }
    write_all(out, pre, (size_t)k);
    write_all(out, p, n);
    write_all(out, "\n", 1);
}

/* Read what is there; forward complete lines; at EOF flush the rest. */
static void pump(stream *s, int i)
{
    ssize_t k = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (k > 0) s->len += (size_t)k;
    size_t start = 0;
    for (size_t j = 0; j < s->len; j++)
        if (s->buf[j] == '\n') {
            emit(s->out, i, s->buf + start, j - start);
            start = j + 1;
        }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == sizeof s->buf || (k <= 0 && s->len > 0)) { /* full, or EOF */
        emit(s->out, i, s->buf, s->len);
        s->len = 0;
    }
    if (k <= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

static int exit_code(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

static void signal_all(child *c, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (c[i].pid > 0) kill(c[i].pid, sig);
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_error e;
    int given_port = 0, given_timeout = 0, given_stall = 0, dd = -1;

    /* Options are only looked for before "--". */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            dd = i;
            break;
        }
        if (strncmp(argv[i], "--prefix", 8) == 0 && (argv[i][8] == '=' || argv[i][8] == '\0')) {
            const char *v = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[i + 1] : "");
            if (strcmp(v, "none") == 0)
                prefix_lines = 0;
            else if (strcmp(v, "process") == 0)
                prefix_lines = 1;
            else
                return usage_error("option '--prefix': '%s' is not 'none' or 'process'", v);
            continue;
        }
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf(PROG " (tide) " VERSION "\n");
            return 0;
        }
        if (strncmp(argv[i], "--port", 6) == 0) given_port = 1;
        if (strncmp(argv[i], "--peer-timeout", 14) == 0) given_timeout = 1;
        if (strncmp(argv[i], "--stall-timeout", 15) == 0) given_stall = 1;
        if (strcmp(argv[i], "-p") == 0 || strncmp(argv[i], "--process=", 10) == 0 ||
            strcmp(argv[i], "--process") == 0 || (strncmp(argv[i], "-p", 2) == 0 && argv[i][2]))
            return usage_error("'%s': the process index is chosen per child", argv[i]);
    }
    if (dd < 0) return usage_error("%s", "missing '--' before PROGRAM");
    if (dd + 1 >= argc) return usage_error("%s", "missing PROGRAM after '--'");

    /* Parse our part (argv[0..dd)), --prefix taken out, with the library's parser. */
    int ours = 0;
    char **mine = calloc((size_t)dd + 1, sizeof *mine);
    if (mine == NULL) return usage_error("%s", "out of memory");
    for (int i = 0; i < dd; i++) {
        if (i > 0 && strcmp(argv[i], "--prefix") == 0) {
            i++; /* and its value */
            continue;
        }
        if (i > 0 && strncmp(argv[i], "--prefix=", 9) == 0) continue;
        mine[ours++] = argv[i];
    }
    tide_config_init(&cfg);
    int prc = tide_config_parse(&cfg, &ours, mine, &e);
    const char *stray = ours > 1 ? mine[1] : NULL;
    free(mine);
    if (prc < 0) return usage_error("%s", e.msg);
    if (stray) return usage_error("unrecognized argument '%s'", stray);

    /* Child argv: PROGRAM ARGS, with our flags before any "--" of ARGS. */
    int nargs = argc - dd - 1, extra = 16;
    char **cargv = calloc((size_t)(nargs + extra + 1), sizeof *cargv);
    if (cargv == NULL) return usage_error("%s", "out of memory");
    int ins = nargs;
    for (int i = 1; i < nargs; i++)
        if (strcmp(argv[dd + 1 + i], "--") == 0) {
            ins = i;
            break;
        }
    char nbuf[16], wbuf[16], pbuf[16], portbuf[16], tbuf[16], sbuf[16];
    snprintf(nbuf, sizeof nbuf, "%u", cfg.processes);
    snprintf(wbuf, sizeof wbuf, "%u", cfg.workers);
    snprintf(portbuf, sizeof portbuf, "%u", cfg.base_port);
    snprintf(tbuf, sizeof tbuf, "%u", cfg.peer_timeout_ms);
    snprintf(sbuf, sizeof sbuf, "%u", cfg.stall_timeout_ms);
    int k = 0;
    for (int i = 0; i < ins; i++) cargv[k++] = argv[dd + 1 + i];
    cargv[k++] = "-n", cargv[k++] = nbuf;
    cargv[k++] = "-w", cargv[k++] = wbuf;
    cargv[k++] = "-p", cargv[k++] = pbuf;
    if (given_port) cargv[k++] = "--port", cargv[k++] = portbuf;
    if (cfg.hostfile[0]) cargv[k++] = "-h", cargv[k++] = cfg.hostfile;
    if (given_timeout) cargv[k++] = "--peer-timeout", cargv[k++] = tbuf;
    if (given_stall) cargv[k++] = "--stall-timeout", cargv[k++] = sbuf;
    if (!cfg.pin) cargv[k++] = "--no-pin";
    if (cfg.verbose) cargv[k++] = "-v";
    for (int i = ins; i < nargs; i++) cargv[k++] = argv[dd + 1 + i];
    cargv[k] = NULL;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int n = (int)cfg.processes;
    child *c = calloc((size_t)n, sizeof *c);
    if (c == NULL) {
        free(cargv);
        return usage_error("%s", "out of memory");
    }
    fflush(NULL);
    int started = 0, first_fail = -1;
    for (int i = 0; i < n; i++) {
        int po[2], pe[2];
        if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
            fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
            first_fail = 1;
            break;
        }
        snprintf(pbuf, sizeof pbuf, "%d", i);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
            close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
            first_fail = 1;
            break;
        }
        if (pid == 0) {
            signal(SIGPIPE, SIG_DFL);
            sa.sa_handler = SIG_DFL;
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGHUP, &sa, NULL);
            dup2(po[1], 1);
            dup2(pe[1], 2);
            execvp(cargv[0], cargv);
            fprintf(stderr, PROG ": cannot run '%s': %s\n", cargv[0], strerror(errno));
            _exit(errno == ENOENT ? 127 : 126);
        }
        close(po[1]);
        close(pe[1]);
        c[i].pid = pid;
        c[i].s[0] = (stream){.fd = po[0], .out = 1};
        c[i].s[1] = (stream){.fd = pe[0], .out = 2};
        started++;
    }

    int result = first_fail < 0 ? 0 : 1;
    long fail_at = first_fail < 0 ? -1 : now_ms(), term_at = -1, all_reaped_at = -1;
    int alive = started, forwarded_signal = 0;
    struct pollfd *pfd = calloc((size_t)(2 * n + 1), sizeof *pfd);
    int *owner = calloc((size_t)(2 * n + 1), sizeof *owner);
    if (pfd == NULL || owner == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        signal_all(c, started, SIGKILL);
        return 1;
    }
    for (;;) {
        /* Reap. */
        for (int i = 0; i < started; i++) {
            if (c[i].pid <= 0) continue;
            int st;
            pid_t r = waitpid(c[i].pid, &st, WNOHANG);
            if (r != c[i].pid) continue;
            c[i].pid = 0;
            c[i].status = st;
            alive--;
            if (exit_code(st) != 0 && first_fail < 0) {
                first_fail = i;
                result = exit_code(st);
                fail_at = now_ms();
            }
        }
        if (got_signal && !forwarded_signal) {
            signal_all(c, started, got_signal);
            forwarded_signal = 1;
            if (first_fail < 0) result = 128 + got_signal;
            term_at = now_ms();
        }
        long t = now_ms();
        if (fail_at >= 0 && term_at < 0 && alive > 0 && t - fail_at >= GRACE_MS) {
            signal_all(c, started, SIGTERM);
            term_at = t;
        }
        if (term_at >= 0 && alive > 0 && t - term_at >= TERM_KILL_MS)
            signal_all(c, started, SIGKILL);

        int np = 0;
        for (int i = 0; i < started; i++)
            for (int j = 0; j < 2; j++)
                if (c[i].s[j].fd >= 0) {
                    pfd[np] = (struct pollfd){.fd = c[i].s[j].fd, .events = POLLIN};
                    owner[np++] = i * 2 + j;
                }
        if (alive == 0) {
            if (all_reaped_at < 0) all_reaped_at = t;
            /* Grandchildren may hold a pipe open: do not wait on them long. */
            if (np == 0 || t - all_reaped_at > 500) break;
        }
        int rc = poll(pfd, (nfds_t)np, 50);
        if (rc < 0 && errno != EINTR) break;
        for (int q = 0; rc > 0 && q < np; q++)
            if (pfd[q].revents) pump(&c[owner[q] / 2].s[owner[q] % 2], owner[q] / 2);
    }
    for (int i = 0; i < started; i++)
        for (int j = 0; j < 2; j++)
            if (c[i].s[j].fd >= 0) {
                if (c[i].s[j].len) emit(c[i].s[j].out, i, c[i].s[j].buf, c[i].s[j].len);
                close(c[i].s[j].fd);
            }
    free(pfd);
    free(owner);
    free(c);
    free(cargv);
    return result;
}
