/*
 * netcheck.c - small jobs whose output is the same however the workers are
 * spread over processes: the multi-process tests (tests/net/) run them
 * under 1..N processes and compare.
 *
 *   netcheck [cluster flags] exchange [RECORDS [ROUNDS]]
 *       every worker sends RECORDS distinct u64 keys per round through an
 *       exchange; each receiving worker prints how many it got, their sum
 *       and a hash mix (so every record arrived exactly once, at its owner),
 *       and how many arrived at a wrong time.
 *   netcheck [cluster flags] loop [IDS]
 *       ids circulate in a loop through two exchanges, id leaving after
 *       id % 13 iterations; each worker prints the exits it saw and how many
 *       left at a wrong iteration or epoch.
 *   netcheck [cluster flags] spin SECONDS
 *       exchange rounds until SECONDS have passed; each process prints
 *       "ready" after the first round (for the kill test).
 *
 * Output: one line per local worker, "MODE worker=I ...", in worker order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/tide.h"
#include "std_flags.h"

#define EPOCHS 4

typedef struct per_worker {
    uint64_t records, sum, mix, bad;
} per_worker;

typedef struct job {
    const char *mode;
    uint64_t records, rounds, ids;
    double seconds;
    per_worker pw[TIDE_MAX_WORKERS]; /* by global worker index, written by that worker */
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* ---- exchange / spin -------------------------------------------------------------- */

/* Keys: sending worker << 44 | round << 24 | i; a key must arrive in its round. */
static void got_records(void *ctx, const tide_batch *b)
{
    per_worker *p = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t k = tide_batch_key_u64(b, i);
        p->records++;
        p->sum += k;
        p->mix += mix64(k);
        if (((k >> 24) & 0xfffff) != b->time.epoch) p->bad++;
    }
}

static int exchange_main(tide_worker *w, void *arg)
{
    job *j = arg;
    uint32_t me = tide_worker_index(w);
    const tide_config *cfg = tide_worker_config(w);
    int spin = strcmp(j->mode, "spin") == 0;
    tide_dataflow *df = tide_dataflow_new(w, j->mode);
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe *p = tide_probe_new(tide_inspect(tide_exchange(s), got_records, &j->pw[me]));
    TIDE_TRY(tide_dataflow_seal(df));
    double start = now_s();
    for (uint64_t r = 0; spin ? now_s() - start < j->seconds : r < j->rounds; r++) {
        uint8_t k[8];
        for (uint64_t i = 0; i < j->records; i++) {
            tide_u64_store(k, (uint64_t)me << 44 | r << 24 | i);
            TIDE_TRY(tide_input_send_fixed(in, k, NULL));
        }
        TIDE_TRY(tide_input_advance_to(in, r + 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(r)));
        if (spin && r == 0 && me == cfg->process * cfg->workers) {
            printf("ready\n");
            fflush(stdout);
        }
    }
    return tide_input_close(in);
}

/* ---- loop -------------------------------------------------------------------------- */

static uint64_t n0(uint64_t id)
{
    return id % 13;
}

static void dec(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                tide_emitter *em)
{
    uint64_t n = tide_u64_load(v);
    if (n == 0) return;
    uint8_t nv[8];
    tide_u64_store(nv, n - 1);
    tide_emit(em, k, kl, nv, 8);
}

static bool is_zero(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return tide_u64_load(v) == 0;
}

static void got_exits(void *ctx, const tide_batch *b)
{
    per_worker *p = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t id = tide_batch_key_u64(b, i);
        p->records++;
        p->sum += id;
        p->mix += mix64(id * 31 + b->time.iter[0]);
        if (b->time.iter[0] != n0(id) || b->time.epoch != id % EPOCHS) p->bad++;
    }
}

static void ignore(void *ctx, const tide_batch *b) {}

static int loop_main(tide_worker *w, void *arg)
{
    job *j = arg;
    uint32_t me = tide_worker_index(w);
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "loop");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *src, *fed;
    tide_input *in = tide_input_new(root, l, 0, &src);
    tide_scope *loop = tide_scope_child(root, "loop");
    tide_feedback *fb = tide_feedback_new(loop, l, 0, 1, &fed);
    tide_stream *parts[2] = {tide_exchange(tide_enter(src, loop)), fed};
    tide_stream *body = tide_concat(parts, 2);
    TIDE_TRY(tide_feedback_connect(fb, tide_exchange(tide_map(body, "dec", l, dec, NULL))));
    tide_stream *done =
        tide_inspect(tide_filter(body, "zero", is_zero, NULL), got_exits, &j->pw[me]);
    tide_probe *probe = tide_probe_new(src);
    tide_sink(tide_leave(done), TIDE_PIPELINE, ignore, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e < EPOCHS; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint64_t id = me; id < j->ids; id += tide_worker_peers(w)) {
            if (id % EPOCHS != e) continue;
            uint8_t k[8], v[8];
            tide_u64_store(k, id);
            tide_u64_store(v, n0(id));
            TIDE_TRY(tide_input_send(in, k, 8, v, 8));
        }
        if (e > 0) TIDE_TRY(tide_worker_step_until(w, probe, tide_time_epoch(e - 1)));
    }
    return tide_input_close(in);
}

/* ---- main -------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: netcheck [cluster flags] exchange [RECORDS [ROUNDS]] | loop [IDS] | "
            "spin SECONDS\n%s",
            tide_config_usage());
    return 2;
}

int main(int argc, char **argv)
{
    example_std_flags(
        argc, argv, "netcheck",
        "usage: netcheck [cluster flags] exchange [RECORDS [ROUNDS]] | loop [IDS] | spin SECONDS\n"
        "Small jobs whose output is the same however the workers are spread over\nprocesses (the "
        "multi-process tests compare them).\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "netcheck: %s\n", e.msg);
        return 2;
    }
    static job j;
    if (argc < 2) return usage();
    j.mode = argv[1];
    tide_worker_main fn;
    if (strcmp(j.mode, "exchange") == 0) {
        j.records = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000;
        j.rounds = argc > 3 ? strtoull(argv[3], NULL, 10) : 5;
        fn = exchange_main;
    } else if (strcmp(j.mode, "loop") == 0) {
        j.ids = argc > 2 ? strtoull(argv[2], NULL, 10) : 3000;
        fn = loop_main;
    } else if (strcmp(j.mode, "spin") == 0 && argc > 2) {
        j.seconds = strtod(argv[2], NULL);
        j.records = 1000;
        fn = exchange_main;
    } else {
        return usage();
    }
    if (tide_execute(&cfg, fn, &j, &e) < 0) {
        fprintf(stderr, "netcheck: %s\n", e.msg);
        return 1;
    }
    for (uint32_t i = 0; i < cfg.workers; i++) {
        uint32_t g = cfg.process * cfg.workers + i;
        const per_worker *p = &j.pw[g];
        printf("%s worker=%u records=%llu sum=%llu mix=%016llx bad=%llu\n", j.mode, g,
               (unsigned long long)p->records, (unsigned long long)p->sum,
               (unsigned long long)p->mix, (unsigned long long)p->bad);
    }
    return 0;
}
