/*
 * naive_trace.h - the oracle for traces: a plain array of (key, val, time,
 * diff) updates and the accumulation at a time as a linear scan.
 *
 * Correctness of a trace under logical compaction is checked the way
 * differential states it: for every (key, val) and every time t beyond the
 * compaction frontier, the sum of diffs at times <= t is the same in the
 * trace and in the oracle. Probe times are every stored time joined with
 * every frontier element. Uses plain malloc, never tide_alloc, so that
 * fault-injection tests do not fail the oracle.
 */
#ifndef NAIVE_TRACE_H
#define NAIVE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/trace.h"

#define NAIVE_MAX_BYTES 32 /* longest key or val the oracle stores */

typedef struct naive_upd {
    uint8_t k[NAIVE_MAX_BYTES], v[NAIVE_MAX_BYTES];
    uint32_t kl, vl;
    tide_time t;
    int64_t d;
} naive_upd;

typedef struct naive_trace {
    naive_upd *u;
    uint32_t len, cap;
} naive_trace;

void naive_init(naive_trace *n);
void naive_fini(naive_trace *n);
void naive_clear(naive_trace *n);
void naive_push(naive_trace *n, const void *k, uint32_t kl, const void *v, uint32_t vl, tide_time t,
                int64_t d);

/* Sum of diffs of (k, v) at times <= t. */
int64_t naive_accum(const naive_trace *n, const void *k, uint32_t kl, const void *v, uint32_t vl,
                    tide_time t);

/* Append every update a cursor reads (from its current position on). */
void naive_from_cursor(naive_trace *n, tide_cursor *c);

/* Sort by (key, val, time), sum equal triples, drop zeros. */
void naive_consolidate(naive_trace *n);

/* Accumulations of @a and @b agree at every probe time beyond @since; on a
 * mismatch print the key, val, time and both sums and return false. */
bool naive_equiv(const naive_trace *a, const naive_trace *b, const tide_antichain *since);

/* Compare two (key) byte strings as the record order does. */
int naive_kv_cmp(const naive_upd *a, const naive_upd *b);

/* naive_encode - record bytes for id @id in a column of @width: fixed widths
 * get the id big-endian (right-aligned, so memcmp order is id order);
 * TIDE_VAR gets 0..10 bytes derived from the id (collisions, prefixes and
 * zero bytes included on purpose). */
void naive_encode(uint32_t width, uint64_t id, uint8_t *out, uint32_t *len);

/* naive_check_batch - the trie invariants of @b (sorted, distinct,
 * non-empty ranges, non-zero diffs); prints the first violation. */
bool naive_check_batch(const tide_trace_batch *b);

#endif /* NAIVE_TRACE_H */
