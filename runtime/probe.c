/*
 * probe.c - observing how far a stream has progressed.
 *
 * A probe is a sink operator: it consumes (and drops) the stream's batches
 * so that their pointstamps retire, and answers from its input frontier.
 */
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
    while (tide_probe_less_equal(p, t)) {
        int rc = tide_worker_step_or_park(w, 1000);
        if (rc < 0) return rc;
        if (rc == 0) break;
    }
    return TIDE_OK;
}
