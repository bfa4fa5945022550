/*
 * arrange.h - internals of arrangements, shared by arrange.c, join.c and the
 * reduce family (reduce.c, count.c, threshold.c).
 *
 * An arrangement is a pair: a shared tide_trace (one per worker: the keys this
 * worker owns) and a stream of *announcements*. An announcement is a 0-record
 * UPDATES tide_batch whose ext is a sealed tide_trace_batch (one reference,
 * released by ext_free with the message) and whose time is a capability time
 * <= every update of that trace batch. Announcements travel on PIPELINE
 * channels only (ext never crosses workers) and arrive in the order the
 * batches were inserted into the trace, so a reader that has received the
 * batches up to upper U may cut the trace at U (tide_trace_reader_cursor_through).
 *
 * The trace may run ahead of the announcements: when its input frontier moves
 * while the arrange operator holds no capability (nothing buffered, no message
 * in this activation), the empty batch is inserted into the trace but not
 * announced; the next announced batch then has a lower later than the
 * previous announced upper. Readers must take uppers from the batches they
 * receive and never assume lower == their last upper.
 */
#ifndef TIDE_ARRANGE_H
#define TIDE_ARRANGE_H

#include "tide/collection.h"
#include "worker.h"

struct tide_arranged {
    tide_scope *scope;         /* the scope the announcements live in */
    tide_stream *stream;       /* announcements (see above); PIPELINE only */
    tide_trace *trace;         /* borrowed: the producing operator's state holds a reference */
    tide_layout layout;        /* key and val widths of the arranged updates */
    uint32_t trace_depth;      /* depth of the scope whose times the trace holds (< scope depth
                                  after tide_arranged_enter) */
    struct tide__arr_src *src; /* the producing arrange operator (imports subscribe); NULL
                                  when produced by another operator (reduce) */
};

/*
 * tide__arranged_new - a handle for announcements @stream of trace @trace
 * (borrowed; the producer keeps it alive) holding times of depth
 * @trace_depth. Owned by @stream's dataflow. NULL on ENOMEM (worker error set).
 */
tide_arranged *tide__arranged_new(tide_stream *stream, tide_trace *trace, tide_layout layout,
                                  uint32_t trace_depth);

/* tide__arranged_batch - the trace batch an announcement carries (borrowed,
 * valid while @msg lives), or NULL for a message without one. */
static inline tide_trace_batch *tide__arranged_batch(const tide_batch *msg)
{
    return (tide_trace_batch *)msg->ext;
}

/*
 * tide__arranged_announce - send trace batch @tb (takes a reference) on
 * output @port of @op as an announcement at time @t (a time @op may send at).
 * tide_out_give would drop a 0-record batch, hence this.
 * @return TIDE_OK or TIDE_ENOMEM (worker error set).
 */
int tide__arranged_announce(tide_op *op, uint32_t port, tide_time t, tide_trace_batch *tb);

/*
 * tide__arranged_reader - a new reader of @a's trace, for an operator in
 * @a->scope. The reader's frontiers start at the trace's.
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide__arranged_reader(tide_arranged *a, tide_trace_reader **out);

/*
 * tide__frontier_project - @f with every coordinate deeper than @depth reset
 * to 0, as an antichain into @out (cleared first): how a reader in a child
 * scope states its frontier to a trace of the parent (tide_arranged_enter).
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide__frontier_project(const tide_antichain *f, uint32_t depth, tide_antichain *out);

/*
 * tide__reader_advance - move @r's logical frontier to @logical and its
 * physical to @physical (both in the trace's times), each only where it is
 * not behind the reader's current one (a reader never moves back).
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide__reader_advance(tide_trace_reader *r, const tide_antichain *logical,
                         const tide_antichain *physical);

/*
 * tide__arranged_give_ext - tide_out_give for announcement-like batches:
 * sends @b (taken) on every channel of @port even when it has no records.
 */
int tide__arranged_give_ext(tide_op *op, uint32_t port, tide_batch *b);

/*
 * tide__consolidate_op - the arrange operator without a trace: it exchanges
 * @c by key, buffers, and at each frontier move emits the completed updates
 * consolidated (tide_consolidate).
 */
tide_stream *tide__consolidate_op(tide_stream *c, const char *name);

/* ---- shared arrangements across jobs (runtime/job_arr.c) ---------------- */

/*
 * tide__arr_src_watch - have the arrange operator behind @src set *@back to
 * NULL when its dataflow is freed (@back NULL: stop). One watcher at most;
 * tide__arr_src_watched tells whether there is one.
 */
void tide__arr_src_watch(struct tide__arr_src *src, struct tide__arr_src **back);
bool tide__arr_src_watched(const struct tide__arr_src *src);

/*
 * tide__arranged_import_trace - tide_arranged_import of trace @trace
 * (layout @layout, root-scope times) into root scope @s: replay, then the
 * batches of arrange operator @src; @src NULL when it is gone (the import
 * closes after the replay). NULL on error (worker error set).
 */
tide_arranged *tide__arranged_import_trace(tide_trace *trace, tide_layout layout,
                                           struct tide__arr_src *src, tide_scope *s);

#endif /* TIDE_ARRANGE_H */
