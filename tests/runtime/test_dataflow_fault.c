/*
 * test_dataflow_fault.c - every allocation of a small but complete run
 * (dataflow construction, a loop, exchange, inputs, probes, teardown) fails
 * in turn: the run must end with TIDE_OK or a clean TIDE_ENOMEM naming what
 * ran out, never crash or hang, and (under ASan) leak nothing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fault_run.h"
#include "tide/tide.h"
#include "tide_test.h"

static void dec(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                tide_emitter *em)
{
    uint64_t n = tide_u64_load(v);
    if (n == 0) return;
    uint8_t nv[8];
    tide_u64_store(nv, n - 1);
    tide_emit(em, k, kl, nv, 8);
}

static void count(void *ctx, const tide_batch *b)
{
    *(uint64_t *)ctx += b->len;
}

static int fault_main(tide_worker *w, void *arg)
{
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "fault");
    if (df == NULL) return tide_worker_error(w)->code;
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *src, *fed;
    tide_input *in = tide_input_new(root, l, 0, &src);
    tide_scope *loop = tide_scope_child(root, "loop");
    if (in == NULL || loop == NULL) return tide_worker_error(w)->code;
    tide_feedback *fb = tide_feedback_new(loop, l, 0, 1, &fed);
    tide_stream *entered = tide_enter(src, loop);
    if (fb == NULL || entered == NULL) return tide_worker_error(w)->code;
    tide_stream *parts[2] = {entered, fed};
    tide_stream *body = tide_concat(parts, 2);
    tide_stream *x = body ? tide_exchange(body) : NULL;
    tide_stream *m = x ? tide_map(x, "dec", l, dec, NULL) : NULL;
    if (m == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_feedback_connect(fb, m));
    tide_stream *out = tide_leave(x);
    tide_stream *seen = out ? tide_inspect(out, count, arg) : NULL;
    tide_probe *p = seen ? tide_probe_new(seen) : NULL;
    if (p == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e < 3; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint64_t i = 0; i < 50; i++) {
            uint8_t k[8], v[8];
            tide_u64_store(k, i);
            tide_u64_store(v, i % 5);
            TIDE_TRY(tide_input_send(in, k, 8, v, 8));
        }
        TIDE_TRY(tide_worker_step(w));
    }
    return tide_input_close(in);
}

typedef struct tally {
    uint64_t seen, expect; /* records seen (first: fault_main counts into it) */
} tally;

static void tally_reset(void *arg)
{
    ((tally *)arg)->seen = 0;
}

static bool tally_check(void *arg)
{
    const tally *t = arg;
    return t->seen == t->expect;
}

Test(dataflow_fault, every_allocation_failure_is_clean)
{
    /* The fault-free run: each record circulates (i % 5) + 1 times. */
    tally t = {0};
    for (uint64_t i = 0; i < 50; i++) t.expect += 3 * (i % 5 + 1);
    fault_job j = {fault_main, &t, tally_reset, tally_check, 5000};
    long nallocs = 0;
    char why[512];
    cr_assert(fault_run_each(&j, &nallocs, why, sizeof why), "%s", why);
    cr_assert_gt(nallocs, 20, "the run allocates more than this");
}
