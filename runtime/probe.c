/*
 * probe.c - observing how far a stream has progressed.
 *
 * A probe is a sink operator: it consumes (and drops) the stream's batches
 * so that their pointstamps retire, and answers from its input frontier.
 * Waiting on a probe (tide_worker_step_until) gives up after the caller's
 * deadline or the configured stall time, and then says why (stall.c).
 */
#include "stall.h"
#include "tide/alloc.h"
#include "worker.h"

static const tide_time least_time = {0, {0, 0}};

struct tide_probe {
    tide_op *op;
};

static void probe_schedule(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) tide_batch_unref(b);
}

tide_probe *tide_probe_new(tide_stream *s)
{
    tide_dataflow *df = s->scope->df;
    tide_probe *p = tide_calloc(1, sizeof *p);
    if (p == NULL) {
        tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory creating a probe");
        return NULL;
    }
    tide_stream *in[1] = {s};
    tide_op_desc d = {.name = "probe",
                      .ninputs = 1,
                      .inputs = in,
                      .schedule = probe_schedule,
                      .state = p,
                      .state_free = tide_free,
                      .disconnected = true};
    p->op = tide_op_build(s->scope, &d);
    if (p->op == NULL) {
        tide_free(p);
        return NULL;
    }
    return p;
}

const tide_antichain *tide_probe_frontier(const tide_probe *p)
{
    static const tide_antichain least = {(tide_time *)&least_time, 1, 1};
    if (p->op->df->tracker == NULL) return &least; /* not sealed: nothing has happened */
    return tide_op_frontier(p->op, 0);
}

bool tide_probe_less_than(const tide_probe *p, tide_time t)
{
    return tide_antichain_less_than(tide_probe_frontier(p), t);
}

bool tide_probe_less_equal(const tide_probe *p, tide_time t)
{
    return tide_antichain_less_equal(tide_probe_frontier(p), t);
}

int tide_worker_step_until(tide_worker *w, const tide_probe *p, tide_time t)
{
    return tide_worker_step_until_timeout(w, p, t, -1);
}

int tide_worker_step_until_timeout(tide_worker *w, const tide_probe *p, tide_time t,
                                   int64_t timeout_ms)
{
    uint64_t stall_ms = w->rt->cfg.stall_timeout_ms;
    uint64_t start = tide__now_ms(), last = start, worked = w->worked;
    while (tide_probe_less_equal(p, t)) {
        int rc = tide_worker_step_or_park(w, 1000);
        if (rc < 0) return rc;
        if (rc == 0) break;
        uint64_t now = tide__now_ms();
        if (w->worked != worked) {
            worked = w->worked;
            last = now;
        } else if (stall_ms && now - last >= stall_ms) {
            return tide__stall_explain(p->op, t, now - last, TIDE_ETIMEDOUT, "stalled");
        }
        if (timeout_ms >= 0 && now - start >= (uint64_t)timeout_ms)
            return tide__stall_explain(p->op, t, now - last, TIDE_ETIMEDOUT, "deadline passed");
    }
    return TIDE_OK;
}
