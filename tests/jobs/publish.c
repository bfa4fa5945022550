/*
 * publish.c - test job: feeds a seeded random (key, val) update sequence in
 * PHASES epochs, 5 ms apart (driven by a self-activating source operator),
 * arranges it and publishes the arrangement as NAME; then keeps advancing
 * its epoch every 5 ms without data, as a live source would (it ends only
 * when cancelled). A reader's replay sits at the publisher's frontier at
 * lookup time, so it completes when the publisher moves on.
 *   argv: NAME SEED N KEYS PHASES
 * Update i (job_update) goes in at epoch i * PHASES / N on worker i % peers.
 */
#include <stdlib.h>
#include <time.h>

#include "common.h"
#include "tide/collection.h"

typedef struct src {
    uint64_t s, n, keys, phases, i, t0;
    uint64_t phase;
} src;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void feed(tide_op *op, void *state)
{
    src *st = state;
    tide_worker *w = tide_op_worker(op);
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    if (st->t0 == 0) st->t0 = now_ns();
    while (now_ns() - st->t0 >= st->phase * 5000000u) {
        tide_time t = tide_time_epoch(st->phase);
        for (; st->phase < st->phases && st->i < (st->phase + 1) * st->n / st->phases; st->i++) {
            uint64_t key, val;
            int64_t diff;
            job_update(&st->s, st->keys, &key, &val, &diff);
            if (st->i % peers != me) continue;
            uint8_t k[8], v[8];
            tide_u64_store(k, key);
            tide_u64_store(v, val);
            if (tide_out_push_update(op, 0, t, k, 8, v, 8, t, diff) < 0) return;
        }
        if (tide_op_downgrade(op, t, tide_time_epoch(st->phase + 1)) < 0) return;
        st->phase++;
    }
    tide_op_activate(op);
}

static int publish_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (argc < 6) return tide_job_fail(job, TIDE_EINVAL, "usage: publish NAME SEED N KEYS PHASES");
    src *st = calloc(1, sizeof *st);
    if (st == NULL) return TIDE_ENOMEM;
    st->s = strtoull(argv[2], NULL, 10);
    st->n = strtoull(argv[3], NULL, 10);
    st->keys = strtoull(argv[4], NULL, 10);
    st->phases = strtoull(argv[5], NULL, 10);
    tide_dataflow *df = tide_dataflow_new(w, "publish");
    tide_layout l = tide_layout_make(8, 8);
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "feed",
                      .noutputs = 1,
                      .outputs = &l,
                      .out_flags = &flags,
                      .schedule = feed,
                      .state = st,
                      .state_free = free,
                      .initial_capability = true};
    tide_op *op = df ? tide_op_build(tide_dataflow_root(df), &d) : NULL;
    if (op == NULL) free(st);
    tide_arranged *a = op ? tide_arrange(tide_op_output(op, 0), "published") : NULL;
    if (a == NULL || tide_arrangement_publish(w, argv[1], a) < 0 || tide_dataflow_seal(df) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    return TIDE_OK;
}
TIDE_JOB_DEFINE(publish_main)
