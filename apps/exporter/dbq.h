/*
 * dbq.h - the database writer's own thread: the sink's thread queues each
 * transaction (its row changes and offsets, copied) and goes back to the
 * dataflow; the writer thread runs the transactions in order on the one
 * connection and reports each commit. Transactions that queued up while it
 * was busy are committed together, as one (a group commit).
 *
 * Why: writing rows into SQLite or PostgreSQL costs as much CPU as the
 * dataflow computing them; on its own thread it overlaps with the next
 * batches' computation instead of stalling the worker that hosts the sink
 * (with one worker, the only one). The protocol is unchanged: every
 * commit holds whole epochs' rows and the offsets they reach, in order.
 *
 * Flow control is the reader's: it keeps a bounded number of epochs in
 * flight past the last commit reported, so the queue holds at most those.
 *
 * Threads: fx_dbq_row/offset/commit from one thread (the sink's); the
 * committed callback runs on the writer thread.
 */
#ifndef FX_DBQ_H
#define FX_DBQ_H

#include <stdint.h>

#include "db.h"

typedef struct fx_dbq fx_dbq;

/* Called on the writer thread after the transaction queued with @upto
 * committed (with those before it). */
typedef void (*fx_dbq_committed_fn)(void *ctx, uint64_t upto);

/* Start the writer thread on @db (now used by that thread only, until
 * fx_dbq_stop). NULL on failure (@e). */
fx_dbq *fx_dbq_start(fx_db *db, fx_dbq_committed_fn fn, void *ctx, tide_error *e);

/* Queue a row change or an offset into the open transaction (copied). A
 * negative code once the writer has failed: its error, in @e. */
int fx_dbq_row(fx_dbq *q, int view, const uint8_t *row, uint32_t len, int64_t diff, tide_error *e);
int fx_dbq_offset(fx_dbq *q, int view, const char *stream, size_t n, int64_t off, tide_error *e);

/* The writer's error once it has failed (copied into @e), else TIDE_OK:
 * for a caller that waits on commits, which a failed writer never makes. */
int fx_dbq_failed(fx_dbq *q, tide_error *e);

/* Close the open transaction: the writer commits it and then calls the
 * committed function with @upto. @crash_before_commit: raise SIGKILL after
 * its rows, before COMMIT (the crash test). Errors as fx_dbq_row. */
int fx_dbq_commit(fx_dbq *q, uint64_t upto, int crash_before_commit, tide_error *e);

/* Wait for every queued transaction (each is whole: it commits even when
 * the run failed after it), stop the thread, free @q; the open one, never
 * handed over, is dropped. The writer's first error (after which it ran
 * nothing more), or TIDE_OK. */
int fx_dbq_stop(fx_dbq *q, tide_error *e);

#endif /* FX_DBQ_H */
