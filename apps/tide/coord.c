/*
 * coord.c - supervisor + coordinator: one poll loop, no threads.
 *
 * It owns the control ROUTER that submitters and workers connect to, the job
 * table (ids increase from 1 and are the same on every process), and the
 * local worker processes. Every job spans every process, so a process that
 * dies fails every running job; the data plane cannot re-admit one process
 * into a running mesh, so the whole set is restarted under a new generation
 * (docs/cluster.md, "Failure model").
 *
 *   submitter ─DEALER─┐                        ┌─ worker process 0 (DEALER "W0.g")
 *   submitter ─DEALER─┼─▶ ROUTER (coordinator) ─┼─ worker process 1
 *   tide jobs ─DEALER─┘      │ fork/exec, waitpid└─ ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "coord.h"
#include "curve.h"
#include "ctl.h"
#include "tide/error.h"

#define MAX_KEPT      1024 /* finished jobs remembered for `tide jobs` */
#define QUERY_MS      2000 /* a process that does not answer jobs/status by then is left out */
#define TICK_MS       100
#define STOP_KILL_MS  3000 /* workers still alive this long after "exit" get SIGKILL */
#define START_TIMEOUT 60000
#define RID_MAX       256

enum { J_PENDING, J_RUNNING, J_DONE, J_FAILED, J_CANCELLED };
static const char *const jstate[] = {"pending", "running", "done", "failed", "cancelled"};

typedef struct job {
    uint64_t id;
    char name[64];
    uint8_t rid[RID_MAX]; /* the attached submitter */
    size_t rid_len;       /* 0: detached */
    int state;
    int64_t start_us, end_us; /* wall clock */
    uint64_t reported;        /* processes whose "wdone" arrived (bit p) */
    int rc;
    char msg[512];
    int cancel_req;   /* `tide cancel` asked for it */
    zmq_msg_t submit; /* the submit frame (so and args), kept until started */
    int has_submit;
    struct job *next;
} job;

typedef struct proc {
    pid_t pid;    /* local child, 0 if none */
    int local;    /* we start and supervise it */
    int up;       /* its hello of this generation arrived */
    char rid[64]; /* "W<p>.<gen>" */
    int64_t started_us;
    uint32_t restarts;
    char relay[32]; /* remote: its relay supervisor's routing id, "" until it registers */
} proc;

enum { Q_JOBS, Q_STATUS };
typedef struct query {
    uint64_t req;
    int kind;
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint64_t waiting; /* processes still to answer */
    int64_t deadline;
    zmq_msg_t reply[TIDE_MAX_PROCESSES];
    uint64_t have;
    struct query *next;
} query;

typedef struct coord {
    const coord_opts *o;
    uint32_t n;
    void *zctx, *router;
    char addr[CLI_ADDR_MAX]; /* bound control address */
    proc p[TIDE_MAX_PROCESSES];
    uint64_t gen;
    int all_up_once;
    int64_t down_since; /* monotonic ms when the set went down, -1 when up */
    int64_t restart_at; /* monotonic ms of the next restart, -1 none */
    job *jobs, *jobs_tail;
    uint64_t next_id;
    size_t njobs;
    query *queries;
    uint64_t next_req;
    int stopping;
    int64_t stop_deadline;
    uint8_t stop_rid[RID_MAX];
    size_t stop_rid_len;
    int64_t born_us;
    int ready_fd;
    uint32_t early_deaths; /* processes that died before the set ever came up */
    tide__zap *zap;        /* with --keys: admits only holders of the cluster key */
    void *mon;             /* PAIR on the ROUTER's monitor: failed handshakes, for the log */
    uint64_t refused;
} coord;

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s tide cluster: ", ts);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

static void send_to(coord *c, const void *rid, size_t rid_len, ctl_w *w)
{
    if (rid_len == 0) {
        ctl_w_fini(w);
        return;
    }
    /* A gone submitter is not an error: ROUTER drops what it cannot route. */
    zmq_send(c->router, rid, rid_len, ZMQ_SNDMORE);
    zmq_send(c->router, w->sb.data, w->sb.size, 0);
    ctl_w_fini(w);
}

static void send_proc(coord *c, uint32_t p, ctl_w *w)
{
    send_to(c, c->p[p].rid, c->p[p].up ? strlen(c->p[p].rid) : 0, w);
}

static void send_error(coord *c, const void *rid, size_t rid_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(coord *c, const void *rid, size_t rid_len, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctl_w w;
    ctl_w_begin(&w, "error", 1);
    ctl_w_str(&w, "msg", msg);
    send_to(c, rid, rid_len, &w);
}

static uint64_t all_mask(const coord *c)
{
    return c->n >= 64 ? ~0ull : (1ull << c->n) - 1;
}

static int all_up(const coord *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (!c->p[i].up) return 0;
    return 1;
}

static job *find_job(coord *c, uint64_t id)
{
    for (job *j = c->jobs; j; j = j->next)
        if (j->id == id) return j;
    return NULL;
}

static void ready(coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ready(coord *c, const char *fmt, ...)
{
    if (c->ready_fd < 0) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > 0 && write(c->ready_fd, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1) < 0)
        logf_("cannot tell the starting command: %s", strerror(errno));
    close(c->ready_fd);
    c->ready_fd = -1;
}

/* ======================================================================== */
/* Worker processes                                                         */
/* ======================================================================== */

static int spawn(coord *c, uint32_t i)
{
    const tide_config *cfg = &c->o->cfg;
    char nb[16], wb[16], pb[16], portb[16], tb[16], gb[24];
    snprintf(nb, sizeof nb, "%u", cfg->processes);
    snprintf(wb, sizeof wb, "%u", cfg->workers);
    snprintf(pb, sizeof pb, "%u", i);
    snprintf(portb, sizeof portb, "%u", cfg->base_port);
    snprintf(tb, sizeof tb, "%u", cfg->peer_timeout_ms);
    snprintf(gb, sizeof gb, "%llu", (unsigned long long)c->gen);
    char *argv[40];
    int k = 0;
    argv[k++] = (char *)c->o->self_exe;
    argv[k++] = "cluster";
    argv[k++] = "worker";
    argv[k++] = "-n", argv[k++] = nb;
    argv[k++] = "-w", argv[k++] = wb;
    argv[k++] = "-p", argv[k++] = pb;
    argv[k++] = "--port", argv[k++] = portb;
    argv[k++] = "--peer-timeout", argv[k++] = tb;
    if (cfg->hostfile[0]) argv[k++] = "-h", argv[k++] = (char *)cfg->hostfile;
    if (!cfg->pin) argv[k++] = "--no-pin";
    argv[k++] = "--control", argv[k++] = c->addr;
    argv[k++] = "--gen", argv[k++] = gb;
    if (c->o->keys[0]) argv[k++] = "--keys", argv[k++] = (char *)c->o->keys;
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        logf_("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The worker dies with its supervisor, whatever kills the latter. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        fprintf(stderr, "tide cluster: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    c->p[i].pid = pid;
    c->p[i].up = 0;
    c->p[i].started_us = wall_us();
    snprintf(c->p[i].rid, sizeof c->p[i].rid, "W%u.%llu", i, (unsigned long long)c->gen);
    logf_("process %u started (pid %d, generation %llu)", i, (int)pid, (unsigned long long)c->gen);
    return 0;
}

/* Tell the relay supervisor of remote process @i to "respawn", "kill" or "stop". */
static void relay_cmd(coord *c, uint32_t i, const char *t)
{
    if (c->p[i].relay[0] == 0) return;
    ctl_w w;
    ctl_w_begin(&w, t, 0);
    send_to(c, c->p[i].relay, strlen(c->p[i].relay), &w);
}

static void spawn_all(coord *c)
{
    c->gen++;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].local) {
            spawn(c, i);
            continue;
        }
        snprintf(c->p[i].rid, sizeof c->p[i].rid, "W%u.", i); /* any generation */
        if (c->gen > 1) relay_cmd(c, i, "respawn");           /* the first one its relay started */
    }
}

static void describe_exit(char *out, size_t cap, uint32_t i, pid_t pid, int st)
{
    if (WIFSIGNALED(st))
        snprintf(out, cap, "process %u (pid %d) died: killed by signal %d (%s)", i, (int)pid,
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, cap, "process %u (pid %d) died: exited with status %d", i, (int)pid,
                 WEXITSTATUS(st));
}

/* ======================================================================== */
/* Jobs                                                                     */
/* ======================================================================== */

static void job_notify_done(coord *c, job *j)
{
    ctl_w w;
    ctl_w_begin(&w, "done", 4);
    ctl_w_u64(&w, "id", j->id);
    ctl_w_i64(&w, "rc", j->rc);
    ctl_w_str(&w, "state", jstate[j->state]);
    ctl_w_str(&w, "msg", j->msg);
    send_to(c, j->rid, j->rid_len, &w);
}

static void job_release(job *j)
{
    if (j->has_submit) zmq_msg_close(&j->submit);
    j->has_submit = 0;
}

/* Forget the oldest finished jobs beyond MAX_KEPT. */
static void trim_jobs(coord *c)
{
    job **pp = &c->jobs;
    while (c->njobs > MAX_KEPT && *pp) {
        job *j = *pp;
        if (j->state >= J_DONE) {
            *pp = j->next;
            if (c->jobs_tail == j) c->jobs_tail = NULL;
            job_release(j);
            free(j);
            c->njobs--;
        } else {
            pp = &j->next;
        }
    }
    if (c->jobs_tail == NULL)
        for (job *j = c->jobs; j; j = j->next) c->jobs_tail = j;
}

static void job_finish(coord *c, job *j, int state, int rc, const char *msg)
{
    j->state = state;
    j->rc = rc;
    if (msg) snprintf(j->msg, sizeof j->msg, "%s", msg);
    j->end_us = wall_us();
    job_release(j);
    logf_("job %llu (%s) %s%s%s", (unsigned long long)j->id, j->name, jstate[state],
          j->msg[0] ? ": " : "", j->msg);
    job_notify_done(c, j);
}

static void job_cancel_rest(coord *c, job *j)
{
    for (uint32_t p = 0; p < c->n; p++) {
        if (j->reported >> p & 1) continue;
        ctl_w w;
        ctl_w_begin(&w, "cancel", 1);
        ctl_w_u64(&w, "id", j->id);
        send_proc(c, p, &w);
    }
}

/* Send every pending job to every process once all are up. */
static void start_pending(coord *c)
{
    if (!all_up(c)) return;
    for (job *j = c->jobs; j; j = j->next) {
        if (j->state != J_PENDING) continue;
        /* The submit frame is forwarded as is, retyped: "start" + id. */
        ctl_doc d;
        if (ctl_parse(&d, zmq_msg_data(&j->submit), zmq_msg_size(&j->submit)) < 0) {
            ctl_doc_fini(&d);
            job_finish(c, j, J_FAILED, TIDE_EPROTO, "malformed submit");
            continue;
        }
        size_t so_len = 0;
        const char *so = ctl_bytes(&d, 0, "so", &so_len);
        int args = ctl_get(&d, 0, "args");
        ctl_w w;
        ctl_w_begin(&w, "start", 4);
        ctl_w_u64(&w, "id", j->id);
        ctl_w_str(&w, "name", j->name);
        ctl_w_bin(&w, "so", so, so_len);
        ctl_w_key(&w, "args");
        uint32_t na = args >= 0 && d.nodes[args].kind == CTL_ARR ? d.nodes[args].n : 0;
        msgpack_pack_array(&w.pk, na);
        for (int a = na ? d.nodes[args].child : -1; a >= 0; a = d.nodes[a].next) {
            if (d.nodes[a].kind == CTL_STR)
                ctl_w_strn(&w, NULL, d.nodes[a].p, d.nodes[a].n);
            else
                ctl_w_str(&w, NULL, "");
        }
        for (uint32_t p = 0; p < c->n; p++) {
            zmq_send(c->router, c->p[p].rid, strlen(c->p[p].rid), ZMQ_SNDMORE);
            zmq_send(c->router, w.sb.data, w.sb.size, 0);
        }
        ctl_w_fini(&w);
        ctl_doc_fini(&d);
        job_release(j);
        j->state = J_RUNNING;
        j->start_us = wall_us();
        logf_("job %llu (%s) started", (unsigned long long)j->id, j->name);
    }
}

static int is_elf_so(const char *p, size_t n)
{
    /* ELF magic, and e_type (bytes 16-17, little-endian here) ET_DYN = 3. */
    return n >= 18 && memcmp(p, "\177ELF", 4) == 0 && (uint8_t)p[16] == 3 && p[17] == 0;
}

static void on_submit(coord *c, const uint8_t *rid, size_t rid_len, zmq_msg_t *m, const ctl_doc *d)
{
    char name[64];
    size_t so_len = 0;
    const char *so = ctl_bytes(d, 0, "so", &so_len);
    ctl_str(d, 0, "name", name, sizeof name);
    if (so == NULL || name[0] == 0)
        return send_error(c, rid, rid_len, "malformed submit (needs name and so)");
    if (!is_elf_so(so, so_len))
        return send_error(c, rid, rid_len,
                          "%s: not a shared object (no ELF header of type ET_DYN); build jobs "
                          "with 'cc -shared -fPIC'",
                          name);
    if (c->stopping) return send_error(c, rid, rid_len, "the cluster is stopping");
    job *j = calloc(1, sizeof *j);
    if (j == NULL) return send_error(c, rid, rid_len, "out of memory");
    j->id = c->next_id++;
    snprintf(j->name, sizeof j->name, "%s", name);
    if (!ctl_i64(d, 0, "detach", 0)) {
        memcpy(j->rid, rid, rid_len);
        j->rid_len = rid_len;
    }
    j->state = J_PENDING;
    j->start_us = wall_us();
    zmq_msg_init(&j->submit);
    zmq_msg_move(&j->submit, m);
    j->has_submit = 1;
    if (c->jobs_tail)
        c->jobs_tail->next = j;
    else
        c->jobs = j;
    c->jobs_tail = j;
    c->njobs++;
    ctl_w w;
    ctl_w_begin(&w, "accepted", 1);
    ctl_w_u64(&w, "id", j->id);
    send_to(c, rid, rid_len, &w);
    logf_("job %llu (%s) submitted (%zu bytes)", (unsigned long long)j->id, j->name, so_len);
    start_pending(c);
    trim_jobs(c);
}

static void on_cancel(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d)
{
    uint64_t id = ctl_u64(d, 0, "id", 0);
    job *j = find_job(c, id);
    if (j == NULL)
        return send_error(c, rid, rid_len, "no job %llu ('tide jobs' lists the jobs)",
                          (unsigned long long)id);
    if (j->state >= J_DONE)
        return send_error(c, rid, rid_len, "job %llu (%s) already finished (%s)",
                          (unsigned long long)id, j->name, jstate[j->state]);
    j->cancel_req = 1;
    if (j->state == J_PENDING)
        job_finish(c, j, J_CANCELLED, TIDE_ECLOSED, "cancelled");
    else
        job_cancel_rest(c, j);
    ctl_w w;
    ctl_w_begin(&w, "ok", 1);
    ctl_w_u64(&w, "id", id);
    send_to(c, rid, rid_len, &w);
}

/* A process reported job @id done with @rc. */
static void on_wdone(coord *c, uint32_t p, const ctl_doc *d)
{
    job *j = find_job(c, ctl_u64(d, 0, "id", 0));
    if (j == NULL || j->state != J_RUNNING) return;
    int rc = (int)ctl_i64(d, 0, "rc", TIDE_EPROTO);
    j->reported |= 1ull << p;
    if (rc < 0 && rc != TIDE_ECLOSED && j->rc == 0 && !j->cancel_req) {
        char msg[400];
        ctl_str(d, 0, "msg", msg, sizeof msg);
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", msg[0] ? msg : "failed");
        job_cancel_rest(c, j); /* the job fails everywhere, the workers live on */
    }
    if ((j->reported & all_mask(c)) != all_mask(c)) return;
    if (j->cancel_req)
        job_finish(c, j, J_CANCELLED, TIDE_ECLOSED, "cancelled");
    else if (j->rc < 0)
        job_finish(c, j, J_FAILED, j->rc, NULL);
    else
        job_finish(c, j, J_DONE, 0, "");
}

static void on_wout(coord *c, const ctl_doc *d)
{
    job *j = find_job(c, ctl_u64(d, 0, "id", 0));
    size_t n = 0;
    const char *data = ctl_bytes(d, 0, "data", &n);
    if (j == NULL || j->rid_len == 0 || data == NULL) return;
    ctl_w w;
    ctl_w_begin(&w, "out", 3);
    ctl_w_u64(&w, "id", j->id);
    ctl_w_u64(&w, "fd", ctl_u64(d, 0, "fd", 1) == 2 ? 2 : 1);
    ctl_w_bin(&w, "data", data, n);
    send_to(c, j->rid, j->rid_len, &w);
}

/* ======================================================================== */
/* Queries: jobs and status gather one answer per process                   */
/* ======================================================================== */

static void query_answer_jobs(coord *c, query *q)
{
    ctl_doc dd[TIDE_MAX_PROCESSES];
    for (uint32_t p = 0; p < c->n; p++) {
        memset(&dd[p], 0, sizeof dd[p]);
        if ((q->have >> p & 1) &&
            ctl_parse(&dd[p], zmq_msg_data(&q->reply[p]), zmq_msg_size(&q->reply[p])) < 0)
            q->have &= ~(1ull << p);
    }
    size_t nj = 0;
    for (job *j = c->jobs; j; j = j->next) nj++;
    ctl_w w;
    ctl_w_begin(&w, "jobs", 1);
    ctl_w_key(&w, "jobs");
    msgpack_pack_array(&w.pk, nj);
    for (job *j = c->jobs; j; j = j->next) {
        uint64_t in = 0, out = 0;
        char frontier[64] = "";
        for (uint32_t p = 0; p < c->n; p++) {
            if (!(q->have >> p & 1)) continue;
            int arr = ctl_get(&dd[p], 0, "jobs");
            for (int e = arr >= 0 ? dd[p].nodes[arr].child : -1; e >= 0; e = dd[p].nodes[e].next) {
                if (ctl_u64(&dd[p], e, "id", 0) != j->id) continue;
                in += ctl_u64(&dd[p], e, "in", 0);
                out += ctl_u64(&dd[p], e, "out", 0);
                if (frontier[0] == 0) ctl_str(&dd[p], e, "frontier", frontier, sizeof frontier);
            }
        }
        msgpack_pack_map(&w.pk, 9);
        ctl_w_u64(&w, "id", j->id);
        ctl_w_str(&w, "name", j->name);
        ctl_w_str(&w, "state", jstate[j->state]);
        ctl_w_i64(&w, "start_us", j->start_us);
        ctl_w_i64(&w, "end_us", j->end_us);
        ctl_w_u64(&w, "in", in);
        ctl_w_u64(&w, "out", out);
        ctl_w_str(&w, "frontier", j->state >= J_DONE ? "" : frontier);
        ctl_w_str(&w, "msg", j->msg);
    }
    send_to(c, q->rid, q->rid_len, &w);
    for (uint32_t p = 0; p < c->n; p++) ctl_doc_fini(&dd[p]);
}

static void query_answer_status(coord *c, query *q)
{
    ctl_doc dd[TIDE_MAX_PROCESSES];
    size_t narr = 0;
    for (uint32_t p = 0; p < c->n; p++) {
        memset(&dd[p], 0, sizeof dd[p]);
        if ((q->have >> p & 1) &&
            ctl_parse(&dd[p], zmq_msg_data(&q->reply[p]), zmq_msg_size(&q->reply[p])) < 0)
            q->have &= ~(1ull << p);
        int a = (q->have >> p & 1) ? ctl_get(&dd[p], 0, "arrs") : -1;
        if (a >= 0 && dd[p].nodes[a].kind == CTL_ARR) narr += dd[p].nodes[a].n;
    }
    ctl_w w;
    ctl_w_begin(&w, "status", 5);
    ctl_w_str(&w, "addr", c->addr);
    ctl_w_u64(&w, "gen", c->gen);
    ctl_w_i64(&w, "uptime_us", wall_us() - c->born_us);
    ctl_w_key(&w, "processes");
    msgpack_pack_array(&w.pk, c->n);
    for (uint32_t p = 0; p < c->n; p++) {
        int have = q->have >> p & 1;
        msgpack_pack_map(&w.pk, 9);
        ctl_w_u64(&w, "process", p);
        ctl_w_i64(&w, "pid", have ? ctl_i64(&dd[p], 0, "pid", 0) : c->p[p].pid);
        ctl_w_str(&w, "state", c->p[p].up ? (have ? "up" : "not answering") : "starting");
        ctl_w_u64(&w, "workers", have ? ctl_u64(&dd[p], 0, "workers", 0) : 0);
        ctl_w_key(&w, "cores");
        int cores = have ? ctl_get(&dd[p], 0, "cores") : -1;
        uint32_t nc = cores >= 0 && dd[p].nodes[cores].kind == CTL_ARR ? dd[p].nodes[cores].n : 0;
        msgpack_pack_array(&w.pk, nc);
        for (int e = nc ? dd[p].nodes[cores].child : -1; e >= 0; e = dd[p].nodes[e].next)
            msgpack_pack_int64(&w.pk, dd[p].nodes[e].i);
        ctl_w_u64(&w, "rss", have ? ctl_u64(&dd[p], 0, "rss", 0) : 0);
        ctl_w_i64(&w, "uptime_us", have ? ctl_i64(&dd[p], 0, "uptime_us", 0) : 0);
        ctl_w_u64(&w, "restarts", c->p[p].restarts);
        ctl_w_str(&w, "host", c->p[p].local ? "local" : "remote");
    }
    ctl_w_key(&w, "arrs");
    msgpack_pack_array(&w.pk, narr);
    for (uint32_t p = 0; p < c->n; p++) {
        int a = (q->have >> p & 1) ? ctl_get(&dd[p], 0, "arrs") : -1;
        if (a < 0 || dd[p].nodes[a].kind != CTL_ARR) continue;
        for (int e = dd[p].nodes[a].child; e >= 0; e = dd[p].nodes[e].next) {
            char name[64];
            msgpack_pack_map(&w.pk, 6);
            ctl_w_str(&w, "name", ctl_str(&dd[p], e, "name", name, sizeof name));
            ctl_w_u64(&w, "owner", ctl_u64(&dd[p], e, "owner", 0));
            ctl_w_u64(&w, "process", p);
            ctl_w_u64(&w, "worker", ctl_u64(&dd[p], e, "worker", 0));
            ctl_w_u64(&w, "records", ctl_u64(&dd[p], e, "records", 0));
            ctl_w_u64(&w, "bytes", ctl_u64(&dd[p], e, "bytes", 0));
        }
    }
    send_to(c, q->rid, q->rid_len, &w);
    for (uint32_t p = 0; p < c->n; p++) ctl_doc_fini(&dd[p]);
}

static void query_finish(coord *c, query *q)
{
    if (q->kind == Q_JOBS)
        query_answer_jobs(c, q);
    else
        query_answer_status(c, q);
    for (uint32_t p = 0; p < c->n; p++)
        if (q->have >> p & 1) zmq_msg_close(&q->reply[p]);
    for (query **pp = &c->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    free(q);
}

static void on_query(coord *c, const uint8_t *rid, size_t rid_len, int kind)
{
    query *q = calloc(1, sizeof *q);
    if (q == NULL) return send_error(c, rid, rid_len, "out of memory");
    q->req = ++c->next_req;
    q->kind = kind;
    memcpy(q->rid, rid, rid_len);
    q->rid_len = rid_len;
    q->deadline = mono_ms() + QUERY_MS;
    q->next = c->queries;
    c->queries = q;
    for (uint32_t p = 0; p < c->n; p++) {
        if (!c->p[p].up) continue;
        q->waiting |= 1ull << p;
        ctl_w w;
        ctl_w_begin(&w, kind == Q_JOBS ? "jobs" : "status", 1);
        ctl_w_u64(&w, "req", q->req);
        send_proc(c, p, &w);
    }
    if (q->waiting == 0) query_finish(c, q);
}

static void on_wreply(coord *c, uint32_t p, zmq_msg_t *m, const ctl_doc *d)
{
    uint64_t req = ctl_u64(d, 0, "req", 0);
    for (query *q = c->queries; q; q = q->next) {
        if (q->req != req || !(q->waiting >> p & 1)) continue;
        q->waiting &= ~(1ull << p);
        zmq_msg_init(&q->reply[p]);
        zmq_msg_move(&q->reply[p], m);
        q->have |= 1ull << p;
        if (q->waiting == 0) query_finish(c, q);
        return;
    }
}

static void queries_tick(coord *c)
{
    int64_t now = mono_ms();
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        if (now >= q->deadline) query_finish(c, q);
    }
}

/* ======================================================================== */
/* Failures and restarts                                                    */
/* ======================================================================== */

/* Process @i is gone (@why): fail every job that ran there, bring the set
 * down (the data plane cannot re-admit one process) and schedule a restart. */
static void process_lost(coord *c, uint32_t i, const char *why, int was_up)
{
    logf_("%s", why);
    for (job *j = c->jobs; j; j = j->next)
        if (j->state == J_RUNNING) job_finish(c, j, J_FAILED, TIDE_EPEER, why);
    for (uint32_t k = 0; k < c->n; k++) {
        if (k != i && c->p[k].local && c->p[k].pid > 0) kill(c->p[k].pid, SIGKILL);
        if (k != i && !c->p[k].local) {
            if (c->p[k].relay[0]) {
                relay_cmd(c, k, "kill"); /* even one stuck in its handshake */
            } else if (c->p[k].up) {
                ctl_w w;
                ctl_w_begin(&w, "exit", 0);
                send_proc(c, k, &w);
            }
        }
        c->p[k].up = 0;
    }
    c->p[i].restarts++;
    /* A set that never came up waits a little before the next try. */
    c->restart_at = mono_ms() + (was_up ? 0 : 1000);
    if (c->down_since < 0) c->down_since = mono_ms();
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        q->waiting = 0;
        query_finish(c, q);
    }
}

static void reap(coord *c)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (uint32_t i = 0; i < c->n; i++) {
            if (c->p[i].pid != pid) continue;
            int was_up = c->p[i].up;
            c->p[i].pid = 0;
            if (c->stopping) break;
            char why[256];
            describe_exit(why, sizeof why, i, pid, st);
            if (c->restart_at >= 0 && !was_up) break; /* killed by us for the restart */
            if (!c->all_up_once && ++c->early_deaths >= 3) {
                logf_("%s", why);
                ready(c, "error %s during startup, 3 times (see the log)\n", why);
                c->stopping = 1;
                c->stop_deadline = mono_ms() + STOP_KILL_MS;
                break;
            }
            process_lost(c, i, why, was_up || c->all_up_once);
            break;
        }
    }
}

static void maybe_restart(coord *c)
{
    if (c->restart_at < 0 || mono_ms() < c->restart_at || c->stopping) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].local && c->p[i].pid > 0) return; /* wait until every old one is reaped */
    c->restart_at = -1;
    spawn_all(c);
}

/* ======================================================================== */
/* The loop                                                                 */
/* ======================================================================== */

static int worker_of(coord *c, const uint8_t *rid, size_t n)
{
    if (n == 0 || rid[0] != 'W') return -1;
    for (uint32_t i = 0; i < c->n; i++) {
        size_t l = strlen(c->p[i].rid);
        if (c->p[i].up && l == n && memcmp(c->p[i].rid, rid, n) == 0) return (int)i;
    }
    return -1;
}

/* A remote process restarted by its relay announces itself before its data
 * plane connects: its predecessor died with the jobs that ran there. */
static void on_joining(coord *c, const ctl_doc *d)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    pid_t pid = (pid_t)ctl_i64(d, 0, "pid", 0);
    if (p >= c->n || c->p[p].local || !c->p[p].up || pid == c->p[p].pid) return;
    char why[256], last[160];
    ctl_str(d, 0, "last_exit", last, sizeof last);
    snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s; its host restarted it", p,
             (int)c->p[p].pid, last[0] ? last : "ended");
    process_lost(c, p, why, 1); /* the others restart and meet the new one */
}

/* A relay supervisor registers ("relay") or reports its process's death. */
static void on_relay(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d, int died)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    if (p >= c->n || c->p[p].local || rid_len >= sizeof c->p[p].relay) return;
    memcpy(c->p[p].relay, rid, rid_len);
    c->p[p].relay[rid_len] = 0;
    if (!died || c->stopping) return;
    char why[256], last[160];
    ctl_str(d, 0, "last_exit", last, sizeof last);
    snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s", p, (int)c->p[p].pid,
             last[0] ? last : "ended");
    if (c->restart_at >= 0 && !c->p[p].up) return; /* part of a restart already */
    process_lost(c, p, why, 1);
}

static void on_hello(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    uint64_t gen = ctl_u64(d, 0, "gen", 0);
    if (p >= c->n || rid_len >= sizeof c->p[p].rid) return;
    if (c->p[p].local && (gen != c->gen || (pid_t)ctl_i64(d, 0, "pid", 0) != c->p[p].pid)) {
        logf_("ignored a hello from a stale process %u (generation %llu)", p,
              (unsigned long long)gen);
        return;
    }
    pid_t pid = (pid_t)ctl_i64(d, 0, "pid", 0);
    if (!c->p[p].local && c->p[p].up && pid != c->p[p].pid) {
        /* Its relay supervisor restarted it: the old one died with its jobs. */
        char why[256], last[160];
        ctl_str(d, 0, "last_exit", last, sizeof last);
        snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s; its host restarted it", p,
                 (int)c->p[p].pid, last[0] ? last : "ended");
        process_lost(c, p, why, 1);
        ctl_w w;
        ctl_w_begin(&w, "exit", 0);
        send_to(c, rid, rid_len, &w); /* rejoin with the others' next generation */
        return;
    }
    memcpy(c->p[p].rid, rid, rid_len);
    c->p[p].rid[rid_len] = 0;
    c->p[p].up = 1;
    if (!c->p[p].local) c->p[p].pid = pid;
    if (!all_up(c)) return;
    if (c->down_since >= 0)
        logf_("all %u processes up again after %lld ms", c->n,
              (long long)(mono_ms() - c->down_since));
    else
        logf_("all %u processes up", c->n);
    c->down_since = -1;
    if (!c->all_up_once) ready(c, "ok %s\n", c->addr);
    c->all_up_once = 1;
    start_pending(c);
}

static void on_message(coord *c, zmq_msg_t *rid, zmq_msg_t *body)
{
    const uint8_t *r = zmq_msg_data(rid);
    size_t rl = zmq_msg_size(rid);
    if (rl > RID_MAX) return;
    ctl_doc d;
    if (ctl_parse(&d, zmq_msg_data(body), zmq_msg_size(body)) < 0) {
        ctl_doc_fini(&d);
        return send_error(c, r, rl, "malformed request (not a msgpack map)");
    }
    int w = worker_of(c, r, rl);
    if (ctl_is(&d, "hello"))
        on_hello(c, r, rl, &d);
    else if (ctl_is(&d, "joining"))
        on_joining(c, &d);
    else if (ctl_is(&d, "relay") || ctl_is(&d, "rdied"))
        on_relay(c, r, rl, &d, ctl_is(&d, "rdied"));
    else if (w >= 0 && ctl_is(&d, "wout"))
        on_wout(c, &d);
    else if (w >= 0 && ctl_is(&d, "wdone"))
        on_wdone(c, (uint32_t)w, &d);
    else if (w >= 0 && (ctl_is(&d, "wjobs") || ctl_is(&d, "wstatus")))
        on_wreply(c, (uint32_t)w, body, &d);
    else if (ctl_is(&d, "submit"))
        on_submit(c, r, rl, body, &d);
    else if (ctl_is(&d, "cancel"))
        on_cancel(c, r, rl, &d);
    else if (ctl_is(&d, "jobs"))
        on_query(c, r, rl, Q_JOBS);
    else if (ctl_is(&d, "status"))
        on_query(c, r, rl, Q_STATUS);
    else if (ctl_is(&d, "ping")) {
        ctl_w pw;
        ctl_w_begin(&pw, "pong", 0);
        send_to(c, r, rl, &pw);
    } else if (ctl_is(&d, "stop")) {
        if (!c->stopping) {
            logf_("stop requested");
            c->stopping = 1;
            c->stop_deadline = mono_ms() + STOP_KILL_MS;
            memcpy(c->stop_rid, r, rl);
            c->stop_rid_len = rl;
        }
    } else if (w < 0 && rl && r[0] == 'W')
        ; /* a stale worker's report */
    else
        send_error(c, r, rl, "unknown request");
    ctl_doc_fini(&d);
}

static void begin_stop(coord *c)
{
    for (job *j = c->jobs; j; j = j->next)
        if (j->state <= J_RUNNING) job_finish(c, j, J_FAILED, TIDE_ECLOSED, "the cluster stopped");
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].local && !c->p[i].up && c->p[i].pid > 0) kill(c->p[i].pid, SIGKILL);
        ctl_w w;
        ctl_w_begin(&w, "exit", 1);
        ctl_w_u64(&w, "stop", 1); /* a remote relay supervisor stops too */
        send_proc(c, i, &w);
        if (!c->p[i].local && !c->p[i].up) relay_cmd(c, i, "stop");
    }
}

static int any_local_alive(const coord *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].local && c->p[i].pid > 0) return 1;
    return 0;
}

static void zap_log(void *ctx, const char *msg)
{
    logf_("refused a control connection: %s", msg);
}

/* Bind the control ROUTER; with keys, as a CURVE server behind the ZAP
 * handler, so a client without the cluster key never gets a message in. */
static int bind_router(coord *c, char *why, size_t cap)
{
    c->zctx = zmq_ctx_new();
    c->router = c->zctx ? zmq_socket(c->zctx, ZMQ_ROUTER) : NULL;
    if (c->router == NULL) return snprintf(why, cap, "%s", zmq_strerror(errno)), -1;
    if (c->o->keys[0]) {
        tide__curve_keys k;
        tide_error e = {0};
        if (tide__curve_load(c->o->keys, &k, &e) < 0 ||
            (c->zap = tide__zap_start(c->zctx, &k, zap_log, c, &e)) == NULL ||
            tide__curve_server(c->router, &k, &e) < 0) {
            tide__curve_wipe(&k);
            return snprintf(why, cap, "%s", e.msg), -1;
        }
        tide__curve_wipe(&k);
        /* A client without CURVE fails before ZAP is asked: the monitor sees it. */
        if (zmq_socket_monitor(c->router, "inproc://tide-control-monitor",
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0 &&
            (c->mon = zmq_socket(c->zctx, ZMQ_PAIR)) != NULL &&
            zmq_connect(c->mon, "inproc://tide-control-monitor") < 0) {
            zmq_close(c->mon);
            c->mon = NULL;
        }
    }
    int zero = 0;
    int64_t max = CTL_MAX_MSG;
    zmq_setsockopt(c->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->router, ZMQ_MAXMSGSIZE, &max, sizeof max);
    /* A ROUTER drops what exceeds a peer's high-water mark: a job's output to a
     * slow submitter must queue instead. */
    zmq_setsockopt(c->router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(c->router, ZMQ_RCVHWM, &zero, sizeof zero);
    if (zmq_bind(c->router, c->o->listen) < 0)
        return snprintf(why, cap, "cannot listen on %s: %s", c->o->listen, zmq_strerror(errno)), -1;
    size_t n = sizeof c->addr;
    zmq_getsockopt(c->router, ZMQ_LAST_ENDPOINT, c->addr, &n);
    return 0;
}

/* Log every refused handshake the monitor reports. */
static void on_monitor(coord *c)
{
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        zmq_msg_init(&ep);
        if (zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            zmq_msg_close(&ep);
            return;
        }
        if (zmq_msg_more(&ev)) zmq_msg_recv(&ep, c->mon, 0);
        if (zmq_msg_size(&ev) >= 6) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&ev), 2);
            c->refused++;
            if (c->refused <= 20 || c->refused % 1000 == 0)
                logf_("refused a control connection on %.*s: %s (refusals so far: %llu)",
                      (int)zmq_msg_size(&ep), (const char *)zmq_msg_data(&ep),
                      event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          ? "the client does not speak CURVE with the cluster's key"
                          : "handshake failed",
                      (unsigned long long)c->refused);
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
    }
}

static int write_state(coord *c)
{
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->o->state_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return -1;
    /* Line 3: the key file's absolute path, so that later commands use it
     * without --keys (client.c); the keys stay in that file. */
    fprintf(f, "%s\n%d\n%s\n", c->addr, (int)getpid(), c->o->keys);
    if (fclose(f) != 0) return -1;
    return rename(tmp, c->o->state_path);
}

int coord_run(const coord_opts *o)
{
    static coord cs;
    coord *c = &cs;
    memset(c, 0, sizeof *c);
    c->o = o;
    c->n = o->cfg.processes;
    c->next_id = 1;
    c->down_since = -1;
    c->restart_at = -1;
    c->ready_fd = o->ready_fd;
    c->born_us = wall_us();
    for (uint32_t i = 0; i < c->n; i++) c->p[i].local = o->local_all || i == o->cfg.process;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

    char why[512] = "signalfd failed";
    if (sfd < 0 || bind_router(c, why, sizeof why) < 0) {
        logf_("%s", why);
        ready(c, "error %s\n", why);
        if (c->mon) zmq_close(c->mon);
        if (c->router) zmq_close(c->router);
        tide__zap_stop(c->zap);
        if (c->zctx) zmq_ctx_term(c->zctx);
        return 1;
    }
    if (write_state(c) < 0) {
        logf_("cannot write %s: %s", o->state_path, strerror(errno));
        ready(c, "error cannot write %s: %s\n", o->state_path, strerror(errno));
        return 1;
    }
    logf_("control address %s, %u process(es) x %u worker(s)", c->addr, c->n, o->cfg.workers);
    spawn_all(c);
    int64_t start_deadline = mono_ms() + START_TIMEOUT;

    for (;;) {
        zmq_pollitem_t it[3] = {{.socket = c->router, .events = ZMQ_POLLIN},
                                {.fd = sfd, .events = ZMQ_POLLIN},
                                {.socket = c->mon, .events = ZMQ_POLLIN}};
        int r = zmq_poll(it, c->mon ? 3 : 2, TICK_MS);
        if (c->mon && (it[2].revents & ZMQ_POLLIN)) on_monitor(c);
        if (r < 0 && errno != EINTR) {
            logf_("poll: %s", zmq_strerror(errno));
            break;
        }
        if (it[1].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) continue;
                if (!c->stopping) logf_("stopping on signal %u", si.ssi_signo);
                if (!c->stopping) c->stop_deadline = mono_ms() + STOP_KILL_MS;
                c->stopping = 1;
            }
        }
        reap(c);
        for (int budget = 0; budget < 256 && (it[0].revents & ZMQ_POLLIN); budget++) {
            zmq_msg_t rid, body;
            zmq_msg_init(&rid);
            zmq_msg_init(&body);
            if (zmq_msg_recv(&rid, c->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid);
                zmq_msg_close(&body);
                break;
            }
            int more = zmq_msg_more(&rid);
            if (more && zmq_msg_recv(&body, c->router, 0) >= 0) {
                int extra = zmq_msg_more(&body);
                if (!extra) on_message(c, &rid, &body);
                while (extra) { /* more parts than we speak: drop them */
                    zmq_msg_t x;
                    zmq_msg_init(&x);
                    zmq_msg_recv(&x, c->router, 0);
                    extra = zmq_msg_more(&x);
                    zmq_msg_close(&x);
                }
            }
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
        }
        if (c->stopping == 1) {
            begin_stop(c);
            c->stopping = 2;
        }
        if (c->stopping) {
            if (!any_local_alive(c)) break;
            if (mono_ms() >= c->stop_deadline)
                for (uint32_t i = 0; i < c->n; i++)
                    if (c->p[i].local && c->p[i].pid > 0) kill(c->p[i].pid, SIGKILL);
            continue;
        }
        maybe_restart(c);
        queries_tick(c);
        if (!c->all_up_once && mono_ms() > start_deadline) {
            ready(c, "error the worker processes did not come up within %d s (see the log)\n",
                  START_TIMEOUT / 1000);
            c->stopping = 1;
            c->stop_deadline = mono_ms() + STOP_KILL_MS;
        }
    }
    if (!c->all_up_once) ready(c, "error the worker processes did not come up (see the log)\n");
    unlink(o->state_path);
    logf_("stopped");
    ctl_w w;
    ctl_w_begin(&w, "ok", 0);
    send_to(c, c->stop_rid, c->stop_rid_len, &w);
    for (job *j = c->jobs, *nx; j; j = nx) {
        nx = j->next;
        job_release(j);
        free(j);
    }
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        for (uint32_t p = 0; p < c->n; p++)
            if (q->have >> p & 1) zmq_msg_close(&q->reply[p]);
        free(q);
    }
    /* Linger briefly so the stop reply reaches `tide cluster stop`. */
    int linger = 500;
    zmq_setsockopt(c->router, ZMQ_LINGER, &linger, sizeof linger);
    if (c->mon) zmq_close(c->mon);
    zmq_close(c->router);
    if (c->zap)
        logf_("control connections refused: %llu without CURVE, %llu with another key",
              (unsigned long long)c->refused, (unsigned long long)tide__zap_refused(c->zap));
    tide__zap_stop(c->zap);
    zmq_ctx_term(c->zctx);
    close(sfd);
    return 0;
}
