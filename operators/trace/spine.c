/*
 * spine.c - the trace: a list of immutable trace batches, merged
 * geometrically and compacted logically as they merge.
 *
 * Depends on batch.c (tide__batch_merge) and time.h (antichains).
 * Invariants: batches are contiguous (batches[i]->upper == batches[i+1]->lower,
 * batches[0]->lower == {ZERO}, the spine's upper is the last upper); nupds is
 * the sum of their sizes; a batch whose upper is not <= the physical frontier
 * has never been merged with anything.
 *
 * Design
 * ------
 * A trace must answer "every update of key k" in O(log n) while absorbing a
 * batch per epoch, and it must forget history nobody can observe. Keeping one
 * big sorted batch would cost O(n) per insert; keeping every batch would make
 * each read visit all of them. The spine sits between, as an LSM tree does:
 *
 *      oldest                                               newest
 *   +--------------+  +-------+  +----+  +--+  +-+ . . . +-+  +-+
 *   |    4000      |  | 1500  |  | 600|  |90|  |40|      |3|  |0|   sizes
 *   +--------------+  +-------+  +----+  +--+  +-+       +-+  +-+
 *   [0, 812)          [812,903)  ...                 physical  ^ upper
 *   <------------ mergeable: upper <= physical ------------>|<- held ->
 *
 * Merge rule (size-tiered, eager): within the mergeable prefix, whenever an
 * older batch is at most twice the size of its newer neighbour,
 *     size(b[i-1]) <= 2 * size(b[i]),
 * the two are replaced by their merge, and the check repeats around the
 * result. So sizes at least double from newest to oldest, there are
 * O(log n) batches, and each update takes part in O(log n) merges: O(log n)
 * amortised work per update. An empty batch (size 0) merges into whatever
 * follows it, so a run of empty epochs costs nothing but one trailing empty
 * batch. The price of eagerness is latency: one insert can trigger a merge as
 * large as the trace. Differential's spine_fueled spreads the same merges
 * over later inserts with "fuel"; that is the upgrade path if step latency
 * matters more than simplicity, and the merge rule would stay as it is.
 *
 * Logical compaction: every merge advances each time t by the frontier
 * `since` (advance_by(t, F) = meet over f in F of join(t, f)) and then
 * consolidates equal (key, val, time) and drops zeros. For every time u
 * beyond since, t <= u iff advance_by(t) <= u, so the accumulation of every
 * (key, val) at every u beyond since is unchanged, while history before
 * since collapses: a key updated every epoch and compacted to the current
 * epoch keeps O(1) updates, not O(epochs). Compaction happens only in merges,
 * so a batch not merged since `since` moved may hold stale distinctions;
 * that is allowed (readers may only rely on accumulations beyond since).
 *
 * Physical compaction: a reader that will ask for a cursor cut at frontier F
 * (tide_spine_cursor_through) needs the batch boundary at F to survive. So
 * batches are merged only once their upper is <= the physical frontier; the
 * newer ones are held as inserted. The frontier starts at {ZERO}. Moving it
 * only records it; the merges it allows happen at the next insert (or
 * merge_all), which keeps every frontier setter all-or-nothing.
 *
 * All-or-nothing: a maintenance pass works on a copy of the (short) batch
 * list; merge products replace their inputs only in the copy, and the copy
 * replaces the list only when every merge succeeded. Under TIDE_ENOMEM the
 * products are dropped and the spine is exactly as before.
 */
#include <assert.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

/* ======================================================================== */
/* Lifetime and accessors                                                   */
/* ======================================================================== */

tide_spine *tide_spine_new(tide_layout layout)
{
    tide_spine *s = tide_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->layout = layout;
    tide_antichain_init(&s->lower);
    tide_antichain_init(&s->upper);
    tide_antichain_init(&s->logical);
    tide_antichain_init(&s->physical);
    if (tide__frontier_zero(&s->lower) < 0 || tide__frontier_zero(&s->upper) < 0 ||
        tide__frontier_zero(&s->logical) < 0 || tide__frontier_zero(&s->physical) < 0) {
        tide_spine_free(s);
        return NULL;
    }
    return s;
}

void tide_spine_free(tide_spine *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->len; i++) tide_trace_batch_unref(s->batches[i]);
    tide_free(s->batches);
    tide_antichain_fini(&s->lower);
    tide_antichain_fini(&s->upper);
    tide_antichain_fini(&s->logical);
    tide_antichain_fini(&s->physical);
    tide_free(s);
}

const tide_antichain *tide_spine_upper(const tide_spine *s)
{
    return &s->upper;
}
const tide_antichain *tide_spine_logical(const tide_spine *s)
{
    return &s->logical;
}
const tide_antichain *tide_spine_physical(const tide_spine *s)
{
    return &s->physical;
}
uint64_t tide_spine_len(const tide_spine *s)
{
    return s->nupds;
}
uint32_t tide_spine_batches(const tide_spine *s)
{
    return s->len;
}
tide_layout tide_spine_layout(const tide_spine *s)
{
    return s->layout;
}

tide_trace_batch *tide_spine_batch(const tide_spine *s, uint32_t i)
{
    return i < s->len ? s->batches[i] : NULL;
}

/* ======================================================================== */
/* Maintenance plans                                                        */
/* ======================================================================== */

/* A tentative batch list. Entries with own[i] set are references the plan
 * holds (merge products, or the batch being inserted); the others are
 * borrowed from the spine. Merged-away borrowed batches go to dead[], to be
 * released only if the plan commits. */
typedef struct plan {
    tide_trace_batch **b;
    uint8_t *own;
    tide_trace_batch **dead;
    uint32_t len, ndead;
} plan;

static int plan_init(plan *p, const tide_spine *s, tide_trace_batch *extra)
{
    uint32_t n = s->len + 1;
    p->b = tide_alloc(n * sizeof *p->b);
    p->dead = tide_alloc(n * sizeof *p->dead);
    p->own = tide_alloc(n);
    if (!p->b || !p->dead || !p->own) {
        tide_free(p->b);
        tide_free(p->dead);
        tide_free(p->own);
        return TIDE_ENOMEM;
    }
    memcpy(p->b, s->batches, s->len * sizeof *p->b);
    memset(p->own, 0, n);
    p->len = s->len;
    p->ndead = 0;
    if (extra) {
        p->b[p->len] = tide_trace_batch_ref(extra);
        p->own[p->len++] = 1;
    }
    return TIDE_OK;
}

static void plan_abort(plan *p)
{
    for (uint32_t i = 0; i < p->len; i++)
        if (p->own[i]) tide_trace_batch_unref(p->b[i]);
    tide_free(p->b);
    tide_free(p->dead);
    tide_free(p->own);
}

static void plan_commit(plan *p, tide_spine *s)
{
    for (uint32_t i = 0; i < p->ndead; i++) tide_trace_batch_unref(p->dead[i]);
    assert(p->len <= s->cap);
    memcpy(s->batches, p->b, p->len * sizeof *p->b);
    s->len = p->len;
    s->nupds = 0;
    for (uint32_t i = 0; i < s->len; i++) s->nupds += s->batches[i]->nupds;
    tide_free(p->b);
    tide_free(p->dead);
    tide_free(p->own);
}

/* Replace p->b[i-1], p->b[i] by their merge. */
static int plan_merge(plan *p, uint32_t i, const tide_antichain *since)
{
    tide_trace_batch *m;
    TIDE_TRY(tide__batch_merge(p->b[i - 1], p->b[i], since, &m));
    for (uint32_t j = i - 1; j <= i; j++) {
        if (p->own[j])
            tide_trace_batch_unref(p->b[j]);
        else
            p->dead[p->ndead++] = p->b[j];
    }
    p->b[i - 1] = m;
    p->own[i - 1] = 1;
    memmove(&p->b[i], &p->b[i + 1], (p->len - i - 1) * sizeof *p->b);
    memmove(&p->own[i], &p->own[i + 1], p->len - i - 1);
    p->len--;
    return TIDE_OK;
}

/* Apply the merge rule (or merge everything, @all) within the mergeable
 * prefix of the plan. */
static int plan_run(plan *p, const tide_spine *s, bool all)
{
    uint32_t m = 0;
    while (m < p->len && tide__frontier_le(&p->b[m]->upper, &s->physical)) m++;
    if (all) {
        while (m >= 2) {
            TIDE_TRY(plan_merge(p, 1, &s->logical));
            m--;
        }
        return TIDE_OK;
    }
    uint32_t i = 1;
    while (i < m) {
        if ((uint64_t)p->b[i - 1]->nupds <= 2 * (uint64_t)p->b[i]->nupds) {
            TIDE_TRY(plan_merge(p, i, &s->logical));
            m--;
            if (i > 1) i--;
        } else {
            i++;
        }
    }
    return TIDE_OK;
}

static int maintain(tide_spine *s, tide_trace_batch *extra, bool all)
{
    plan p;
    TIDE_TRY(plan_init(&p, s, extra));
    int rc = plan_run(&p, s, all);
    if (rc < 0) {
        plan_abort(&p);
        return rc;
    }
    plan_commit(&p, s);
    return TIDE_OK;
}

/* ======================================================================== */
/* API                                                                      */
/* ======================================================================== */

int tide_spine_insert(tide_spine *s, tide_trace_batch *batch)
{
    if (!tide_layout_eq(batch->layout, s->layout)) return TIDE_EINVAL;
    if (!tide_antichain_eq(&batch->lower, &s->upper)) return TIDE_EINVAL;
    if (s->len + 1 > s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 8;
        tide_trace_batch **nb = tide_realloc(s->batches, ncap * sizeof *nb);
        if (!nb) return TIDE_ENOMEM;
        s->batches = nb;
        s->cap = ncap;
    }
    tide_antichain up;
    tide_antichain_init(&up);
    if (tide_antichain_copy(&up, &batch->upper) < 0) {
        tide_antichain_fini(&up);
        return TIDE_ENOMEM;
    }
    int rc = maintain(s, batch, false);
    if (rc < 0) {
        tide_antichain_fini(&up);
        return rc;
    }
    tide_antichain_fini(&s->upper);
    s->upper = up;
    return TIDE_OK;
}

static int set_frontier(tide_antichain *dst, const tide_antichain *src)
{
    tide_antichain tmp;
    tide_antichain_init(&tmp);
    if (tide_antichain_copy(&tmp, src) < 0) {
        tide_antichain_fini(&tmp);
        return TIDE_ENOMEM;
    }
    tide_antichain_fini(dst);
    *dst = tmp;
    return TIDE_OK;
}

int tide_spine_set_logical(tide_spine *s, const tide_antichain *frontier)
{
    return set_frontier(&s->logical, frontier);
}

int tide_spine_set_physical(tide_spine *s, const tide_antichain *frontier)
{
    return set_frontier(&s->physical, frontier);
}

int tide_spine_merge_all(tide_spine *s)
{
    return maintain(s, NULL, true);
}

/* ======================================================================== */
/* Cursors                                                                  */
/* ======================================================================== */

int tide_spine_cursor(tide_spine *s, tide_cursor **out)
{
    return tide__cursor_new(s->batches, s->len, out);
}

int tide_spine_cursor_through(tide_spine *s, const tide_antichain *upper, tide_cursor **out)
{
    *out = NULL;
    uint32_t n = s->len;
    while (n > 0 && !tide_antichain_eq(&s->batches[n - 1]->upper, upper)) n--;
    if (n == 0 && !tide_antichain_eq(&s->lower, upper)) return TIDE_EINVAL;
    return tide__cursor_new(s->batches, n, out);
}
