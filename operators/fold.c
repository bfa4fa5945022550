/*
 * fold.c - tide_fold (tide/fold.h): per key, a left fold over the values in
 * order with the state checkpointed after every value, refolded from the
 * first changed position only.
 *
 * Depends on the public operator API only: an EXCHANGE input, per-time
 * pending batches with a capability held at each pending time, and at each
 * completed time (root scope: times are totally ordered, processed in
 * order) one pass over the time's consolidated changes, key by key.
 *
 * Per key, three append-only heaps hold, for position i, the value, the
 * state after it, and the outputs it produced; pos[i] records where each
 * ends. Refolding from p truncates the three heaps to pos[p-1]'s ends and
 * appends again, so nothing before p is touched:
 *
 *   pos[i] = { vend, send, oend, mult }     heap bytes of position i:
 *   vals   [ v0 | v1 | v2 ... ]             [end(i-1), end(i))
 *   states [ s0 | s1 | s2 ... ]
 *   outs   [ o0 | (none) | o2a o2b ... ]    each: u32 len | bytes | i64 diff
 */
#include "fold.h"

#include <string.h>

#include "tide/alloc.h"
#include "tide/scratch.h"
#include "tide/snapshot.h"
#include "worker.h"

typedef struct fpos {
    uint32_t vend, send, oend; /* heap ends after this position */
    int64_t mult;              /* the value's accumulated multiplicity (never 0) */
} fpos;

typedef struct fkey {
    uint64_t hash;
    uint8_t *key;
    uint32_t klen;
    fpos *pos;
    uint32_t n, cap;
    tide_rowbuf vals, states, outs;
} fkey;

typedef struct pending {
    tide_time t;
    tide_batch *b; /* UPDATES, input layout */
} pending;

typedef struct fold_state {
    tide_fold_fn fn;
    void *ctx;
    tide_layout in, out;
    fkey **tab; /* open addressing on hash; NULL = empty */
    uint32_t tab_cap, nkeys;
    pending *p;
    uint32_t np, pcap;
    tide_rowbuf state; /* the fold state while refolding */
} fold_state;

/* ---- output ----------------------------------------------------------------- */

int tide_fold_emit(tide_fold_out *o, const void *val, uint32_t len, int64_t diff)
{
    if (o->rc < 0) return o->rc;
    if (o->width != TIDE_VAR && len != o->width) return o->rc = TIDE_EINVAL;
    uint8_t hdr[4], d[8];
    memcpy(hdr, &len, 4);
    memcpy(d, &diff, 8);
    int rc = tide_row_put_raw(o->outs, hdr, 4);
    if (rc == TIDE_OK && len > 0) rc = tide_row_put_raw(o->outs, val, len);
    if (rc == TIDE_OK) rc = tide_row_put_raw(o->outs, d, 8);
    if (rc < 0) o->rc = rc;
    return rc;
}

/* Push the outputs in heap bytes [from, to) of @k, diffs times @sign. */
static int push_outs(tide_batch *ob, const fkey *k, uint32_t from, uint32_t to, int64_t sign)
{
    const uint8_t *h = k->outs.data;
    while (from < to) {
        uint32_t len;
        int64_t diff;
        memcpy(&len, h + from, 4);
        memcpy(&diff, h + from + 4 + len, 8);
        TIDE_TRY(
            tide_batch_push_update(ob, k->key, k->klen, h + from + 4, len, ob->time, diff * sign));
        from += 12 + len;
    }
    return TIDE_OK;
}

/* ---- keys ------------------------------------------------------------------- */

static void key_free(fkey *k)
{
    tide_free(k->key);
    tide_free(k->pos);
    tide_rowbuf_fini(&k->vals);
    tide_rowbuf_fini(&k->states);
    tide_rowbuf_fini(&k->outs);
    tide_free(k);
}

static int tab_grow(fold_state *st)
{
    uint32_t cap = st->tab_cap ? st->tab_cap * 2 : 64;
    fkey **t = tide_calloc(cap, sizeof *t);
    if (t == NULL) return TIDE_ENOMEM;
    for (uint32_t i = 0; i < st->tab_cap; i++) {
        fkey *k = st->tab[i];
        if (k == NULL) continue;
        uint32_t j = (uint32_t)(k->hash & (cap - 1));
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = k;
    }
    tide_free(st->tab);
    st->tab = t;
    st->tab_cap = cap;
    return TIDE_OK;
}

static fkey *key_get(fold_state *st, const uint8_t *key, uint32_t kl)
{
    if (2 * (st->nkeys + 1) > st->tab_cap && tab_grow(st) < 0) return NULL;
    uint64_t h = tide_hash(key, kl);
    uint32_t j = (uint32_t)(h & (st->tab_cap - 1));
    for (; st->tab[j]; j = (j + 1) & (st->tab_cap - 1)) {
        fkey *k = st->tab[j];
        if (k->hash == h && k->klen == kl && memcmp(k->key, key, kl) == 0) return k;
    }
    fkey *k = tide_calloc(1, sizeof *k);
    uint8_t *kb = tide_alloc(kl ? kl : 1);
    if (k == NULL || kb == NULL) {
        tide_free(k);
        tide_free(kb);
        return NULL;
    }
    memcpy(kb, key, kl);
    *k = (fkey){.hash = h, .key = kb, .klen = kl};
    st->tab[j] = k;
    st->nkeys++;
    return k;
}

static inline uint32_t vbeg(const fkey *k, uint32_t i)
{
    return i ? k->pos[i - 1].vend : 0;
}

/* The first position whose value is >= (@v, @vl). */
static uint32_t lower_bound(const fkey *k, const uint8_t *v, uint32_t vl)
{
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t b = vbeg(k, mid);
        if (tide_bytes_cmp(k->vals.data + b, k->pos[mid].vend - b, v, vl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- refolding ---------------------------------------------------------------- */

/* A value to fold: bytes and multiplicity. */
typedef struct fval {
    const uint8_t *v;
    uint32_t vl;
    int64_t m;
} fval;

/* Append position (@v, @m) to @k: fold it and checkpoint. */
static int fold_one(fold_state *st, fkey *k, const uint8_t *v, uint32_t vl, int64_t m)
{
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 4;
        fpos *p = tide_realloc(k->pos, cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        k->pos = p;
        k->cap = cap;
    }
    if (vl > 0) TIDE_TRY(tide_row_put_raw(&k->vals, v, vl));
    tide_fold_out o = {.outs = &k->outs, .width = st->out.val_width};
    st->fn(st->ctx, k->key, k->klen, &st->state, v, vl, m, &o);
    TIDE_TRY(o.rc);
    if (st->state.len > 0) TIDE_TRY(tide_row_put_raw(&k->states, st->state.data, st->state.len));
    k->pos[k->n++] = (fpos){k->vals.len, k->states.len, k->outs.len, m};
    return TIDE_OK;
}

/*
 * refold - apply the changes @c[0..nc) (sorted by value, distinct) to @k:
 * retract the outputs of positions >= p (the first changed one), merge the
 * old tail with the changes, refold from p, push the new outputs.
 */
static int refold(fold_state *st, fkey *k, const fval *c, uint32_t nc, tide_batch *ob)
{
    uint32_t p = lower_bound(k, c[0].v, c[0].vl);
    uint32_t o0 = p ? k->pos[p - 1].oend : 0;
    TIDE_TRY(push_outs(ob, k, o0, k->outs.len, -1));
    /* Copy the old tail out: the heaps are rewritten from p. */
    uint32_t tail_bytes = k->vals.len - vbeg(k, p), nt = k->n - p;
    uint8_t *tb = tide_scratch(6, (size_t)tail_bytes + 1);
    fval *tv = tide_scratch(7, ((size_t)nt + 1) * sizeof *tv);
    if (tb == NULL || tv == NULL) return TIDE_ENOMEM;
    if (tail_bytes > 0) memcpy(tb, k->vals.data + vbeg(k, p), tail_bytes);
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t b = vbeg(k, p + i);
        tv[i] = (fval){tb + (b - vbeg(k, p)), k->pos[p + i].vend - b, k->pos[p + i].mult};
    }
    /* Restore the state before p and truncate. */
    uint32_t s0 = p ? k->pos[p - 1].send : 0, s_prev = p > 1 ? k->pos[p - 2].send : 0;
    tide_rowbuf_clear(&st->state);
    if (s0 > s_prev) TIDE_TRY(tide_row_put_raw(&st->state, k->states.data + s_prev, s0 - s_prev));
    k->vals.len = vbeg(k, p);
    k->states.len = s0;
    k->outs.len = o0;
    k->n = p;
    /* Merge and refold. */
    uint32_t i = 0, j = 0;
    while (i < nt || j < nc) {
        int cmp = i == nt ? 1 : j == nc ? -1 : tide_bytes_cmp(tv[i].v, tv[i].vl, c[j].v, c[j].vl);
        fval x = cmp <= 0 ? tv[i] : c[j];
        if (cmp == 0) x.m += c[j].m;
        if (cmp <= 0) i++;
        if (cmp >= 0) j++;
        if (x.m != 0) TIDE_TRY(fold_one(st, k, x.v, x.vl, x.m));
    }
    return push_outs(ob, k, o0, k->outs.len, 1);
}

/* Process the consolidated changes @b at time @t into output batch @ob. */
static int process_time(fold_state *st, const tide_batch *b, tide_batch *ob)
{
    fval *c = NULL;
    uint32_t ccap = 0;
    int rc = TIDE_OK;
    for (uint32_t i = 0; i < b->len && rc == TIDE_OK;) {
        uint32_t kl, kl2;
        const uint8_t *key = tide_batch_key(b, i, &kl);
        uint32_t j = i + 1;
        for (; j < b->len; j++) {
            const uint8_t *k2 = tide_batch_key(b, j, &kl2);
            if (tide_bytes_cmp(k2, kl2, key, kl) != 0) break;
        }
        if (j - i > ccap) {
            ccap = j - i;
            fval *q = tide_realloc(c, ccap * sizeof *c);
            if (q == NULL) {
                rc = TIDE_ENOMEM;
                break;
            }
            c = q;
        }
        for (uint32_t x = i; x < j; x++) {
            c[x - i].v = tide_batch_val(b, x, &c[x - i].vl);
            c[x - i].m = b->diffs[x];
        }
        fkey *k = key_get(st, key, kl);
        rc = k ? refold(st, k, c, j - i, ob) : TIDE_ENOMEM;
        i = j;
    }
    tide_free(c);
    return rc;
}

/* ---- the operator ------------------------------------------------------------- */

static int absorb(tide_op *op, fold_state *st, const tide_batch *in)
{
    for (uint32_t i = 0; i < in->len; i++) {
        tide_time t = in->times[i];
        uint32_t x = 0;
        while (x < st->np && !tide_time_eq(st->p[x].t, t)) x++;
        if (x == st->np) {
            if (st->np == st->pcap) {
                uint32_t cap = st->pcap ? st->pcap * 2 : 8;
                pending *q = tide_realloc(st->p, cap * sizeof *q);
                if (q == NULL) return TIDE_ENOMEM;
                st->p = q;
                st->pcap = cap;
            }
            tide_batch *b = tide_batch_new(st->in, TIDE_BATCH_UPDATES, 64);
            if (b == NULL) return TIDE_ENOMEM;
            b->time = t;
            int rc = tide_op_hold(op, t);
            if (rc < 0) {
                tide_batch_unref(b);
                return rc;
            }
            st->p[st->np++] = (pending){t, b};
        }
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(in, i, &kl);
        const uint8_t *v = tide_batch_val(in, i, &vl);
        TIDE_TRY(tide_batch_push_update(st->p[x].b, k, kl, v, vl, t, in->diffs[i]));
    }
    return TIDE_OK;
}

static int run_ready(tide_op *op, fold_state *st)
{
    const tide_antichain *f = tide_op_frontier(op, 0);
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < st->np; i++)
            if (!tide_antichain_less_equal(f, st->p[i].t) &&
                (best < 0 || tide_time_cmp(st->p[i].t, st->p[best].t) < 0))
                best = (int)i;
        if (best < 0) return TIDE_OK;
        pending p = st->p[best];
        st->p[best] = st->p[--st->np];
        tide_batch *ob = tide_batch_new(st->out, TIDE_BATCH_UPDATES, 64);
        int rc = ob ? tide_batch_consolidate(p.b) : TIDE_ENOMEM;
        if (rc == TIDE_OK) {
            ob->time = p.t;
            rc = process_time(st, p.b, ob);
        }
        if (rc == TIDE_OK) rc = tide_batch_consolidate(ob);
        if (rc == TIDE_OK) {
            rc = tide_out_give(op, 0, ob);
            ob = NULL;
        }
        tide_batch_unref(ob);
        tide_batch_unref(p.b);
        int drc = tide_op_drop(op, p.t);
        TIDE_TRY(rc);
        TIDE_TRY(drc);
    }
}

static void fold_schedule(tide_op *op, void *state)
{
    fold_state *st = state;
    tide_batch *b;
    int rc = TIDE_OK;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        if (rc == TIDE_OK) rc = absorb(op, st, b);
        tide_batch_unref(b);
    }
    if (rc == TIDE_OK) rc = run_ready(op, st);
    if (rc < 0) tide_op_fail(op, rc, "fold: %s", tide_strerror(rc));
}

static void fold_free(void *p)
{
    fold_state *st = p;
    for (uint32_t i = 0; i < st->tab_cap; i++)
        if (st->tab[i]) key_free(st->tab[i]);
    tide_free(st->tab);
    for (uint32_t i = 0; i < st->np; i++) tide_batch_unref(st->p[i].b);
    tide_free(st->p);
    tide_rowbuf_fini(&st->state);
    tide_free(st);
}

/* ---- snapshots (tide/snapshot.h) --------------------------------------------- */

/*
 * Quiescent, nothing is pending: the state is the keys' heaps. Section:
 * u64 keys; per key: key, u32 n, n fpos, vals, states, outs (each a
 * length-prefixed byte string). Keys whose values all cancelled are left
 * out (they hold nothing).
 */
static int fold_save(tide_op *op, void *state, tide_snap *s)
{
    fold_state *st = state;
    if (st->np > 0) return tide_snap_fail(s, TIDE_ESTATE, "%u time(s) pending", st->np);
    uint64_t n = 0;
    for (uint32_t i = 0; i < st->tab_cap; i++) n += st->tab[i] && st->tab[i]->n > 0;
    TIDE_TRY(tide_snap_put_u64(s, n));
    for (uint32_t i = 0; i < st->tab_cap; i++) {
        const fkey *k = st->tab[i];
        if (k == NULL || k->n == 0) continue;
        TIDE_TRY(tide_snap_put_bytes(s, k->key, k->klen));
        TIDE_TRY(tide_snap_put(s, &k->n, sizeof k->n));
        TIDE_TRY(tide_snap_put(s, k->pos, (size_t)k->n * sizeof *k->pos));
        TIDE_TRY(tide_snap_put_bytes(s, k->vals.data, (uint32_t)k->vals.len));
        TIDE_TRY(tide_snap_put_bytes(s, k->states.data, (uint32_t)k->states.len));
        TIDE_TRY(tide_snap_put_bytes(s, k->outs.data, (uint32_t)k->outs.len));
    }
    return TIDE_OK;
}

static int put_heap(tide_snap *s, tide_rowbuf *rb)
{
    const uint8_t *p;
    uint32_t n;
    TIDE_TRY(tide_snap_get_bytes(s, &p, &n));
    return n ? tide_row_put_raw(rb, p, n) : TIDE_OK;
}

static int fold_load(tide_op *op, void *state, tide_snap *s)
{
    fold_state *st = state;
    uint64_t n;
    TIDE_TRY(tide_snap_get_u64(s, &n));
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *key;
        uint32_t kl, np;
        TIDE_TRY(tide_snap_get_bytes(s, &key, &kl));
        TIDE_TRY(tide_snap_get(s, &np, sizeof np));
        const uint8_t *pos = tide_snap_get_ptr(s, (size_t)np * sizeof(fpos));
        if (pos == NULL || np == 0) return TIDE_EPARSE;
        fkey *k = key_get(st, key, kl);
        if (k == NULL) return TIDE_ENOMEM;
        if (k->n > 0) return tide_snap_fail(s, TIDE_EPARSE, "a key saved twice");
        k->pos = tide_alloc((size_t)np * sizeof *k->pos);
        if (k->pos == NULL) return TIDE_ENOMEM;
        memcpy(k->pos, pos, (size_t)np * sizeof *k->pos);
        k->n = k->cap = np;
        TIDE_TRY(put_heap(s, &k->vals));
        TIDE_TRY(put_heap(s, &k->states));
        TIDE_TRY(put_heap(s, &k->outs));
        const fpos *last = &k->pos[np - 1];
        if (last->vend != k->vals.len || last->send != k->states.len || last->oend != k->outs.len)
            return tide_snap_fail(s, TIDE_EPARSE, "a key's heaps do not match its positions");
    }
    return TIDE_OK;
}

tide_stream *tide_fold(tide_stream *c, const char *name, uint32_t out_width, tide_fold_fn fn,
                       void *ctx)
{
    tide_scope *s = tide_stream_scope(c);
    tide_worker *w = tide_scope_worker(s);
    name = name ? name : "fold";
    if (tide_scope_depth(s) != 0 || !(c->flags & TIDE_BATCH_UPDATES)) {
        tide__worker_fail(w, TIDE_EINVAL, "%s: needs a collection in the root scope", name);
        return NULL;
    }
    fold_state *st = tide_calloc(1, sizeof *st);
    if (st == NULL) {
        tide__worker_fail(w, TIDE_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    st->fn = fn;
    st->ctx = ctx;
    st->in = tide_stream_layout(c);
    st->out = tide_layout_make(st->in.key_width, out_width);
    tide_rowbuf_init(&st->state);
    tide_pact pact = TIDE_EXCHANGE;
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .inputs = &c,
                      .pacts = &pact,
                      .noutputs = 1,
                      .outputs = &st->out,
                      .out_flags = &flags,
                      .schedule = fold_schedule,
                      .state = st,
                      .state_free = fold_free,
                      .save = fold_save,
                      .load = fold_load};
    tide_op *op = tide_op_build(s, &d);
    if (op == NULL) {
        fold_free(st);
        return NULL;
    }
    return tide_op_output(op, 0);
}
