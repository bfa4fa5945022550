/*
 * host.h - a process of a long-running cluster: its workers run jobs
 * (include/tide/job.h) as they are started and cancelled (internal; the
 * per-process daemon of `tide cluster start` drives it).
 *
 * tide__host_new starts this process's worker threads and the transport to
 * the other processes, exactly as tide_execute does (execute.c), but the
 * workers then loop forever: parked when idle, woken by their inboxes and by
 * commands (job start, cancel, stop) pushed by the functions below. Every
 * process of the cluster must start the same jobs with the same ids, in
 * increasing id order (the coordinator assigns them): dataflow ids are
 * derived from job ids (docs/jobs.md).
 *
 * Thread-safety: every function here may be called from any thread except a
 * worker's, concurrently; hooks are called from worker threads and may call
 * any function here except tide__host_free (a worker cannot join itself).
 */
#ifndef TIDE_HOST_H
#define TIDE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "tide/config.h"
#include "tide/error.h"
#include "tide/job.h"

typedef struct tide__host tide__host;

typedef struct tide__host_hooks {
    /* A job's worker wrote text: @fd 1 = stdout, 2 = stderr; @buf is
     * borrowed for the call. Called from worker threads, concurrently: must
     * be thread-safe. NULL: the text goes to the process's own fd. */
    void (*out)(void *ctx, uint64_t job, int fd, const char *buf, size_t len);
    /* Job @job finished on every worker of this process: @rc TIDE_OK,
     * TIDE_ECLOSED when it was cancelled, or its error with @msg (borrowed;
     * "" when rc is TIDE_OK). Called once per started job, from a worker
     * thread or from tide__host_job_start's caller (a load error). */
    void (*done)(void *ctx, uint64_t job, int rc, const char *msg);
    void *ctx;
} tide__host_hooks;

/* The largest job id (dataflow ids are job id << 10 | sequence, 32 bits, and
 * the wire reserves UINT32_MAX). */
#define TIDE__JOB_ID_MAX ((1ull << 22) - 2)

/*
 * tide__host_new - start this process's worker threads as laid out by @cfg
 * (-n -w -p -h, --port, pinning) and connect to the peer processes (blocks
 * until every peer answered, up to cfg->peer_timeout_ms); the workers then
 * idle (parked, no CPU) until jobs arrive. @hooks is copied.
 * @return TIDE_OK and *@out, or an error with @e naming its cause (a peer,
 *         the layout, out of memory).
 */
int tide__host_new(const tide_config *cfg, const tide__host_hooks *hooks, tide__host **out,
                   tide_error *e);

/*
 * tide__host_job_start - load the job at @so_path once in this process
 * (dlopen) and start it as job @id on every local worker, with argv
 * {@name, @argv[0..argc-1]} (copied). Load errors (TIDE_EINVAL): "not a
 * shared object: <dlerror text>", "missing entry point tide_job_main",
 * "job ABI version X, cluster runs Y". TIDE_EINVAL also for an id already
 * used here or above TIDE__JOB_ID_MAX; TIDE_ENOMEM.
 * A job that fails to load here is recorded (tide__host_jobs shows it
 * FAILED) and its id retired, but hooks->done is not called: the error is
 * returned instead.
 */
int tide__host_job_start(tide__host *h, uint64_t id, const char *name, const char *so_path,
                         int argc, char **argv, tide_error *e);

/*
 * tide__host_job_start_fn - as tide__host_job_start for an entry point @fn
 * linked into this program (built-in jobs, tests, benchmarks): no loading.
 */
int tide__host_job_start_fn(tide__host *h, uint64_t id, const char *name, tide_job_main_fn fn,
                            int argc, char **argv, tide_error *e);

/*
 * tide__host_job_cancel - cancel job @id here: its dataflows are dropped and
 * their memory freed on every local worker; hooks->done follows with
 * TIDE_ECLOSED. TIDE_ENOTFOUND for an unknown or finished id.
 */
int tide__host_job_cancel(tide__host *h, uint64_t id, tide_error *e);

/*
 * tide__host_job_forget - retire id @id without starting it here (the
 * coordinator gave up on it before this process started it): messages of
 * other processes for its dataflows are dropped from now on.
 */
void tide__host_job_forget(tide__host *h, uint64_t id);

enum {
    TIDE__JOB_RUNNING = 0,
    TIDE__JOB_DONE = 1,
    TIDE__JOB_FAILED = 2,
    TIDE__JOB_CANCELLED = 3,
};

/* tide__job_state_name - "running", "done", "failed", "cancelled". */
const char *tide__job_state_name(int state);

/* One job as this process sees it. */
typedef struct tide__job_info {
    uint64_t id;
    char name[64];
    int state;            /* TIDE__JOB_* */
    int64_t start_us;     /* wall clock, µs since the epoch */
    int64_t end_us;       /* wall clock when it ended, 0 while running */
    uint64_t records_in;  /* records produced by the job's sources (inputs) on local workers */
    uint64_t records_out; /* records that left its dataflows (sinks, unread outputs) */
    char frontier[64];    /* least epoch still in progress on local workers, "done" */
    int rc;               /* result: TIDE_OK, TIDE_ECLOSED, or the error */
    char error[256];      /* the error's message, "" otherwise */
} tide__job_info;

/*
 * tide__host_jobs - a snapshot of the jobs known here (running ones and the
 * last 256 ended ones), by id. *@out is a new array the caller frees with
 * tide_free (NULL when *@n is 0). @return TIDE_OK or TIDE_ENOMEM.
 */
int tide__host_jobs(tide__host *h, tide__job_info **out, size_t *n);

/* One local worker's shard of a published arrangement. */
typedef struct tide__arr_info {
    char name[64];
    uint64_t owner;   /* the publishing job */
    uint32_t worker;  /* global worker index */
    uint32_t readers; /* live jobs that looked it up on this worker */
    uint64_t records; /* updates held by the shard's trace */
    uint64_t bytes;   /* bytes of its trace batches */
} tide__arr_info;

typedef struct tide__host_status {
    uint32_t process, processes, workers; /* this process, N, W */
    int cores[TIDE_MAX_WORKERS];          /* [local worker]: pinned core, -1 when unpinned */
    uint64_t rss_bytes;                   /* this process's resident set */
    int64_t uptime_us;                    /* since tide__host_new */
    uint32_t jobs_running;
    tide__arr_info *arrs; /* every published shard on this process; caller frees (tide_free) */
    size_t narrs;
} tide__host_status;

/*
 * tide__host_status_get - fill @st. Arrangement sizes are as of the owning
 * worker's last scheduling round. @return TIDE_OK or TIDE_ENOMEM.
 */
int tide__host_status_get(tide__host *h, tide__host_status *st);

/*
 * tide__host_free - cancel every job (hooks->done is called for each running
 * one), stop the workers and the transport, free everything. NULL is fine.
 */
void tide__host_free(tide__host *h);

/* tide__rss_bytes - this process's resident set size now (/proc/self/statm),
 * 0 if unknown. */
uint64_t tide__rss_bytes(void);

#endif /* TIDE_HOST_H */
