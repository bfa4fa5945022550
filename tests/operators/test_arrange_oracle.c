/*
 * test_arrange_oracle.c - arrangements against the naive oracle.
 *
 *  - stream: tide_arranged_stream of an arrangement accumulates, at every
 *    epoch, to the input accumulated there (W = 1, 2, 4), and each worker's
 *    trace, read at the end, holds exactly the keys it owns and sums with
 *    the others' to the final input.
 *  - compaction: 10^6 updates cycling over 10^3 keys through an arrangement
 *    whose one reader advances with the input: the trace stays near 10^3
 *    updates; with no reader at all, the arrangement compacts itself; read
 *    by a join, the join's reader advances with the other input's frontier.
 *  - import: a second dataflow imports a running arrangement and sees its
 *    replayed history plus every later change.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "arrange.h" /* a->stream, for a probe on the announcements */
#include "tide/collection.h"

/* ---- stream and trace contents ----------------------------------------------------- */

typedef struct stream_ctx {
    naive_sink trace_sink; /* every worker's final trace contents */
    uint32_t misplaced;    /* keys in a trace of a worker not owning them (atomic) */
    tide_arranged *a[4];   /* per worker */
} stream_ctx;

static tide_stream *build_stream(void *ctx, tide_scope *root, tide_stream **ins)
{
    stream_ctx *sc = ctx;
    tide_arranged *a = tide_arrange(ins[0], "arrange");
    if (a == NULL) return NULL;
    sc->a[tide_worker_index(tide_scope_worker(root))] = a;
    return tide_arranged_stream(a);
}

static void oracle_identity(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_coll_clear(out);
    for (size_t i = 0; i < in[0]->len; i++)
        naive_coll_add(out, in[0]->u[i].k, in[0]->u[i].v, TIDE_TIME_ZERO, in[0]->u[i].d);
}

typedef struct cur_ctx {
    naive_coll *c;
    uint64_t k, v;
} cur_ctx;

static void add_time(void *ctx, tide_time t, int64_t d)
{
    cur_ctx *cc = ctx;
    naive_coll_add(cc->c, cc->k, cc->v, t, d);
}

/* Read trace @t into @s (locked); count keys not owned by worker @me. */
static void read_trace(tide_trace *t, naive_sink *s, uint32_t me, uint32_t peers, uint32_t *bad)
{
    tide_cursor *c;
    cr_assert_eq(tide_spine_cursor(tide_trace_spine(t), &c), 0);
    pthread_mutex_lock(&s->lock);
    for (; tide_cursor_key_valid(c); tide_cursor_step_key(c)) {
        uint32_t kl, vl;
        const uint8_t *k = tide_cursor_key(c, &kl);
        if (tide_hash_owner(tide_hash(k, kl), peers) != me)
            __atomic_add_fetch(bad, 1, __ATOMIC_RELAXED);
        for (; tide_cursor_val_valid(c); tide_cursor_step_val(c)) {
            const uint8_t *v = tide_cursor_val(c, &vl);
            cur_ctx cc = {&s->got, tide_u64_load(k), tide_u64_load(v)};
            tide_cursor_map_times(c, add_time, &cc);
        }
    }
    pthread_mutex_unlock(&s->lock);
    tide_cursor_free(c);
}

static int stream_main(tide_worker *w, void *arg);

typedef struct stream_run {
    stream_ctx *sc;
    const naive_coll *sched;
    naive_sink *out;
} stream_run;

static int stream_main(tide_worker *w, void *arg)
{
    stream_run *sr = arg;
    tide_dataflow *df = tide_dataflow_new(w, "arrange");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_stream *out = build_stream(sr->sc, root, &s);
    cr_assert_not_null(out);
    tide_sink(out, TIDE_PIPELINE, naive_sink_fn, sr->out);
    tide_probe *p = tide_probe_new(out);
    TIDE_TRY(tide_dataflow_seal(df));
    uint32_t vw = 8;
    const naive_coll *sched[1] = {sr->sched};
    TIDE_TRY(naive_feed(w, &in, sched, &vw, 1, p));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    if (rc < 0) return rc;
    read_trace(tide_arranged_trace(sr->sc->a[tide_worker_index(w)]), &sr->sc->trace_sink,
               tide_worker_index(w), tide_worker_peers(w), &sr->sc->misplaced);
    return TIDE_OK;
}

Test(arrange_oracle, stream_and_trace_contents)
{
    tide_rng r = {tide_test_seed("arrange_stream", 31)};
    for (uint32_t workers = 1; workers <= 4; workers *= 2) {
        naive_coll s;
        naive_coll_init(&s);
        naive_gen g = {
            .updates = 3000, .epochs = 10, .keys = 100, .vals = 4, .groups = 4, .retract = 35};
        naive_gen_schedule(&r, &g, &s);
        stream_ctx sc = {0};
        naive_sink_init(&sc.trace_sink);
        naive_sink out;
        naive_sink_init(&out);
        stream_run sr = {&sc, &s, &out};
        TIDE_TEST_EXECUTE(workers, stream_main, &sr);
        const naive_coll *sched[1] = {&s};
        char why[1024];
        cr_assert_gt(out.got.len, 0);
        cr_assert(naive_check(&out.got, 1, sched, oracle_identity, NULL, why, sizeof why),
                  "stream W=%u: %s", workers, why);
        cr_assert_eq(sc.misplaced, 0, "W=%u: %u keys on a worker not owning them", workers,
                     sc.misplaced);
        /* The traces together accumulate to the final input. */
        naive_coll have, want;
        naive_coll_init(&have);
        naive_coll_init(&want);
        tide_time end = tide_time_epoch(UINT64_MAX);
        naive_coll_at(&sc.trace_sink.got, end, &have);
        naive_coll_at(&s, end, &want);
        cr_assert(naive_coll_eq(&have, &want, why, sizeof why), "trace W=%u: %s", workers, why);
        naive_coll_fini(&have);
        naive_coll_fini(&want);
        naive_sink_fini(&out);
        naive_sink_fini(&sc.trace_sink);
        naive_coll_fini(&s);
    }
}

/* ---- compaction ------------------------------------------------------------------- */

#define CKEYS    1000
#define CUPDATES 1000000

typedef struct compact_ctx {
    bool with_reader;
    bool with_join;   /* the reader is a join against a small static collection */
    uint64_t max_len; /* largest trace size seen after the warm-up (atomic max) */
} compact_ctx;

static void first_val(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                      const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, key, klen, v1, l1);
}

static int compact_main(tide_worker *w, void *arg)
{
    compact_ctx *cc = arg;
    tide_dataflow *df = tide_dataflow_new(w, "compact");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_arranged *a = tide_arrange(s, "arrange");
    tide_probe *p = tide_probe_new(a->stream);
    tide_input *in2 = NULL;
    if (cc->with_join) {
        tide_stream *s2;
        in2 = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s2);
        tide_stream *j = tide_join(a, tide_arrange(s2, "small"), "join", tide_layout_make(8, 8),
                                   first_val, NULL);
        p = tide_probe_new(j);
    }
    TIDE_TRY(tide_dataflow_seal(df));
    if (in2 && tide_worker_index(w) == 0)
        for (uint64_t k = 0; k < 10; k++) {
            uint8_t kb[8];
            tide_u64_store(kb, k * 97);
            TIDE_TRY(tide_input_update(in2, kb, 8, kb, 8, 1));
        }
    tide_trace_reader *rd = NULL;
    if (cc->with_reader) cr_assert_eq(tide_trace_reader_new(tide_arranged_trace(a), &rd), 0);
    tide_antichain f;
    tide_antichain_init(&f);
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    /* Each epoch moves every key's value on by one: +new, -old. */
    uint64_t epochs = CUPDATES / (2 * CKEYS);
    for (uint64_t e = 0; e < epochs; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        if (in2) TIDE_TRY(tide_input_advance_to(in2, e));
        for (uint64_t k = me; k < CKEYS; k += peers) {
            uint8_t kb[8], vb[8];
            tide_u64_store(kb, k);
            tide_u64_store(vb, e);
            TIDE_TRY(tide_input_update(in, kb, 8, vb, 8, 1));
            if (e > 0) {
                tide_u64_store(vb, e - 1);
                TIDE_TRY(tide_input_update(in, kb, 8, vb, 8, -1));
            }
        }
        if (e > 0) TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(e - 1)));
        if (rd) {
            tide_antichain_clear(&f);
            tide_antichain_insert(&f, tide_time_epoch(e));
            TIDE_TRY(tide_trace_reader_set_logical(rd, &f));
            TIDE_TRY(tide_trace_reader_set_physical(rd, &f));
        }
        uint64_t len = tide_spine_len(tide_trace_spine(tide_arranged_trace(a)));
        if (e >= 10) {
            uint64_t cur = __atomic_load_n(&cc->max_len, __ATOMIC_RELAXED);
            while (len > cur && !__atomic_compare_exchange_n(&cc->max_len, &cur, len, false,
                                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            }
        }
    }
    tide_antichain_fini(&f);
    if (in2) TIDE_TRY(tide_input_close(in2));
    TIDE_TRY(tide_input_close(in));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    tide_trace_reader_free(rd);
    return rc;
}

static void run_compact(bool with_reader, bool with_join, uint32_t workers)
{
    compact_ctx cc = {.with_reader = with_reader, .with_join = with_join};
    TIDE_TEST_EXECUTE(workers, compact_main, &cc);
    /* A worker's share of the keys is ~CKEYS / workers; allow the geometric
     * spine's slack (a few batches of recent epochs on top of the compacted
     * one). Without compaction it would grow to CUPDATES / workers. */
    fprintf(stderr, "compaction: reader %d W=%u max trace %llu updates\n", with_reader, workers,
            (unsigned long long)cc.max_len);
    cr_assert_lt(cc.max_len, 8 * CKEYS, "trace grew to %llu updates (reader %d, W=%u)",
                 (unsigned long long)cc.max_len, with_reader, workers);
}

Test(arrange_oracle, compaction_follows_reader, .timeout = 60)
{
    run_compact(true, false, 1);
}
Test(arrange_oracle, compaction_without_readers, .timeout = 60)
{
    run_compact(false, false, 2);
}
Test(arrange_oracle, compaction_follows_join, .timeout = 60)
{
    run_compact(false, true, 2);
}

/* ---- import --------------------------------------------------------------------------- */

typedef struct import_ctx {
    const naive_coll *sched;
    uint64_t import_at; /* epoch at which the second dataflow is built */
    naive_sink out;
} import_ctx;

static int import_main(tide_worker *w, void *arg)
{
    import_ctx *ic = arg;
    tide_dataflow *df = tide_dataflow_new(w, "source");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_arranged *a = tide_arrange(s, "arrange");
    tide_probe *p = tide_probe_new(a->stream);
    TIDE_TRY(tide_dataflow_seal(df));
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    bool imported = false;
    size_t i = 0;
    const naive_coll *sc = ic->sched;
    while (i < sc->len) {
        uint64_t e = sc->u[i].t.epoch;
        TIDE_TRY(tide_input_advance_to(in, e));
        if (!imported && e >= ic->import_at) {
            /* Let the source catch up, then attach a second dataflow to it. */
            TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(e - 1)));
            tide_dataflow *df2 = tide_dataflow_new(w, "importer");
            tide_arranged *b = tide_arranged_import(a, tide_dataflow_root(df2));
            cr_assert_not_null(b, "%s", tide_worker_error(w)->msg);
            tide_sink(tide_arranged_stream(b), TIDE_PIPELINE, naive_sink_fn, &ic->out);
            TIDE_TRY(tide_dataflow_seal(df2));
            imported = true;
        }
        for (; i < sc->len && sc->u[i].t.epoch == e; i++) {
            if (i % peers != me) continue;
            uint8_t k[8], v[8];
            tide_u64_store(k, sc->u[i].k);
            tide_u64_store(v, sc->u[i].v);
            TIDE_TRY(tide_input_update(in, k, 8, v, 8, sc->u[i].d));
        }
        TIDE_TRY(tide_worker_step(w));
    }
    TIDE_TRY(tide_input_close(in));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    return rc;
}

Test(arrange_oracle, import_replays_then_follows)
{
    tide_rng r = {tide_test_seed("arrange_import", 33)};
    for (uint32_t workers = 1; workers <= 2; workers *= 2) {
        naive_coll s;
        naive_coll_init(&s);
        naive_gen g = {
            .updates = 2000, .epochs = 10, .keys = 80, .vals = 4, .groups = 1, .retract = 35};
        naive_gen_schedule(&r, &g, &s);
        uint64_t ep[64];
        size_t ne = naive_epochs(&s, ep);
        import_ctx ic = {.sched = &s, .import_at = ep[ne / 2]};
        naive_sink_init(&ic.out);
        TIDE_TEST_EXECUTE(workers, import_main, &ic);
        /* From the import on, the imported collection is the source's. */
        naive_coll have, want;
        naive_coll_init(&have);
        naive_coll_init(&want);
        char why[1024];
        for (uint64_t t = ic.import_at; t <= ep[ne - 1] + 1; t++) {
            naive_coll_at(&ic.out.got, tide_time_epoch(t), &have);
            naive_coll_at(&s, tide_time_epoch(t), &want);
            cr_assert(naive_coll_eq(&have, &want, why, sizeof why), "import W=%u epoch %llu: %s",
                      workers, (unsigned long long)t, why);
        }
        naive_coll_fini(&have);
        naive_coll_fini(&want);
        naive_sink_fini(&ic.out);
        naive_coll_fini(&s);
    }
}
