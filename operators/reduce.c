/*
 * reduce.c - group-wise reduction of an arrangement, correct under partially
 * ordered times (differential's reduce).
 *
 * Depends on the trace layer (input trace read by a reader, output kept in
 * a trace of our own) and on arrangement announcements (reduce.h).
 *
 * Invariant: for every key and every time t not beyond the last processed
 * input frontier F, the output trace's accumulation at t equals fn applied
 * to the input accumulation at t (the empty output for an empty input).
 *
 * How, per key: input and output accumulations are piecewise constant; they
 * can only change at the lattice joins of their update times. When new
 * input arrives at times N, the output may have to change at every join of
 * some n in N with any times of the key's input and output updates (the
 * "interesting times"). Those not beyond the input frontier are processed
 * in an order that extends the partial order (tide_time_cmp): at each, the
 * desired output fn(input at t) is compared with the output accumulated at
 * t (the trace plus what this round emitted before) and the difference is
 * emitted at t. Interesting times still beyond the frontier stay pending for
 * the key, with capabilities held at their minimal elements, and are
 * processed (with their own joins) when the frontier passes them. With
 * totally ordered times this is "recompute the key where its input changed".
 *
 *   announcements --> pending (key, time) --frontier F advances--> ready keys
 *        |                                                   |
 *   input trace (reader at F) ----- cursor ---------------> process_key
 *   output trace (reader at F) ---- cursor ---------------> process_key
 *                                                            | diffs at t
 *                        output trace <-- tide__reduce_emit <-+--> announcements
 */
#define _GNU_SOURCE
#include "tide/snapshot.h"
#include "reduce.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "arrange.h"
#include "diff.h"
#include "trace/trace_int.h"
#include "tide/alloc.h"
#include "worker.h"

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

/* Sort @n times and drop duplicates; returns the new count. */
static uint32_t times_sort_unique(tide_time *t, uint32_t n)
{
    if (n < 2) return n;
    tide_time_sort(t, n);
    uint32_t m = 1;
    for (uint32_t i = 1; i < n; i++)
        if (!tide_time_eq(t[i], t[m - 1])) t[m++] = t[i];
    return m;
}

static bool frontier_eq(const tide_antichain *a, const tide_antichain *b)
{
    return tide_antichain_eq(a, b);
}

/* ======================================================================== */
/* Reduction output (tide_reduce_out)                                        */
/* ======================================================================== */

typedef struct rout_ent {
    uint32_t off, len; /* into the heap */
    int64_t diff;
} rout_ent;

struct tide_reduce_out {
    uint32_t width; /* output value width, or TIDE_VAR */
    rout_ent *ents;
    uint32_t n, cap;
    uint8_t *heap;
    uint32_t heap_len, heap_cap;
    int rc; /* first error of a push */
};

int tide_reduce_push(tide_reduce_out *out, const void *val, uint32_t len, int64_t diff)
{
    if (out->width != TIDE_VAR && len != out->width) {
        if (out->rc == 0) out->rc = TIDE_EINVAL;
        return TIDE_EINVAL;
    }
    if (diff == 0) return TIDE_OK;
    if (tide__grow(&out->ents, &out->cap, sizeof *out->ents, (size_t)out->n + 1) < 0 ||
        tide__grow(&out->heap, &out->heap_cap, 1, (size_t)out->heap_len + len) < 0) {
        if (out->rc == 0) out->rc = TIDE_ENOMEM;
        return TIDE_ENOMEM;
    }
    if (len) memcpy(out->heap + out->heap_len, val, len);
    out->ents[out->n++] = (rout_ent){out->heap_len, len, diff};
    out->heap_len += len;
    return TIDE_OK;
}

tide_reduce_out *tide__reduce_out_new(uint32_t val_width)
{
    tide_reduce_out *o = tide_calloc(1, sizeof *o);
    if (o) o->width = val_width;
    return o;
}

void tide__reduce_out_free(tide_reduce_out *o)
{
    if (o == NULL) return;
    tide_free(o->ents);
    tide_free(o->heap);
    tide_free(o);
}

void tide__reduce_out_clear(tide_reduce_out *o)
{
    o->n = 0;
    o->heap_len = 0;
    o->rc = 0;
}

uint32_t tide__reduce_out_len(const tide_reduce_out *o)
{
    return o->n;
}

const uint8_t *tide__reduce_out_get(const tide_reduce_out *o, uint32_t i, uint32_t *len,
                                    int64_t *diff)
{
    *len = o->ents[i].len;
    *diff = o->ents[i].diff;
    return o->heap + o->ents[i].off;
}

int tide__reduce_out_rc(const tide_reduce_out *o)
{
    return o->rc;
}

void tide__reduce_out_fail(tide_reduce_out *o, int code)
{
    if (o->rc == 0) o->rc = code;
}

/* ======================================================================== */
/* Operator state                                                           */
/* ======================================================================== */

/* A pending (key, time): the key's bytes live in the pending heap; kpre is
 * their first 8 bytes (big-endian, zero-padded), which decides most
 * comparisons when sorting. */
typedef struct pend {
    uint32_t koff, klen;
    tide_time t;
    uint64_t kpre;
} pend;

/* A value of the current key in one trace batch, with its updates (borrowed
 * from the batch). After gathering, the ranges of a key are sorted by value;
 * @cont marks a range whose value equals the previous range's (the same
 * value in another batch). */
typedef struct vrange {
    const uint8_t *p;
    uint32_t len;
    uint32_t n; /* updates at u[0 .. n) */
    const tide_time_delta *u;
    uint64_t pre; /* first 8 bytes of the value, big-endian, zero-padded */
    bool cont;
} vrange;

/* A snapshot of a trace for one round: its non-empty batches (one reference
 * each) and, per batch, the first key not yet passed. Keys are visited in
 * increasing order, so each batch is searched forward from where the
 * previous key left it (galloping): a round costs O(k log(n / k)) per batch
 * for k keys, not k full searches. */
typedef struct snap {
    tide_trace_batch **b;
    uint32_t *ki;
    uint32_t n, cap;
} snap;

/* A value with a multiplicity (pointer-based, for merging). */
typedef struct vdiff {
    const uint8_t *p;
    uint32_t len;
    int64_t d;
} vdiff;

/* An update emitted this round for the current key. */
typedef struct lemit {
    uint32_t off, len; /* into lheap */
    tide_time t;
    int64_t d;
} lemit;

/* Open-addressing set of times, cleared in O(1) by a generation stamp. */
typedef struct tset {
    tide_time *slot;
    uint32_t *gen;
    uint32_t cap, n, cur;
} tset;

typedef struct reduce_state {
    tide_op *op;                  /* this operator (for errors naming it) */
    tide_trace_reader *in_reader; /* holds the input trace back to F */
    tide_trace *out_trace;        /* owner reference */
    tide_trace_reader *out_reader;
    uint32_t trace_depth; /* depth of the input trace's times */
    tide_layout in_layout, out_layout;
    tide_reduce_fn fn;
    void *ctx;
    tide_antichain done;      /* F of the last processed round */
    tide_antichain caps;      /* capabilities held (min of pending) */
    tide_antichain scratch_f; /* scratch frontier */
    /* Pending (key, time) pairs and their key heap; double-buffered. */
    pend *pend, *pend2;
    uint32_t npend, pend_cap, npend2, pend2_cap;
    uint8_t *heap, *heap2;
    uint32_t heap_len, heap_cap, heap2_len, heap2_cap;
    snap isnap, osnap; /* this round's input and output traces */
    /* Per-key scratch. */
    vrange *ivals, *ovals, *vtmp;
    uint32_t nivals, ivals_cap, novals, ovals_cap, vtmp_cap;
    uint32_t *runs; /* scratch: where each batch's ranges start */
    uint32_t runs_cap;
    tide_time meet; /* meet of the key's ready times (when has_meet) */
    bool has_meet;
    tide_time *etimes; /* times of the key's updates and pending */
    uint32_t netimes, etimes_cap;
    tide_time *ready; /* the key's pending times not beyond F */
    uint32_t ready_cap;
    tide_time *itimes; /* interesting times (closure) */
    uint32_t nitimes, itimes_cap;
    tset seen;
    tide_val_diff *vd;
    uint32_t vd_cap;
    vdiff *cur, *des;
    uint32_t cur_cap, des_cap;
    lemit *lem;
    uint32_t nlem, lem_cap;
    uint8_t *lheap;
    uint32_t lheap_len, lheap_cap;
    tide_reduce_out rout;
} reduce_state;

/* ======================================================================== */
/* Trace snapshots                                                          */
/* ======================================================================== */

static void snap_drop(snap *s)
{
    for (uint32_t i = 0; i < s->n; i++) tide_trace_batch_unref(s->b[i]);
    s->n = 0;
}

/* snap_take - the non-empty batches of @r's trace, searches at their start. */
static int snap_take(snap *s, tide_trace_reader *r)
{
    snap_drop(s);
    tide_spine *sp = tide_trace_spine(tide_trace_reader_trace(r));
    uint32_t n = tide_spine_batches(sp);
    if (n > s->cap) {
        tide_trace_batch **b = tide_realloc(s->b, (size_t)n * sizeof *b);
        if (b == NULL) return TIDE_ENOMEM;
        s->b = b;
        uint32_t *ki = tide_realloc(s->ki, (size_t)n * sizeof *ki);
        if (ki == NULL) return TIDE_ENOMEM;
        s->ki = ki;
        s->cap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        tide_trace_batch *b = tide_spine_batch(sp, i);
        if (b->nkeys == 0) continue;
        s->b[s->n] = tide_trace_batch_ref(b);
        s->ki[s->n++] = 0;
    }
    return TIDE_OK;
}

static void state_free(void *p)
{
    reduce_state *st = p;
    if (st == NULL) return;
    tide_trace_reader_free(st->in_reader);
    tide_trace_reader_free(st->out_reader);
    tide_trace_unref(st->out_trace);
    tide_antichain_fini(&st->done);
    tide_antichain_fini(&st->caps);
    tide_antichain_fini(&st->scratch_f);
    tide_free(st->pend);
    tide_free(st->pend2);
    tide_free(st->heap);
    tide_free(st->heap2);
    snap_drop(&st->isnap);
    snap_drop(&st->osnap);
    tide_free(st->isnap.b);
    tide_free(st->isnap.ki);
    tide_free(st->osnap.b);
    tide_free(st->osnap.ki);
    tide_free(st->ivals);
    tide_free(st->ovals);
    tide_free(st->vtmp);
    tide_free(st->runs);
    tide_free(st->etimes);
    tide_free(st->itimes);
    tide_free(st->ready);
    tide_free(st->seen.slot);
    tide_free(st->seen.gen);
    tide_free(st->vd);
    tide_free(st->cur);
    tide_free(st->des);
    tide_free(st->lem);
    tide_free(st->lheap);
    tide_free(st->rout.ents);
    tide_free(st->rout.heap);
    tide_free(st);
}

/* ======================================================================== */
/* Time sets                                                                */
/* ======================================================================== */

static uint64_t time_hash(tide_time t)
{
    uint64_t h = t.epoch * 0x9e3779b97f4a7c15ULL;
    h ^= ((uint64_t)t.iter[0] << 32 | t.iter[1]) * 0xc2b2ae3d27d4eb4fULL;
    return h ^ (h >> 29);
}

/* tset_reset - an empty set able to take @n members without rehashing. */
static int tset_reset(tset *s, uint32_t n)
{
    uint32_t want = 16;
    while (want < 2 * (uint64_t)n + 2) want *= 2;
    if (want > s->cap) {
        tide_time *slot = tide_alloc((size_t)want * sizeof *slot);
        uint32_t *gen = tide_calloc(want, sizeof *gen);
        if (!slot || !gen) {
            tide_free(slot);
            tide_free(gen);
            return TIDE_ENOMEM;
        }
        tide_free(s->slot);
        tide_free(s->gen);
        s->slot = slot;
        s->gen = gen;
        s->cap = want;
        s->cur = 0;
    }
    if (++s->cur == 0) { /* generation wrapped: clear for real */
        memset(s->gen, 0, (size_t)s->cap * sizeof *s->gen);
        s->cur = 1;
    }
    s->n = 0;
    return TIDE_OK;
}

/* tset_add - 1 if @t was new, 0 if present, TIDE_ENOMEM. */
static int tset_add(tset *s, tide_time t)
{
    if (2 * ((uint64_t)s->n + 1) > s->cap) {
        /* Rehash into a bigger table. */
        tset bigger = {0};
        if (tset_reset(&bigger, s->n + 1) < 0) return TIDE_ENOMEM;
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->gen[i] == s->cur) {
                uint32_t j = (uint32_t)time_hash(s->slot[i]) & (bigger.cap - 1);
                while (bigger.gen[j] == bigger.cur) j = (j + 1) & (bigger.cap - 1);
                bigger.gen[j] = bigger.cur;
                bigger.slot[j] = s->slot[i];
                bigger.n++;
            }
        tide_free(s->slot);
        tide_free(s->gen);
        *s = bigger;
    }
    uint32_t j = (uint32_t)time_hash(t) & (s->cap - 1);
    while (s->gen[j] == s->cur) {
        if (tide_time_eq(s->slot[j], t)) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->gen[j] = s->cur;
    s->slot[j] = t;
    s->n++;
    return 1;
}

/* ======================================================================== */
/* Pending (key, time) pairs                                                */
/* ======================================================================== */

static inline uint64_t key_prefix(const uint8_t *p, uint32_t len)
{
    return tide_bytes_prefix(p, len);
}

static int pend_push(reduce_state *st, const uint8_t *key, uint32_t klen, tide_time t)
{
    if (tide__grow(&st->pend, &st->pend_cap, sizeof *st->pend, (size_t)st->npend + 1) < 0 ||
        tide__grow(&st->heap, &st->heap_cap, 1, (size_t)st->heap_len + klen) < 0)
        return TIDE_ENOMEM;
    if (klen) memcpy(st->heap + st->heap_len, key, klen);
    st->pend[st->npend++] = (pend){st->heap_len, klen, t, key_prefix(key, klen)};
    st->heap_len += klen;
    return TIDE_OK;
}

/* Pending pairs of the next round, with one copy of each key. */
static int pend2_push(reduce_state *st, uint32_t koff, uint32_t klen, tide_time t, uint64_t kpre)
{
    if (tide__grow(&st->pend2, &st->pend2_cap, sizeof *st->pend2, (size_t)st->npend2 + 1) < 0)
        return TIDE_ENOMEM;
    st->pend2[st->npend2++] = (pend){koff, klen, t, kpre};
    return TIDE_OK;
}

static int pend2_key(reduce_state *st, const uint8_t *key, uint32_t klen, uint32_t *koff)
{
    if (tide__grow(&st->heap2, &st->heap2_cap, 1, (size_t)st->heap2_len + klen) < 0)
        return TIDE_ENOMEM;
    if (klen) memcpy(st->heap2 + st->heap2_len, key, klen);
    *koff = st->heap2_len;
    st->heap2_len += klen;
    return TIDE_OK;
}

static inline int pend_cmp(const pend *x, const pend *y, const uint8_t *h)
{
    if (x->kpre != y->kpre) return x->kpre < y->kpre ? -1 : 1;
    int c = tide_bytes_cmp(h + x->koff, x->klen, h + y->koff, y->klen);
    return c ? c : tide_time_cmp(x->t, y->t);
}

static void pend_swap(pend *a, pend *b)
{
    pend t = *a;
    *a = *b;
    *b = t;
}

/* Sort pending pairs by (key, time): quicksort (median of three, smaller
 * side recursed) with insertion sort below 16. */
static void pend_qsort(pend *a, size_t n, const uint8_t *h)
{
    while (n > 16) {
        size_t m = n / 2;
        if (pend_cmp(&a[m], &a[0], h) < 0) pend_swap(&a[m], &a[0]);
        if (pend_cmp(&a[n - 1], &a[m], h) < 0) {
            pend_swap(&a[n - 1], &a[m]);
            if (pend_cmp(&a[m], &a[0], h) < 0) pend_swap(&a[m], &a[0]);
        }
        pend pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (pend_cmp(&a[i], &pivot, h) < 0) i++;
            while (pend_cmp(&pivot, &a[j], h) < 0) j--;
            if (i >= j) break;
            pend_swap(&a[i], &a[j]);
            i++;
            j--;
        }
        size_t left = j + 1;
        if (left < n - left) {
            pend_qsort(a, left, h);
            a += left;
            n -= left;
        } else {
            pend_qsort(a + left, n - left, h);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        pend x = a[i];
        size_t j = i;
        while (j > 0 && pend_cmp(&a[j - 1], &x, h) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* pend_sort - sort st->pend. Pending pairs arrive as a few sorted runs
 * (those kept from the last round, then one per announced batch), so runs
 * are found first and, when there are few, merged pairwise (through
 * st->pend2 as scratch); many runs fall back to quicksort. */
static int pend_sort(reduce_state *st)
{
    pend *a = st->pend;
    uint32_t n = st->npend, runs[17], nr = 0;
    for (uint32_t i = 1; i < n && nr < 16; i++)
        if (pend_cmp(&a[i - 1], &a[i], st->heap) > 0) runs[++nr] = i;
    if (nr == 0) return TIDE_OK;
    if (nr >= 16) {
        pend_qsort(a, n, st->heap);
        return TIDE_OK;
    }
    runs[0] = 0;
    runs[++nr] = n;
    TIDE_TRY(tide__grow(&st->pend2, &st->pend2_cap, sizeof *st->pend2, n));
    pend *src = a, *dst = st->pend2;
    while (nr > 1) {
        uint32_t w = 0;
        for (uint32_t r = 0; r < nr; r += 2) {
            uint32_t lo = runs[r], mid = runs[r + 1], hi = r + 2 <= nr ? runs[r + 2] : mid;
            uint32_t i = lo, j = mid, k = lo;
            if (r + 1 < nr)
                while (i < mid && j < hi)
                    dst[k++] = pend_cmp(&src[j], &src[i], st->heap) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi && r + 1 < nr) dst[k++] = src[j++];
            runs[w++] = lo;
        }
        runs[w] = n;
        nr = w;
        pend *t = src;
        src = dst, dst = t;
    }
    if (src != st->pend) {
        /* The result is in pend2: trade the buffers. */
        st->pend2 = st->pend;
        st->pend = src;
        uint32_t c = st->pend_cap;
        st->pend_cap = st->pend2_cap, st->pend2_cap = c;
    }
    return TIDE_OK;
}

/* Add every (key, time) of trace batch @tb to the pending pairs. */
static int pend_add_batch(reduce_state *st, const tide_trace_batch *tb)
{
    for (uint32_t k = 0; k < tb->nkeys; k++) {
        uint32_t klen;
        const uint8_t *key = tide_trace_batch_key(tb, k, &klen);
        uint32_t first = st->npend;
        uint32_t u0 = tb->val_upds[tb->key_vals[k]], u1 = tb->val_upds[tb->key_vals[k + 1]];
        /* One copy of the key for all its times. */
        TIDE_TRY(pend_push(st, key, klen, tb->upds[u0].time));
        TIDE_TRY(
            tide__grow(&st->pend, &st->pend_cap, sizeof *st->pend, (size_t)st->npend + (u1 - u0)));
        pend *p0 = &st->pend[first];
        for (uint32_t u = u0 + 1; u < u1; u++) {
            tide_time t = tb->upds[u].time;
            /* Cheap dedup of the common "one time per key" case. */
            if (tide_time_eq(st->pend[st->npend - 1].t, t)) continue;
            pend x = *p0;
            x.t = t;
            /* Keep the key's times sorted (several values interleave them). */
            uint32_t j = st->npend++;
            while (j > first && tide_time_cmp(st->pend[j - 1].t, t) > 0) {
                st->pend[j] = st->pend[j - 1];
                j--;
            }
            st->pend[j] = x;
        }
    }
    return TIDE_OK;
}

/* Add every record of a plain UPDATES batch (a message without ext). */
static int pend_add_records(reduce_state *st, const tide_batch *b)
{
    if (!(b->flags & TIDE_BATCH_UPDATES)) return TIDE_EINVAL;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t klen;
        const uint8_t *key = tide_batch_key(b, i, &klen);
        TIDE_TRY(pend_push(st, key, klen, b->times[i]));
    }
    return TIDE_OK;
}

/* ======================================================================== */
/* Processing one key                                                       */
/* ======================================================================== */

/* Value order; the prefixes decide unless they tie, and a tie of two
 * values of equal length <= 8 is equality. */
static inline int vr_cmp(const vrange *a, const vrange *b)
{
    if (a->pre != b->pre) return a->pre < b->pre ? -1 : 1;
    if (a->len == b->len && a->len <= 8) return 0;
    return tide_bytes_cmp(a->p, a->len, b->p, b->len);
}

/* vr_merge_runs - sort @n ranges made of @nruns sorted runs starting at
 * @run[0..nruns) (run[nruns] == n) by value: merge adjacent runs pairwise,
 * O(n log nruns), ping-ponging between @a and @tmp (room for @n). Returns
 * the buffer that holds the result. Stable, so equal values keep their
 * batch order. */
static vrange *vr_merge_runs(vrange *a, vrange *tmp, uint32_t n, uint32_t *run, uint32_t nruns)
{
    while (nruns > 1) {
        uint32_t w = 0;
        for (uint32_t r = 0; r < nruns; r += 2) {
            uint32_t lo = run[r], mid = run[r + 1], hi = r + 2 <= nruns ? run[r + 2] : mid;
            if (r + 1 >= nruns) {
                memcpy(tmp + lo, a + lo, (size_t)(mid - lo) * sizeof *a);
            } else {
                uint32_t i = lo, j = mid, k = lo;
                while (i < mid && j < hi) tmp[k++] = vr_cmp(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
                while (i < mid) tmp[k++] = a[i++];
                while (j < hi) tmp[k++] = a[j++];
            }
            run[w++] = lo;
        }
        run[w] = n;
        nruns = w;
        vrange *t = a;
        a = tmp, tmp = t;
    }
    return a;
}

/* gather - every value range of @key in the batches of @s into @vals
 * (sorted by value; equal values from several batches adjacent, marked
 * cont), and the update times not below the meet of the ready times into
 * st->etimes (joining partners: a time <= that meet is <= every interesting
 * time, so joining with it changes nothing; with totally ordered times that
 * is nearly every old time). */
static int gather(reduce_state *st, snap *s, const uint8_t *key, uint32_t klen, vrange **vals,
                  uint32_t *nvals, uint32_t *vcap)
{
    uint32_t n = 0, hit = 0;
    TIDE_TRY(tide__grow(&st->runs, &st->runs_cap, sizeof *st->runs, (size_t)s->n + 1));
    for (uint32_t i = 0; i < s->n; i++) {
        const tide_trace_batch *b = s->b[i];
        uint32_t ki = s->ki[i] = tide__batch_seek_key(b, s->ki[i], key, klen);
        if (ki >= b->nkeys) continue;
        uint32_t l;
        const uint8_t *k = tide_trace_batch_key(b, ki, &l);
        if (tide_bytes_cmp(k, l, key, klen) != 0) continue;
        st->runs[hit++] = n;
        uint32_t v0 = tide__key_vals(b, ki), v1 = tide__key_vals(b, ki + 1);
        uint32_t u0 = tide__val_upds(b, v0), u1 = tide__val_upds(b, v1);
        TIDE_TRY(tide__grow(vals, vcap, sizeof **vals, (size_t)n + (v1 - v0)));
        TIDE_TRY(tide__grow(&st->etimes, &st->etimes_cap, sizeof *st->etimes,
                            (size_t)st->netimes + (u1 - u0)));
        for (uint32_t v = v0; v < v1; v++) {
            vrange *r = &(*vals)[n++];
            r->p = tide_trace_batch_val(b, v, &r->len);
            r->pre = key_prefix(r->p, r->len);
            r->n = tide__val_upds(b, v + 1) - tide__val_upds(b, v);
            r->u = b->upds + tide__val_upds(b, v);
            r->cont = false;
        }
        for (uint32_t u = u0; u < u1; u++)
            if (!st->has_meet || !tide_time_le(b->upds[u].time, st->meet))
                st->etimes[st->netimes++] = b->upds[u].time;
    }
    *nvals = n;
    if (hit > 1 && n > 1) {
        TIDE_TRY(tide__grow(&st->vtmp, &st->vtmp_cap, sizeof *st->vtmp, n));
        st->runs[hit] = n;
        vrange *sorted = vr_merge_runs(*vals, st->vtmp, n, st->runs, hit);
        if (sorted != *vals) {
            /* The result is in the scratch buffer: trade buffers. */
            st->vtmp = *vals;
            *vals = sorted;
            uint32_t c = st->vtmp_cap;
            st->vtmp_cap = *vcap, *vcap = c;
        }
        for (uint32_t i = 1; i < n; i++)
            (*vals)[i].cont = vr_cmp(&(*vals)[i], &(*vals)[i - 1]) == 0;
    }
    return TIDE_OK;
}

static inline int vdiff_cmp_i(const vdiff *x, const vdiff *y)
{
    return tide_bytes_cmp(x->p, x->len, y->p, y->len);
}

static int vdiff_cmp(const void *a, const void *b)
{
    return vdiff_cmp_i(a, b);
}

/* Sort @n entries by value, sum equal values, drop zeros; the new count,
 * or UINT32_MAX when a value's total leaves int64 (exact sums, diff.h).
 * The lists are short (a few output values): insertion sort below 16. */
static uint32_t vdiff_consolidate(vdiff *v, uint32_t n)
{
    if (n == 0) return 0;
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++) {
            vdiff x = v[i];
            uint32_t j = i;
            while (j > 0 && vdiff_cmp_i(&v[j - 1], &x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
    } else {
        qsort(v, n, sizeof *v, vdiff_cmp);
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n;) {
        tide__diff_sum d = {v[i].d, 0};
        uint32_t j = i + 1;
        for (; j < n && vdiff_cmp_i(&v[i], &v[j]) == 0; j++) tide__diff_sum_add(&d, v[j].d);
        if (!tide__diff_sum_ok(&d)) return UINT32_MAX;
        if (d.v != 0) {
            v[m] = v[i];
            v[m++].d = d.v;
        }
        i = j;
    }
    return m;
}

/* closure - the interesting times of a key: every join of a ready time
 * (from @ready, @nready) with any subset of st->etimes (deduplicated
 * already), into st->itimes. */
static int closure(reduce_state *st, const tide_time *ready, uint32_t nready)
{
    st->nitimes = 0;
    if (st->netimes == 0) {
        /* No partner: the ready times themselves (distinct already). */
        TIDE_TRY(tide__grow(&st->itimes, &st->itimes_cap, sizeof *st->itimes, nready));
        memcpy(st->itimes, ready, (size_t)nready * sizeof *ready);
        st->nitimes = nready;
        return TIDE_OK;
    }
    TIDE_TRY(tset_reset(&st->seen, nready + st->netimes));
    for (uint32_t i = 0; i < nready; i++) {
        int r = tset_add(&st->seen, ready[i]);
        if (r < 0) return r;
        if (r == 0) continue;
        TIDE_TRY(
            tide__grow(&st->itimes, &st->itimes_cap, sizeof *st->itimes, (size_t)st->nitimes + 1));
        st->itimes[st->nitimes++] = ready[i];
    }
    /* Worklist: itimes grows while we scan it. */
    for (uint32_t i = 0; i < st->nitimes; i++) {
        for (uint32_t j = 0; j < st->netimes; j++) {
            tide_time x = st->itimes[i], e = st->etimes[j];
            if (tide_time_le(e, x)) continue;
            tide_time y = tide_time_join(x, e);
            int r = tset_add(&st->seen, y);
            if (r < 0) return r;
            if (r == 0) continue;
            TIDE_TRY(tide__grow(&st->itimes, &st->itimes_cap, sizeof *st->itimes,
                                (size_t)st->nitimes + 1));
            st->itimes[st->nitimes++] = y;
        }
    }
    return TIDE_OK;
}

/* Add the @n updates @u at times <= @t to @s. */
static inline void acc_at(tide__diff_sum *s, const tide_time_delta *u, uint32_t n, tide_time t)
{
    for (uint32_t i = 0; i < n; i++)
        if (tide_time_le(u[i].time, t)) tide__diff_sum_add(s, u[i].delta);
}

/* The accumulation at @t of the value of @vals[*i] (summed over the ranges
 * of that value, which follow it marked cont); advances *i past them.
 * False when it leaves int64. */
static inline bool acc_val(const vrange *vals, uint32_t nvals, uint32_t *i, tide_time t,
                           int64_t *out)
{
    tide__diff_sum s = {0, 0};
    uint32_t j = *i;
    acc_at(&s, vals[j].u, vals[j].n, t);
    for (j++; j < nvals && vals[j].cont; j++) acc_at(&s, vals[j].u, vals[j].n, t);
    *i = j;
    *out = s.v;
    return tide__diff_sum_ok(&s);
}

static int overflow(reduce_state *st, const uint8_t *key, uint32_t klen, tide_time t,
                    const char *what)
{
    return tide__diff_overflow(st->op, key, klen, t, what);
}

/* process_time - make the output of the current key right at time @t:
 * emit (desired - accumulated) into @ob and the key's local emissions. */
static int process_time(reduce_state *st, const uint8_t *key, uint32_t klen, tide_time t,
                        tide_batch *ob)
{
    /* Input accumulation at t, per value (summed over its ranges). */
    TIDE_TRY(tide__grow(&st->vd, &st->vd_cap, sizeof *st->vd, st->nivals));
    uint32_t nvd = 0;
    for (uint32_t i = 0; i < st->nivals;) {
        const vrange *v = &st->ivals[i];
        int64_t s;
        if (!acc_val(st->ivals, st->nivals, &i, t, &s))
            return overflow(st, key, klen, t, "an input value's accumulated multiplicity");
        if (s != 0) st->vd[nvd++] = (tide_val_diff){v->p, v->len, s};
    }
    /* Desired output. */
    tide_reduce_out *ro = &st->rout;
    ro->n = 0;
    ro->heap_len = 0;
    ro->rc = 0;
    if (nvd > 0) st->fn(st->ctx, key, klen, st->vd, nvd, ro);
    if (ro->rc == TIDE_ERANGE)
        return overflow(st, key, klen, t, "the reduction's sum of multiplicities");
    if (ro->rc) return ro->rc;
    TIDE_TRY(tide__grow(&st->des, &st->des_cap, sizeof *st->des, ro->n));
    for (uint32_t i = 0; i < ro->n; i++)
        st->des[i] = (vdiff){ro->heap + ro->ents[i].off, ro->ents[i].len, ro->ents[i].diff};
    uint32_t ndes = vdiff_consolidate(st->des, ro->n);
    if (ndes == UINT32_MAX)
        return overflow(st, key, klen, t, "the multiplicities pushed for one output value");
    /* Output accumulated at t: the trace, plus this round's emissions. */
    TIDE_TRY(tide__grow(&st->cur, &st->cur_cap, sizeof *st->cur, (size_t)st->novals + st->nlem));
    uint32_t ncur = 0;
    for (uint32_t i = 0; i < st->novals;) {
        const vrange *v = &st->ovals[i];
        int64_t s;
        if (!acc_val(st->ovals, st->novals, &i, t, &s))
            return overflow(st, key, klen, t, "an output value's accumulated multiplicity");
        if (s != 0) st->cur[ncur++] = (vdiff){v->p, v->len, s};
    }
    for (uint32_t i = 0; i < st->nlem; i++)
        if (tide_time_le(st->lem[i].t, t))
            st->cur[ncur++] = (vdiff){st->lheap + st->lem[i].off, st->lem[i].len, st->lem[i].d};
    if (st->nlem > 0) ncur = vdiff_consolidate(st->cur, ncur);
    if (ncur == UINT32_MAX)
        return overflow(st, key, klen, t, "an output value's accumulated multiplicity");
    /* Emit desired - current, merging the two sorted lists. The emitted
     * values are copied to lheap first: des/cur may point into it, and it
     * may move, so stage the differences in des' spare room. */
    uint32_t i = 0, j = 0, first_lem = st->nlem;
    while (i < ndes || j < ncur) {
        int c = i == ndes ? 1 : j == ncur ? -1 : vdiff_cmp(&st->des[i], &st->cur[j]);
        const uint8_t *p;
        uint32_t len;
        int64_t d;
        if (c < 0) {
            p = st->des[i].p, len = st->des[i].len, d = st->des[i].d;
            i++;
        } else if (c > 0) {
            p = st->cur[j].p, len = st->cur[j].len;
            if (!tide__diff_sub(0, st->cur[j].d, &d))
                return overflow(st, key, klen, t, "retracting an output value");
            j++;
        } else {
            p = st->des[i].p, len = st->des[i].len;
            if (!tide__diff_sub(st->des[i].d, st->cur[j].d, &d))
                return overflow(st, key, klen, t, "the change of an output value");
            i++, j++;
        }
        if (d == 0) continue;
        TIDE_TRY(tide_batch_push_update(ob, key, klen, p, len, t, d));
        TIDE_TRY(tide__grow(&st->lem, &st->lem_cap, sizeof *st->lem, (size_t)st->nlem + 1));
        /* Remember the offset only; copy the bytes once the merge is done. */
        st->lem[st->nlem++] = (lemit){UINT32_MAX, len, t, d};
    }
    /* Copy the new emissions' values from the output batch (stable). */
    uint32_t k = ob->len - (st->nlem - first_lem);
    for (uint32_t e = first_lem; e < st->nlem; e++, k++) {
        uint32_t len;
        const uint8_t *p = tide_batch_val(ob, k, &len);
        TIDE_TRY(tide__grow(&st->lheap, &st->lheap_cap, 1, (size_t)st->lheap_len + len));
        if (len) memcpy(st->lheap + st->lheap_len, p, len);
        st->lem[e].off = st->lheap_len;
        st->lheap_len += len;
    }
    return TIDE_OK;
}

/*
 * process_key - key @key with pending times @pt[0..n) (sorted, distinct):
 * process its interesting times not beyond @f, keep the others pending.
 */
static int process_key(reduce_state *st, const uint8_t *key, uint32_t klen, uint64_t kpre,
                       const tide_time *pt, uint32_t n, const tide_antichain *f, tide_batch *ob)
{
    /* Ready pending times: those not beyond the frontier, and their meet. */
    TIDE_TRY(tide__grow(&st->ready, &st->ready_cap, sizeof *st->ready, n));
    uint32_t nready = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!tide_antichain_less_equal(f, pt[i])) {
            st->meet = nready ? tide_time_meet(st->meet, pt[i]) : pt[i];
            st->ready[nready++] = pt[i];
        }
    st->has_meet = nready > 0;
    st->netimes = 0;
    TIDE_TRY(gather(st, &st->isnap, key, klen, &st->ivals, &st->nivals, &st->ivals_cap));
    TIDE_TRY(gather(st, &st->osnap, key, klen, &st->ovals, &st->novals, &st->ovals_cap));
    /* Joining partners: update times and pending times (above the meet). */
    TIDE_TRY(tide__grow(&st->etimes, &st->etimes_cap, sizeof *st->etimes, (size_t)st->netimes + n));
    for (uint32_t i = 0; i < n; i++)
        if (!st->has_meet || !tide_time_le(pt[i], st->meet)) st->etimes[st->netimes++] = pt[i];
    st->netimes = times_sort_unique(st->etimes, st->netimes);
    TIDE_TRY(closure(st, st->ready, nready));
    /* Interesting times beyond the frontier, and pending ones, stay. */
    uint32_t koff = 0;
    bool keyed = false;
    for (uint32_t i = 0; i < st->nitimes + n; i++) {
        tide_time t = i < st->nitimes ? st->itimes[i] : pt[i - st->nitimes];
        if (!tide_antichain_less_equal(f, t)) continue;
        if (!keyed) {
            TIDE_TRY(pend2_key(st, key, klen, &koff));
            keyed = true;
        }
        TIDE_TRY(pend2_push(st, koff, klen, t, kpre));
        /* Keep the key's kept times sorted, so that the next round's
         * pending pairs form few sorted runs. */
        for (uint32_t j = st->npend2 - 1;
             j > 0 && st->pend2[j - 1].koff == koff && tide_time_cmp(st->pend2[j - 1].t, t) > 0;
             j--) {
            pend x = st->pend2[j];
            st->pend2[j] = st->pend2[j - 1];
            st->pend2[j - 1] = x;
        }
    }
    /* Process the complete ones in an order extending the partial order. */
    uint32_t m = 0;
    for (uint32_t i = 0; i < st->nitimes; i++)
        if (!tide_antichain_less_equal(f, st->itimes[i])) st->itimes[m++] = st->itimes[i];
    m = times_sort_unique(st->itimes, m);
    st->nlem = 0;
    st->lheap_len = 0;
    for (uint32_t i = 0; i < m; i++) TIDE_TRY(process_time(st, key, klen, st->itimes[i], ob));
    return TIDE_OK;
}

/* ======================================================================== */
/* Emitting output batches                                                  */
/* ======================================================================== */

int tide__reduce_emit(tide_op *op, uint32_t port, tide_trace *trace, const tide_antichain *caps,
                      const tide_antichain *upper, tide_batch *upd)
{
    int rc = TIDE_OK;
    uint32_t k = caps->len;
    tide_time *c = NULL;
    tide_batch **groups = NULL;
    tide_antichain lower, hi;
    tide_antichain_init(&lower);
    tide_antichain_init(&hi);
    tide_trace_batch *tb = NULL;
    const tide_antichain *spine_upper = tide_spine_upper(tide_trace_spine(trace));
    if (tide_antichain_eq(spine_upper, upper) && upd->len == 0) goto out;
    if ((rc = tide_antichain_copy(&lower, spine_upper)) < 0) goto out;
    if (upd->len > 0 && k == 0) {
        rc = TIDE_ESTATE;
        goto out;
    }
    if (upd->len == 0) {
        if ((rc = tide_trace_batch_empty(upd->layout, &lower, upper, NULL, &tb)) < 0) goto out;
        rc = tide_trace_insert(trace, tb);
        goto out;
    }
    c = tide_alloc((size_t)k * sizeof *c);
    groups = tide_calloc(k, sizeof *groups);
    if (!c || !groups) {
        rc = TIDE_ENOMEM;
        goto out;
    }
    memcpy(c, caps->elems, (size_t)k * sizeof *c);
    tide_time_sort(c, k);
    /* Each update goes to the last capability below it. */
    for (uint32_t i = 0; i < upd->len; i++) {
        tide_time t = upd->times[i];
        uint32_t g = k;
        for (uint32_t j = k; j-- > 0;)
            if (tide_time_le(c[j], t)) {
                g = j;
                break;
            }
        if (g == k) {
            rc = TIDE_ESTATE;
            goto out;
        }
        if (groups[g] == NULL &&
            (groups[g] = tide_batch_new(upd->layout, TIDE_BATCH_UPDATES, 256)) == NULL) {
            rc = TIDE_ENOMEM;
            goto out;
        }
        if ((rc = tide_batch_push_from(groups[g], upd, i)) < 0) goto out;
    }
    uint32_t last = 0;
    for (uint32_t g = 0; g < k; g++)
        if (groups[g]) last = g;
    for (uint32_t g = 0; g < k; g++) {
        if (groups[g] == NULL) continue;
        /* Upper of this batch: @upper and the capabilities after g (the
         * last non-empty batch extends to @upper itself). */
        if ((rc = tide_antichain_copy(&hi, upper)) < 0) goto out;
        if (g != last)
            for (uint32_t j = g + 1; j < k; j++)
                if ((rc = tide_antichain_insert(&hi, c[j])) < 0) goto out;
        if ((rc = tide_trace_batch_from_updates(groups[g], &lower, &hi, NULL, &tb)) < 0) goto out;
        if ((rc = tide_trace_insert(trace, tb)) < 0) goto out;
        if ((rc = tide__arranged_announce(op, port, c[g], tb)) < 0) goto out;
        tide_trace_batch_unref(tb);
        tb = NULL;
        if ((rc = tide_antichain_copy(&lower, &hi)) < 0) goto out;
    }
out:
    tide_trace_batch_unref(tb);
    if (groups)
        for (uint32_t g = 0; g < k; g++) tide_batch_unref(groups[g]);
    tide_free(groups);
    tide_free(c);
    tide_antichain_fini(&lower);
    tide_antichain_fini(&hi);
    tide_batch_unref(upd);
    if (rc == TIDE_ESTATE) return tide_op_fail(op, rc, "output update below every held capability");
    if (rc == TIDE_ERANGE)
        return tide_op_fail(op, rc, "diff overflow: merging output batches sums diffs past int64");
    if (rc < 0) return tide_op_fail(op, rc, "cannot seal output batch: %s", tide_strerror(rc));
    return TIDE_OK;
}

/* ======================================================================== */
/* Scheduling                                                               */
/* ======================================================================== */

/* Set both frontiers of @r to @f projected to @depth (never backwards). */
static int reader_advance(reduce_state *st, tide_trace_reader *r, const tide_antichain *f,
                          uint32_t depth)
{
    TIDE_TRY(tide__frontier_project(f, depth, &st->scratch_f));
    return tide__reader_advance(r, &st->scratch_f, &st->scratch_f);
}

/* sync_caps - hold exactly the minimal pending times (new ones first). */
static int sync_caps(tide_op *op, reduce_state *st)
{
    tide_antichain want;
    tide_antichain_init(&want);
    int rc = TIDE_OK;
    for (uint32_t i = 0; i < st->npend; i++)
        if (tide_antichain_insert(&want, st->pend[i].t) < 0) {
            rc = TIDE_ENOMEM;
            goto out;
        }
    for (uint32_t i = 0; i < want.len; i++) {
        bool held = false;
        for (uint32_t j = 0; j < st->caps.len && !held; j++)
            held = tide_time_eq(want.elems[i], st->caps.elems[j]);
        if (!held && (rc = tide_op_hold(op, want.elems[i])) < 0) goto out;
    }
    for (uint32_t j = 0; j < st->caps.len; j++) {
        bool keep = false;
        for (uint32_t i = 0; i < want.len && !keep; i++)
            keep = tide_time_eq(want.elems[i], st->caps.elems[j]);
        if (!keep && (rc = tide_op_drop(op, st->caps.elems[j])) < 0) goto out;
    }
    rc = tide_antichain_copy(&st->caps, &want);
out:
    tide_antichain_fini(&want);
    return rc;
}

/* round - process every ready key against frontier @f. */
static int round_run(tide_op *op, reduce_state *st, const tide_antichain *f)
{
    int rc = TIDE_OK;
    tide_batch *ob = NULL;
    if ((rc = pend_sort(st)) < 0) goto out;
    if ((rc = snap_take(&st->isnap, st->in_reader)) < 0) goto out;
    if ((rc = snap_take(&st->osnap, st->out_reader)) < 0) goto out;
    ob = tide_batch_new(st->out_layout, TIDE_BATCH_UPDATES, 1024);
    if (ob == NULL) {
        rc = TIDE_ENOMEM;
        goto out;
    }
    st->npend2 = 0;
    st->heap2_len = 0;
    tide_time *pt = NULL;
    uint32_t pt_cap = 0;
    for (uint32_t a = 0; a < st->npend;) {
        const uint8_t *key = st->heap + st->pend[a].koff;
        uint32_t klen = st->pend[a].klen;
        uint64_t kpre = st->pend[a].kpre;
        uint32_t b = a;
        bool ready = false;
        uint32_t n = 0;
        for (; b < st->npend && st->pend[b].kpre == kpre &&
               tide_bytes_cmp(st->heap + st->pend[b].koff, st->pend[b].klen, key, klen) == 0;
             b++) {
            tide_time t = st->pend[b].t;
            if (n > 0 && tide_time_eq(pt[n - 1], t)) continue;
            if ((rc = tide__grow(&pt, &pt_cap, sizeof *pt, (size_t)n + 1)) < 0) break;
            pt[n++] = t;
            if (!tide_antichain_less_equal(f, t)) ready = true;
        }
        if (rc < 0) break;
        if (ready) {
            rc = process_key(st, key, klen, kpre, pt, n, f, ob);
        } else {
            uint32_t koff;
            rc = pend2_key(st, key, klen, &koff);
            for (uint32_t i = 0; i < n && rc == 0; i++)
                rc = pend2_push(st, koff, klen, pt[i], kpre);
        }
        if (rc < 0) break;
        a = b;
    }
    tide_free(pt);
    if (rc < 0) goto out;
    /* Swap the pending buffers. */
    {
        pend *tp = st->pend;
        st->pend = st->pend2, st->pend2 = tp;
        uint32_t tc = st->pend_cap;
        st->pend_cap = st->pend2_cap, st->pend2_cap = tc;
        st->npend = st->npend2;
        uint8_t *th = st->heap;
        st->heap = st->heap2, st->heap2 = th;
        tc = st->heap_cap;
        st->heap_cap = st->heap2_cap, st->heap2_cap = tc;
        st->heap_len = st->heap2_len;
    }
    snap_drop(&st->isnap);
    snap_drop(&st->osnap);
    if (ob->len > 0 && (rc = tide_batch_consolidate(ob)) < 0) goto out;
    rc = tide__reduce_emit(op, 0, st->out_trace, &st->caps, f, ob);
    ob = NULL;
    if (rc < 0) return rc;
    if ((rc = tide_antichain_copy(&st->done, f)) < 0) goto out;
    if ((rc = reader_advance(st, st->in_reader, f, st->trace_depth)) < 0) goto out;
    rc = reader_advance(st, st->out_reader, f, 2);
out:
    snap_drop(&st->isnap);
    snap_drop(&st->osnap);
    tide_batch_unref(ob);
    return rc;
}

static void reduce_schedule(tide_op *op, void *state)
{
    reduce_state *st = state;
    tide_batch *m;
    int rc = TIDE_OK;
    while ((m = tide_op_pull(op, 0)) != NULL) {
        if (rc == 0) {
            if (m->ext)
                rc = pend_add_batch(st, (const tide_trace_batch *)m->ext);
            else
                rc = pend_add_records(st, m);
        }
        tide_batch_unref(m);
    }
    if (rc < 0) goto fail;
    const tide_antichain *f = tide_op_frontier(op, 0);
    if (!frontier_eq(f, &st->done) && (rc = round_run(op, st, f)) < 0) goto fail;
    if ((rc = sync_caps(op, st)) < 0) goto fail;
    return;
fail:
    if (tide_worker_error(tide_op_worker(op))->code == 0)
        tide_op_fail(op, rc, "reduce failed: %s", tide_strerror(rc));
}

/* ======================================================================== */
/* Construction                                                             */
/* ======================================================================== */

/* ---- snapshots (tide/snapshot.h) ------------------------------------------ */

/* The input trace is the arrange operator's; a reduce keeps its output
 * trace. Quiescent, it has no pending (key, time); after a load its last
 * round is R, where the restored traces end. */
static int reduce_save(tide_op *op, void *state, tide_snap *s)
{
    reduce_state *st = state;
    if (tide_scope_depth(tide_op_scope(op)) > 0)
        return tide_snap_fail(s, TIDE_ENOTSUP, "a reduce in a nested scope");
    if (st->npend > 0)
        return tide_snap_fail(s, TIDE_ESTATE, "%u (key, time) pair(s) pending", st->npend);
    return tide_trace_save(st->out_trace, s);
}

static int reduce_load(tide_op *op, void *state, tide_snap *s)
{
    reduce_state *st = state;
    TIDE_TRY(tide_trace_load(st->out_trace, s));
    tide_antichain_clear(&st->done);
    return tide_antichain_insert(&st->done, tide_time_epoch(tide_snap_epoch(s))) < 0 ? TIDE_ENOMEM
                                                                                     : TIDE_OK;
}

int tide__reduce_build(tide_stream *ann, tide_trace *in_trace, uint32_t trace_depth,
                       tide_layout in_layout, const char *name, uint32_t val_width,
                       tide_reduce_fn fn, void *ctx, tide_stream **out, tide_trace **out_trace)
{
    tide_worker *w = tide_scope_worker(tide_stream_scope(ann));
    reduce_state *st = tide_calloc(1, sizeof *st);
    if (st == NULL) goto nomem;
    st->trace_depth = trace_depth;
    st->in_layout = in_layout;
    st->out_layout = tide_layout_make(in_layout.key_width, val_width);
    st->fn = fn;
    st->ctx = ctx;
    st->rout.width = val_width;
    tide_antichain_init(&st->done);
    tide_antichain_init(&st->caps);
    tide_antichain_init(&st->scratch_f);
    if (tide_antichain_insert(&st->done, TIDE_TIME_ZERO) < 0) goto nomem_st;
    if (tide_trace_reader_new(in_trace, &st->in_reader) < 0) goto nomem_st;
    if ((st->out_trace = tide_trace_new(st->out_layout)) == NULL) goto nomem_st;
    if (tide_trace_reader_new(st->out_trace, &st->out_reader) < 0) goto nomem_st;
    tide_layout ol = st->out_layout;
    uint32_t oflags = TIDE_BATCH_UPDATES;
    tide_stream *in[1] = {ann};
    tide_op_desc d = {.name = name ? name : "reduce",
                      .ninputs = 1,
                      .inputs = in,
                      .noutputs = 1,
                      .outputs = &ol,
                      .out_flags = &oflags,
                      .schedule = reduce_schedule,
                      .state = st,
                      .state_free = state_free,
                      .save = reduce_save,
                      .load = reduce_load};
    tide_op *op = tide_op_build(tide_stream_scope(ann), &d);
    if (op == NULL) {
        state_free(st);
        return tide_worker_error(w)->code ? tide_worker_error(w)->code : TIDE_ENOMEM;
    }
    st->op = op;
    *out = tide_op_output(op, 0);
    *out_trace = st->out_trace;
    return TIDE_OK;
nomem_st:
    state_free(st);
nomem:
    return tide__worker_fail(w, TIDE_ENOMEM, "out of memory building reduce '%s'",
                             name ? name : "reduce");
}

tide_arranged *tide_reduce(tide_arranged *a, const char *name, uint32_t val_width,
                           tide_reduce_fn fn, void *ctx)
{
    tide_stream *out;
    tide_trace *trace;
    if (a == NULL || fn == NULL) return NULL;
    if (tide__reduce_build(a->stream, a->trace, a->trace_depth, a->layout, name, val_width, fn, ctx,
                           &out, &trace) < 0)
        return NULL;
    return tide__arranged_new(out, trace, tide_stream_layout(out), tide_scope_depth(a->scope));
}
