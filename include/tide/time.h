/*
 * tide/time.h - logical timestamps, path summaries, antichains, change batches.
 *
 * A tide_time is a product timestamp with a fixed number of coordinates:
 * coordinate 0 is the epoch (u64) of the root scope, coordinates 1 and 2 are
 * the iteration counters (u32) of up to two nested loop scopes. A scope at
 * depth d uses coordinates 0..d; deeper coordinates are always 0, so entering
 * a scope is the identity and leaving it resets its coordinate to 0.
 *
 * Order: the partial (product) order tide_time_le is the one progress
 * tracking and differential use; tide_time_cmp is a lexicographic total order
 * that extends it (a <= b implies cmp(a, b) <= 0), used only for sorting.
 *
 * Nothing here allocates except antichains and change batches, which grow
 * through tide_alloc and report TIDE_ENOMEM.
 */
#ifndef TIDE_TIME_H
#define TIDE_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define TIDE_TIME_DIMS 3 /* epoch + two nested loop coordinates */

typedef struct tide_time {
    uint64_t epoch;   /* coordinate 0: root-scope epoch */
    uint32_t iter[2]; /* coordinates 1, 2: loop counters of nested scopes */
} tide_time;

/* The least time (all coordinates 0). */
#define TIDE_TIME_ZERO ((tide_time){0, {0, 0}})

static inline tide_time tide_time_epoch(uint64_t e)
{
    return (tide_time){e, {0, 0}};
}

/* tide_time_get - coordinate @d (0..2) of @t, widened to u64. */
static inline uint64_t tide_time_get(tide_time t, int d)
{
    return d == 0 ? t.epoch : t.iter[d - 1];
}

/* tide_time_eq - equality. */
static inline bool tide_time_eq(tide_time a, tide_time b)
{
    return a.epoch == b.epoch && a.iter[0] == b.iter[0] && a.iter[1] == b.iter[1];
}

/* tide_time_le - the product partial order: every coordinate of a <= b's. */
static inline bool tide_time_le(tide_time a, tide_time b)
{
    return a.epoch <= b.epoch && a.iter[0] <= b.iter[0] && a.iter[1] <= b.iter[1];
}

/* tide_time_lt - a <= b and a != b. */
static inline bool tide_time_lt(tide_time a, tide_time b)
{
    return tide_time_le(a, b) && !tide_time_eq(a, b);
}

/* tide_time_cmp - lexicographic total order (-1, 0, 1) extending tide_time_le. */
static inline int tide_time_cmp(tide_time a, tide_time b)
{
    if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
    if (a.iter[0] != b.iter[0]) return a.iter[0] < b.iter[0] ? -1 : 1;
    if (a.iter[1] != b.iter[1]) return a.iter[1] < b.iter[1] ? -1 : 1;
    return 0;
}

/* tide_time_join - least upper bound (coordinate-wise max). */
static inline tide_time tide_time_join(tide_time a, tide_time b)
{
    tide_time r;
    r.epoch = a.epoch > b.epoch ? a.epoch : b.epoch;
    r.iter[0] = a.iter[0] > b.iter[0] ? a.iter[0] : b.iter[0];
    r.iter[1] = a.iter[1] > b.iter[1] ? a.iter[1] : b.iter[1];
    return r;
}

/* tide_time_meet - greatest lower bound (coordinate-wise min). */
static inline tide_time tide_time_meet(tide_time a, tide_time b)
{
    tide_time r;
    r.epoch = a.epoch < b.epoch ? a.epoch : b.epoch;
    r.iter[0] = a.iter[0] < b.iter[0] ? a.iter[0] : b.iter[0];
    r.iter[1] = a.iter[1] < b.iter[1] ? a.iter[1] : b.iter[1];
    return r;
}

/* tide_time_fmt - "(e,i,j)" into @buf (>= 64 bytes); returns @buf. */
char *tide_time_fmt(tide_time t, char *buf, unsigned long size);

/* ------------------------------------------------------------------------ */
/* Path summaries                                                           */
/* ------------------------------------------------------------------------ */

/*
 * A path summary says how a time changes along a path of the dataflow graph:
 * for each coordinate d, either keep it or reset it to 0 (bit d of @reset),
 * then add add[d]. Identity: reset 0, adds 0. A loop's feedback edge adds 1
 * to its scope's coordinate; leaving a scope resets that coordinate.
 */
typedef struct tide_summary {
    uint64_t add[TIDE_TIME_DIMS]; /* added after the optional reset */
    uint8_t reset;                /* bit d set: coordinate d becomes 0 first */
} tide_summary;

#define TIDE_SUMMARY_IDENTITY ((tide_summary){{0, 0, 0}, 0})

/* tide_summary_apply - @s applied to @t into @out; false when a coordinate
 * would overflow (the time is then unreachable along this path), and @out is
 * then left alone. Inline: progress tracking applies summaries in its
 * innermost loop, and an out-of-line call costs a store-forwarding stall
 * on @out there. */
static inline bool tide_summary_apply(tide_summary s, tide_time t, tide_time *out)
{
    uint64_t e = (s.reset & 1u) ? 0 : t.epoch;
    if (s.add[0] > UINT64_MAX - e) return false;
    uint64_t i = (s.reset & 2u) ? 0 : t.iter[0];
    uint64_t j = (s.reset & 4u) ? 0 : t.iter[1];
    /* i, j < 2^32, so comparing against UINT32_MAX - i cannot wrap. */
    if (s.add[1] > UINT32_MAX - i || s.add[2] > UINT32_MAX - j) return false;
    *out = (tide_time){e + s.add[0], {(uint32_t)(i + s.add[1]), (uint32_t)(j + s.add[2])}};
    return true;
}

/* tide_summary_then - the summary of following @a, then @b. Saturates. */
tide_summary tide_summary_then(tide_summary a, tide_summary b);

/* tide_summary_le - a <= b: for every time t, apply(a, t) <= apply(b, t). */
bool tide_summary_le(tide_summary a, tide_summary b);

bool tide_summary_eq(tide_summary a, tide_summary b);

/* An antichain of summaries (minimal elements under tide_summary_le). */
typedef struct tide_summary_set {
    tide_summary *elems;
    uint32_t len, cap;
} tide_summary_set;

void tide_summary_set_init(tide_summary_set *s);
void tide_summary_set_fini(tide_summary_set *s);
/* Insert @x unless some element is <= x; evicts elements >= x.
 * @return 1 if inserted, 0 if dominated, TIDE_ENOMEM. */
int tide_summary_set_insert(tide_summary_set *s, tide_summary x);

/* ------------------------------------------------------------------------ */
/* Antichains of times                                                      */
/* ------------------------------------------------------------------------ */

/*
 * An antichain: a set of mutually incomparable times, used as a frontier.
 * A time t is "beyond" the frontier when some element e <= t. The empty
 * antichain means "complete": no time can still appear.
 * Caller-owned storage: _init / _fini.
 */
typedef struct tide_antichain {
    tide_time *elems; /* @len elements, no order guaranteed */
    uint32_t len, cap;
} tide_antichain;

void tide_antichain_init(tide_antichain *a);
void tide_antichain_fini(tide_antichain *a);
void tide_antichain_clear(tide_antichain *a);

/* Insert @t unless some element is <= t; evicts elements > t.
 * @return 1 if inserted, 0 if dominated, TIDE_ENOMEM. */
int tide_antichain_insert(tide_antichain *a, tide_time t);

/* Replace the contents of @dst by a copy of @src. TIDE_OK or TIDE_ENOMEM. */
int tide_antichain_copy(tide_antichain *dst, const tide_antichain *src);

/* Some element e <= t (t is at or beyond the frontier). */
bool tide_antichain_less_equal(const tide_antichain *a, tide_time t);

/* Some element e < t. */
bool tide_antichain_less_than(const tide_antichain *a, tide_time t);

/* Same set of elements (order-insensitive). */
bool tide_antichain_eq(const tide_antichain *a, const tide_antichain *b);

/* a is dominated by b: every element of b is >= some element of a
 * (a's frontier is not ahead of b's). */
bool tide_antichain_dominates(const tide_antichain *a, const tide_antichain *b);

/* ------------------------------------------------------------------------ */
/* Change batches                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tide_time_delta {
    tide_time time;
    int64_t delta;
} tide_time_delta;

/*
 * A change batch accumulates (time, delta) updates cheaply and consolidates
 * them lazily: update is an append; compact sorts by tide_time_cmp, sums
 * equal times and drops zeros. Cost: O(1) amortised per update, O(n log n)
 * per compaction, which happens when the caller asks or when the unsorted
 * tail outgrows the consolidated prefix.
 */
typedef struct tide_change_batch {
    tide_time_delta *updates;
    uint32_t len, cap;
    uint32_t clean; /* updates[0..clean) are sorted, distinct and non-zero */
} tide_change_batch;

/* Unsorted tails up to this length are never compacted by an update. */
#define TIDE_CHANGE_BATCH_COMPACT_MIN 32

void tide_change_batch_init(tide_change_batch *c);
void tide_change_batch_fini(tide_change_batch *c);
void tide_change_batch_clear(tide_change_batch *c);
/* Record @delta at @t (0 is ignored). @return TIDE_OK or TIDE_ENOMEM (then
 * @c is unchanged). */
int tide_change_batch_update(tide_change_batch *c, tide_time t, int64_t delta);

/* tide_change_batch_push - tide_change_batch_update with its common case
 * (room left, short tail: a plain append) inlined for hot loops. */
static inline int tide_change_batch_push(tide_change_batch *c, tide_time t, int64_t delta)
{
    if (delta != 0 && c->len < c->cap && c->len - c->clean < TIDE_CHANGE_BATCH_COMPACT_MIN) {
        c->updates[c->len].time = t;
        c->updates[c->len].delta = delta;
        c->len++;
        return 0;
    }
    return tide_change_batch_update(c, t, delta);
}
/* Consolidate in place; afterwards updates[0..len) are sorted and non-zero. */
void tide_change_batch_compact(tide_change_batch *c);
/* Compact, then true if no non-zero update remains. */
bool tide_change_batch_is_empty(tide_change_batch *c);
/* Sort @n updates / times by tide_time_cmp (insertion sort when small). */
void tide_time_delta_sort(tide_time_delta *u, uint32_t n);
void tide_time_sort(tide_time *t, uint32_t n);
/* Append all of @src to @dst (src unchanged). */
int tide_change_batch_extend(tide_change_batch *dst, const tide_change_batch *src);

/* ------------------------------------------------------------------------ */
/* Mutable antichains                                                       */
/* ------------------------------------------------------------------------ */

/*
 * A multiset of times with counts, whose frontier is the antichain of minimal
 * times with a positive count. update_iter applies a batch of count changes
 * and reports how the frontier changed as (time, +1/-1) pairs.
 * Counts may go negative transiently (as in timely); such times do not count
 * toward the frontier.
 */
typedef struct tide_mutable_antichain {
    tide_change_batch counts; /* (time, count) pairs, consolidated lazily */
    tide_antichain frontier;  /* minimal times with positive count */
} tide_mutable_antichain;

void tide_mutable_antichain_init(tide_mutable_antichain *m);
void tide_mutable_antichain_fini(tide_mutable_antichain *m);

/*
 * Apply @n (time, delta) updates; append the frontier's changes to @changes
 * (may be NULL). @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_mutable_antichain_update_iter(tide_mutable_antichain *m, const tide_time_delta *upd,
                                       uint32_t n, tide_change_batch *changes);

/* Current frontier (borrowed until the next update). */
static inline const tide_antichain *tide_mutable_antichain_frontier(const tide_mutable_antichain *m)
{
    return &m->frontier;
}

/* Count of exactly time @t. */
int64_t tide_mutable_antichain_count(tide_mutable_antichain *m, tide_time t);

#endif /* TIDE_TIME_H */
