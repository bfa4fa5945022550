/*
 * tide/snapshot.h - saving a dataflow's operator state at a quiescent epoch
 * and loading it into an identically built dataflow, so that a restarted
 * program continues from there instead of recomputing its inputs' history.
 *
 * The cycle, on EVERY worker of the dataflow (each saves and loads only its
 * own operators' state: the keys it owns; on several processes each process
 * keeps its workers' files):
 *
 *   run epochs < T, advance every input to T, send nothing at T yet
 *   step until tide_dataflow_quiescent(df, T)       (cheap: no allocation)
 *   tide_dataflow_save(df, T, file)                 (this worker's state)
 *   ... later, in a new process with the same code and the same -w/-n ...
 *   build the same dataflow (same operators in the same order)
 *   tide_dataflow_load(df, file, R)                 (before tide_dataflow_seal)
 *   tide_dataflow_seal(df); inputs are at epoch R; send from R on
 *
 * After the load the dataflow behaves as if it had processed the saved
 * inputs: its arrangements hold the data, the reductions' outputs and the
 * folds' per-key state reflect it, and no operator emits anything for it
 * (the consumer, e.g. a database, already has those outputs). The restored
 * data carry time 0 (the saved times, all < T, are compacted to one: with
 * totally ordered epochs every later time is beyond all of them, so no
 * later accumulation can tell them apart) and every input starts at the
 * resume epoch R >= 1: the initial capabilities are moved from 0 to R
 * before sealing, so no frontier in the restored dataflow is ever below R.
 *
 * Quiescent at T means: every input advanced to T or closed and nothing
 * sent at T yet, every operator's input frontier at or beyond T, no message
 * queued, no operator scheduled, and no capability held below T. It is a
 * per-worker check of the worker's view of progress (which is conservative:
 * it never runs ahead of the truth). Another worker may still be working
 * towards T, so do not send at T on any worker until every worker has saved:
 * data sent at T can reach a worker through an exchange before its save, and
 * would then be in its saved state as well as sent again after a restart.
 * Within one process the workers can count their saves (an atomic counter;
 * tide-export does that); tide has no barrier across processes for it yet,
 * which is why tide-export takes no snapshots with several processes.
 *
 * Operators. Each operator declares in its tide_op_desc either that it is
 * stateless (map, filter, concat, probes: nothing kept between
 * activations) or save/load hooks. A stateful operator without hooks makes
 * tide_dataflow_save fail with TIDE_ENOTSUP naming it, so a program can
 * fall back to replaying its inputs. Covered by the built-ins: inputs,
 * map/flat_map/filter/concat/exchange/inspect/negate, arrange (its trace;
 * readers re-derive their frontiers), consolidate, join/semijoin/antijoin,
 * reduce and the root-scope count/distinct/threshold/min/max/top_k/max_by,
 * fold, tide_sink_updates, tide_sink, probes. Not supported (TIDE_ENOTSUP):
 * nested scopes (iterate, feedback, enter/leave), imported arrangements
 * (tide_arranged_import) and arrangements imported elsewhere, constant
 * collections, user operators without hooks.
 *
 * File format (per worker, native byte order: read on the machine kind
 * that wrote it; version TIDE_SNAPSHOT_VERSION):
 *   "TIDESTA1" u32 version u32 worker u32 peers u32 processes u32 nops
 *   u64 epoch T  u32 len + dataflow name  u64 XXH64 of the header so far
 *   per operator i (0 .. nops-1):
 *     u32 i  u32 ninputs  u32 noutputs  u32 len + name
 *     per output: u32 key width  u32 val width  u32 flags
 *     u64 n  n bytes of state (what its save hook wrote; 0 when stateless)
 *     u64 XXH64 of the section (from "u32 i" on)
 *   "TIDEEND1"
 * Loading checks every section (tag, layouts, checksum) in a first pass
 * before any operator is touched, so a truncated, corrupt or mismatched
 * file changes nothing; a second pass reads each operator's state again,
 * one at a time, so memory holds one operator's saved bytes at most.
 *
 * Sources and design. Timely dataflow has no such facility. What is saved
 * are differential's traces, compacted as its spine compacts when the
 * since frontier advances (here to one time, all of them being < T), plus
 * the little state around them (a reader's acknowledged upper, a fold's
 * per-key checkpoints). Materialize persists the *input* of its
 * arrangements (persist shards) and rehydrates them on restart, recomputing
 * every operator: that recomputation is the cost this API avoids, at the
 * price of files tied to one dataflow shape and one worker count. Loading
 * happens before sealing rather than after: then the inputs' initial
 * capabilities start at R on every worker at once, and no operator ever
 * sees a frontier below its restored state.
 */
#ifndef TIDE_SNAPSHOT_H
#define TIDE_SNAPSHOT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tide/dataflow.h"
#include "tide/trace.h"

#define TIDE_SNAPSHOT_VERSION 1u

/* An operator's section being written (save) or read (load). Opaque;
 * handed to the hooks of tide_op_desc, valid during the call only. */
typedef struct tide_snap tide_snap;

/*
 * tide_dataflow_quiescent - true when @df is quiescent at epoch @epoch on
 * this worker (see above): sealed, no error, nothing queued or scheduled,
 * every operator's input frontier and every held capability at or beyond
 * @epoch. Allocates nothing.
 * Thread-safety: @df's worker thread only.
 */
bool tide_dataflow_quiescent(const tide_dataflow *df, uint64_t epoch);

/*
 * tide_dataflow_save - write this worker's state of @df, quiescent at
 * @epoch, to @out (borrowed; written from its current position, not
 * flushed or closed). @out may be a file, a pipe or open_memstream's.
 * @return TIDE_OK; TIDE_ESTATE when @df is not quiescent at @epoch (the
 * message names the operator that is not); TIDE_ENOTSUP when an operator
 * keeps state it cannot save (named); TIDE_EINVAL for a NULL argument or
 * @epoch 0; TIDE_EIO on a write error; TIDE_ENOMEM. Detail in @e. Changes
 * nothing in @df (the worker's error slot is not touched).
 * Thread-safety: @df's worker thread only.
 */
int tide_dataflow_save(tide_dataflow *df, uint64_t epoch, FILE *out, tide_error *e);

/*
 * tide_dataflow_load - restore into @df (built, NOT sealed yet) the state a
 * tide_dataflow_save of an identically built dataflow wrote to @in
 * (borrowed; seekable: a file or fmemopen's, not a pipe; read from its
 * position to the end of the snapshot, where it is left; it must not change
 * during the call), and move every input to epoch @resume (>= 1: the
 * restored data carry time 0).
 * Checks before touching anything: the format, the worker index, worker
 * and process counts, the operators (count, names, layouts) and every
 * section's checksum.
 * @return TIDE_OK; TIDE_EPARSE (not a snapshot, other version, truncated,
 * checksum mismatch: says which operator); TIDE_EINVAL (a mismatch: names
 * what differs, e.g. "saved by worker 1 of 2 worker(s) in 1 process(es),
 * this is worker 0 of 4 in 1"; @resume 0; @in not seekable); TIDE_ESTATE
 * when @df is already sealed; TIDE_EIO; TIDE_ENOMEM. Detail in @e. When an operator's load
 * hook fails after others were restored (only ENOMEM or an inconsistent
 * section that passed its checksum), @df is half restored: drop it
 * (tide_dataflow_drop) and build it again.
 * Thread-safety: @df's worker thread only.
 */
int tide_dataflow_load(tide_dataflow *df, FILE *in, uint64_t resume, tide_error *e);

/* ------------------------------------------------------------------------ */
/* For operators' save/load hooks (tide_op_desc.save / .load)               */
/* ------------------------------------------------------------------------ */

/*
 * A save hook appends its state with the tide_snap_put* calls; the load
 * hook reads it back in the same order with tide_snap_get*, and must take
 * the whole section (the loader checks). Both return TIDE_OK or a negative
 * code; give detail with tide_snap_fail. A get past the section's end
 * returns TIDE_EPARSE (and zeroes what it would have filled).
 */

/* The epoch being saved at (save), or the resume epoch (load). */
uint64_t tide_snap_epoch(const tide_snap *s);

/* Append @n bytes from @p. TIDE_OK or TIDE_ENOMEM. */
int tide_snap_put(tide_snap *s, const void *p, size_t n);
int tide_snap_put_u64(tide_snap *s, uint64_t v);
/* A u32 length, then the bytes. */
int tide_snap_put_bytes(tide_snap *s, const void *p, uint32_t n);

/* Read @n bytes into @p. TIDE_OK or TIDE_EPARSE. */
int tide_snap_get(tide_snap *s, void *p, size_t n);
int tide_snap_get_u64(tide_snap *s, uint64_t *v);
/* A length-prefixed byte string: *@p borrowed (valid during the hook). */
int tide_snap_get_bytes(tide_snap *s, const uint8_t **p, uint32_t *n);
/* The next @n bytes, borrowed (valid during the hook), or NULL. */
const uint8_t *tide_snap_get_ptr(tide_snap *s, size_t n);

/* Record why the hook failed (the message is prefixed with the operator).
 * Returns @code. */
int tide_snap_fail(tide_snap *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * tide_trace_save - append trace @t's contents (every update, all times
 * compacted to one: the consolidated (key, val, diff) triples) to @s.
 * TIDE_OK, TIDE_ENOMEM, TIDE_ERANGE (a diff sum past int64).
 */
int tide_trace_save(tide_trace *t, tide_snap *s);

/*
 * tide_trace_load - read what tide_trace_save wrote and insert it into the
 * empty trace @t as one batch [0, R) at time 0, R = tide_snap_epoch(@s).
 * TIDE_OK, TIDE_EPARSE, TIDE_ESTATE (@t not empty), TIDE_ENOMEM.
 */
int tide_trace_load(tide_trace *t, tide_snap *s);

#endif /* TIDE_SNAPSHOT_H */
