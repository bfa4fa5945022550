/*
 * test_dataflow_drop.c - tide_dataflow_drop under tide_execute (the public
 * call the Datalog server's unregister-query uses): rounds of a dataflow
 * (input -> exchange -> inspect) on every worker; each round checks its
 * first epoch's records all arrived (count against what was sent), then
 * sends a second epoch and drops the dataflow at once, so records and
 * progress are still in flight between workers and arrive after their
 * destination dropped it. The next round's dataflow must see only its own
 * records (ids are not reused), and (W=1) tide's live memory after the
 * last round equals its level half-way. W=1, 2, 4.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/tide.h"
#include "tide_test.h"

#define ROUNDS     12
#define PER_WORKER 300

typedef struct rcase {
    uint64_t seed;
    long got[ROUNDS]; /* records seen at epoch 0 in each round, all workers (atomic) */
    long bad;         /* records seen carrying another round's tag (atomic) */
    long long mem[2]; /* worker 0: live bytes after half the rounds and after the last */
    pthread_barrier_t quiet;
} rcase;

typedef struct seen {
    rcase *c;
    int round;
} seen;

static void count_fn(void *ctx, const tide_batch *b)
{
    seen *s = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t vl;
        const uint8_t *v = tide_batch_val(b, i, &vl);
        if (vl != 8 || (int)tide_u64_load(v) != s->round)
            __atomic_add_fetch(&s->c->bad, 1, __ATOMIC_RELAXED);
        else if (tide_time_get(b->time, 0) == 0)
            __atomic_add_fetch(&s->c->got[s->round], 1, __ATOMIC_RELAXED);
    }
}

/* Every worker has dropped (nobody sends for it any more); one step each
 * takes in what was still queued for the dropped dataflow and releases it;
 * then worker 0 measures. */
static long long live(tide_worker *w, rcase *c)
{
    pthread_barrier_wait(&c->quiet);
    if (tide_worker_step(w) < 0) __atomic_store_n(&c->bad, -1000000, __ATOMIC_RELAXED);
    pthread_barrier_wait(&c->quiet);
    long long b = tide_alloc_live_bytes();
    pthread_barrier_wait(&c->quiet);
    return b;
}

static int rounds_main(tide_worker *w, void *arg)
{
    rcase *c = arg;
    tide_rng r = {c->seed + tide_worker_index(w) + 1};
    seen ctx[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        ctx[k] = (seen){c, k};
        tide_dataflow *df = tide_dataflow_new(w, "round");
        tide_stream *s;
        tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), 0, &s);
        tide_probe *p = tide_probe_new(tide_inspect(tide_exchange(s), count_fn, &ctx[k]));
        cr_assert(p, "%s", tide_worker_error(w)->msg);
        TIDE_TRY(tide_dataflow_seal(df));
        uint8_t key[8], val[8];
        tide_u64_store(val, (uint64_t)k);
        for (int i = 0; i < PER_WORKER; i++) {
            tide_u64_store(key, tide_rng_next(&r));
            TIDE_TRY(tide_input_send(in, key, 8, val, 8));
        }
        TIDE_TRY(tide_input_advance_to(in, 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(0)));
        /* epoch 1: sent, maybe partly delivered, then dropped everywhere */
        int more = (int)tide_rng_below(&r, PER_WORKER);
        for (int i = 0; i < more; i++) {
            tide_u64_store(key, tide_rng_next(&r));
            TIDE_TRY(tide_input_send(in, key, 8, val, 8));
        }
        TIDE_TRY(tide_input_advance_to(in, 2));
        for (int i = (int)tide_rng_below(&r, 3); i > 0; i--) TIDE_TRY(tide_worker_step(w));
        TIDE_TRY(tide_dataflow_drop(df));
        if (k == ROUNDS / 2) { /* every worker takes part; worker 0 keeps the figure */
            long long m = live(w, c);
            if (tide_worker_index(w) == 0) c->mem[0] = m;
        }
    }
    long long m = live(w, c);
    if (tide_worker_index(w) == 0) c->mem[1] = m;
    return TIDE_OK;
}

static void rounds_case(int workers)
{
    rcase c = {.seed = tide_test_seed("dataflow_drop", (uint64_t)workers)};
    pthread_barrier_init(&c.quiet, NULL, (unsigned)workers);
    TIDE_TEST_EXECUTE(workers, rounds_main, &c);
    pthread_barrier_destroy(&c.quiet);
    cr_assert_eq(c.bad, 0, "%ld records reached another round's dataflow", c.bad);
    for (int k = 0; k < ROUNDS; k++)
        cr_assert_eq(c.got[k], (long)PER_WORKER * workers, "round %d: %ld records, want %d", k,
                     c.got[k], PER_WORKER * workers);
    fprintf(stderr, "dataflow_drop w=%d: live_bytes_after_round_%d=%lld after_round_%d=%lld\n",
            workers, ROUNDS / 2 + 1, c.mem[0], ROUNDS, c.mem[1]);
    /* more dataflows built and dropped: memory stays where it was. Asserted
     * at W=1 only: with several workers the inter-worker queues and batch
     * pools grow to sizes that depend on the scheduling (tens to hundreds
     * of KB, a plateau, not a per-round leak), so there it is printed. */
    if (workers == 1)
        cr_assert_eq(c.mem[1], c.mem[0], "%lld bytes more after %d more rounds",
                     c.mem[1] - c.mem[0], ROUNDS - ROUNDS / 2 - 1);
}

Test(dataflow_drop, w1)
{
    rounds_case(1);
}

Test(dataflow_drop, w2)
{
    rounds_case(2);
}

Test(dataflow_drop, w4)
{
    rounds_case(4);
}
