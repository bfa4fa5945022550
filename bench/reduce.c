/*
 * reduce.c - group-wise count and max with tide (arrange + reduce) against
 * the hand-written single-threaded baseline (bench/baseline_reduce.c).
 *
 *   bench_reduce [-w W] [EVENTS] [KEYS] [VALS] [RUNS] [count|max]
 *       default 10^7 events, 10^4 keys, values in [0, 1000), 5 runs, both ops
 *
 * Events (key, val) arrive in 100 epochs; each worker feeds every W-th
 * event. Phase count: tide_count; phase max: tide_max; each is a separate
 * dataflow run, timed end to end (build, feed, drain). Both are checked
 * against the baseline: the accumulated output must sum to the baseline's
 * final per-key values. One stdout line per phase.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "common.h"
#include "tide/collection.h"
#include "tide/tide.h"

#define EPOCHS 100

typedef struct job {
    const uint64_t *keys, *vals;
    uint64_t n;
    int op;            /* 0 count, 1 max */
    uint64_t checksum; /* sum of val * diff over all output updates (atomic) */
    uint64_t updates;  /* output updates (atomic) */
} job;

typedef struct sink_state {
    job *j;
    uint64_t sum, n;
} sink_state;

static void sink_fn(void *ctx, const tide_batch *b)
{
    sink_state *s = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t v = s->j->op == 0 ? (uint64_t)tide_i64_load(b->val.bytes + 8 * (size_t)i)
                                   : tide_batch_val_u64(b, i);
        s->sum += v * (uint64_t)b->diffs[i];
    }
    s->n += b->len;
}

static int worker_main(tide_worker *w, void *arg)
{
    job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "reduce");
    tide_stream *ev;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &ev);
    tide_stream *out = j->op == 0 ? tide_count(ev) : tide_max(ev);
    if (out == NULL) return tide_worker_error(w)->code;
    sink_state *s = calloc(1, sizeof *s);
    s->j = j;
    tide_sink(out, TIDE_PIPELINE, sink_fn, s);
    TIDE_TRY(tide_dataflow_seal(df));
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t per = j->n / EPOCHS + (j->n % EPOCHS != 0);
    for (uint32_t e = 0; e < EPOCHS; e++) {
        uint64_t lo = (uint64_t)e * per, hi = lo + per < j->n ? lo + per : j->n;
        uint8_t k[8], v[8];
        for (uint64_t i = lo + me; i < hi; i += peers) {
            tide_u64_store(k, j->keys[i]);
            tide_u64_store(v, j->vals[i]);
            TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
        }
        TIDE_TRY(tide_input_advance_to(in, e + 1));
        TIDE_TRY(tide_worker_step(w));
    }
    TIDE_TRY(tide_input_close(in));
    while (!tide_dataflow_complete(df)) {
        int rc = tide_worker_step_or_park(w, 1000);
        if (rc < 0) return rc;
    }
    __atomic_add_fetch(&j->checksum, s->sum, __ATOMIC_RELAXED);
    __atomic_add_fetch(&j->updates, s->n, __ATOMIC_RELAXED);
    free(s);
    return TIDE_OK;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_reduce: %s\n", e.msg);
        return 2;
    }
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    uint32_t nkeys = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
    uint32_t nvals = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1000;
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    const char *only = argc > 5 ? argv[5] : NULL;
    if (runs < 1 || runs > 64 || nkeys == 0 || nvals == 0 || n < EPOCHS) {
        fprintf(stderr, "usage: bench_reduce [-w W] [EVENTS>=100] [KEYS] [VALS] [RUNS<=64]\n");
        return 2;
    }
    uint64_t seed = bench_seed(42), s = seed;
    fprintf(stderr, "generating %llu events over %u keys...\n", (unsigned long long)n, nkeys);
    uint64_t *keys = malloc(n * sizeof *keys), *vals = malloc(n * sizeof *vals);
    for (uint64_t i = 0; i < n; i++) {
        keys[i] = bench_rng(&s) % nkeys;
        vals[i] = bench_rng(&s) % nvals;
    }
    static const char *names[2] = {"count", "max"};
    for (int op = 0; op < 2; op++) {
        if (only && strcmp(only, names[op]) != 0) continue;
        double tide_ms[64], base_ms[64];
        uint64_t base_sum = 0, base_out = 0, tide_updates = 0;
        for (int r = -1; r < runs; r++) { /* r = -1: warm-up */
            uint64_t t0 = bench_now_ns();
            base_out = baseline_reduce(keys, vals, n, nkeys, EPOCHS, op, &base_sum);
            uint64_t t1 = bench_now_ns();
            job j = {.keys = keys, .vals = vals, .n = n, .op = op};
            if (tide_execute(&cfg, worker_main, &j, &e) < 0) {
                fprintf(stderr, "bench_reduce: %s\n", e.msg);
                return 1;
            }
            uint64_t t2 = bench_now_ns();
            if (j.checksum != base_sum) {
                fprintf(stderr, "bench_reduce: %s: tide's output sums to %llu, baseline %llu\n",
                        names[op], (unsigned long long)j.checksum, (unsigned long long)base_sum);
                return 1;
            }
            tide_updates = j.updates;
            if (r < 0) continue;
            base_ms[r] = (t1 - t0) / 1e6;
            tide_ms[r] = (t2 - t1) / 1e6;
            fprintf(stderr, "%s run %d: tide %.1f ms, baseline %.1f ms\n", names[op], r, tide_ms[r],
                    base_ms[r]);
        }
        double tm = bench_median(tide_ms, runs), bm = bench_median(base_ms, runs);
        printf("bench=reduce op=%s events=%llu keys=%u vals=%u epochs=%d workers=%u runs=%d "
               "tide_ms=%.1f baseline_ms=%.1f ratio=%.2f updates_per_s=%.3g "
               "baseline_updates_per_s=%.3g out_updates=%llu baseline_outputs=%llu seed=%llu %s\n",
               names[op], (unsigned long long)n, nkeys, nvals, EPOCHS, cfg.workers, runs, tm, bm,
               tm / bm, n / (tm / 1e3), n / (bm / 1e3), (unsigned long long)tide_updates,
               (unsigned long long)base_out, (unsigned long long)seed, bench_machine());
        fflush(stdout);
    }
    free(keys);
    free(vals);
    return 0;
}
