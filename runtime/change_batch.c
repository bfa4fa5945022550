/*
 * change_batch.c - lazily consolidated (time, delta) accumulators.
 *
 * Layout: updates[0..clean) is consolidated (sorted by tide_time_cmp, distinct
 * times, non-zero deltas); updates[clean..len) is an unsorted tail of raw
 * appends. An update is an append; when the tail outgrows both the prefix and
 * COMPACT_MIN the whole batch is re-consolidated, so each update is charged
 * O(log n) amortised sorting work and memory stays within about twice the
 * number of distinct times (plus COMPACT_MIN). Capacity is never released
 * except by _fini, so a reused batch stops allocating once warm.
 */
#include <stdlib.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"

#define COMPACT_MIN TIDE_CHANGE_BATCH_COMPACT_MIN

void tide_change_batch_init(tide_change_batch *c)
{
    memset(c, 0, sizeof *c);
}

void tide_change_batch_fini(tide_change_batch *c)
{
    tide_free(c->updates);
    memset(c, 0, sizeof *c);
}

void tide_change_batch_clear(tide_change_batch *c)
{
    c->len = c->clean = 0;
}

static int reserve(tide_change_batch *c, uint32_t extra)
{
    if (extra > UINT32_MAX - c->len) return TIDE_ENOMEM;
    uint32_t need = c->len + extra;
    if (need <= c->cap) return TIDE_OK;
    uint64_t cap = c->cap ? c->cap : 8;
    while (cap < need) cap *= 2;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    tide_time_delta *p = tide_realloc(c->updates, (size_t)cap * sizeof *p);
    if (p == NULL) return TIDE_ENOMEM;
    c->updates = p;
    c->cap = (uint32_t)cap;
    return TIDE_OK;
}

static int cmp_delta(const void *a, const void *b)
{
    return tide_time_cmp(((const tide_time_delta *)a)->time, ((const tide_time_delta *)b)->time);
}

static int cmp_time(const void *a, const void *b)
{
    return tide_time_cmp(*(const tide_time *)a, *(const tide_time *)b);
}

/* Progress tracking, traces and reduce all sort many tiny arrays (2-20
 * entries), where insertion sort beats qsort's per-call and indirect
 * compare costs; larger ones go to qsort. */
#define SMALL_SORT 16

void tide_time_delta_sort(tide_time_delta *u, uint32_t n)
{
    if (n > SMALL_SORT) {
        qsort(u, n, sizeof *u, cmp_delta);
        return;
    }
    for (uint32_t i = 1; i < n; i++) {
        tide_time_delta x = u[i];
        uint32_t j = i;
        while (j > 0 && tide_time_cmp(u[j - 1].time, x.time) > 0) {
            u[j] = u[j - 1];
            j--;
        }
        u[j] = x;
    }
}

void tide_time_sort(tide_time *t, uint32_t n)
{
    if (n > SMALL_SORT) {
        qsort(t, n, sizeof *t, cmp_time);
        return;
    }
    for (uint32_t i = 1; i < n; i++) {
        tide_time x = t[i];
        uint32_t j = i;
        while (j > 0 && tide_time_cmp(t[j - 1], x) > 0) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = x;
    }
}

void tide_change_batch_compact(tide_change_batch *c)
{
    if (c->clean == c->len) return;
    tide_time_delta_sort(c->updates, c->len);
    uint32_t w = 0;
    for (uint32_t r = 0; r < c->len;) {
        tide_time_delta acc = c->updates[r++];
        while (r < c->len && tide_time_eq(c->updates[r].time, acc.time))
            acc.delta += c->updates[r++].delta;
        if (acc.delta != 0) c->updates[w++] = acc;
    }
    c->len = c->clean = w;
}

static inline void maybe_compact(tide_change_batch *c)
{
    uint32_t tail = c->len - c->clean;
    if (tail > c->clean && tail > COMPACT_MIN) tide_change_batch_compact(c);
}

int tide_change_batch_update(tide_change_batch *c, tide_time t, int64_t delta)
{
    if (delta == 0) return TIDE_OK;
    if (c->len == c->cap) TIDE_TRY(reserve(c, 1));
    c->updates[c->len].time = t;
    c->updates[c->len].delta = delta;
    c->len++;
    maybe_compact(c);
    return TIDE_OK;
}

bool tide_change_batch_is_empty(tide_change_batch *c)
{
    if (c->len == 0) return true;
    tide_change_batch_compact(c);
    return c->len == 0;
}

int tide_change_batch_extend(tide_change_batch *dst, const tide_change_batch *src)
{
    if (src->len == 0) return TIDE_OK;
    if (dst == src) {
        /* Doubling in place: every delta counts twice. */
        for (uint32_t i = 0; i < dst->len; i++) dst->updates[i].delta *= 2;
        return TIDE_OK;
    }
    TIDE_TRY(reserve(dst, src->len));
    memcpy(dst->updates + dst->len, src->updates, (size_t)src->len * sizeof *src->updates);
    dst->len += src->len;
    maybe_compact(dst);
    return TIDE_OK;
}
