/*
 * test_dataflow.c - probes, inputs closing, completion, and construction
 * errors that must come back as clear TIDE_E* codes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

static tide_config one_worker(uint32_t w)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = w;
    cfg.pin = 0;
    return cfg;
}

typedef struct probe_log {
    uint32_t checks_failed;
    char why[200];
} probe_log;

static int probe_main(tide_worker *w, void *arg)
{
    probe_log *log = arg;
    tide_dataflow *df = tide_dataflow_new(w, "probe");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe *p = tide_probe_new(tide_exchange(s));
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 1; e <= 20; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(e - 1)));
        const tide_antichain *f = tide_probe_frontier(p);
        /* Every worker has reached e, and none can go beyond it. */
        if (f->len != 1 || !tide_time_eq(f->elems[0], tide_time_epoch(e))) {
            __atomic_add_fetch(&log->checks_failed, 1, __ATOMIC_RELAXED);
        }
        if (tide_probe_less_than(p, tide_time_epoch(e)) ||
            !tide_probe_less_equal(p, tide_time_epoch(e)))
            __atomic_add_fetch(&log->checks_failed, 1, __ATOMIC_RELAXED);
    }
    TIDE_TRY(tide_input_close(in));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    if (rc < 0) return rc;
    if (tide_probe_frontier(p)->len != 0 || !tide_dataflow_complete(df))
        __atomic_add_fetch(&log->checks_failed, 1, __ATOMIC_RELAXED);
    return TIDE_OK;
}

static void probe_run(uint32_t workers)
{
    probe_log log = {0};
    tide_config cfg = one_worker(workers);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, probe_main, &log, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(log.checks_failed, 0, "%u frontier checks failed", log.checks_failed);
}

Test(probe, frontier_follows_slowest_worker_w1)
{
    probe_run(1);
}
Test(probe, frontier_follows_slowest_worker_w2)
{
    probe_run(2);
}
Test(probe, frontier_follows_slowest_worker_w4)
{
    probe_run(4);
}

/* A worker that holds its input open keeps every probe at its epoch, even
 * when the other workers have closed theirs. */
typedef struct hold_log {
    uint32_t early; /* probes that saw completion while a worker was open */
    uint32_t released;
    uint32_t checked; /* workers done checking */
} hold_log;

static int hold_main(tide_worker *w, void *arg)
{
    hold_log *log = arg;
    tide_dataflow *df = tide_dataflow_new(w, "hold");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe *p = tide_probe_new(s);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_advance_to(in, 3));
    if (tide_worker_index(w) != 0) TIDE_TRY(tide_input_close(in));
    for (int i = 0; i < 2000; i++) {
        TIDE_TRY(tide_worker_step(w));
        if (!tide_probe_less_equal(p, tide_time_epoch(3)))
            __atomic_add_fetch(&log->early, 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&log->checked, 1, __ATOMIC_ACQ_REL);
    if (tide_worker_index(w) == 0) {
        /* Close only once every worker has done its checks. */
        while (__atomic_load_n(&log->checked, __ATOMIC_ACQUIRE) < tide_worker_peers(w))
            TIDE_TRY(tide_worker_step(w));
        TIDE_TRY(tide_input_close(in));
    }
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    if (rc == 0 && tide_probe_frontier(p)->len == 0)
        __atomic_add_fetch(&log->released, 1, __ATOMIC_RELAXED);
    return rc;
}

Test(probe, open_input_holds_frontier_w3)
{
    hold_log log = {0};
    tide_config cfg = one_worker(3);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, hold_main, &log, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(log.early, 0, "a probe passed epoch 3 while worker 0 was still open");
    cr_assert_eq(log.released, 3);
}

/* ---- errors ---------------------------------------------------------------- */

static int unconnected_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "broken");
    tide_stream *fed;
    tide_scope *loop = tide_scope_child(tide_dataflow_root(df), "loop");
    tide_feedback_new(loop, tide_layout_make(8, 0), 0, 1, &fed);
    tide_probe_new(fed);
    return tide_dataflow_seal(df);
}

Test(dataflow, unconnected_input_is_an_error)
{
    tide_config cfg = one_worker(1);
    tide_error e = {0};
    int rc = tide_execute(&cfg, unconnected_main, NULL, &e);
    cr_assert_eq(rc, TIDE_EINVAL);
    cr_assert(strstr(e.msg, "not connected") && strstr(e.msg, "feedback"), "message: %s", e.msg);
}

static int scope_mix_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "mix");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_scope *loop = tide_scope_child(tide_dataflow_root(df), "loop");
    tide_stream *fed;
    tide_feedback *fb = tide_feedback_new(loop, tide_layout_make(8, 0), 0, 1, &fed);
    int rc = tide_feedback_connect(fb, s); /* s is in the root scope */
    (void)in;
    return rc;
}

Test(dataflow, stream_from_other_scope_is_an_error)
{
    tide_config cfg = one_worker(1);
    tide_error e = {0};
    int rc = tide_execute(&cfg, scope_mix_main, NULL, &e);
    cr_assert_eq(rc, TIDE_EINVAL);
    cr_assert(strstr(e.msg, "another scope"), "message: %s", e.msg);
}

static int backwards_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "back");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe_new(s);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_advance_to(in, 5));
    return tide_input_advance_to(in, 2);
}

Test(dataflow, advancing_backwards_is_an_error)
{
    tide_config cfg = one_worker(1);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, backwards_main, NULL, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "advance_to(2)"), "message: %s", e.msg);
}

static int closed_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "closed");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe_new(s);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_close(in));
    uint8_t k[8] = {0};
    return tide_input_send(in, k, 8, NULL, 0);
}

Test(dataflow, send_after_close_is_an_error)
{
    tide_config cfg = one_worker(1);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, closed_main, NULL, &e), TIDE_ECLOSED);
}

static int width_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "width");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe_new(s);
    TIDE_TRY(tide_dataflow_seal(df));
    uint8_t k[4] = {0};
    return tide_input_send(in, k, 4, NULL, 0); /* layout says 8 bytes */
}

Test(dataflow, wrong_record_width_is_an_error)
{
    tide_config cfg = one_worker(1);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, width_main, NULL, &e), TIDE_EINVAL, "%s", e.msg);
}

static int failing_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "fail");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_probe_new(tide_exchange(s));
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 1) return TIDE_EIO; /* never closes its input */
    (void)in;
    return TIDE_OK;
}

Test(dataflow, failing_worker_stops_the_others_w2)
{
    tide_config cfg = one_worker(2);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, failing_main, NULL, &e), TIDE_EIO, "%s", e.msg);
    cr_assert(strstr(e.msg, "worker 1"), "message: %s", e.msg);
}
