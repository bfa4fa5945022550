/*
 * exchange.c - all-to-all exchange throughput: each worker sends BATCH u64
 * records per round, routed by key hash to their owner; a probe waits for
 * the round to complete (the shape of timely's exchange example).
 *
 *   bench_exchange [-w W] [BATCH] [ROUNDS]    (default 10^6 records x 20 rounds)
 *
 * The baseline moves the same records through a hand-written partition
 * into per-destination arrays on one thread (bench/baseline_exchange.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "baselines.h"
#include "common.h"
#include "tide/tide.h"

typedef struct job {
    uint64_t batch, rounds;
    uint64_t received; /* atomic */
    uint64_t start_ns, end_ns;
} job;

static void count(void *ctx, const tide_batch *b)
{
    __atomic_add_fetch((uint64_t *)ctx, b->len, __ATOMIC_RELAXED);
}

static int worker_main(tide_worker *w, void *arg)
{
    job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "exchange");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_stream *x = tide_inspect(tide_exchange(s), count, &j->received);
    tide_probe *p = tide_probe_new(x);
    TIDE_TRY(tide_dataflow_seal(df));
    uint64_t base = (uint64_t)tide_worker_index(w) << 40;
    uint64_t t0 = bench_now_ns();
    for (uint64_t r = 0; r < j->rounds; r++) {
        for (uint64_t i = 0; i < j->batch; i++) TIDE_TRY(tide_input_send_u64(in, base + i));
        TIDE_TRY(tide_input_advance_to(in, r + 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(r)));
    }
    if (tide_worker_index(w) == 0) {
        j->start_ns = t0;
        j->end_ns = bench_now_ns();
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_exchange: %s\n", e.msg);
        return 2;
    }
    job j = {.batch = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000,
             .rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 20};
    uint32_t peers = cfg.workers * cfg.processes;
    enum { RUNS = 5 };
    double rate[RUNS], base_rate[RUNS];
    for (int r = -1; r < RUNS; r++) {
        j.received = 0;
        if (tide_execute(&cfg, worker_main, &j, &e) < 0) {
            fprintf(stderr, "bench_exchange: %s\n", e.msg);
            return 1;
        }
        uint64_t total = j.batch * j.rounds * cfg.workers;
        if (cfg.processes == 1 && j.received != total) {
            fprintf(stderr, "bench_exchange: received %llu of %llu records\n",
                    (unsigned long long)j.received, (unsigned long long)total);
            return 1;
        }
        double secs = (j.end_ns - j.start_ns) / 1e9;
        double bsecs = baseline_exchange(j.batch * j.rounds, peers < 2 ? 2 : peers);
        if (r < 0) continue;
        rate[r] = (double)j.batch * j.rounds * peers / secs;
        base_rate[r] = (double)j.batch * j.rounds / bsecs;
        fprintf(stderr, "run %d: %.1f M records/s (baseline %.1f M/s single thread)\n", r,
                rate[r] / 1e6, base_rate[r] / 1e6);
    }
    double m = bench_median(rate, RUNS), bm = bench_median(base_rate, RUNS);
    printf("bench=exchange workers=%u processes=%u batch=%llu rounds=%llu records_per_s=%.4g "
           "mb_per_s=%.1f baseline_records_per_s=%.4g ratio=%.2f %s\n",
           cfg.workers, cfg.processes, (unsigned long long)j.batch, (unsigned long long)j.rounds, m,
           m * 8 / 1e6, bm, m / bm, bench_machine());
    return 0;
}
