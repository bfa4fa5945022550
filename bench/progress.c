/*
 * progress.c - latency of an empty progress round.
 *
 *   bench_progress [-w W] [ROUNDS]     (default 100000 rounds)
 *
 * advance: every worker advances its input one epoch and steps until the
 *   probe behind an exchange has passed the previous one: one round trip of
 *   progress through all workers, no data.
 * barrier: one operator in a loop with a feedback edge asks to be notified
 *   at the next time each time it is notified (timely's barrier example).
 * Reported: median and p99 of per-round time (advance), mean (barrier).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "tide/tide.h"

typedef struct job {
    uint64_t rounds;
    double *lat_us; /* worker 0's per-round latencies */
    double barrier_us;
} job;

static int advance_main(tide_worker *w, void *arg)
{
    job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "advance");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe *p = tide_probe_new(tide_exchange(s));
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t r = 0; r < j->rounds; r++) {
        uint64_t t0 = bench_now_ns();
        TIDE_TRY(tide_input_advance_to(in, r + 1));
        while (tide_probe_less_equal(p, tide_time_epoch(r))) TIDE_TRY(tide_worker_step(w));
        if (tide_worker_index(w) == 0) j->lat_us[r] = (bench_now_ns() - t0) / 1e3;
    }
    return tide_input_close(in);
}

typedef struct barrier {
    tide_notificator n;
    uint64_t rounds;
    bool started;
} barrier;

static void barrier_schedule(tide_op *op, void *state)
{
    barrier *b = state;
    if (!b->started) {
        b->started = true;
        tide_notificator_notify_at(&b->n, op, TIDE_TIME_ZERO);
        tide_op_drop(op, TIDE_TIME_ZERO); /* the initial capability */
    }
    tide_batch *m;
    while ((m = tide_op_pull(op, 0)) != NULL) tide_batch_unref(m);
    tide_time t;
    while (tide_notificator_next(&b->n, op, tide_op_frontier(op, 0), &t)) {
        if (t.epoch + 1 < b->rounds)
            tide_notificator_notify_at(&b->n, op, tide_time_epoch(t.epoch + 1));
    }
}

static void barrier_free(void *p)
{
    barrier *b = p;
    tide_notificator_fini(&b->n);
    free(b);
}

static int barrier_main(tide_worker *w, void *arg)
{
    job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "barrier");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *fed;
    tide_layout l = tide_layout_make(8, 0);
    tide_feedback *fb = tide_feedback_new(root, l, 0, 1, &fed);
    barrier *b = calloc(1, sizeof *b);
    tide_notificator_init(&b->n);
    b->rounds = j->rounds;
    tide_op_desc d = {.name = "barrier",
                      .ninputs = 1,
                      .inputs = &fed,
                      .noutputs = 1,
                      .outputs = &l,
                      .schedule = barrier_schedule,
                      .state = b,
                      .state_free = barrier_free,
                      .initial_capability = true};
    tide_op *op = tide_op_build(root, &d);
    if (op == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_feedback_connect(fb, tide_op_output(op, 0)));
    TIDE_TRY(tide_dataflow_seal(df));
    uint64_t t0 = bench_now_ns();
    int rc;
    while ((rc = tide_worker_step(w)) > 0) {
    }
    if (tide_worker_index(w) == 0) j->barrier_us = (bench_now_ns() - t0) / 1e3 / j->rounds;
    return rc;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_progress: %s\n", e.msg);
        return 2;
    }
    job j = {.rounds = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000};
    j.lat_us = calloc(j.rounds, sizeof *j.lat_us);
    enum { RUNS = 5 };
    double med[RUNS], p99[RUNS], bar[RUNS];
    for (int r = -1; r < RUNS; r++) {
        if (tide_execute(&cfg, advance_main, &j, &e) < 0 ||
            tide_execute(&cfg, barrier_main, &j, &e) < 0) {
            fprintf(stderr, "bench_progress: %s\n", e.msg);
            return 1;
        }
        if (r < 0) continue;
        med[r] = bench_median(j.lat_us, j.rounds);
        p99[r] = bench_percentile(j.lat_us, j.rounds, 0.99);
        bar[r] = j.barrier_us;
        fprintf(stderr, "run %d: advance median %.2f us p99 %.2f us, barrier %.2f us/round\n", r,
                med[r], p99[r], bar[r]);
    }
    /* Reference: timely 0.12 measured on this machine (docs/benchmarks.md). */
    double ref = cfg.workers * cfg.processes == 1 ? 1.7 : 3.8;
    double m = bench_median(med, RUNS);
    printf("bench=progress workers=%u processes=%u rounds=%llu advance_p50_us=%.2f "
           "advance_p99_us=%.2f barrier_us=%.2f timely_ref_us=%.1f ratio_vs_timely=%.2f %s\n",
           cfg.workers, cfg.processes, (unsigned long long)j.rounds, m, bench_median(p99, RUNS),
           bench_median(bar, RUNS), ref, m / ref, bench_machine());
    free(j.lat_us);
    return 0;
}
