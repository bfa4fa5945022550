/*
 * test_exchange.c - exchange delivers every record exactly once, to the
 * worker owning its key's hash, for 1, 2 and 4 workers; broadcast delivers
 * every record to every worker; pipeline keeps records local.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

#define NREC 20000

typedef struct shared {
    uint32_t *seen; /* [NREC * workers] times record (origin,i) was seen */
    uint32_t workers;
    uint32_t misrouted; /* records that arrived at a worker not owning them */
    uint32_t wrong_time;
    tide_pact pact;
    uint64_t rounds;
} shared;

typedef struct sink_ctx {
    shared *sh;
    tide_worker *w;
} sink_ctx;

static void on_batch(void *ctx, const tide_batch *b)
{
    sink_ctx *c = ctx;
    shared *sh = c->sh;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        uint64_t v = tide_u64_load(k);
        uint32_t owner = tide_hash_owner(tide_hash(k, kl), tide_worker_peers(c->w));
        if (sh->pact == TIDE_EXCHANGE && owner != tide_worker_index(c->w))
            __atomic_add_fetch(&sh->misrouted, 1, __ATOMIC_RELAXED);
        if (b->time.epoch != v % sh->rounds)
            __atomic_add_fetch(&sh->wrong_time, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&sh->seen[v], 1, __ATOMIC_RELAXED);
    }
}

static int worker_main(tide_worker *w, void *arg)
{
    shared *sh = arg;
    tide_dataflow *df = tide_dataflow_new(w, "exchange");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    sink_ctx *ctx = malloc(sizeof *ctx);
    ctx->sh = sh;
    ctx->w = w;
    tide_sink(s, sh->pact, on_batch, ctx);
    TIDE_TRY(tide_dataflow_seal(df));
    uint32_t me = tide_worker_index(w);
    /* Records are ids me*NREC + i; record id v is sent at epoch v % rounds. */
    for (uint64_t e = 0; e < sh->rounds; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint64_t i = 0; i < NREC; i++) {
            uint64_t v = me * (uint64_t)NREC + i;
            if (v % sh->rounds != e) continue;
            uint8_t k[8];
            tide_u64_store(k, v);
            TIDE_TRY(tide_input_send(in, k, 8, NULL, 0));
        }
        TIDE_TRY(tide_worker_step(w));
    }
    TIDE_TRY(tide_input_close(in));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    free(ctx);
    return rc;
}

static void run(uint32_t workers, tide_pact pact, uint64_t rounds)
{
    shared sh = {.workers = workers, .pact = pact, .rounds = rounds};
    sh.seen = calloc((size_t)NREC * workers, sizeof *sh.seen);
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    tide_error e = {0};
    int rc = tide_execute(&cfg, worker_main, &sh, &e);
    cr_assert_eq(rc, TIDE_OK, "tide_execute: %s", e.msg);
    uint32_t expect = pact == TIDE_BROADCAST ? workers : 1;
    for (uint64_t v = 0; v < (uint64_t)NREC * workers; v++)
        cr_assert_eq(sh.seen[v], expect, "record %llu seen %u times, expected %u",
                     (unsigned long long)v, sh.seen[v], expect);
    cr_assert_eq(sh.misrouted, 0, "%u records reached a worker that does not own them",
                 sh.misrouted);
    cr_assert_eq(sh.wrong_time, 0, "%u records arrived with the wrong time", sh.wrong_time);
    free(sh.seen);
}

Test(exchange, exactly_once_to_owner_w1)
{
    run(1, TIDE_EXCHANGE, 3);
}
Test(exchange, exactly_once_to_owner_w2)
{
    run(2, TIDE_EXCHANGE, 3);
}
Test(exchange, exactly_once_to_owner_w4)
{
    run(4, TIDE_EXCHANGE, 5);
}
Test(exchange, broadcast_reaches_every_worker_w3)
{
    run(3, TIDE_BROADCAST, 2);
}
Test(exchange, pipeline_keeps_records_w2)
{
    run(2, TIDE_PIPELINE, 2);
}
