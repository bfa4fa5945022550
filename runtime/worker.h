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
    tide_change_batch held; /* capabilities held, by time */
    bool scheduled;         /* in the activation set */
    bool running;
};

/* ---- dataflows ------------------------------------------------------------ */

struct tide_dataflow {
    tide_worker *w;
    uint32_t index; /* identical on every worker */
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
    /* Messages for dataflows not sealed here yet, by dataflow index. */
    struct tide__early *early;
    uint32_t nearly;
    tide_error err;
    int rc; /* sticky error code, 0 when fine */
    uint64_t steps;
    /* Parking: a futex word bumped by every producer that pushes to us. */
    uint32_t wake_seq; /* atomic */
    uint32_t sleeping; /* atomic: 1 while parked */
    pthread_t thread;
    uint64_t worked; /* steps that did something (stall.c's idea of progress) */
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
void tide__worker_release_early(tide_worker *w);

/* dataflow.c */
int tide__df_own(tide_dataflow *df, void *p);
int tide__df_change(tide_dataflow *df, uint32_t node, uint32_t port, bool is_source, tide_time t,
                    int64_t delta);
void tide__df_activate(tide_dataflow *df, uint32_t op);
int tide__df_step(tide_dataflow *df, bool *did_work);
int tide__df_broadcast(tide_dataflow *df);
int tide__df_apply(tide_dataflow *df, const tide__pointstamp *ps, uint32_t n);
void tide__df_free(tide_dataflow *df);

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

/* channel.c */
int tide__channel_send(tide_dataflow *df, tide__channel *ch, tide_batch *b);
int tide__channel_flush(tide_dataflow *df, tide__channel *ch);
int tide__deliver_local(tide_dataflow *df, uint32_t chan, tide_batch *b);

#endif /* TIDE_WORKER_H */
