/*
 * test_snapshot_fault.c - every allocation of a save and a load of a small
 * dataflow (arrange, reduce, join, fold: traces, a fold's heaps, the
 * section buffers) fails in turn: the run must end with TIDE_OK or a clean
 * TIDE_ENOMEM, never crash or hang, and (under ASan) leak nothing, a load
 * that fails half way included (the dataflow is dropped). A run that
 * succeeds must give the uninterrupted run's output.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_run.h"
#include "tide/tide.h"
#include "tide_test.h"

typedef struct fstate {
    int64_t sum;  /* sum over the outputs of hash(record) * diff */
    int64_t want; /* the uninterrupted run's */
    bool split;   /* save at epoch 3 and load into a second dataflow */
} fstate;

static void sum_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                   uint32_t n, tide_reduce_out *out)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < n; i++) s += (int64_t)tide_u64_load(in[i].val) * in[i].diff;
    uint8_t v[8];
    tide_i64_store(v, s);
    tide_reduce_push(out, v, 8, 1);
}

static void pair_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    uint8_t w[8];
    tide_u64_store(w, tide_u64_load(v1) * 31 + tide_u64_load(v2));
    tide_emit(em, key, klen, w, 8);
}

static void running(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                    uint32_t vl, int64_t m, tide_fold_out *o)
{
    int64_t sum = st->len == 8 ? tide_i64_load(st->data) : 0;
    sum += (int64_t)tide_u64_load(v) * m;
    tide_rowbuf_clear(st);
    tide_row_put_i64(st, sum);
    uint8_t out[8];
    tide_i64_store(out, sum);
    tide_fold_emit(o, out, 8, 1);
}

static void collect(void *ctx, const tide_batch *b)
{
    fstate *s = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        s->sum += (int64_t)((tide_hash(k, kl) ^ tide_hash(v, vl)) % 1000003) * b->diffs[i];
    }
}

/* The dataflow (the same each time): returns its input, NULL on error. */
static tide_input *build(tide_worker *w, tide_dataflow *df, fstate *s)
{
    tide_stream *c;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &c);
    tide_arranged *a = in ? tide_arrange(c, "a") : NULL;
    tide_arranged *r = a ? tide_reduce(a, "sum", 8, sum_fn, NULL) : NULL;
    tide_stream *j = r ? tide_join(a, a, "self", tide_layout_make(8, 8), pair_fn, NULL) : NULL;
    tide_stream *f = j ? tide_fold(c, "fold", 8, running, NULL) : NULL;
    tide_stream *rs = f ? tide_arranged_stream(r) : NULL;
    if (rs == NULL) return NULL;
    tide_sink(rs, TIDE_PIPELINE, collect, s);
    tide_sink(j, TIDE_PIPELINE, collect, s);
    tide_sink(f, TIDE_PIPELINE, collect, s);
    return in;
}

static int feed(tide_input *in, uint64_t from, uint64_t to)
{
    for (uint64_t e = from; e < to; e++) {
        for (uint64_t i = 0; i < 12; i++) {
            uint8_t k[8], v[8];
            tide_u64_store(k, (e * 7 + i) % 5);
            tide_u64_store(v, (e * 3 + i * 5) % 9);
            TIDE_TRY(tide_input_update(in, k, 8, v, 8, e == 2 && i % 3 == 0 ? -1 : 1));
        }
        TIDE_TRY(tide_input_advance_to(in, e + 1));
    }
    return TIDE_OK;
}

static int fault_main(tide_worker *w, void *arg)
{
    fstate *s = arg;
    tide_dataflow *df = tide_dataflow_new(w, "snap_fault");
    if (df == NULL) return tide_worker_error(w)->code;
    tide_input *in = build(w, df, s);
    if (in == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(feed(in, 0, s->split ? 3 : 6));
    if (!s->split) return tide_input_close(in);
    while (!tide_dataflow_quiescent(df, 3)) {
        int rc = tide_worker_step(w);
        if (rc < 0) return rc;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return TIDE_ENOMEM;
    tide_error e = {0};
    int rc = tide_dataflow_save(df, 3, f, &e);
    fclose(f);
    TIDE_TRY(tide_input_close(in));
    if (rc < 0) {
        free(buf);
        return rc;
    }
    tide_dataflow *df2 = tide_dataflow_new(w, "snap_fault");
    tide_input *in2 = df2 ? build(w, df2, s) : NULL;
    if (in2 == NULL) {
        free(buf);
        return tide_worker_error(w)->code;
    }
    f = fmemopen(buf, len, "rb");
    rc = f ? tide_dataflow_load(df2, f, 3, &e) : TIDE_ENOMEM;
    if (f) fclose(f);
    free(buf);
    if (rc < 0) {
        tide_dataflow_drop(df2);
        return rc;
    }
    TIDE_TRY(tide_dataflow_seal(df2));
    TIDE_TRY(feed(in2, 3, 6));
    return tide_input_close(in2);
}

static void reset(void *arg)
{
    ((fstate *)arg)->sum = 0;
}

static bool check(void *arg)
{
    fstate *s = arg;
    return s->sum == s->want;
}

Test(snapshot_fault, save_and_load)
{
    fstate s = {0};
    TIDE_TEST_EXECUTE(1, fault_main, &s); /* uninterrupted */
    cr_assert_neq(s.sum, 0);
    s.want = s.sum;
    s.split = true;
    fault_job j = {fault_main, &s, reset, check, 20000};
    long nallocs = 0;
    char why[512];
    cr_assert(fault_run_each(&j, &nallocs, why, sizeof why), "%s", why);
    cr_assert_gt(nallocs, 50, "the run made only %ld allocations", nallocs);
}
