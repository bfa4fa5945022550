/*
 * naive_reduce.h - the oracle for the reduce family, and the harness pieces
 * its tests share.
 *
 * Oracle: the input is a list of (key, val, time, diff) updates; the output
 * a reduction is expected to have at time t is fn applied, key by key, to
 * the input accumulated at t (values sorted, zero multiplicities dropped).
 * naive_reduce_check compares that with the accumulation of the updates an
 * operator actually produced, at every time of a given list.
 *
 * Harness: a thread-safe collector of updates (fed from several workers), a
 * sink that collects the updates of an arrangement's announcements, and
 * naive_arrange, a deliberately simple arrangement (exchange, buffer, cut at
 * the frontier) for driving the reduce core independently of arrange.c.
 * Uses plain malloc, never tide_alloc.
 */
#ifndef NAIVE_REDUCE_H
#define NAIVE_REDUCE_H

#include <pthread.h>
#include <stdbool.h>

#include "naive_trace.h"
#include "tide_test.h"
#include "tide/collection.h"

/* A mutex-protected naive_trace: updates from every worker. */
typedef struct naive_collect {
    pthread_mutex_t lock;
    naive_trace upd;
} naive_collect;

void naive_collect_init(naive_collect *c);
void naive_collect_fini(naive_collect *c);
void naive_collect_push(naive_collect *c, const void *k, uint32_t kl, const void *v, uint32_t vl,
                        tide_time t, int64_t d);

/* A sink on @s (announcements with ext, or plain UPDATES batches) that pushes
 * every update it sees into @c. */
void naive_collect_sink(tide_stream *s, naive_collect *c);

/*
 * naive_arrange - exchange @c by key and keep it in a new trace (*@trace,
 * borrowed; the operator owns it), announcing each sealed part of it.
 * Returns the announcement stream, or NULL.
 */
tide_stream *naive_arrange(tide_stream *c, tide_trace **trace);

/*
 * naive_reduce_check - for each of the @ntimes times, compare the
 * accumulation of @out with fn applied to the accumulation of @in (output
 * values of width @val_width). Prints the first mismatches (key, val, time,
 * both sums) and returns false on any.
 */
bool naive_reduce_check(const naive_trace *in, const naive_trace *out, tide_reduce_fn fn, void *ctx,
                        uint32_t val_width, const tide_time *times, uint32_t ntimes);

/* naive_consolidated - every diff of @out is non-zero and no (key, val,
 * time) appears twice; prints the first offender. */
bool naive_consolidated(const naive_trace *out);

#endif /* NAIVE_REDUCE_H */

/* ---- a shared driver: random input -> operator under test -> collector ---- */

/* Builds the operator under test on collection @in; returns the stream to
 * collect (plain UPDATES or announcements). */
typedef tide_stream *(*naive_build_fn)(void *ctx, tide_stream *in);

typedef struct naive_rrun {
    tide_layout layout; /* input records; fixed widths or TIDE_VAR (naive_encode) */
    uint64_t seed;
    uint32_t keys, vals; /* id ranges */
    uint32_t per_step;   /* at most this many updates per epoch / source activation */
    uint32_t epochs;     /* epoch mode: epochs 0 .. epochs-1 (some skipped) */
    bool porder;         /* loop-scope source with random antichains of capabilities */
    uint32_t churn;      /* epoch mode: percent of updates that exactly retract one of the
                            worker's recent insertions, so that keys empty out */
    naive_build_fn build;
    void *build_ctx;
    naive_collect in, out; /* every input update; every collected output update */
} naive_rrun;

#define NAIVE_MAXE 3 /* partial-order mode: times lie in [0, MAXE] x [0, MAXI] */
#define NAIVE_MAXI 5

/* Run @r on @workers workers (collectors initialised here; fini them after).
 * @return tide_execute's code, detail in @e. */
int naive_rrun_exec(naive_rrun *r, uint32_t workers, tide_error *e);

/* The times to check a run at: every epoch, or every time of the box. */
uint32_t naive_rrun_times(const naive_rrun *r, tide_time *out, uint32_t cap);
