/*
 * test_errors.c - which errors are sticky (tide/dataflow.h, "Errors"): a
 * handled refusal from tide_input_advance_to / tide_input_send is returned
 * and described but does not fail the run, while an operator's failure
 * inside a step fails tide_execute even when main returns TIDE_OK.
 * W = 1, 2, 4.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

typedef struct handled_log {
    int back_rc[4], closed_rc[4];
    char back_msg[4][256];
    uint64_t sum; /* atomic: the keys that reached the sink */
} handled_log;

static void add_keys(void *ctx, const tide_batch *b)
{
    handled_log *log = ctx;
    for (uint32_t i = 0; i < b->len; i++)
        __atomic_add_fetch(&log->sum, tide_batch_key_u64(b, i), __ATOMIC_RELAXED);
}

static int handled_main(tide_worker *w, void *arg)
{
    handled_log *log = arg;
    uint32_t me = tide_worker_index(w);
    tide_dataflow *df = tide_dataflow_new(w, "handled");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe *p = tide_probe_new(tide_inspect(tide_exchange(s), add_keys, log));
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_send_u64(in, me + 1));
    TIDE_TRY(tide_input_advance_to(in, 3));
    /* Refused: nothing changes, the worker goes on. */
    log->back_rc[me] = tide_input_advance_to(in, 1);
    snprintf(log->back_msg[me], sizeof log->back_msg[me], "%s", tide_worker_error(w)->msg);
    TIDE_TRY(tide_input_send_u64(in, 100));
    TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(2)));
    TIDE_TRY(tide_input_close(in));
    log->closed_rc[me] = tide_input_send_u64(in, 1000); /* refused too */
    return TIDE_OK;
}

Test(errors, handled_input_errors_are_not_sticky)
{
    for (uint32_t workers = 1; workers <= 4; workers *= 2) {
        handled_log log = {0};
        TIDE_TEST_EXECUTE(workers, handled_main, &log);
        uint64_t want = 0;
        for (uint32_t i = 0; i < workers; i++) {
            want += i + 1 + 100;
            cr_assert_eq(log.back_rc[i], TIDE_EINVAL, "W=%u worker %u", workers, i);
            cr_assert(strstr(log.back_msg[i], "advance_to(1) is before epoch 3"),
                      "W=%u worker %u: %s", workers, i, log.back_msg[i]);
            cr_assert_eq(log.closed_rc[i], TIDE_ECLOSED, "W=%u worker %u", workers, i);
        }
        cr_assert_eq(log.sum, want, "W=%u: sum %llu, want %llu", workers,
                     (unsigned long long)log.sum, (unsigned long long)want);
    }
}

/* main passes a handled error on: the run fails with its description. */
static int passes_on_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "passes_on");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    TIDE_TRY(tide_input_set_name(in, "clicks"));
    tide_probe_new(s);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_advance_to(in, 4));
    return tide_input_advance_to(in, 2);
}

Test(errors, handled_error_returned_by_main_keeps_its_detail)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.pin = 0;
    cfg.workers = 2;
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, passes_on_main, NULL, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "clicks: advance_to(2) is before epoch 4"), "%s", e.msg);
}

/* An operator failing inside a step: sticky, whatever main does next. */
static void failing(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        uint32_t n = b->len;
        tide_batch_unref(b);
        if (n) tide_op_fail(op, TIDE_EIO, "cannot write %u records", n);
    }
}

static int sticky_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "sticky");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_stream *ins[1] = {s};
    tide_op_desc d = {.name = "writer", .ninputs = 1, .inputs = ins, .schedule = failing};
    if (tide_op_build(tide_dataflow_root(df), &d) == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_send_u64(in, 7));
    int rc = tide_input_close(in);
    for (int i = 0; i < 100 && rc >= 0; i++) rc = tide_worker_step(w); /* until it fails */
    /* Every later step fails the same way. */
    if (rc != TIDE_EIO || tide_worker_step(w) != TIDE_EIO) return TIDE_ESTATE;
    return TIDE_OK; /* main "handles" it: the run still fails */
}

Test(errors, operator_failure_is_sticky)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.pin = 0;
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, sticky_main, NULL, &e), TIDE_EIO, "%s", e.msg);
    cr_assert(strstr(e.msg, "writer: cannot write 1 records"), "%s", e.msg);
}
