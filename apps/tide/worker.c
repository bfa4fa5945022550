/*
 * worker.c - one worker process of a running cluster (`tide cluster
 * worker`, started by the supervisor; not for direct use).
 *
 * It runs the host API (runtime/host.h: this process's worker threads and
 * data plane) and a DEALER to the coordinator. The main thread owns the
 * DEALER: it executes the coordinator's commands (start, cancel, jobs,
 * status, exit) and forwards what the hooks queue. Hooks run on worker
 * threads, so they never touch the socket: they append to a mutex-guarded
 * queue and wake the main thread through an eventfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "ctl.h"
#include "curve.h"
#include "host.h"
#include "tide/alloc.h"
#include "tide/config.h"

#define PROG           "tide cluster worker"
#define WORKER_STOPPED 3 /* exit status: the cluster stopped (a relay stops too) */

/* A hook event waiting for the main thread. */
typedef struct event {
    struct event *next;
    uint64_t job;
    int kind; /* 1 out, 2 done */
    int fd;   /* out: 1 or 2 */
    int rc;   /* done */
    size_t len;
    char data[]; /* out: the text; done: the message */
} event;

typedef struct wproc {
    tide_config cfg;
    uint64_t gen;
    void *zctx, *dealer;
    int efd;
    pthread_mutex_t lock;
    event *head, **tail;
    tide__host *host;
    char tmpdir[512];
} wproc;

static void push(wproc *w, uint64_t job, int kind, int fd, int rc, const char *p, size_t n)
{
    event *e = malloc(sizeof *e + n + 1);
    if (e == NULL) return; /* out of memory: this piece of output is lost */
    e->next = NULL;
    e->job = job;
    e->kind = kind;
    e->fd = fd;
    e->rc = rc;
    e->len = n;
    if (n) memcpy(e->data, p, n);
    e->data[n] = 0;
    pthread_mutex_lock(&w->lock);
    *w->tail = e;
    w->tail = &e->next;
    pthread_mutex_unlock(&w->lock);
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof one) < 0) { /* the counter is full: already woken */
    }
}

static void hook_out(void *ctx, uint64_t job, int fd, const char *buf, size_t len)
{
    push(ctx, job, 1, fd, 0, buf, len);
}

static void hook_done(void *ctx, uint64_t job, int rc, const char *msg)
{
    push(ctx, job, 2, 0, rc, msg ? msg : "", msg ? strlen(msg) : 0);
}

static void send_w(wproc *w, ctl_w *m)
{
    zmq_send(w->dealer, m->sb.data, m->sb.size, 0);
    ctl_w_fini(m);
}

static void send_done(wproc *w, uint64_t job, int rc, const char *msg)
{
    ctl_w m;
    ctl_w_begin(&m, "wdone", 3);
    ctl_w_u64(&m, "id", job);
    ctl_w_i64(&m, "rc", rc);
    ctl_w_str(&m, "msg", msg);
    send_w(w, &m);
}

static void drain(wproc *w)
{
    uint64_t v;
    if (read(w->efd, &v, sizeof v) < 0) { /* nothing pending */
    }
    pthread_mutex_lock(&w->lock);
    event *e = w->head;
    w->head = NULL;
    w->tail = &w->head;
    pthread_mutex_unlock(&w->lock);
    while (e) {
        event *nx = e->next;
        if (e->kind == 1) {
            ctl_w m;
            ctl_w_begin(&m, "wout", 3);
            ctl_w_u64(&m, "id", e->job);
            ctl_w_u64(&m, "fd", (uint64_t)e->fd);
            ctl_w_bin(&m, "data", e->data, e->len);
            send_w(w, &m);
        } else {
            send_done(w, e->job, e->rc, e->data);
        }
        free(e);
        e = nx;
    }
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

/* Write the job's bytes to a private temp file (no shared filesystem is
 * assumed) and start it; the file is unlinked once loaded. */
static void cmd_start(wproc *w, const ctl_doc *d)
{
    uint64_t id = ctl_u64(d, 0, "id", 0);
    char name[64];
    ctl_str(d, 0, "name", name, sizeof name);
    size_t n = 0;
    const char *so = ctl_bytes(d, 0, "so", &n);
    char path[600];
    snprintf(path, sizeof path, "%s/tide-job-%llu-XXXXXX.so", w->tmpdir, (unsigned long long)id);
    int fd = mkostemps(path, 3, O_CLOEXEC);
    if (fd < 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "process %u: cannot write the job to %s: %s", w->cfg.process,
                 path, strerror(errno));
        tide__host_job_forget(w->host, id);
        return send_done(w, id, TIDE_EIO, msg);
    }
    size_t off = 0;
    while (so && off < n) {
        ssize_t k = write(fd, so + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        off += (size_t)k;
    }
    close(fd);
    if (off < n) {
        unlink(path);
        tide__host_job_forget(w->host, id);
        return send_done(w, id, TIDE_EIO, "cannot write the job's temp file");
    }
    int args = ctl_get(d, 0, "args");
    int argc = 0;
    char *argv[256];
    char *store = NULL;
    if (args >= 0 && d->nodes[args].kind == CTL_ARR) {
        size_t total = 0;
        for (int a = d->nodes[args].child; a >= 0; a = d->nodes[a].next) total += d->nodes[a].n + 1;
        store = malloc(total + 1);
        char *q = store;
        for (int a = d->nodes[args].child; store && a >= 0 && argc < 255; a = d->nodes[a].next) {
            argv[argc++] = q;
            if (d->nodes[a].kind == CTL_STR) memcpy(q, d->nodes[a].p, d->nodes[a].n);
            q += d->nodes[a].kind == CTL_STR ? d->nodes[a].n : 0;
            *q++ = 0;
        }
    }
    argv[argc] = NULL;
    tide_error e = {0};
    int rc = tide__host_job_start(w->host, id, name, path, argc, argv, &e);
    unlink(path); /* the mapping stays; nothing is left on disk */
    free(store);
    if (rc < 0) {
        /* The submitter never saw our temp file: name the job instead. */
        char msg[512], *at = strstr(e.msg, path);
        if (at)
            snprintf(msg, sizeof msg, "%.*s%s.so%s", (int)(at - e.msg), e.msg, name,
                     at + strlen(path));
        else
            snprintf(msg, sizeof msg, "%s", e.msg[0] ? e.msg : tide_strerror(rc));
        send_done(w, id, rc, msg);
    }
}

static void cmd_cancel(wproc *w, const ctl_doc *d)
{
    tide_error e = {0};
    uint64_t id = ctl_u64(d, 0, "id", 0);
    if (tide__host_job_cancel(w->host, id, &e) == TIDE_ENOTFOUND)
        tide__host_job_forget(w->host, id);
}

static void cmd_jobs(wproc *w, const ctl_doc *d)
{
    tide__job_info *jobs = NULL;
    size_t n = 0;
    if (tide__host_jobs(w->host, &jobs, &n) < 0) n = 0;
    ctl_w m;
    ctl_w_begin(&m, "wjobs", 2);
    ctl_w_u64(&m, "req", ctl_u64(d, 0, "req", 0));
    ctl_w_key(&m, "jobs");
    msgpack_pack_array(&m.pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&m.pk, 5);
        ctl_w_u64(&m, "id", jobs[i].id);
        ctl_w_str(&m, "state", tide__job_state_name(jobs[i].state));
        ctl_w_u64(&m, "in", jobs[i].records_in);
        ctl_w_u64(&m, "out", jobs[i].records_out);
        ctl_w_str(&m, "frontier", jobs[i].frontier);
    }
    tide_free(jobs);
    send_w(w, &m);
}

static void cmd_status(wproc *w, const ctl_doc *d)
{
    tide__host_status st;
    memset(&st, 0, sizeof st);
    int ok = tide__host_status_get(w->host, &st) == TIDE_OK;
    ctl_w m;
    ctl_w_begin(&m, "wstatus", 7);
    ctl_w_u64(&m, "req", ctl_u64(d, 0, "req", 0));
    ctl_w_i64(&m, "pid", (int64_t)getpid());
    ctl_w_u64(&m, "workers", ok ? st.workers : 0);
    ctl_w_key(&m, "cores");
    msgpack_pack_array(&m.pk, ok ? st.workers : 0);
    for (uint32_t i = 0; ok && i < st.workers; i++) msgpack_pack_int64(&m.pk, st.cores[i]);
    ctl_w_u64(&m, "rss", ok ? st.rss_bytes : tide__rss_bytes());
    ctl_w_i64(&m, "uptime_us", ok ? st.uptime_us : 0);
    ctl_w_key(&m, "arrs");
    msgpack_pack_array(&m.pk, ok ? st.narrs : 0);
    for (size_t i = 0; ok && i < st.narrs; i++) {
        msgpack_pack_map(&m.pk, 6);
        ctl_w_str(&m, "name", st.arrs[i].name);
        ctl_w_u64(&m, "owner", st.arrs[i].owner);
        ctl_w_u64(&m, "worker", st.arrs[i].worker);
        ctl_w_u64(&m, "readers", st.arrs[i].readers);
        ctl_w_u64(&m, "records", st.arrs[i].records);
        ctl_w_u64(&m, "bytes", st.arrs[i].bytes);
    }
    if (ok) tide_free(st.arrs);
    send_w(w, &m);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

static int setup(wproc *w, const char *control, const char *keys)
{
    const char *t = getenv("TMPDIR");
    snprintf(w->tmpdir, sizeof w->tmpdir, "%s", t && t[0] ? t : "/tmp");
    pthread_mutex_init(&w->lock, NULL);
    w->tail = &w->head;
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->zctx = zmq_ctx_new();
    w->dealer = w->zctx ? zmq_socket(w->zctx, ZMQ_DEALER) : NULL;
    if (w->efd < 0 || w->dealer == NULL) return -1;
    char rid[64];
    snprintf(rid, sizeof rid, "W%u.%llu", w->cfg.process, (unsigned long long)w->gen);
    int zero = 0;
    int64_t max = CTL_MAX_MSG;
    zmq_setsockopt(w->dealer, ZMQ_ROUTING_ID, rid, strlen(rid));
    zmq_setsockopt(w->dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(w->dealer, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(w->dealer, ZMQ_SNDHWM, &zero, sizeof zero); /* job output queues, never drops */
    if (keys && keys[0]) {
        tide__curve_keys k;
        tide_error e = {0};
        int rc = tide__curve_load(keys, &k, &e);
        if (rc == TIDE_OK) rc = tide__curve_client(w->dealer, &k, &e);
        tide__curve_wipe(&k);
        if (rc < 0) {
            fprintf(stderr, PROG " %u: %s\n", w->cfg.process, e.msg);
            return -1;
        }
    }
    return zmq_connect(w->dealer, control);
}

int tide_cluster_worker(int argc, char **argv)
{
    static wproc ws;
    wproc *w = &ws;
    char keys[512] = "";
    for (int i = 1; i + 1 < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--keys") == 0) snprintf(keys, sizeof keys, "%s", argv[i + 1]);
    tide_config_init(&w->cfg);
    tide_error e = {0};
    if (tide_config_parse(&w->cfg, &argc, argv, &e) < 0) return cli_usage_error(PROG, "%s", e.msg);
    snprintf(w->cfg.job, sizeof w->cfg.job, "tide-cluster");
    char control[CLI_ADDR_MAX] = "", last_exit[160] = "";
    static const struct option longs[] = {{"control", required_argument, NULL, 'C'},
                                          {"gen", required_argument, NULL, 'G'},
                                          {"keys", required_argument, NULL, 'K'},
                                          {"last-exit", required_argument, NULL, 'X'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        if (ch == 'C')
            snprintf(control, sizeof control, "%s", optarg);
        else if (ch == 'G')
            w->gen = strtoull(optarg, NULL, 10);
        else if (ch == 'X')
            snprintf(last_exit, sizeof last_exit, "%s", optarg);
        else if (ch != 'K')
            return cli_usage_error(PROG, "unrecognized option '%s'", argv[optind - 1]);
    }
    if (control[0] == 0) return cli_usage_error(PROG, "--control ADDR is required");
    if (setup(w, control, keys) < 0) {
        fprintf(stderr, PROG " %u: cannot reach %s: %s\n", w->cfg.process, control,
                zmq_strerror(errno));
        return 1;
    }
    /* Before the data plane's handshake (which waits for every peer): a
     * restarted process on another host tells the coordinator at once that
     * its predecessor is gone, so the others restart and meet it. */
    ctl_w j;
    ctl_w_begin(&j, "joining", 3);
    ctl_w_u64(&j, "process", w->cfg.process);
    ctl_w_i64(&j, "pid", (int64_t)getpid());
    ctl_w_str(&j, "last_exit", last_exit);
    send_w(w, &j);
    tide__host_hooks hooks = {.out = hook_out, .done = hook_done, .ctx = w};
    if (tide__host_new(&w->cfg, &hooks, &w->host, &e) < 0) {
        fprintf(stderr, PROG " %u: %s\n", w->cfg.process, e.msg);
        return 1;
    }
    ctl_w m;
    ctl_w_begin(&m, "hello", 5);
    ctl_w_str(&m, "last_exit", last_exit); /* a relay's restart: how the last one ended */
    ctl_w_u64(&m, "process", w->cfg.process);
    ctl_w_i64(&m, "pid", (int64_t)getpid());
    ctl_w_u64(&m, "gen", w->gen);
    ctl_w_u64(&m, "workers", w->cfg.workers);
    send_w(w, &m);

    int quit = 0;
    while (!quit) {
        zmq_pollitem_t it[2] = {{.socket = w->dealer, .events = ZMQ_POLLIN},
                                {.fd = w->efd, .events = ZMQ_POLLIN}};
        if (zmq_poll(it, 2, -1) < 0 && errno != EINTR) break;
        if (it[1].revents & ZMQ_POLLIN) drain(w);
        while (!quit) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, w->dealer, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            ctl_doc d;
            if (ctl_parse(&d, zmq_msg_data(&msg), zmq_msg_size(&msg)) == 0) {
                if (ctl_is(&d, "start"))
                    cmd_start(w, &d);
                else if (ctl_is(&d, "cancel"))
                    cmd_cancel(w, &d);
                else if (ctl_is(&d, "jobs"))
                    cmd_jobs(w, &d);
                else if (ctl_is(&d, "status"))
                    cmd_status(w, &d);
                else if (ctl_is(&d, "exit"))
                    quit = ctl_u64(&d, 0, "stop", 0) ? 2 : 1;
            }
            ctl_doc_fini(&d);
            zmq_msg_close(&msg);
        }
    }
    tide__host_free(w->host);
    drain(w);
    int linger = 1000;
    zmq_setsockopt(w->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(w->dealer);
    zmq_ctx_term(w->zctx);
    close(w->efd);
    return quit == 2 ? WORKER_STOPPED : 0;
}
