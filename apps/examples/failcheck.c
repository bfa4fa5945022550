/*
 * failcheck.c - a job in which one process fails on purpose, for the
 * failure tests (tests/net/test_failure.c): every other process must stop
 * too, naming the failed process and its cause.
 *
 *   failcheck [cluster flags] PROCESS KIND [SECONDS]
 *
 * Every worker sends rounds of u64 records through an exchange (as netcheck
 * spin) for SECONDS (default 30). From round 1 on, process PROCESS fails:
 *   op      an operator calls tide_op_fail ("injected operator error")
 *   oom     the allocator's fault hook fails the next allocation
 *   config  it starts with a bad configuration: one worker more than the
 *           others (its handshake is refused)
 *   none    nobody fails
 * The failing process prints "failing" on stdout (flushed) just before it
 * injects the failure. Exit: 0, 1 when the job failed (message on stderr),
 * 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/tide.h"
#include "std_flags.h"

typedef struct job {
    uint32_t victim; /* PROCESS */
    const char *kind;
    double seconds;
    uint32_t armed; /* atomic: the op fails from now on */
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The gate: consumes the exchanged records; fails once armed. */
static void gate_schedule(tide_op *op, void *state)
{
    job *j = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        tide_time t = b->time;
        tide_batch_unref(b);
        if (__atomic_load_n(&j->armed, __ATOMIC_ACQUIRE)) {
            tide_op_fail(op, TIDE_EINVAL, "injected operator error at epoch %llu",
                         (unsigned long long)t.epoch);
            return;
        }
    }
}

static void announce(void)
{
    printf("failing\n");
    fflush(stdout);
}

static int worker_main(tide_worker *w, void *arg)
{
    job *j = arg;
    const tide_config *cfg = tide_worker_config(w);
    uint32_t me = tide_worker_index(w);
    int first = me == cfg->process * cfg->workers, victim = cfg->process == j->victim;
    tide_dataflow *df = tide_dataflow_new(w, "failcheck");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    tide_stream *ex = tide_exchange(s);
    tide_probe *p = tide_probe_new(ex);
    tide_op_desc d = {.name = "gate",
                      .ninputs = 1,
                      .inputs = &ex,
                      .noutputs = 0,
                      .schedule = gate_schedule,
                      .state = j,
                      .disconnected = true};
    if (tide_op_build(tide_dataflow_root(df), &d) == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    double start = now_s();
    for (uint64_t r = 0; now_s() - start < j->seconds; r++) {
        if (r == 1 && victim && first && strcmp(j->kind, "op") == 0) {
            announce();
            __atomic_store_n(&j->armed, 1, __ATOMIC_RELEASE);
        }
        if (r == 1 && victim && first && strcmp(j->kind, "oom") == 0) {
            announce();
            tide_alloc_fail_after(1);
        }
        uint8_t k[8];
        for (uint64_t i = 0; i < 1000; i++) {
            tide_u64_store(k, (uint64_t)me << 44 | r << 24 | i);
            TIDE_TRY(tide_input_send_fixed(in, k, NULL));
        }
        TIDE_TRY(tide_input_advance_to(in, r + 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(r)));
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    example_std_flags(
        argc, argv, "failcheck",
        "usage: failcheck [cluster flags] PROCESS op|oom|config|none [SECONDS]\n"
        "A job in which process PROCESS fails on purpose (for tests/net/test_failure.c):\nevery "
        "other process must stop too, naming the failed process and its cause.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "failcheck: %s\n", e.msg);
        return 2;
    }
    static job j;
    if (argc < 3) {
        fprintf(stderr, "usage: failcheck [cluster flags] PROCESS op|oom|config|none [SECONDS]\n");
        return 2;
    }
    j.victim = (uint32_t)strtoul(argv[1], NULL, 10);
    j.kind = argv[2];
    j.seconds = argc > 3 ? strtod(argv[3], NULL) : 30;
    if (strcmp(j.kind, "config") == 0 && cfg.process == j.victim) {
        announce();
        cfg.workers++;
    }
    if (tide_execute(&cfg, worker_main, &j, &e) < 0) {
        fprintf(stderr, "failcheck: %s\n", e.msg);
        return 1;
    }
    printf("done\n");
    return 0;
}
