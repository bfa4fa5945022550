/*
 * naive_coll.h - the from-scratch oracle for differential operators: a flat
 * list of (key, val, time, diff) updates over u64 keys and vals, accumulated
 * at a time by brute force, and naive versions of join, reachability,
 * connected components and bfs over accumulated sets.
 *
 * Also the plumbing the oracle tests share: a random input schedule (epochs,
 * sends, retractions of present records), a mutex-guarded sink that collects
 * a stream's updates from every worker, and an equality check that prints
 * both sides. Nothing here is fast; it is meant to be obviously right.
 */
#ifndef TIDE_NAIVE_COLL_H
#define TIDE_NAIVE_COLL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/tide.h"
#include "tide_test.h"
#include "tide/collection.h"

typedef struct naive_upd {
    uint64_t k, v;
    tide_time t;
    int64_t d;
    uint32_t group; /* schedules: the send group within the epoch */
} naive_upd;

typedef struct naive_coll {
    naive_upd *u;
    size_t len, cap;
} naive_coll;

void naive_coll_init(naive_coll *c);
void naive_coll_fini(naive_coll *c);
void naive_coll_clear(naive_coll *c);
void naive_coll_add(naive_coll *c, uint64_t k, uint64_t v, tide_time t, int64_t d);

/* The accumulation at @t (updates at times <= t) into @out: sorted by
 * (k, v), distinct, non-zero counts in d, times ZERO. */
void naive_coll_at(const naive_coll *c, tide_time t, naive_coll *out);
/* Sort by (k, v) and sum counts regardless of time; drop zeros. */
void naive_coll_consolidate(naive_coll *c);
/* Count of (k, v) in a consolidated collection. */
int64_t naive_coll_count(const naive_coll *c, uint64_t k, uint64_t v);

/* Compare consolidated @got and @want; on difference describe the first
 * few mismatches into @why and return false. */
bool naive_coll_eq(const naive_coll *got, const naive_coll *want, char *why, size_t n);

/* ---- naive operators on accumulated (consolidated) collections -------------------- */

/* (k, f(v1, v2)) with count c1 * c2 for each (k, v1) in @a and (k, v2) in @b. */
typedef uint64_t (*naive_join_fn)(uint64_t k, uint64_t v1, uint64_t v2);
void naive_join(const naive_coll *a, const naive_coll *b, naive_join_fn f, naive_coll *out);
/* Records of @a whose key has a positive count in @keys (counts kept). */
void naive_semijoin(const naive_coll *a, const naive_coll *keys, naive_coll *out);
/* Nodes reachable from @roots (keys, count > 0) over @edges (k -> v, count
 * > 0): (node, 0) with count 1. */
void naive_reach(const naive_coll *edges, const naive_coll *roots, naive_coll *out);
/* Connected components of the undirected graph @edges over the nodes that
 * appear in it: (node, least node of its component) with count 1. */
void naive_cc(const naive_coll *edges, naive_coll *out);
/* Hop distances from @roots over directed @edges: (node, dist), count 1. */
void naive_bfs(const naive_coll *edges, const naive_coll *roots, naive_coll *out);

/* ---- schedules and sinks ----------------------------------------------------------- */

/* Parameters of a random input. */
typedef struct naive_gen {
    uint32_t updates;    /* how many updates */
    uint32_t epochs;     /* distinct epochs used (times advance by 1..3) */
    uint64_t keys, vals; /* keys in [0, keys), vals in [0, vals) */
    uint32_t groups;     /* send groups per epoch (batch boundaries) */
    uint32_t retract;    /* percent of updates that retract a present record */
} naive_gen;

/* Append a random schedule to @out, sorted by (epoch, group). Retractions
 * remove a record present at that point; values keep multiplicities >= 0. */
void naive_gen_schedule(tide_rng *r, const naive_gen *g, naive_coll *out);

/* The epochs used by @s (sorted, distinct) into @ep (room for s->len). */
size_t naive_epochs(const naive_coll *s, uint64_t *ep);

/* Feed the share of worker @w of @nin schedules into @inputs (each with
 * layout key 8 and val @vw[i] in {0, 8}), epoch by epoch and group by
 * group, stepping @wk between groups; then close. Every worker must call it
 * (same schedules): epochs advance in lockstep. */
int naive_feed(tide_worker *wk, tide_input **inputs, const naive_coll *const *sched,
               const uint32_t *vw, uint32_t nin, tide_probe *probe);

typedef struct naive_sink {
    pthread_mutex_t lock;
    naive_coll got;
} naive_sink;

void naive_sink_init(naive_sink *s);
void naive_sink_fini(naive_sink *s);
/* A tide_inspect_fn collecting every update (keys and vals as u64, width 0
 * read as 0) into the sink. */
void naive_sink_fn(void *ctx, const tide_batch *b);

/* ---- one run --------------------------------------------------------------------- */

/* Builds the dataflow under test from the @nin input collections (root
 * scope); returns the stream to collect (an UPDATES stream). */
typedef tide_stream *(*naive_build_fn)(void *ctx, tide_scope *root, tide_stream **ins);

/*
 * naive_run - run on @workers threads a dataflow with @nin inputs (key 8,
 * val vw[i]) fed from @sched, built by @build; collect the output into
 * @sink. Returns the tide_execute code; @err gets the message.
 */
int naive_run(uint32_t workers, uint32_t nin, const naive_coll *const *sched, const uint32_t *vw,
              naive_build_fn build, void *ctx, naive_sink *sink, char *err, size_t errlen);

/* The expected output for the inputs accumulated at some epoch. */
typedef void (*naive_oracle_fn)(void *ctx, const naive_coll *const *ins_at, naive_coll *out);

/*
 * naive_check - for every epoch e from 0 to the last one used by @sched (+1),
 * compare @got accumulated at e with @oracle applied to the inputs
 * accumulated at e. Returns false and describes the first failure in @why.
 */
bool naive_check(const naive_coll *got, uint32_t nin, const naive_coll *const *sched,
                 naive_oracle_fn oracle, void *ctx, char *why, size_t n);

/*
 * naive_run_checked - the whole test: schedules from @g0 (and @g1 when
 * @nin is 2) drawn from the seed named @name/@salt, run on W = 1, 2 and 4,
 * each required to produce output that naive_check accepts. Returns false
 * with the first failure (naming @name and W) in @why.
 */
bool naive_run_checked(const char *name, uint64_t salt, uint32_t nin, naive_gen g0, naive_gen g1,
                       uint32_t vw1, naive_build_fn build, naive_oracle_fn oracle, char *why,
                       size_t n);

#endif /* TIDE_NAIVE_COLL_H */
