/*
 * test_snapshot_state.c - tide_dataflow_save / tide_dataflow_load
 * (tide/snapshot.h) per operator: random updates with retractions over
 * random epochs, W = 1, 2, 4. Three runs of the same dataflow:
 *   full:  every epoch;                     its output must match a naive
 *          from-scratch computation at every epoch;
 *   save:  epochs < k, then save at k;      its output == full's before k;
 *   load:  a fresh dataflow loads the save, runs epochs >= k: its output
 *          == full's from k on, and nothing before k (no re-emission).
 * Plus refusals: another dataflow, another worker count, a truncated and a
 * corrupted file, an operator without hooks, a dataflow not quiescent.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tide/tide.h"
#include "tide_test.h"

#define KEYS   6
#define VALS   10
#define EPOCHS 8
#define MAXW   4

/* ---- records and collections ------------------------------------------------ */

typedef struct rec {
    uint64_t t;
    uint8_t k[8];
    uint8_t v[32];
    uint32_t kl, vl;
    int64_t d;
} rec;

typedef struct coll {
    rec *r;
    uint32_t n, cap;
} coll;

static void coll_add(coll *c, uint64_t t, const uint8_t *k, uint32_t kl, const uint8_t *v,
                     uint32_t vl, int64_t d)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        cr_assert_not_null(c->r);
    }
    cr_assert(kl <= 8 && vl <= 32);
    rec *r = &c->r[c->n++];
    memset(r, 0, sizeof *r);
    r->t = t, r->kl = kl, r->vl = vl, r->d = d;
    memcpy(r->k, k, kl);
    memcpy(r->v, v, vl);
}

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    int c = tide_bytes_cmp(x->k, x->kl, y->k, y->kl);
    return c ? c : tide_bytes_cmp(x->v, x->vl, y->v, y->vl);
}

/* Sort by (t, key, val), sum equal ones, drop zeros. */
static void coll_norm(coll *c)
{
    if (c->n == 0) return;
    qsort(c->r, c->n, sizeof *c->r, rec_cmp);
    uint32_t o = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (o > 0 && rec_cmp(&c->r[o - 1], &c->r[i]) == 0)
            c->r[o - 1].d += c->r[i].d;
        else
            c->r[o++] = c->r[i];
    }
    uint32_t z = 0;
    for (uint32_t i = 0; i < o; i++)
        if (c->r[i].d != 0) c->r[z++] = c->r[i];
    c->n = z;
}

/* The updates of @c with lo <= t < hi, all at time @at (at == UINT64_MAX:
 * keep their times), normalised. */
static coll coll_slice(const coll *c, uint64_t lo, uint64_t hi, uint64_t at)
{
    coll s = {0};
    for (uint32_t i = 0; i < c->n; i++)
        if (c->r[i].t >= lo && c->r[i].t < hi)
            coll_add(&s, at == UINT64_MAX ? c->r[i].t : at, c->r[i].k, c->r[i].kl, c->r[i].v,
                     c->r[i].vl, c->r[i].d);
    coll_norm(&s);
    return s;
}

static void coll_assert_eq(const coll *a, const coll *b, const char *what, uint64_t seed)
{
    bool same = a->n == b->n;
    for (uint32_t i = 0; same && i < a->n; i++)
        same = rec_cmp(&a->r[i], &b->r[i]) == 0 && a->r[i].d == b->r[i].d;
    if (!same) {
        fprintf(stderr, "%s differ (seed %llu): %u vs %u records\n", what, (unsigned long long)seed,
                a->n, b->n);
        for (uint32_t i = 0; i < a->n && i < 40; i++)
            fprintf(stderr, "  a t=%llu k=%llu vl=%u d=%lld\n", (unsigned long long)a->r[i].t,
                    (unsigned long long)tide_u64_load(a->r[i].k), a->r[i].vl, (long long)a->r[i].d);
        for (uint32_t i = 0; i < b->n && i < 40; i++)
            fprintf(stderr, "  b t=%llu k=%llu vl=%u d=%lld\n", (unsigned long long)b->r[i].t,
                    (unsigned long long)tide_u64_load(b->r[i].k), b->r[i].vl, (long long)b->r[i].d);
    }
    cr_assert(same, "%s differ (seed %llu)", what, (unsigned long long)seed);
}

/* ---- the operators under test and their naive versions ------------------------ */

static void sum_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                   uint32_t n, tide_reduce_out *out)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < n; i++) s += (int64_t)tide_u64_load(in[i].val) * in[i].diff;
    uint8_t v[8];
    tide_i64_store(v, s);
    if (n > 0) tide_reduce_push(out, v, 8, 1);
}

static void plus100(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    uint8_t w[8];
    tide_u64_store(w, tide_u64_load(v) + 100);
    tide_emit(em, k, kl, w, 8);
}

static void pair_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    uint8_t w[16];
    memcpy(w, v1, 8);
    memcpy(w + 8, v2, 8);
    tide_emit(em, key, klen, w, 16);
}

static void key_if3(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    if (tide_u64_load(v) % 3 == 0) tide_emit(em, k, kl, NULL, 0);
}

static int ord_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen,
                  tide_rowbuf *ord)
{
    return tide_row_put_u64(ord, tide_u64_load(val) * 7 % VALS);
}

static void running(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                    uint32_t vl, int64_t m, tide_fold_out *o)
{
    int64_t sum = st->len == 8 ? tide_i64_load(st->data) : 0;
    uint64_t x = tide_u64_load(v);
    sum += (int64_t)(x % 97) * m;
    tide_rowbuf_clear(st);
    tide_row_put_i64(st, sum);
    if (x & 1) {
        uint8_t out[8];
        tide_i64_store(out, sum);
        tide_fold_emit(o, out, 8, 1);
    }
}

static bool even(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return tide_u64_load(v) % 2 == 0;
}

static void twice(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                  tide_emitter *em)
{
    uint8_t k2[8], v2[8];
    tide_u64_store(v2, tide_u64_load(v) * 2 + 1);
    tide_emit(em, k, kl, v2, 8);
    tide_u64_store(k2, tide_u64_load(k) + KEYS);
    tide_emit(em, k2, 8, v, vl);
}

typedef enum kind {
    ARRANGE,
    COUNT,
    DISTINCT,
    REDUCE,
    JOIN,
    SEMIJOIN,
    MAX_BY,
    FOLD,
    PIPE,
    NKINDS
} kind;
static const char *const NAMES[NKINDS] = {"arrange",  "count",  "distinct", "reduce",  "join",
                                          "semijoin", "max_by", "fold",     "pipeline"};

static tide_stream *build(kind k, tide_stream *c)
{
    switch (k) {
    case ARRANGE:
        return tide_arranged_stream(tide_arrange(c, "a"));
    case COUNT:
        return tide_count(c);
    case DISTINCT:
        return tide_distinct(c);
    case REDUCE:
        return tide_arranged_stream(tide_reduce(tide_arrange(c, "a"), "sum", 8, sum_fn, NULL));
    case JOIN: {
        tide_stream *c2 = tide_map(c, "plus100", tide_layout_make(8, 8), plus100, NULL);
        return tide_join(tide_arrange(c, "l"), tide_arrange(c2, "r"), "join",
                         tide_layout_make(8, 16), pair_fn, NULL);
    }
    case SEMIJOIN: {
        tide_stream *ks = tide_map(c, "key_if3", tide_layout_make(8, 0), key_if3, NULL);
        return tide_semijoin(c, tide_arrange(tide_distinct(ks), "keys"));
    }
    case MAX_BY:
        return tide_max_by(c, "max_by", ord_fn, NULL);
    case FOLD:
        return tide_fold(c, "fold", 8, running, NULL);
    case PIPE: {
        tide_stream *parts[2] = {tide_filter(c, "even", even, NULL),
                                 tide_flat_map(c, "twice", tide_layout_make(8, 8), twice, NULL)};
        return tide_concat(parts, 2);
    }
    default:
        return NULL;
    }
}

/* The naive output of @k for the accumulated input @in (normalised, one
 * time), at time 0. */
static coll naive(kind k, const coll *in)
{
    coll o = {0};
    uint8_t w[32];
    for (uint32_t i = 0; i < in->n;) {
        uint32_t j = i;
        while (j < in->n && tide_bytes_cmp(in->r[j].k, 8, in->r[i].k, 8) == 0) j++;
        const uint8_t *key = in->r[i].k;
        int64_t cnt = 0, sum = 0;
        bool has3 = false;
        int best = -1;
        int64_t fs = 0;
        for (uint32_t x = i; x < j; x++) {
            const rec *r = &in->r[x];
            uint64_t v = tide_u64_load(r->v);
            cnt += r->d;
            sum += (int64_t)v * r->d;
            has3 |= v % 3 == 0 && r->d > 0;
            if (r->d > 0 && (best < 0 || v * 7 % VALS > tide_u64_load(in->r[best].v) * 7 % VALS ||
                             (v * 7 % VALS == tide_u64_load(in->r[best].v) * 7 % VALS &&
                              v > tide_u64_load(in->r[best].v))))
                best = (int)x;
            switch (k) {
            case ARRANGE:
                coll_add(&o, 0, key, 8, r->v, 8, r->d);
                break;
            case DISTINCT:
                if (r->d > 0) coll_add(&o, 0, key, 8, r->v, 8, 1);
                break;
            case JOIN:
                for (uint32_t y = i; y < j; y++) {
                    memcpy(w, r->v, 8);
                    tide_u64_store(w + 8, tide_u64_load(in->r[y].v) + 100);
                    coll_add(&o, 0, key, 8, w, 16, r->d * in->r[y].d);
                }
                break;
            case FOLD:
                fs += (int64_t)(v % 97) * r->d;
                if (v & 1) {
                    tide_i64_store(w, fs);
                    coll_add(&o, 0, key, 8, w, 8, 1);
                }
                break;
            case PIPE: {
                if (v % 2 == 0) coll_add(&o, 0, key, 8, r->v, 8, r->d);
                tide_u64_store(w, v * 2 + 1);
                coll_add(&o, 0, key, 8, w, 8, r->d);
                uint8_t k2[8];
                tide_u64_store(k2, tide_u64_load(key) + KEYS);
                coll_add(&o, 0, k2, 8, r->v, 8, r->d);
                break;
            }
            default:
                break;
            }
        }
        if (k == COUNT && cnt != 0) tide_i64_store(w, cnt), coll_add(&o, 0, key, 8, w, 8, 1);
        if (k == REDUCE) tide_i64_store(w, sum), coll_add(&o, 0, key, 8, w, 8, 1);
        if (k == SEMIJOIN && has3)
            for (uint32_t x = i; x < j; x++) coll_add(&o, 0, key, 8, in->r[x].v, 8, in->r[x].d);
        if (k == MAX_BY && best >= 0) coll_add(&o, 0, key, 8, in->r[best].v, 8, 1);
        i = j;
    }
    coll_norm(&o);
    return o;
}

/* ---- the runs --------------------------------------------------------------------- */

enum mode { FULL, SAVE, LOAD };

typedef struct run {
    kind k;
    enum mode mode;
    const coll *in; /* updates, t = epoch */
    uint64_t at;    /* SAVE: the save epoch; LOAD: the resume epoch */
    kind load_as;   /* LOAD: the dataflow built (== k unless testing a mismatch) */
    char *buf[MAXW];
    size_t len[MAXW];
    int rc[MAXW];
    tide_error err[MAXW];
    coll out; /* what the sink delivered (worker 0) */
    uint32_t steps_seed;
    pthread_barrier_t bar;
    bool refused; /* LOAD: some worker's load failed */
} run;

static int on_updates(void *ctx, tide_time t, const tide_batch *b, tide_error *e)
{
    run *r = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        coll_add(&r->out, t.epoch, k, kl, v, vl, b->diffs[i]);
    }
    return TIDE_OK;
}

static int step(tide_worker *w)
{
    int rc = tide_worker_step(w);
    return rc < 0 ? rc : TIDE_OK;
}

static int wmain(tide_worker *w, void *arg)
{
    run *r = arg;
    uint32_t wi = tide_worker_index(w), W = tide_worker_peers(w);
    tide_dataflow *df = tide_dataflow_new(w, "snap");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_stream *o = in ? build(r->mode == LOAD ? r->load_as : r->k, s) : NULL;
    tide_sink_fns fns = {on_updates, NULL};
    if (o == NULL || tide_sink_updates(o, "out", &fns, r) < 0) return tide_worker_error(w)->code;
    uint64_t first = 0, last = EPOCHS;
    if (r->mode == LOAD) {
        FILE *f = fmemopen(r->buf[wi], r->len[wi], "rb");
        r->rc[wi] = tide_dataflow_load(df, f, r->at, &r->err[wi]);
        fclose(f);
        /* A refused load on any worker: every worker drops the dataflow. */
        if (r->rc[wi] < 0) __atomic_store_n(&r->refused, true, __ATOMIC_RELAXED);
        pthread_barrier_wait(&r->bar);
        if (__atomic_load_n(&r->refused, __ATOMIC_RELAXED)) return tide_dataflow_drop(df);
        first = r->at;
    }
    if (r->mode == SAVE) last = r->at;
    TIDE_TRY(tide_dataflow_seal(df));
    tide_rng rng = {r->steps_seed * 31 + wi + 1};
    for (uint64_t e = first; e < last; e++) {
        /* Each worker sends its share (update i from worker i % W). */
        for (uint32_t i = 0; i < r->in->n; i++) {
            const rec *u = &r->in->r[i];
            if (u->t == e && i % W == wi) TIDE_TRY(tide_input_update(in, u->k, 8, u->v, 8, u->d));
        }
        TIDE_TRY(tide_input_advance_to(in, e + 1));
        for (uint64_t n = tide_rng_below(&rng, 4); n > 0; n--) TIDE_TRY(step(w));
    }
    if (r->mode == SAVE) {
        while (!tide_dataflow_quiescent(df, r->at)) {
            int rc = tide_worker_step_or_park(w, 1000);
            if (rc < 0) return rc;
        }
        FILE *f = open_memstream(&r->buf[wi], &r->len[wi]);
        r->rc[wi] = tide_dataflow_save(df, r->at, f, &r->err[wi]);
        fclose(f);
        pthread_barrier_wait(&r->bar); /* nobody moves past `at` before all saved */
    }
    return tide_input_close(in);
}

static void run_exec(run *r, uint32_t W)
{
    pthread_barrier_init(&r->bar, NULL, W);
    TIDE_TEST_EXECUTE(W, wmain, r);
    pthread_barrier_destroy(&r->bar);
    coll_norm(&r->out);
}

static void run_fini(run *r)
{
    for (int i = 0; i < MAXW; i++) free(r->buf[i]);
    free(r->out.r);
}

/* Random updates: inserts of (key, val) pairs and retractions of present ones. */
static coll gen(tide_rng *g)
{
    coll in = {0};
    int64_t have[KEYS][VALS] = {{0}};
    for (uint64_t e = 0; e < EPOCHS; e++) {
        uint32_t n = (uint32_t)tide_rng_below(g, 12) + 1;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t k = tide_rng_below(g, KEYS), v = tide_rng_below(g, VALS);
            int64_t d = have[k][v] > 0 && tide_rng_below(g, 3) == 0 ? -1 : 1;
            if (have[k][v] >= 2) d = -1;
            have[k][v] += d;
            uint8_t kb[8], vb[8];
            tide_u64_store(kb, k);
            tide_u64_store(vb, v);
            coll_add(&in, e, kb, 8, vb, 8, d);
        }
    }
    return in;
}

/* Full against naive at every epoch; save + load against full. */
static void check_kind(kind k, uint32_t W, uint64_t salt)
{
    uint64_t seed = tide_test_seed(NAMES[k], salt);
    tide_rng g = {seed};
    coll in = gen(&g);
    uint64_t at = 1 + tide_rng_below(&g, EPOCHS - 1);

    run full = {.k = k, .mode = FULL, .in = &in, .steps_seed = (uint32_t)seed};
    run_exec(&full, W);
    cr_assert_gt(full.out.n, 0, "%s: no output at all (seed %llu)", NAMES[k],
                 (unsigned long long)seed);
    for (uint64_t e = 0; e < EPOCHS; e++) {
        coll acc_in = coll_slice(&in, 0, e + 1, 0), acc_out = coll_slice(&full.out, 0, e + 1, 0);
        coll want = naive(k, &acc_in);
        char what[96];
        snprintf(what, sizeof what, "%s W=%u epoch %llu: output and naive", NAMES[k], W,
                 (unsigned long long)e);
        coll_assert_eq(&acc_out, &want, what, seed);
        free(acc_in.r), free(acc_out.r), free(want.r);
    }

    run save = {.k = k, .mode = SAVE, .in = &in, .at = at, .steps_seed = (uint32_t)seed + 1};
    run_exec(&save, W);
    for (uint32_t i = 0; i < W; i++)
        cr_assert_eq(save.rc[i], TIDE_OK, "%s: save on worker %u: %s", NAMES[k], i,
                     save.err[i].msg);
    coll before = coll_slice(&full.out, 0, at, UINT64_MAX);
    coll_assert_eq(&save.out, &before, "outputs before the save", seed);

    run load = {
        .k = k, .mode = LOAD, .in = &in, .at = at, .load_as = k, .steps_seed = (uint32_t)seed + 2};
    memcpy(load.buf, save.buf, sizeof load.buf);
    memcpy(load.len, save.len, sizeof load.len);
    memset(save.buf, 0, sizeof save.buf);
    run_exec(&load, W);
    for (uint32_t i = 0; i < W; i++)
        cr_assert_eq(load.rc[i], TIDE_OK, "%s: load on worker %u: %s", NAMES[k], i,
                     load.err[i].msg);
    coll after = coll_slice(&full.out, at, UINT64_MAX, UINT64_MAX);
    coll early = coll_slice(&load.out, 0, at, UINT64_MAX);
    cr_assert_eq(early.n, 0, "%s: the restored run emitted %u update(s) before epoch %llu",
                 NAMES[k], early.n, (unsigned long long)at);
    coll_assert_eq(&load.out, &after, "outputs after the load", seed);
    free(in.r), free(before.r), free(after.r), free(early.r);
    run_fini(&full), run_fini(&save), run_fini(&load);
}

static void check_all(uint32_t W)
{
    for (int k = 0; k < NKINDS; k++)
        for (uint64_t s = 0; s < 2; s++) check_kind((kind)k, W, 1000 * W + 10 * (uint64_t)k + s);
}

Test(snapshot_state, operators_w1)
{
    check_all(1);
}

Test(snapshot_state, operators_w2)
{
    check_all(2);
}

Test(snapshot_state, operators_w4)
{
    check_all(4);
}

/* ---- refusals ------------------------------------------------------------------------ */

/* A saved state of @k at W workers (buffers taken by the caller). */
static void saved(kind k, uint32_t W, run *save, coll *in)
{
    tide_rng g = {77};
    *in = gen(&g);
    *save = (run){.k = k, .mode = SAVE, .in = in, .at = 4, .steps_seed = 3};
    run_exec(save, W);
    for (uint32_t i = 0; i < W; i++) cr_assert_eq(save->rc[i], TIDE_OK, "%s", save->err[i].msg);
}

/* Load @buf (len @len, borrowed) into worker 0 of a W-worker @as dataflow. */
static int try_load(kind as, uint32_t W, char *const *buf, const size_t *len, tide_error *e)
{
    coll in = {0};
    run load = {.k = as, .mode = LOAD, .in = &in, .at = 4, .load_as = as};
    for (uint32_t i = 0; i < W; i++) {
        load.buf[i] = malloc(len[i] + 1);
        memcpy(load.buf[i], buf[i], len[i]);
        load.len[i] = len[i];
    }
    run_exec(&load, W);
    *e = load.err[0];
    int rc = load.rc[0];
    run_fini(&load);
    return rc;
}

Test(snapshot_state, refuses_mismatch_truncation_corruption)
{
    run save;
    coll in;
    saved(JOIN, 2, &save, &in);
    tide_error e;
    /* Another dataflow. */
    cr_assert_eq(try_load(COUNT, 2, save.buf, save.len, &e), TIDE_EINVAL, "%s", e.msg);
    cr_assert(strstr(e.msg, "operator") != NULL, "%s", e.msg);
    /* Another worker count: worker 0's file into a 1-worker run. */
    cr_assert_eq(try_load(JOIN, 1, save.buf, save.len, &e), TIDE_EINVAL, "%s", e.msg);
    cr_assert(strstr(e.msg, "2 worker(s)") != NULL, "%s", e.msg);
    /* Truncated at every tenth of its length. */
    for (int f = 0; f < 10; f++) {
        size_t len[MAXW] = {save.len[0] * f / 10, save.len[1]};
        cr_assert_eq(try_load(JOIN, 2, save.buf, len, &e), TIDE_EPARSE, "cut at %zu: %s", len[0],
                     e.msg);
    }
    /* A flipped byte in the middle of the state. */
    save.buf[0][save.len[0] / 2] ^= 0x40;
    cr_assert_eq(try_load(JOIN, 2, save.buf, save.len, &e), TIDE_EPARSE, "%s", e.msg);
    cr_assert(strstr(e.msg, "checksum") != NULL, "%s", e.msg);
    save.buf[0][save.len[0] / 2] ^= 0x40;
    cr_assert_eq(try_load(JOIN, 2, save.buf, save.len, &e), TIDE_OK, "%s", e.msg);
    free(in.r);
    run_fini(&save);
}

/* A user operator that keeps state but declares no hooks. */
static void opaque_schedule(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) tide_out_give(op, 0, b);
}

typedef struct refuse_run {
    int rc_hooks, rc_busy;
    tide_error e_hooks, e_busy;
} refuse_run;

static int refuse_main(tide_worker *w, void *arg)
{
    refuse_run *r = arg;
    tide_dataflow *df = tide_dataflow_new(w, "refuse");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_layout l = tide_layout_make(8, 8);
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "opaque",
                      .ninputs = 1,
                      .inputs = &s,
                      .noutputs = 1,
                      .outputs = &l,
                      .out_flags = &flags,
                      .schedule = opaque_schedule};
    tide_op *op = tide_op_build(tide_dataflow_root(df), &d);
    tide_probe *p = op ? tide_probe_new(tide_count(tide_op_output(op, 0))) : NULL;
    if (p == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    uint8_t k[8] = {0}, v[8] = {0};
    TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
    TIDE_TRY(tide_input_advance_to(in, 1));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    r->rc_busy = tide_dataflow_save(df, 1, f, &r->e_busy); /* not stepped yet */
    while (!tide_dataflow_quiescent(df, 1)) TIDE_TRY(step(w));
    r->rc_hooks = tide_dataflow_save(df, 1, f, &r->e_hooks);
    fclose(f);
    free(buf);
    return tide_input_close(in);
}

Test(snapshot_state, refuses_unsupported_and_busy)
{
    refuse_run r = {0};
    TIDE_TEST_EXECUTE(1, refuse_main, &r);
    cr_assert_eq(r.rc_busy, TIDE_ESTATE, "%s", r.e_busy.msg);
    cr_assert(strstr(r.e_busy.msg, "quiescent") != NULL, "%s", r.e_busy.msg);
    cr_assert_eq(r.rc_hooks, TIDE_ENOTSUP, "%s", r.e_hooks.msg);
    cr_assert(strstr(r.e_hooks.msg, "'opaque'") != NULL, "%s", r.e_hooks.msg);
}

/* A loop: its operators live in a nested scope, which snapshots do not
 * cover; and a load from a pipe, which cannot be read twice. */
static tide_stream *same(void *ctx, tide_scope *inner, tide_stream *x)
{
    return x; /* the fixed point of the identity: enough to build a loop */
}

typedef struct loop_run {
    int rc_loop, rc_pipe;
    tide_error e_loop, e_pipe;
} loop_run;

static int loop_main(tide_worker *w, void *arg)
{
    loop_run *r = arg;
    tide_dataflow *df = tide_dataflow_new(w, "loop");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_stream *o = in ? tide_iterate(s, same, NULL) : NULL;
    tide_probe *p = o ? tide_probe_new(o) : NULL;
    if (p == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_advance_to(in, 1));
    while (!tide_dataflow_quiescent(df, 1)) TIDE_TRY(step(w));
    FILE *f = fopen("/dev/null", "wb");
    r->rc_loop = tide_dataflow_save(df, 1, f, &r->e_loop);
    fclose(f);
    /* A pipe (not seekable) refused before anything is read. */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    FILE *pf = fdopen(fds[0], "rb");
    tide_dataflow *df2 = tide_dataflow_new(w, "loop2");
    tide_input *in2 =
        tide_input_new(tide_dataflow_root(df2), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    if (in2 == NULL) return tide_worker_error(w)->code;
    r->rc_pipe = tide_dataflow_load(df2, pf, 1, &r->e_pipe);
    fclose(pf);
    close(fds[1]);
    TIDE_TRY(tide_dataflow_drop(df2));
    return tide_input_close(in);
}

Test(snapshot_state, refuses_loops_and_pipes)
{
    loop_run r = {0};
    TIDE_TEST_EXECUTE(1, loop_main, &r);
    cr_assert_eq(r.rc_loop, TIDE_ENOTSUP, "%s", r.e_loop.msg);
    cr_assert_eq(r.rc_pipe, TIDE_EINVAL, "%s", r.e_pipe.msg);
    cr_assert(strstr(r.e_pipe.msg, "seekable") != NULL, "%s", r.e_pipe.msg);
}
