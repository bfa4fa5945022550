/*
 * test_stall.c - a stuck dataflow says why: tide_worker_step_until gives up
 * after the configured stall time (or the caller's deadline) with
 * TIDE_ETIMEDOUT, naming the input never advanced or the operator holding a
 * capability, its time and the worker holding it; the error is not sticky.
 * W = 1 and 2 here; 2 processes in tests/net/test_tutorial.c.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cluster_run.h"
#include "tide/tide.h"
#include "tide_test.h"

#define STALL_MS 200

typedef struct stall_log {
    int rc[4];          /* what step_until returned, per worker */
    char msg[4][256];   /* tide_worker_error after it */
    int recovered[4];   /* step_until after fixing the cause: TIDE_OK? */
    bool fix;           /* advance the forgotten input after the report */
    uint32_t forgetful; /* the worker that never advances 'roots' */
} stall_log;

static int stall_main(tide_worker *w, void *arg)
{
    stall_log *log = arg;
    uint32_t me = tide_worker_index(w);
    tide_dataflow *df = tide_dataflow_new(w, "stall");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s[2];
    tide_input *edges = tide_input_new(root, tide_layout_make(8, 0), 0, &s[0]);
    tide_input *roots = tide_input_new(root, tide_layout_make(8, 0), 0, &s[1]);
    TIDE_TRY(tide_input_set_name(edges, "edges"));
    TIDE_TRY(tide_input_set_name(roots, "roots"));
    tide_probe *p = tide_probe_new(tide_exchange(tide_concat(s, 2)));
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_send_u64(edges, me));
    TIDE_TRY(tide_input_advance_to(edges, 1));
    if (me != log->forgetful) TIDE_TRY(tide_input_advance_to(roots, 1));
    int rc = tide_worker_step_until(w, p, tide_time_epoch(0));
    log->rc[me] = rc;
    snprintf(log->msg[me], sizeof log->msg[me], "%s", tide_worker_error(w)->msg);
    if (rc != TIDE_OK && !log->fix) return rc;
    /* Not sticky: fix the cause and wait again. */
    TIDE_TRY(tide_input_advance_to(roots, 1));
    log->recovered[me] = tide_worker_step_until(w, p, tide_time_epoch(0)) == TIDE_OK;
    TIDE_TRY(tide_input_close(edges));
    return tide_input_close(roots);
}

static tide_config stall_config(uint32_t workers, uint32_t stall_ms)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    cfg.stall_timeout_ms = stall_ms;
    return cfg;
}

static void never_advanced(uint32_t workers)
{
    stall_log log = {.forgetful = workers - 1};
    tide_config cfg = stall_config(workers, STALL_MS);
    tide_error e = {0};
    uint64_t start = tide_test_now_ms();
    int rc = tide_execute(&cfg, stall_main, &log, &e);
    uint64_t took = tide_test_now_ms() - start;
    cr_assert_eq(rc, TIDE_ETIMEDOUT, "W=%u: %s (%s)", workers, tide_err_name(rc), e.msg);
    char who[32];
    snprintf(who, sizeof who, "on worker %u", workers - 1);
    cr_assert(strstr(e.msg, "input 'roots'"), "W=%u: %s", workers, e.msg);
    cr_assert(strstr(e.msg, "epoch 0"), "W=%u: %s", workers, e.msg);
    cr_assert(strstr(e.msg, who), "W=%u: %s", workers, e.msg);
    cr_assert(strstr(e.msg, "stalled"), "W=%u: %s", workers, e.msg);
    /* Every worker that waited got the report naming the same input. */
    for (uint32_t i = 0; i < workers; i++) {
        if (log.rc[i] == 0) continue; /* stopped by the other's failure first */
        cr_assert_eq(log.rc[i], TIDE_ETIMEDOUT, "worker %u: %d", i, log.rc[i]);
        cr_assert(strstr(log.msg[i], "input 'roots'") && strstr(log.msg[i], who), "worker %u: %s",
                  i, log.msg[i]);
    }
    /* The configured 200 ms, not the 10 s default (a loose bound: the run
     * is stopped by the stall report, never by the test's own timeout). */
    cr_assert_lt(took, 8000, "W=%u took %llu ms", workers, (unsigned long long)took);
}

Test(stall, never_advanced_input_is_named_w1)
{
    never_advanced(1);
}

Test(stall, never_advanced_input_is_named_w2)
{
    never_advanced(2);
}

Test(stall, report_is_not_sticky)
{
    for (uint32_t workers = 1; workers <= 2; workers++) {
        /* W=2: the forgetful worker fixes its input after the report; the
         * other may see the fix before its own report, or after. */
        stall_log log = {.forgetful = workers - 1, .fix = true};
        tide_config cfg = stall_config(workers, STALL_MS);
        tide_error e = {0};
        int rc = tide_execute(&cfg, stall_main, &log, &e);
        cr_assert_eq(rc, TIDE_OK, "W=%u: %s", workers, e.msg);
        cr_assert_eq(log.rc[workers - 1], TIDE_ETIMEDOUT, "W=%u: %s", workers,
                     log.msg[workers - 1]);
        for (uint32_t i = 0; i < workers; i++)
            cr_assert(log.recovered[i], "W=%u: worker %u did not recover", workers, i);
    }
}

/* ---- an operator that holds a capability ----------------------------------- */

static void hold_forever(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) tide_batch_unref(b);
}

typedef struct deadline_log {
    int rc;
    char msg[256];
    bool stall_off;
} deadline_log;

static int holder_main(tide_worker *w, void *arg)
{
    deadline_log *log = arg;
    tide_dataflow *df = tide_dataflow_new(w, "holder");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 0), 0, &s);
    tide_layout l = tide_layout_make(8, 0);
    tide_stream *ins[1] = {s};
    tide_op_desc d = {.name = "holder",
                      .ninputs = 1,
                      .inputs = ins,
                      .noutputs = 1,
                      .outputs = &l,
                      .schedule = hold_forever,
                      .initial_capability = true};
    tide_op *op = tide_op_build(root, &d);
    if (op == NULL) return tide_worker_error(w)->code;
    tide_probe *p = tide_probe_new(tide_op_output(op, 0));
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(tide_input_close(in));
    log->rc = log->stall_off ? tide_worker_step_until_timeout(w, p, tide_time_epoch(3), 150)
                             : tide_worker_step_until(w, p, tide_time_epoch(3));
    snprintf(log->msg, sizeof log->msg, "%s", tide_worker_error(w)->msg);
    TIDE_TRY(tide_op_drop(op, TIDE_TIME_ZERO)); /* let the run end */
    return TIDE_OK;
}

Test(stall, held_capability_names_the_operator)
{
    deadline_log log = {0};
    tide_config cfg = stall_config(1, STALL_MS);
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, holder_main, &log, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(log.rc, TIDE_ETIMEDOUT);
    cr_assert(strstr(log.msg, "operator 'holder'") && strstr(log.msg, "(0,0,0)") &&
                  strstr(log.msg, "on worker 0"),
              "%s", log.msg);
}

Test(stall, deadline_without_stall_detection)
{
    deadline_log log = {.stall_off = true};
    tide_config cfg = stall_config(1, 0); /* stall detection off: only the deadline */
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, holder_main, &log, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(log.rc, TIDE_ETIMEDOUT);
    cr_assert(strstr(log.msg, "deadline") && strstr(log.msg, "operator 'holder'"), "%s", log.msg);
}

Test(stall, flag_parses)
{
    tide_config c;
    tide_config_init(&c);
    cr_assert_eq(c.stall_timeout_ms, 10000);
    char a0[] = "prog", a1[] = "--stall-timeout", a2[] = "250", a3[] = "--stall-timeout=0";
    char *argv[] = {a0, a1, a2, NULL};
    int argc = 3;
    tide_error e = {0};
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(c.stall_timeout_ms, 250);
    cr_assert_eq(argc, 1);
    char *argv2[] = {a0, a3, NULL};
    argc = 2;
    cr_assert_eq(tide_config_parse(&c, &argc, argv2, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(c.stall_timeout_ms, 0);
    char bad[] = "--stall-timeout=soon";
    char *argv3[] = {a0, bad, NULL};
    argc = 2;
    cr_assert_eq(tide_config_parse(&c, &argc, argv3, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "stall-timeout"), "%s", e.msg);
}
