/*
 * antichain.c - frontiers: antichains of times, and counted (mutable) ones.
 *
 * A tide_antichain holds mutually incomparable times; insert keeps only the
 * minimal ones. A tide_mutable_antichain keeps a count per time in a change
 * batch and caches the frontier: the minimal times whose count is positive.
 *
 * Invariant of the mutable antichain: after every update_iter, `frontier`
 * equals min { t : count(t) > 0 } and is stored sorted by tide_time_cmp (it
 * is only ever rebuilt from the sorted counts), which lets the rebuild diff
 * the old and new frontiers with one merge. Counts may be negative; such
 * times are invisible to the frontier.
 */
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"

/* ======================== Antichains ======================== */

void tide_antichain_init(tide_antichain *a)
{
    memset(a, 0, sizeof *a);
}

void tide_antichain_fini(tide_antichain *a)
{
    tide_free(a->elems);
    memset(a, 0, sizeof *a);
}

void tide_antichain_clear(tide_antichain *a)
{
    a->len = 0;
}

static int reserve(tide_antichain *a, uint32_t need)
{
    if (need <= a->cap) return TIDE_OK;
    uint64_t cap = a->cap ? a->cap : 4;
    while (cap < need) cap *= 2;
    if (cap > UINT32_MAX) return TIDE_ENOMEM;
    tide_time *p = tide_realloc(a->elems, (size_t)cap * sizeof *p);
    if (p == NULL) return TIDE_ENOMEM;
    a->elems = p;
    a->cap = (uint32_t)cap;
    return TIDE_OK;
}

int tide_antichain_insert(tide_antichain *a, tide_time t)
{
    if (tide_antichain_less_equal(a, t)) return 0;
    /* Grow before evicting so that TIDE_ENOMEM leaves @a unchanged. */
    TIDE_TRY(reserve(a, a->len + 1));
    uint32_t w = 0;
    for (uint32_t i = 0; i < a->len; i++)
        if (!tide_time_le(t, a->elems[i])) a->elems[w++] = a->elems[i];
    a->len = w;
    a->elems[a->len++] = t;
    return 1;
}

int tide_antichain_copy(tide_antichain *dst, const tide_antichain *src)
{
    if (dst == src) return TIDE_OK;
    TIDE_TRY(reserve(dst, src->len));
    if (src->len) memcpy(dst->elems, src->elems, (size_t)src->len * sizeof *src->elems);
    dst->len = src->len;
    return TIDE_OK;
}

bool tide_antichain_less_equal(const tide_antichain *a, tide_time t)
{
    for (uint32_t i = 0; i < a->len; i++)
        if (tide_time_le(a->elems[i], t)) return true;
    return false;
}

bool tide_antichain_less_than(const tide_antichain *a, tide_time t)
{
    for (uint32_t i = 0; i < a->len; i++)
        if (tide_time_lt(a->elems[i], t)) return true;
    return false;
}

static bool contains(const tide_antichain *a, tide_time t)
{
    for (uint32_t i = 0; i < a->len; i++)
        if (tide_time_eq(a->elems[i], t)) return true;
    return false;
}

bool tide_antichain_eq(const tide_antichain *a, const tide_antichain *b)
{
    /* Antichains have distinct elements, so equal sizes plus inclusion is
     * set equality. */
    if (a->len != b->len) return false;
    for (uint32_t i = 0; i < a->len; i++)
        if (!contains(b, a->elems[i])) return false;
    return true;
}

bool tide_antichain_dominates(const tide_antichain *a, const tide_antichain *b)
{
    for (uint32_t i = 0; i < b->len; i++)
        if (!tide_antichain_less_equal(a, b->elems[i])) return false;
    return true;
}

/* ======================== Mutable antichains ======================== */

void tide_mutable_antichain_init(tide_mutable_antichain *m)
{
    tide_change_batch_init(&m->counts);
    tide_antichain_init(&m->frontier);
}

void tide_mutable_antichain_fini(tide_mutable_antichain *m)
{
    tide_change_batch_fini(&m->counts);
    tide_antichain_fini(&m->frontier);
}

/*
 * Recompute the frontier from the counts and report the difference.
 *
 * The new frontier is built in frontier.elems[k..k+n) behind the k old
 * elements (no second buffer to keep around), then the two sorted runs are
 * merged to find what left and what entered, and the new run is moved down.
 * Because counts are sorted by a linear extension of the partial order, a
 * later count can never be below an earlier one: a positive time joins the
 * new frontier exactly when no element already there is <= it.
 */
static int rebuild(tide_mutable_antichain *m, tide_change_batch *changes)
{
    tide_antichain *f = &m->frontier;
    tide_change_batch_compact(&m->counts);
    const uint32_t k = f->len;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->counts.len; i++) {
        const tide_time_delta *u = &m->counts.updates[i];
        if (u->delta <= 0) continue;
        bool dominated = false;
        for (uint32_t j = k; j < k + n; j++) {
            if (tide_time_le(f->elems[j], u->time)) {
                dominated = true;
                break;
            }
        }
        if (dominated) continue;
        TIDE_TRY(reserve(f, k + n + 1));
        f->elems[k + n++] = u->time;
    }

    const tide_time *old = f->elems, *neu = f->elems + k;
    uint32_t i = 0, j = 0;
    while (i < k || j < n) {
        int c = i == k ? 1 : j == n ? -1 : tide_time_cmp(old[i], neu[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        if (changes) {
            int rc = c < 0 ? tide_change_batch_push(changes, old[i], -1)
                           : tide_change_batch_push(changes, neu[j], +1);
            if (rc < 0) return rc;
        }
        if (c < 0)
            i++;
        else
            j++;
    }
    if (n) memmove(f->elems, f->elems + k, (size_t)n * sizeof *f->elems);
    f->len = n;
    return TIDE_OK;
}

int tide_mutable_antichain_update_iter(tide_mutable_antichain *m, const tide_time_delta *upd,
                                       uint32_t n, tide_change_batch *changes)
{
    /*
     * Every update is judged against the frontier as it was before the batch.
     * The frontier cannot move when each update is either
     *   - strictly beyond some frontier element f (f stays positive, since
     *     an update at f itself would not be strictly beyond anything in an
     *     antichain, so t stays dominated whatever its count), or
     *   - an increment at a frontier element (already positive, stays so),
     *   - a decrement at a time not beyond the frontier (its count was <= 0,
     *     otherwise some frontier element would be <= it, and stays so).
     * Anything else may change it, and we recompute from the counts. Given
     * "not strictly beyond", "at or beyond" means "equal to an element".
     */
    bool dirty = false;
    for (uint32_t i = 0; i < n; i++) {
        tide_time t = upd[i].time;
        int64_t d = upd[i].delta;
        if (d == 0) continue;
        if (!dirty && !tide_antichain_less_than(&m->frontier, t))
            dirty = (d > 0) != tide_antichain_less_equal(&m->frontier, t);
        TIDE_TRY(tide_change_batch_push(&m->counts, t, d));
    }
    return dirty ? rebuild(m, changes) : TIDE_OK;
}

int64_t tide_mutable_antichain_count(tide_mutable_antichain *m, tide_time t)
{
    tide_change_batch_compact(&m->counts);
    uint32_t lo = 0, hi = m->counts.len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = tide_time_cmp(m->counts.updates[mid].time, t);
        if (c == 0) return m->counts.updates[mid].delta;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}
