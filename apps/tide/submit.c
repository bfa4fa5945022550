/*
 * submit.c - `tide submit [--cluster ADDR] [--detach] JOB.so [ARGS...]`.
 *
 * Ships the object's bytes (the processes need no shared filesystem), then
 * streams the job's stdout and stderr to ours and exits with its result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"

#define PROG "tide submit"

static void usage(FILE *f)
{
    fprintf(f, "Usage: tide submit [--cluster ADDR] [--keys FILE] [--detach] [--name NAME] JOB.so "
               "[ARGS...]\n"
               "Run a job on the cluster: JOB.so's bytes go to every process, which loads\n"
               "them and calls the job's entry on every worker with argv {NAME, ARGS...}.\n"
               "The job's stdout and stderr come back here; the exit status is the job's.\n"
               "\n"
               "      --cluster ADDR  the control address (default: $TIDE_CLUSTER, then the\n"
               "                      address 'tide cluster start' recorded)\n"
               "      --keys FILE     the cluster's CURVE key file (default: $TIDE_KEYS, then the\n"
               "                      file 'tide cluster start --keys' recorded); every command\n"
               "                      takes it\n"
               "  -d, --detach        print the job id and return at once\n"
               "      --name NAME     the job's name (default: JOB's file name without .so)\n"
               "      --help          display this help and exit\n"
               "      --version       output version information and exit\n"
               "\n"
               "Stopping an attached submit (Ctrl-C, SIGTERM, timeout) cancels its job on the\n"
               "cluster ('tide submit: job N cancelled'); with --detach the job keeps running\n"
               "until 'tide cancel N'. A job that never ends by itself, such as\n"
               "'reachability.so --publish NAME ...' or 'reachability.so --lookup NAME ...'\n"
               "(the latter runs until its publisher is cancelled), ends this way.\n"
               "Relative paths in ARGS are resolved in the directory where 'tide cluster\n"
               "start' ran, not here: give the job absolute paths.\n"
               "\n"
               "Exit status: 0 the job succeeded (or was accepted, with --detach), 1 it\n"
               "failed or was cancelled (its message on stderr), 2 usage error, 130 / 143\n"
               "stopped by SIGINT / SIGTERM (the job cancelled).\n");
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (len < cap) break;
        char *nb = cap >= CTL_MAX_MSG ? NULL : realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            errno = EFBIG;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (buf && err) {
        free(buf);
        errno = err;
        return NULL;
    }
    *n = len;
    return buf;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;
        p += k;
        n -= (size_t)k;
    }
}

/* The signal that stopped us (SIGINT, SIGTERM) once the job was accepted. */
static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    stop_sig = sig;
}

/* Catch SIGINT and SIGTERM without SA_RESTART, so that a wait in zmq_poll
 * returns EINTR and the job can be cancelled before we exit. */
static void catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Wait for the next message (-1 when a signal stopped us); after QUIET_MS of silence ask the
 * cluster whether it still lives (a "ping" it answers with "pong"), so that a vanished cluster ends
 * the wait instead of hanging. */
#define QUIET_MS 2000
static int next_msg(cli_conn *c, uint64_t id, zmq_msg_t *m, ctl_doc *d)
{
    zmq_pollitem_t it = {.socket = c->sock, .events = ZMQ_POLLIN};
    int pinged = 0;
    for (;;) {
        if (stop_sig) return -1;
        int r = zmq_poll(&it, 1, pinged ? 3 * QUIET_MS : QUIET_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) return cli_recv(c, PROG, m, d, 0);
        if (pinged) {
            fprintf(stderr, PROG ": lost the cluster at %s; job %llu's outcome is unknown\n",
                    c->addr, (unsigned long long)id);
            return 1;
        }
        ctl_w w;
        ctl_w_begin(&w, "ping", 0);
        cli_send(c, &w);
        pinged = 1;
    }
}

/* We were stopped by a signal: cancel job @id, wait up to CANCEL_MS for the
 * cluster's acknowledgement (the job's output up to then still shows), and
 * return 128 + the signal, as a shell reports a program killed by it. */
#define CANCEL_MS 3000
static int cancel_job(cli_conn *c, uint64_t id)
{
    int sig = stop_sig;
    ctl_w w;
    ctl_w_begin(&w, "cancel", 1);
    ctl_w_u64(&w, "id", id);
    int acked = cli_send(c, &w) == 0 ? 0 : -1;
    char msg[1024] = "";
    for (int waited = 0; acked == 0 && waited < CANCEL_MS; waited += 100) {
        zmq_pollitem_t it = {.socket = c->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0) continue; /* nothing yet, or a second signal */
        zmq_msg_t m;
        ctl_doc d;
        if (cli_recv(c, PROG, &m, &d, 0)) {
            acked = -1;
        } else if (ctl_is(&d, "out") && ctl_u64(&d, 0, "id", 0) == id) {
            size_t n = 0;
            const char *p = ctl_bytes(&d, 0, "data", &n);
            if (p) write_all(ctl_u64(&d, 0, "fd", 1) == 2 ? 2 : 1, p, n);
        } else if (ctl_is(&d, "ok")) {
            acked = 1;
        } else if (ctl_is(&d, "error")) {
            ctl_str(&d, 0, "msg", msg, sizeof msg);
            acked = -1;
        }
        ctl_doc_fini(&d);
        zmq_msg_close(&m);
    }
    if (acked == 1)
        fprintf(stderr, PROG ": job %llu cancelled\n", (unsigned long long)id);
    else if (msg[0])
        fprintf(stderr, PROG ": cancel of job %llu: %s\n", (unsigned long long)id, msg);
    else
        fprintf(stderr,
                PROG ": no answer to the cancel of job %llu from %s; 'tide jobs' shows whether "
                     "it still runs\n",
                (unsigned long long)id, c->addr);
    return 128 + sig;
}

/* Stream the job's output until its "done"; returns the exit status. */
static int follow(cli_conn *c, uint64_t id, const char *name)
{
    for (;;) {
        zmq_msg_t m;
        ctl_doc d;
        int r = next_msg(c, id, &m, &d);
        if (r < 0) return cancel_job(c, id);
        if (r) return 1;
        int rc = -1;
        if (ctl_is(&d, "out") && ctl_u64(&d, 0, "id", 0) == id) {
            size_t n = 0;
            const char *p = ctl_bytes(&d, 0, "data", &n);
            if (p) write_all(ctl_u64(&d, 0, "fd", 1) == 2 ? 2 : 1, p, n);
        } else if (ctl_is(&d, "done") && ctl_u64(&d, 0, "id", 0) == id) {
            char state[32], msg[1024];
            ctl_str(&d, 0, "state", state, sizeof state);
            ctl_str(&d, 0, "msg", msg, sizeof msg);
            if (ctl_i64(&d, 0, "rc", -1) == 0)
                rc = 0;
            else if (strcmp(state, "cancelled") == 0)
                fprintf(stderr, PROG ": job %llu (%s) was cancelled\n", (unsigned long long)id,
                        name),
                    rc = 1;
            else
                fprintf(stderr, PROG ": job %llu (%s) failed: %s\n", (unsigned long long)id, name,
                        msg),
                    rc = 1;
        }
        ctl_doc_fini(&d);
        zmq_msg_close(&m);
        if (rc >= 0) return rc;
    }
}

int tide_cmd_submit(int argc, char **argv)
{
    const char *given = NULL, *name = NULL;
    int detach = 0;
    static const struct option longs[] = {{"cluster", required_argument, NULL, 'C'},
                                          {"keys", required_argument, NULL, 'K'},
                                          {"detach", no_argument, NULL, 'd'},
                                          {"name", required_argument, NULL, 'N'},
                                          {"help", no_argument, NULL, 'H'},
                                          {"version", no_argument, NULL, 'V'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    optind = 1;
    /* "+": options stop at JOB.so, so the job's own options pass through. */
    while ((ch = getopt_long(argc, argv, "+d", longs, NULL)) != -1) {
        switch (ch) {
        case 'C':
            given = optarg;
            break;
        case 'K':
            setenv("TIDE_KEYS", optarg, 1);
            break;
        case 'd':
            detach = 1;
            break;
        case 'N':
            name = optarg;
            break;
        case 'H':
            usage(stdout);
            return 0;
        case 'V':
            return cli_version("submit");
        default:
            return cli_usage_error(PROG, "unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(PROG, "missing JOB.so");
    const char *path = argv[optind];
    char base[64];
    if (name == NULL) {
        const char *s = strrchr(path, '/');
        snprintf(base, sizeof base, "%s", s ? s + 1 : path);
        size_t bl = strlen(base);
        if (bl > 3 && strcmp(base + bl - 3, ".so") == 0) base[bl - 3] = 0;
        name = base;
    }
    size_t n = 0;
    char *so = read_file(path, &n);
    if (so == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return 1;
    }
    char addr[CLI_ADDR_MAX];
    if (cli_find_cluster(PROG, given, addr, sizeof addr)) return free(so), 1;
    cli_conn c;
    if (cli_open(&c, PROG, addr)) return free(so), 1;
    ctl_w w;
    ctl_w_begin(&w, "submit", 4);
    ctl_w_str(&w, "name", name);
    ctl_w_bin(&w, "so", so, n);
    free(so);
    ctl_w_key(&w, "args");
    msgpack_pack_array(&w.pk, (size_t)(argc - optind - 1));
    for (int i = optind + 1; i < argc; i++) ctl_w_str(&w, NULL, argv[i]);
    ctl_w_key(&w, "detach");
    msgpack_pack_int(&w.pk, detach);
    zmq_msg_t m;
    ctl_doc d;
    int rc = cli_request(&c, PROG, &w, &m, &d, 10000);
    uint64_t id = rc == 0 ? ctl_u64(&d, 0, "id", 0) : 0;
    if (rc == 0 && (!ctl_is(&d, "accepted") || id == 0)) {
        fprintf(stderr, PROG ": unexpected answer from %s\n", addr);
        rc = 1;
    }
    ctl_doc_fini(&d);
    zmq_msg_close(&m);
    if (rc == 0 && detach)
        printf("%llu\n", (unsigned long long)id);
    else if (rc == 0) {
        catch_stop();
        rc = follow(&c, id, name);
    }
    cli_close(&c);
    return rc;
}
