/*
 * coord_int.h - the coordinator's shared state, between its files.
 *
 * The supervisor-coordinator (coord.h) is one poll loop, no threads, split by
 * concept:
 *   coord.c        the loop: control ROUTER (ZAP/CURVE, monitor), state
 *                  file, signals, message dispatch, stop
 *   coord_io.c     what it says: replies to peers, the log, the ready line
 *   coord_jobs.c   job lifecycle: submit, start, cancel, done, output, trim
 *   coord_query.c  `tide jobs` / `tide status`: one answer per process
 *   coord_procs.c  supervision: spawn, reap, lost process, restart,
 *                  hello / relay / joining
 * Everything here is internal to those files (prefix coord_).
 */
#ifndef TIDE_APP_COORD_INT_H
#define TIDE_APP_COORD_INT_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <zmq.h>

#include "client.h"
#include "coord.h"
#include "ctl.h"
#include "curve.h"

#define MAX_KEPT      1024 /* finished jobs remembered for `tide jobs` */
#define QUERY_MS      2000 /* a process that does not answer jobs/status by then is left out */
#define TICK_MS       100
#define STOP_KILL_MS  3000 /* workers still alive this long after "exit" get SIGKILL */
#define START_TIMEOUT 60000
#define RID_MAX       256

enum { J_PENDING, J_RUNNING, J_DONE, J_FAILED, J_CANCELLED };

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

static inline int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* A job state's name, as `tide jobs` and "done" carry it. */
static inline const char *jstate(int state)
{
    static const char *const names[] = {"pending", "running", "done", "failed", "cancelled"};
    return names[state];
}

static inline uint64_t all_mask(const coord *c)
{
    return c->n >= 64 ? ~0ull : (1ull << c->n) - 1;
}

static inline int all_up(const coord *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (!c->p[i].up) return 0;
    return 1;
}

static inline job *find_job(coord *c, uint64_t id)
{
    for (job *j = c->jobs; j; j = j->next)
        if (j->id == id) return j;
    return NULL;
}

/* ---- coord_io.c: what the coordinator says ------------------------------ */

/* One line on stderr (the log), prefixed with the UTC time. */
void coord_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Send @w (finished with ctl_w_fini) to routing id @rid; @rid_len 0: drop it. */
void coord_send_to(coord *c, const void *rid, size_t rid_len, ctl_w *w);
/* Send @w to process @p if it is up (else drop it). */
void coord_send_proc(coord *c, uint32_t p, ctl_w *w);
/* Send an "error" with the formatted msg to @rid. */
void coord_send_error(coord *c, const void *rid, size_t rid_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Tell the starting command "ok ADDR" or "error MSG", once. */
void coord_ready(coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- coord_jobs.c: job lifecycle ---------------------------------------- */

void coord_on_submit(coord *c, const uint8_t *rid, size_t rid_len, zmq_msg_t *m, const ctl_doc *d);
void coord_on_cancel(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d);
void coord_on_wdone(coord *c, uint32_t p, const ctl_doc *d);
void coord_on_wout(coord *c, const ctl_doc *d);
void coord_start_pending(coord *c);
void coord_job_finish(coord *c, job *j, int state, int rc, const char *msg);
/* Free every job (at exit). */
void coord_jobs_free(coord *c);

/* ---- coord_query.c: jobs and status gather one answer per process ------- */

void coord_on_query(coord *c, const uint8_t *rid, size_t rid_len, int kind);
void coord_on_wreply(coord *c, uint32_t p, zmq_msg_t *m, const ctl_doc *d);
void coord_queries_tick(coord *c);
/* Answer every open query now with the answers it has. */
void coord_queries_flush(coord *c);
/* Free every open query unanswered (at exit). */
void coord_queries_free(coord *c);

/* ---- coord_procs.c: the worker processes -------------------------------- */

void coord_spawn_all(coord *c);
void coord_relay_cmd(coord *c, uint32_t i, const char *t);
void coord_reap(coord *c);
void coord_maybe_restart(coord *c);
int coord_worker_of(coord *c, const uint8_t *rid, size_t n);
void coord_on_joining(coord *c, const ctl_doc *d);
void coord_on_relay(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d, int died);
void coord_on_hello(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d);

#endif /* TIDE_APP_COORD_INT_H */
