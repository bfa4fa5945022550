/*
 * test_loop.c - loops terminate with the right results at the right times.
 *
 * Single loop: record (id, n) circulates, n decreasing, and leaves when
 * n == 0, which must happen at loop iteration n0 = id % 13 and come out at
 * the epoch it was sent. Nested loops: (id, a, b) runs an inner loop b0
 * times for each of a0 + 1 outer rounds; every inner-loop exit must be seen
 * at time (epoch, outer round, b0).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

#define NIDS   3000
#define EPOCHS 4

typedef struct shared {
    uint32_t seen[NIDS];
    uint32_t bad;
    uint32_t inner_exits[NIDS];
} shared;

static uint64_t n0(uint64_t id)
{
    return id % 13;
}
static uint64_t a0(uint64_t id)
{
    return id % 4;
}
static uint64_t b0(uint64_t id)
{
    return id % 5 + 1;
}

/* ---- single loop ---------------------------------------------------------- */

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

static void check_exit(void *ctx, const tide_batch *b)
{
    shared *sh = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t id = tide_batch_key_u64(b, i);
        if (b->time.iter[0] != n0(id) || b->time.epoch != id % EPOCHS)
            __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
    }
}

static void collect(void *ctx, const tide_batch *b)
{
    shared *sh = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t id = tide_batch_key_u64(b, i);
        if (b->time.epoch != id % EPOCHS || b->time.iter[0] != 0)
            __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&sh->seen[id], 1, __ATOMIC_RELAXED);
    }
}

static int loop_main(tide_worker *w, void *arg)
{
    shared *sh = arg;
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "loop");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *src, *fed;
    tide_input *in = tide_input_new(root, l, 0, &src);
    tide_scope *loop = tide_scope_child(root, "loop");
    tide_feedback *fb = tide_feedback_new(loop, l, 0, 1, &fed);
    tide_stream *parts[2] = {tide_exchange(tide_enter(src, loop)), fed};
    tide_stream *body = tide_concat(parts, 2);
    cr_assert_eq(tide_feedback_connect(fb, tide_exchange(tide_map(body, "dec", l, dec, NULL))), 0);
    tide_stream *done = tide_inspect(tide_filter(body, "zero", is_zero, NULL), check_exit, sh);
    tide_probe *probe = tide_probe_new(src);
    tide_sink(tide_leave(done), TIDE_PIPELINE, collect, sh);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e < EPOCHS; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint64_t id = tide_worker_index(w); id < NIDS; id += tide_worker_peers(w)) {
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

static void run_loop(uint32_t workers)
{
    static shared sh;
    memset(&sh, 0, sizeof sh);
    TIDE_TEST_EXECUTE(workers, loop_main, &sh);
    for (uint32_t id = 0; id < NIDS; id++)
        cr_assert_eq(sh.seen[id], 1, "id %u left the loop %u times", id, sh.seen[id]);
    cr_assert_eq(sh.bad, 0, "%u records at a wrong time", sh.bad);
}

Test(loop, terminates_with_results_w1)
{
    run_loop(1);
}
Test(loop, terminates_with_results_w2)
{
    run_loop(2);
}
Test(loop, terminates_with_results_w4)
{
    run_loop(4);
}

/* ---- nested loops ------------------------------------------------------------ */

/* Records: key id, val (a u64, b u64). */
static void inner_dec(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_emitter *em)
{
    uint64_t b = tide_u64_load(v + 8);
    if (b == 0) return;
    uint8_t nv[16];
    memcpy(nv, v, 8);
    tide_u64_store(nv + 8, b - 1);
    tide_emit(em, k, kl, nv, 16);
}

static bool b_zero(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return tide_u64_load(v + 8) == 0;
}

static void inner_exit(void *ctx, const tide_batch *b)
{
    shared *sh = ctx;
    for (uint32_t i = 0; i < b->len; i++) {
        uint64_t id = tide_batch_key_u64(b, i);
        uint64_t a = tide_u64_load(b->val.bytes + 16 * (size_t)i);
        if (b->time.epoch != id % EPOCHS || b->time.iter[0] != a0(id) - a ||
            b->time.iter[1] != b0(id))
            __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&sh->inner_exits[id], 1, __ATOMIC_RELAXED);
    }
}

/* After the inner loop: a > 0 goes round the outer loop with b reset. */
static void outer_dec(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_emitter *em)
{
    uint64_t a = tide_u64_load(v);
    if (a == 0) return;
    uint8_t nv[16];
    tide_u64_store(nv, a - 1);
    tide_u64_store(nv + 8, b0(tide_u64_load(k)));
    tide_emit(em, k, kl, nv, 16);
}

static bool a_zero(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return tide_u64_load(v) == 0;
}

static int nested_main(tide_worker *w, void *arg)
{
    shared *sh = arg;
    tide_layout l = tide_layout_make(8, 16);
    tide_dataflow *df = tide_dataflow_new(w, "nested");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *src, *ofed, *ifed;
    tide_input *in = tide_input_new(root, l, 0, &src);
    tide_scope *outer = tide_scope_child(root, "outer");
    tide_scope *inner = tide_scope_child(outer, "inner");
    tide_feedback *ofb = tide_feedback_new(outer, l, 0, 1, &ofed);
    tide_stream *oparts[2] = {tide_enter(src, outer), ofed};
    tide_stream *obody = tide_concat(oparts, 2);
    tide_feedback *ifb = tide_feedback_new(inner, l, 0, 1, &ifed);
    tide_stream *iparts[2] = {tide_enter(obody, inner), ifed};
    tide_stream *ibody = tide_exchange(tide_concat(iparts, 2));
    TIDE_TRY(tide_feedback_connect(ifb, tide_map(ibody, "inner_dec", l, inner_dec, NULL)));
    tide_stream *iout = tide_inspect(tide_filter(ibody, "b0", b_zero, NULL), inner_exit, sh);
    tide_stream *after = tide_leave(iout);
    TIDE_TRY(tide_feedback_connect(ofb, tide_map(after, "outer_dec", l, outer_dec, NULL)));
    tide_stream *done = tide_leave(tide_filter(after, "a0", a_zero, NULL));
    tide_sink(done, TIDE_PIPELINE, collect, sh);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e < EPOCHS; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint64_t id = tide_worker_index(w); id < NIDS; id += tide_worker_peers(w)) {
            if (id % EPOCHS != e) continue;
            uint8_t k[8], v[16];
            tide_u64_store(k, id);
            tide_u64_store(v, a0(id));
            tide_u64_store(v + 8, b0(id));
            TIDE_TRY(tide_input_send(in, k, 8, v, 16));
        }
        TIDE_TRY(tide_worker_step(w));
    }
    return tide_input_close(in);
}

static void run_nested(uint32_t workers)
{
    static shared sh;
    memset(&sh, 0, sizeof sh);
    TIDE_TEST_EXECUTE(workers, nested_main, &sh);
    for (uint32_t id = 0; id < NIDS; id++) {
        cr_assert_eq(sh.seen[id], 1, "id %u left the outer loop %u times", id, sh.seen[id]);
        cr_assert_eq(sh.inner_exits[id], a0(id) + 1, "id %u left the inner loop %u times, not %llu",
                     id, sh.inner_exits[id], (unsigned long long)a0(id) + 1);
    }
    cr_assert_eq(sh.bad, 0, "%u records at a wrong time", sh.bad);
}

Test(loop, nested_two_levels_w1)
{
    run_nested(1);
}
Test(loop, nested_two_levels_w2)
{
    run_nested(2);
}
Test(loop, nested_two_levels_w4)
{
    run_nested(4);
}
