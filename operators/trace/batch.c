/*
 * batch.c - immutable trace batches: the three-level trie (keys -> vals ->
 * (time, diff)), its builder, and the merge of two adjacent batches with
 * logical compaction.
 *
 * Invariants of a finished batch: keys distinct and sorted by
 * tide_bytes_cmp; each key owns >= 1 val, distinct and sorted; each val owns
 * >= 1 update, times distinct and sorted by tide_time_cmp, diffs non-zero.
 * A fixed-width column stores no offsets. Every array is sized before the
 * first push, so building cannot fail halfway (see trace_int.h). A merge
 * whose exact sum of some (key, val, time) leaves int64 builds to the end
 * and is then dropped: TIDE_ERANGE (diff.h), the spine unchanged.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

/* ======================================================================== */
/* Frontier and update helpers                                              */
/* ======================================================================== */

bool tide__frontier_le(const tide_antichain *a, const tide_antichain *b)
{
    for (uint32_t i = 0; i < b->len; i++)
        if (!tide_antichain_less_equal(a, b->elems[i])) return false;
    return true;
}

int tide__frontier_zero(tide_antichain *a)
{
    tide_antichain_clear(a);
    int rc = tide_antichain_insert(a, TIDE_TIME_ZERO);
    return rc < 0 ? rc : TIDE_OK;
}

/* Sort, sum equal times exactly, drop zeros (tide__upds_consolidate's
 * slow path, kept out of line so that the callers' loops stay small). */
static __attribute__((noinline)) uint32_t upds_sum(tide_time_delta *u, uint32_t n, bool *ovf)
{
    tide_time_delta_sort(u, n);
    uint32_t w = 0;
    int64_t wraps = 0; /* OR of every time's wraps: stays in a register */
    for (uint32_t r = 0; r < n;) {
        tide_time t = u[r].time;
        tide__diff_sum acc = {u[r++].delta, 0};
        while (r < n && tide_time_eq(u[r].time, t)) tide__diff_sum_add(&acc, u[r++].delta);
        wraps |= acc.wraps;
        if (acc.v != 0) u[w++] = (tide_time_delta){t, acc.v};
    }
    if (TIDE__UNLIKELY(wraps != 0)) *ovf = true;
    return w;
}

static inline __attribute__((always_inline)) uint32_t upds_consolidate(tide_time_delta *u,
                                                                       uint32_t n, bool *ovf)
{
    /* Fast path: already strictly sorted and free of zeros (the common case
     * when advancing did not reorder anything). */
    uint32_t i = 0;
    while (i < n && u[i].delta != 0 && (i == 0 || tide_time_cmp(u[i - 1].time, u[i].time) < 0)) i++;
    if (i == n) return n;
    return upds_sum(u, n, ovf);
}

uint32_t tide__upds_consolidate(tide_time_delta *u, uint32_t n, bool *ovf)
{
    return upds_consolidate(u, n, ovf);
}

/* ======================================================================== */
/* Lifetime                                                                 */
/* ======================================================================== */

static void batch_free(tide_trace_batch *b)
{
    if (!b) return;
    tide_antichain_fini(&b->lower);
    tide_antichain_fini(&b->upper);
    tide_antichain_fini(&b->since);
    tide_free(b->keys.bytes);
    tide_free(b->keys.offs);
    tide_free(b->key_vals);
    tide_free(b->vals.bytes);
    tide_free(b->vals.offs);
    tide_free(b->val_upds);
    tide_free(b->upds);
    tide_free(b->fence);
    tide_free(b);
}

tide_trace_batch *tide_trace_batch_ref(tide_trace_batch *b)
{
    b->refs++;
    return b;
}

void tide_trace_batch_unref(tide_trace_batch *b)
{
    if (!b) return;
    assert(b->refs > 0);
    if (--b->refs == 0) batch_free(b);
}

uint64_t tide__key_heap(const tide_trace_batch *b)
{
    return b->keys.width == TIDE_VAR ? b->keys.offs[b->nkeys] : 0;
}

uint64_t tide__val_heap(const tide_trace_batch *b)
{
    return b->vals.width == TIDE_VAR ? b->vals.offs[b->nvals] : 0;
}

/* ======================================================================== */
/* Builder                                                                  */
/* ======================================================================== */

/* Allocate a column for @n records (+ @heap bytes when variable). */
static int col_init(tide_trace_col *c, uint32_t width, uint32_t n, uint64_t heap)
{
    c->width = width;
    if (width != TIDE_VAR) {
        c->bytes = tide_alloc((size_t)n * width);
        return c->bytes ? TIDE_OK : TIDE_ENOMEM;
    }
    if (heap > UINT32_MAX) return TIDE_ENOMEM; /* offsets are u32 */
    c->bytes = tide_alloc(heap);
    c->offs = tide_alloc(((size_t)n + 1) * sizeof *c->offs);
    if (!c->bytes || !c->offs) return TIDE_ENOMEM;
    c->offs[0] = 0;
    return TIDE_OK;
}

static int copy_frontier(tide_antichain *dst, const tide_antichain *src)
{
    if (src) return tide_antichain_copy(dst, src);
    return tide__frontier_zero(dst);
}

int tide__builder_init(tide__builder *bl, tide_layout layout, uint32_t nkeys, uint32_t nvals,
                       uint32_t nupds, uint64_t kheap, uint64_t vheap, const tide_antichain *lower,
                       const tide_antichain *upper, const tide_antichain *since)
{
    memset(bl, 0, sizeof *bl);
    tide_trace_batch *b = tide_calloc(1, sizeof *b);
    if (!b) return TIDE_ENOMEM;
    b->refs = 1;
    b->layout = layout;
    tide_antichain_init(&b->lower);
    tide_antichain_init(&b->upper);
    tide_antichain_init(&b->since);
    if (copy_frontier(&b->lower, lower) < 0 || copy_frontier(&b->upper, upper) < 0 ||
        copy_frontier(&b->since, since) < 0)
        goto fail;
    if (col_init(&b->keys, layout.key_width, nkeys, kheap) < 0) goto fail;
    if (col_init(&b->vals, layout.val_width, nvals, vheap) < 0) goto fail;
    b->key_vals = tide_alloc(((size_t)nkeys + 1) * sizeof *b->key_vals);
    b->val_upds = tide_alloc(((size_t)nvals + 1) * sizeof *b->val_upds);
    b->upds = tide_alloc((size_t)nupds * sizeof *b->upds);
    if (!b->key_vals || !b->val_upds || !b->upds) goto fail;
    b->key_vals[0] = 0;
    b->val_upds[0] = 0;
    bl->b = b;
    bl->kheap_cap = (uint32_t)kheap;
    bl->vheap_cap = (uint32_t)vheap;
    return TIDE_OK;
fail:
    batch_free(b);
    return TIDE_ENOMEM;
}

static inline void col_put(tide_trace_col *c, uint32_t i, const uint8_t *p, uint32_t len)
{
    if (c->width != TIDE_VAR) {
        assert(len == c->width);
        if (len == 8) /* the common integer column: a constant-size copy */
            memcpy(c->bytes + (size_t)i * 8, p, 8);
        else if (len)
            memcpy(c->bytes + (size_t)i * len, p, len);
        return;
    }
    uint32_t off = c->offs[i];
    if (len) memcpy(c->bytes + off, p, len);
    c->offs[i + 1] = off + len;
}

void tide__builder_key(tide__builder *bl, const uint8_t *key, uint32_t klen)
{
    assert(!bl->key_open);
    assert(bl->b->keys.width != TIDE_VAR || bl->b->keys.offs[bl->b->nkeys] + klen <= bl->kheap_cap);
    col_put(&bl->b->keys, bl->b->nkeys, key, klen);
    bl->key_open = true;
}

void tide__builder_val(tide__builder *bl, const uint8_t *val, uint32_t vlen)
{
    assert(bl->key_open && !bl->val_open);
    assert(bl->b->vals.width != TIDE_VAR || bl->b->vals.offs[bl->b->nvals] + vlen <= bl->vheap_cap);
    col_put(&bl->b->vals, bl->b->nvals, val, vlen);
    bl->val_open = true;
}

void tide__builder_end_val(tide__builder *bl, bool consolidate)
{
    tide_trace_batch *b = bl->b;
    assert(bl->val_open);
    uint32_t start = b->val_upds[b->nvals];
    if (consolidate)
        b->nupds = start + upds_consolidate(b->upds + start, b->nupds - start, &bl->overflow);
    if (b->nupds > start) {
        b->val_upds[b->nvals + 1] = b->nupds;
        b->nvals++;
    }
    bl->val_open = false;
}

void tide__builder_end_key(tide__builder *bl)
{
    tide_trace_batch *b = bl->b;
    assert(bl->key_open && !bl->val_open);
    if (b->nvals > b->key_vals[b->nkeys]) {
        b->key_vals[b->nkeys + 1] = b->nvals;
        b->nkeys++;
    }
    bl->key_open = false;
}

static inline bool col_eq(const tide_trace_col *c, uint32_t i, const uint8_t *p, uint32_t len)
{
    uint32_t l;
    const uint8_t *q = tide_trace_col_get(c, i, &l);
    if (l != len) return false;
    if (len == 8) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, q, 8);
        return x == y;
    }
    return len == 0 || memcmp(p, q, len) == 0;
}

void tide__builder_push(tide__builder *bl, const uint8_t *key, uint32_t klen, const uint8_t *val,
                        uint32_t vlen, tide_time t, int64_t d)
{
    tide_trace_batch *b = bl->b;
    if (bl->key_open && col_eq(&b->keys, b->nkeys, key, klen)) {
        if (!col_eq(&b->vals, b->nvals, val, vlen)) {
            tide__builder_end_val(bl, false);
            tide__builder_val(bl, val, vlen);
        }
    } else {
        if (bl->val_open) tide__builder_end_val(bl, false);
        if (bl->key_open) tide__builder_end_key(bl);
        tide__builder_key(bl, key, klen);
        tide__builder_val(bl, val, vlen);
    }
    assert(b->nupds == b->val_upds[b->nvals] || tide_time_cmp(b->upds[b->nupds - 1].time, t) < 0);
    tide__builder_upd(bl, t, d);
}

/* Give back the tail of an array when less than 3/4 of it is used. A failed
 * shrink keeps the larger block, which is harmless. */
static void shrink(void **p, size_t used, size_t cap)
{
    if (used * 4 >= cap * 3) return;
    void *q = tide_realloc(*p, used);
    if (q) *p = q;
}

void tide__fence_build(tide_trace_batch *b)
{
    if (b->nkeys < TIDE__FENCE_MIN || b->fence) return;
    uint32_t n = (b->nkeys + TIDE__FENCE_STRIDE - 1) / TIDE__FENCE_STRIDE;
    b->fence = tide_alloc((size_t)n * sizeof *b->fence);
    if (b->fence == NULL) return;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t l;
        const uint8_t *k = tide_trace_col_get(&b->keys, j * TIDE__FENCE_STRIDE, &l);
        b->fence[j] = tide_bytes_prefix(k, l);
    }
    b->nfence = n;
}

tide_trace_batch *tide__builder_finish(tide__builder *bl)
{
    if (bl->val_open) tide__builder_end_val(bl, false);
    if (bl->key_open) tide__builder_end_key(bl);
    tide_trace_batch *b = bl->b;
    bl->b = NULL;
    tide__fence_build(b);
    return b;
}

void tide__builder_abort(tide__builder *bl)
{
    batch_free(bl->b);
    bl->b = NULL;
}

/* Trim a finished batch whose arrays were sized for @cap_* records. */
static void trim(tide_trace_batch *b, uint32_t kcap, uint32_t vcap, uint32_t ucap, uint64_t kheap,
                 uint64_t vheap)
{
    size_t us = sizeof *b->upds;
    shrink((void **)&b->upds, (size_t)b->nupds * us, (size_t)ucap * us);
    shrink((void **)&b->val_upds, ((size_t)b->nvals + 1) * 4, ((size_t)vcap + 1) * 4);
    shrink((void **)&b->key_vals, ((size_t)b->nkeys + 1) * 4, ((size_t)kcap + 1) * 4);
    if (b->keys.width == TIDE_VAR) {
        shrink((void **)&b->keys.offs, ((size_t)b->nkeys + 1) * 4, ((size_t)kcap + 1) * 4);
        shrink((void **)&b->keys.bytes, b->keys.offs[b->nkeys], kheap);
    } else {
        size_t w = b->keys.width;
        shrink((void **)&b->keys.bytes, b->nkeys * w, kcap * w);
    }
    if (b->vals.width == TIDE_VAR) {
        shrink((void **)&b->vals.offs, ((size_t)b->nvals + 1) * 4, ((size_t)vcap + 1) * 4);
        shrink((void **)&b->vals.bytes, b->vals.offs[b->nvals], vheap);
    } else {
        size_t w = b->vals.width;
        shrink((void **)&b->vals.bytes, b->nvals * w, vcap * w);
    }
}

/* ======================================================================== */
/* Construction                                                             */
/* ======================================================================== */

int tide_trace_batch_empty(tide_layout layout, const tide_antichain *lower,
                           const tide_antichain *upper, const tide_antichain *since,
                           tide_trace_batch **out)
{
    tide__builder bl;
    *out = NULL;
    TIDE_TRY(tide__builder_init(&bl, layout, 0, 0, 0, 0, 0, lower, upper, since));
    *out = tide__builder_finish(&bl);
    return TIDE_OK;
}

int tide_trace_batch_from_updates(const tide_batch *src, const tide_antichain *lower,
                                  const tide_antichain *upper, const tide_antichain *since,
                                  tide_trace_batch **out)
{
    *out = NULL;
    if (!(src->flags & TIDE_BATCH_UPDATES)) return TIDE_EINVAL;
    uint32_t n = src->len;
    uint64_t kheap = src->key.width == TIDE_VAR ? src->key.offs[n] : 0;
    uint64_t vheap = src->val.width == TIDE_VAR ? src->val.offs[n] : 0;
    tide__builder bl;
    TIDE_TRY(tide__builder_init(&bl, src->layout, n, n, n, kheap, vheap, lower, upper, since));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(src, i, &kl);
        const uint8_t *v = tide_batch_val(src, i, &vl);
        if (src->diffs[i] == 0) continue;
        tide__builder_push(&bl, k, kl, v, vl, src->times[i], src->diffs[i]);
    }
    tide_trace_batch *b = tide__builder_finish(&bl);
    trim(b, n, n, n, kheap, vheap);
    *out = b;
    return TIDE_OK;
}

/* ======================================================================== */
/* Merge                                                                    */
/* ======================================================================== */

/* Append the updates of val @j of @x, advanced by @since. */
static inline void put_upds(tide__builder *bl, const tide_trace_batch *x, uint32_t j,
                            const tide_antichain *since, bool advance)
{
    for (uint32_t u = x->val_upds[j]; u < x->val_upds[j + 1]; u++) {
        tide_time t = advance ? tide__advance_by(x->upds[u].time, since) : x->upds[u].time;
        tide__builder_upd(bl, t, x->upds[u].delta);
    }
}

/* Append records [i0, i0 + n) of column @src to column @dst at index @at. */
static void col_copy(tide_trace_col *dst, uint32_t at, const tide_trace_col *src, uint32_t i0,
                     uint32_t n)
{
    if (n == 0) return;
    if (src->width != TIDE_VAR) {
        memcpy(dst->bytes + (size_t)at * src->width, src->bytes + (size_t)i0 * src->width,
               (size_t)n * src->width);
        return;
    }
    uint32_t from = src->offs[i0], base = dst->offs[at];
    memcpy(dst->bytes + base, src->bytes + from, src->offs[i0 + n] - from);
    for (uint32_t i = 1; i <= n; i++) dst->offs[at + i] = base + (src->offs[i0 + i] - from);
}

/*
 * copy_vals - append vals [@v0, @v1) of @x under the open key, with times
 * advanced by @since when @advance. Without advancing, vals and updates are
 * copied whole, offsets rebased. With it, times change one by one, and only
 * a val with several updates can consolidate (a single update stays itself,
 * non-zero), so only those take the sorting path.
 */
static void copy_vals(tide__builder *bl, const tide_trace_batch *x, uint32_t v0, uint32_t v1,
                      const tide_antichain *since, bool advance)
{
    tide_trace_batch *b = bl->b;
    if (!advance) {
        uint32_t u0 = x->val_upds[v0], u1 = x->val_upds[v1];
        col_copy(&b->vals, b->nvals, &x->vals, v0, v1 - v0);
        for (uint32_t v = v0; v < v1; v++)
            b->val_upds[b->nvals + 1 + (v - v0)] = b->nupds + (x->val_upds[v + 1] - u0);
        memcpy(b->upds + b->nupds, x->upds + u0, (size_t)(u1 - u0) * sizeof *b->upds);
        b->nvals += v1 - v0;
        b->nupds += u1 - u0;
        return;
    }
    for (uint32_t v = v0; v < v1; v++) {
        uint32_t start = b->nupds, u0 = x->val_upds[v], u1 = x->val_upds[v + 1];
        for (uint32_t u = u0; u < u1; u++)
            b->upds[b->nupds++] =
                (tide_time_delta){tide__advance_by(x->upds[u].time, since), x->upds[u].delta};
        if (u1 - u0 > 1)
            b->nupds = start + upds_consolidate(b->upds + start, u1 - u0, &bl->overflow);
        if (b->nupds == start) continue;
        uint32_t l;
        const uint8_t *p = tide_trace_col_get(&x->vals, v, &l);
        col_put(&b->vals, b->nvals, p, l);
        b->val_upds[++b->nvals] = b->nupds;
    }
}

/* copy_keys - append keys [@k0, @k1) of @x, which the other merge input
 * lacks (see copy_vals); without advancing, the keys are copied whole too. */
static void copy_keys(tide__builder *bl, const tide_trace_batch *x, uint32_t k0, uint32_t k1,
                      const tide_antichain *since, bool advance)
{
    tide_trace_batch *b = bl->b;
    if (!advance) {
        uint32_t v0 = x->key_vals[k0];
        col_copy(&b->keys, b->nkeys, &x->keys, k0, k1 - k0);
        for (uint32_t k = k0; k < k1; k++)
            b->key_vals[b->nkeys + 1 + (k - k0)] = b->nvals + (x->key_vals[k + 1] - v0);
        b->nkeys += k1 - k0;
        copy_vals(bl, x, v0, x->key_vals[k1], since, false);
        return;
    }
    for (uint32_t k = k0; k < k1; k++) {
        uint32_t nv = b->nvals;
        copy_vals(bl, x, x->key_vals[k], x->key_vals[k + 1], since, true);
        if (b->nvals == nv) continue;
        uint32_t l;
        const uint8_t *p = tide_trace_col_get(&x->keys, k, &l);
        col_put(&b->keys, b->nkeys, p, l);
        b->key_vals[++b->nkeys] = b->nvals;
    }
}

/* The end of the run of keys of @x from @k that are below (@p, @len), the
 * other batch's current key (NULL: it has none left). Runs are short when
 * keys interleave, so the next key is checked before galloping. */
static inline uint32_t key_run(const tide_trace_batch *x, uint32_t k, const uint8_t *p,
                               uint32_t len)
{
    if (p == NULL) return x->nkeys;
    k++;
    if (k < x->nkeys && tide__col_cmp(&x->keys, k, p, len) < 0)
        k = tide__batch_seek_key(x, k, p, len);
    return k;
}

/* The end of the run of vals of @x from @v (< @ve) that are below (@p, @len). */
static inline uint32_t val_run(const tide_trace_batch *x, uint32_t v, uint32_t ve, const uint8_t *p,
                               uint32_t len)
{
    v++;
    if (v < ve && tide__col_cmp(&x->vals, v, p, len) < 0)
        v = tide__col_gallop(&x->vals, v, ve, p, len);
    return v;
}

int tide__batch_merge(const tide_trace_batch *a, const tide_trace_batch *b,
                      const tide_antichain *since, tide_trace_batch **out)
{
    *out = NULL;
    uint32_t kcap = a->nkeys + b->nkeys, vcap = a->nvals + b->nvals, ucap = a->nupds + b->nupds;
    uint64_t kheap = tide__key_heap(a) + tide__key_heap(b);
    uint64_t vheap = tide__val_heap(a) + tide__val_heap(b);
    tide__builder bl;
    TIDE_TRY(tide__builder_init(&bl, a->layout, kcap, vcap, ucap, kheap, vheap, &a->lower,
                                &b->upper, since));
    bool advance = !tide__frontier_is_zero(since);

    uint32_t i = 0, j = 0;
    while (i < a->nkeys || j < b->nkeys) {
        uint32_t al = 0, bl_ = 0;
        const uint8_t *ak = i < a->nkeys ? tide_trace_batch_key(a, i, &al) : NULL;
        const uint8_t *bk = j < b->nkeys ? tide_trace_batch_key(b, j, &bl_) : NULL;
        int c = !ak ? 1 : !bk ? -1 : tide_bytes_cmp(ak, al, bk, bl_);
        if (c < 0) { /* a run of keys only a has: up to b's key */
            uint32_t e = key_run(a, i, bk, bl_);
            copy_keys(&bl, a, i, e, since, advance);
            i = e;
            continue;
        }
        if (c > 0) {
            uint32_t e = key_run(b, j, ak, al);
            copy_keys(&bl, b, j, e, since, advance);
            j = e;
            continue;
        }
        /* Same key: merge the two val lists, runs of one side in bulk. */
        tide__builder_key(&bl, ak, al);
        uint32_t x = a->key_vals[i], xe = a->key_vals[i + 1];
        uint32_t y = b->key_vals[j], ye = b->key_vals[j + 1];
        while (x < xe && y < ye) {
            uint32_t xl, yl;
            const uint8_t *xv = tide_trace_batch_val(a, x, &xl);
            const uint8_t *yv = tide_trace_batch_val(b, y, &yl);
            int cv = tide_bytes_cmp(xv, xl, yv, yl);
            if (cv < 0) {
                uint32_t e = val_run(a, x, xe, yv, yl);
                copy_vals(&bl, a, x, e, since, advance);
                x = e;
            } else if (cv > 0) {
                uint32_t e = val_run(b, y, ye, xv, xl);
                copy_vals(&bl, b, y, e, since, advance);
                y = e;
            } else {
                tide__builder_val(&bl, xv, xl);
                put_upds(&bl, a, x, since, advance);
                put_upds(&bl, b, y, since, advance);
                tide__builder_end_val(&bl, true);
                x++;
                y++;
            }
        }
        copy_vals(&bl, a, x, xe, since, advance);
        copy_vals(&bl, b, y, ye, since, advance);
        tide__builder_end_key(&bl);
        i++;
        j++;
    }
    if (TIDE__UNLIKELY(bl.overflow)) {
        tide__builder_abort(&bl);
        return TIDE_ERANGE;
    }
    tide_trace_batch *m = tide__builder_finish(&bl);
    trim(m, kcap, vcap, ucap, kheap, vheap);
    *out = m;
    return TIDE_OK;
}
