/*
 * worker.h - the runtime's internal structures: process, worker, dataflow,
 * operator, ports and channels.
 *
 * Ownership: the process runtime owns the workers; a worker owns its
 * dataflows; a dataflow owns its scopes, streams, operators and channels
 * (all freed with it). Everything under a worker is touched by that worker's
 * thread only; the one exception is the inbox queues, which other threads
 * push into.
 */
#ifndef TIDE_WORKER_H
#define TIDE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "message.h"
#include "queue.h"
#include "reachability.h"
#include "tide/dataflow.h"
#include "tide/ops.h"

typedef struct tide__runtime tide__runtime;
typedef struct tide__transport tide__transport;

/* ---- channels ------------------------------------------------------------ */

/* One edge of the graph: an output port to one input port, with a pact. */
typedef struct tide__channel {
    uint32_t id; /* index in the dataflow, identical on all workers */
    tide_pact pact;
    uint32_t dst_op, dst_port;
    tide_batch **stage; /* EXCHANGE: per destination worker, NULL until used */
    /* What every batch on it is (the source stream's), checked on arrival
     * from another process (tide__channel_check). */
    tide_layout layout;
    uint32_t flags; /* TIDE_BATCH_* */
    uint32_t depth; /* scope depth of the source: time coordinates past it are 0 */
} tide__channel;

/* ---- ports ---------------------------------------------------------------- */

typedef struct tide__inport {
    tide_batch **ring; /* queued messages (one reference each) */
    uint32_t head, len, cap;
    tide_layout layout;
    bool connected;
} tide__inport;

typedef struct tide__outport {
    tide_layout layout;
    uint32_t flags;     /* TIDE_BATCH_* of the records it carries */
    uint32_t *channels; /* channel ids fed by this port */
    uint32_t nchannels, chan_cap;
    tide_batch *staged; /* tide_out_push buffer, NULL when empty */
    tide_stream *stream;
} tide__outport;

/* ---- scopes, streams, operators ------------------------------------------ */

struct tide_scope {
    tide_dataflow *df;
    tide_scope *parent;
    uint32_t depth;
    const char *name;
};

struct tide_stream {
    tide_scope *scope;
    uint32_t op, port; /* the producing output port */
    tide_layout layout;
    uint32_t flags;
};

struct tide_op {
    tide_dataflow *df;
    tide_scope *scope;
    uint32_t index;
    char *name;
    uint32_t ninputs, noutputs;
    tide__inport *in;
    tide__outport *out;
    tide_op_fn schedule;
    void *state;
    void (*state_free)(void *);
    bool stateless;                                      /* snapshots: nothing to save */
    int (*save)(tide_op *op, void *state, tide_snap *s); /* snapshots (runtime/snapshot.c) */
    int (*load)(tide_op *op, void *state, tide_snap *s);
    tide_change_batch held; /* capabilities held, by time */
    bool scheduled;         /* in the activation set */
    bool running;
    uint64_t prof_ns, prof_calls; /* TIDE_PROFILE: time in schedule (profile.c) */
};

/* ---- dataflows ------------------------------------------------------------ */

/* profile.c: per-operator time when TIDE_PROFILE is set. */
bool tide__profile_wanted(void);
uint64_t tide__profile_now(void);
void tide__profile_print(const tide_dataflow *df);

struct tide_dataflow {
    tide_worker *w;
    /* The dataflow's id, identical on every worker of every process, which
     * messages carry: the creation order under tide_execute, job id << 10 |
     * the job's own sequence number in a job (runtime/job.c). */
    uint32_t index;
    uint32_t slot;          /* position in w->dfs */
    struct tide__wjob *job; /* the job that built it on this worker; NULL outside jobs */
    uint64_t records_in;    /* records given by its source operators (no inputs) */
    uint64_t records_out;   /* records consumed by sinks or given to unread outputs */
    char *name;
    tide_op **ops;
    uint32_t nops, ops_cap;
    tide__channel **chans;
    uint32_t nchans, chans_cap;
    tide_scope **scopes;
    uint32_t nscopes, scopes_cap;
    tide__reach_builder rb; /* until sealed */
    tide__tracker *tracker; /* after sealed */
    bool sealed;
    /* Local pointstamp changes not yet broadcast. */
    tide__pointstamp *changes;
    uint32_t nchanges, changes_cap;
    bool profile; /* TIDE_PROFILE: time every operator (profile.c) */
    /* Activation set: a bitmap over operators plus a count. */
    uint64_t *active;
    uint32_t nactive;
    bool complete;
    /* Owned allocations freed with the dataflow (streams, inputs, probes). */
    void **owned;
    uint32_t nowned, owned_cap;
    struct tide__stall *stall; /* stall.c: who holds capabilities; NULL until used */
};

/* ---- workers -------------------------------------------------------------- */

struct tide_worker {
    tide__runtime *rt;
    uint32_t index; /* global */
    uint32_t local; /* within the process */
    uint32_t peers; /* all workers */
    tide_dataflow **dfs;
    uint32_t ndfs, dfs_cap;
    uint32_t df_next; /* tide_execute: the next dataflow id (ids are never reused) */
    /* Messages for dataflows not sealed here yet, one list per dataflow id. */
    struct tide__early *early;
    uint32_t nearly, early_cap;
    tide_dataflow *last_df;    /* lookup cache of df_find (host mode) */
    struct tide__wstate *host; /* host mode (runtime/job.c): jobs, commands; NULL otherwise */
    struct tide__pub *pubs;    /* published arrangements (runtime/job_arr.c) */
    tide_error err;
    int rc; /* sticky error code, 0 when fine */
    uint64_t steps;
    /* Parking: a futex word bumped by every producer that pushes to us. */
    uint32_t wake_seq; /* atomic */
    uint32_t sleeping; /* atomic: 1 while parked */
    pthread_t thread;
    /* For probe.c's stall check; written by this worker only, read by the
     * others atomically: steps that did something, and the running step
     * (its w->steps + 1; 0 between steps). */
    uint64_t worked;
    uint64_t in_step;
};

/* One process: the workers, their inboxes and the transport. */
struct tide__runtime {
    tide_config cfg;
    uint32_t threads;     /* local workers */
    uint32_t peers;       /* all workers */
    uint32_t first;       /* global index of local worker 0 */
    tide_worker *workers; /* threads entries */
    tide__queue *queues;  /* [src_local * threads + dst_local] */
    tide__queue *netq;    /* [dst_local]: from the transport, guarded by netlock */
    pthread_mutex_t netlock;
    tide__transport *tp; /* NULL in a single process */
    uint32_t failed;     /* atomic: the cluster failed, stop everything */
    tide_error fail_err;
    pthread_mutex_t fail_lock;
    tide_worker_main main;
    void *arg;
    struct tide__host *host; /* host mode (runtime/host.c), NULL under tide_execute */
};

/* ---- internal API ----------------------------------------------------------- */

/* batch.c: the calling thread recycles standard batches (workers only) */
void tide__batch_pool_enable(void);
void tide__batch_pool_drain(void);

/* worker.c */
int tide__worker_send(tide_worker *w, uint32_t dst, tide__msg *m);
void tide__worker_wake(tide_worker *w);
int tide__worker_fail(tide_worker *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tide__worker_deliver(tide_worker *w, tide__msg *m);
int tide__worker_replay(tide_worker *w, uint32_t index);
int tide__worker_drain(tide_worker *w, bool *did);
void tide__worker_park(tide_worker *w, int64_t timeout_us);
void tide__worker_release_early(tide_worker *w);
/* Drop what waits for dataflow ids @lo..@hi (inclusive): they are gone. */
void tide__worker_drop_early(tide_worker *w, uint32_t lo, uint32_t hi);
/* The dataflow with id @id on @w, NULL if none. */
tide_dataflow *tide__worker_df(tide_worker *w, uint32_t id);

/* execute.c: the runtime setup shared by tide_execute and host mode */
tide__runtime *tide__runtime_new(const tide_config *cfg, tide_error *e);
void tide__runtime_free(tide__runtime *rt);
/* Pin @w's thread as tide_execute does; the core index, -1 when unpinned. */
int tide__runtime_pin(tide__runtime *rt, tide_worker *w);
void tide__runtime_fail(tide__runtime *rt, const tide_error *e);

/* job.c: host mode on the worker side (see job_int.h) */
bool tide__job_pending(tide_worker *w);
int tide__job_step(tide_worker *w, bool *did);
int tide__job_df_new(tide_worker *w, tide_dataflow *df);
bool tide__job_retired(tide_worker *w, uint32_t dfid);
/* The last error on @w happened in dataflow @dfid: fail its job, clear it. */
void tide__job_blame(tide_worker *w, uint32_t dfid);

/* job_arr.c */
void tide__pubs_release(tide_worker *w);

/* dataflow.c */
int tide__df_own(tide_dataflow *df, void *p);
int tide__df_change(tide_dataflow *df, uint32_t node, uint32_t port, bool is_source, tide_time t,
                    int64_t delta);
void tide__df_activate(tide_dataflow *df, uint32_t op);
int tide__df_step(tide_dataflow *df, bool *did_work);
int tide__df_broadcast(tide_dataflow *df);
int tide__df_apply(tide_dataflow *df, const tide__pointstamp *ps, uint32_t n);
void tide__df_free(tide_dataflow *df);
/* Remove @df from its worker and free it (host mode: a job's end). */
void tide__df_drop(tide_dataflow *df);
/* True when dataflow id @id was built here and dropped (tide_dataflow_drop):
 * its late messages are released, not stashed. */
bool tide__df_dropped(tide_worker *w, uint32_t id);

/* operator.c */

/* The state of the record-function operators (map, filter). */
typedef struct tide__fn_state {
    union {
        tide_record_fn record;
        tide_pred_fn pred;
    } fn;
    void *ctx; /* the user's, borrowed */
} tide__fn_state;

/* Build a one-input (PIPELINE), one-output operator of layout @out whose
 * state is a copy of @fs: the shared builder of map and filter. */
tide_stream *tide__fn_op(tide_stream *s, const char *name, tide_layout out, tide_op_fn schedule,
                         tide__fn_state fs);
int tide__op_connect_any(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact);
int tide__op_enqueue(tide_op *op, uint32_t port, tide_batch *b);
int tide__op_cap_change(tide_op *op, tide_time t, int64_t delta);
void tide__op_free(tide_op *op);

/* snapshot.c: for writers that fill in a count after the fact */
size_t tide__snap_len(const tide_snap *s);
/* Overwrite @n bytes at offset @at (< tide__snap_len) with @p. */
void tide__snap_patch(tide_snap *s, size_t at, const void *p, size_t n);
/* Drop what was appended after offset @at. */
void tide__snap_truncate(tide_snap *s, size_t at);

/* channel.c */
int tide__channel_send(tide_dataflow *df, tide__channel *ch, tide_batch *b);
int tide__channel_flush(tide_dataflow *df, tide__channel *ch);
int tide__channel_check(tide_dataflow *df, const tide__msg *m);
int tide__deliver_local(tide_dataflow *df, uint32_t chan, tide_batch *b);

#endif /* TIDE_WORKER_H */
