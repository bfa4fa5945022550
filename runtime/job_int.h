/*
 * job_int.h - jobs inside the runtime (internal): the process-wide job
 * (host.c), its per-worker half (job.c) and the commands between them.
 *
 * A job is one struct tide_job per process, shared by the local workers
 * (fields marked atomic or guarded by its lock), plus one tide__wjob per
 * worker, touched by that worker's thread only. The host (any thread) talks
 * to a worker through its command queue, a mutex-guarded list; the worker
 * talks back through tide__host_job_fail / _ended.
 */
#ifndef TIDE_JOB_INT_H
#define TIDE_JOB_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host.h"
#include "tide/job.h"
#include "worker.h"

/* Dataflow ids in a job: job id << TIDE__DF_SEQ_BITS | the job's sequence. */
#define TIDE__DF_SEQ_BITS 10
#define TIDE__DF_PER_JOB  (1u << TIDE__DF_SEQ_BITS)

static inline uint64_t tide__df_job(uint32_t dfid)
{
    return dfid >> TIDE__DF_SEQ_BITS;
}

/* The process-wide job. */
struct tide_job {
    struct tide__host *h;
    uint64_t id;
    char name[64];
    void *dl;               /* dlopen handle, closed when the job is finalized */
    tide_job_main_fn entry; /* in dl */
    int argc;
    char **argv;          /* argv[0] = name; owned */
    uint32_t cancelled;   /* atomic: cancelled or failed; workers drop it */
    uint32_t ended;       /* atomic: local workers that dropped it */
    pthread_mutex_t lock; /* state, rc, err, end_us */
    int state;            /* TIDE__JOB_* */
    int rc;               /* result */
    char err[256];
    int64_t start_us, end_us;
    uint64_t records_in, records_out; /* atomic */
    uint64_t *front;                  /* [local worker], atomic: least epoch in progress */
    bool finalized;                   /* host lock: done reported, dl closed */
    struct tide_job *next;            /* host's table, newest first */
};

/* One job on one worker. */
typedef struct tide__wjob {
    struct tide_job *job;
    uint64_t id;
    uint32_t seq;       /* dataflows created so far */
    bool entered;       /* the entry returned */
    uint64_t rin, rout; /* records already added to job->records_* */
    struct tide__wjob *next;
} tide__wjob;

enum { TIDE__CMD_START = 1, TIDE__CMD_CANCEL, TIDE__CMD_FORGET, TIDE__CMD_STOP };

typedef struct tide__cmd {
    int kind;
    uint64_t id;
    struct tide_job *job; /* START */
    struct tide__cmd *next;
} tide__cmd;

/* A worker's host-mode state. */
typedef struct tide__wstate {
    pthread_mutex_t lock; /* guards the command list */
    tide__cmd *head, *tail;
    uint32_t ncmds;    /* atomic: commands waiting */
    tide__wjob *jobs;  /* live jobs here */
    tide__wjob *cur;   /* the job whose code runs now, NULL between jobs */
    bool in_entry;     /* an entry runs: commands wait */
    uint64_t *retired; /* sorted ids of jobs ended here */
    uint32_t nretired, retired_cap;
    bool failed_seen;  /* the cluster failure was handed to the jobs */
    uint64_t stats_ns; /* last statistics refresh */
} tide__wstate;

/* job.c (worker side) */
int tide__wstate_new(tide_worker *w);
void tide__wstate_free(tide_worker *w);
/* Push a command to @w and wake it. TIDE_OK or TIDE_ENOMEM. */
int tide__job_cmd(tide_worker *w, int kind, uint64_t id, struct tide_job *job);
/* The host-mode loop of a worker thread; returns after STOP. */
void tide__job_worker_run(tide_worker *w);

/* host.c (process side) */
void tide__host_job_fail(struct tide_job *j, int code, const char *msg);
void tide__host_job_ended(struct tide_job *j);
void tide__host_out(struct tide_job *j, int fd, const char *buf, size_t len);

/* job_arr.c */
void tide__pubs_job_ended(tide_worker *w, tide__wjob *wj);
void tide__pubs_refresh(tide_worker *w);
int tide__pubs_snapshot(tide__runtime *rt, tide__arr_info **out, size_t *n);

#endif /* TIDE_JOB_INT_H */
