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
                      .stateless = true,
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

/* Is another thread of this process making progress? Yes when one of
 * them finished a step that did work since @seen was filled, or has been
 * inside the same step since then (one long operator activation). A
 * worker waiting for a busy peer thread is not stalled. @seen (one entry
 * per local worker, 2 each) is refilled. */
static bool peers_busy(const tide_worker *w, uint64_t *seen)
{
    bool busy = false;
    for (uint32_t i = 0; i < w->rt->threads; i++) {
        const tide_worker *o = &w->rt->workers[i];
        uint64_t worked = __atomic_load_n(&o->worked, __ATOMIC_RELAXED);
        uint64_t in_step = __atomic_load_n(&o->in_step, __ATOMIC_RELAXED);
        if (o != w && (worked != seen[2 * i] || (in_step && in_step == seen[2 * i + 1])))
            busy = true;
        seen[2 * i] = worked;
        seen[2 * i + 1] = in_step;
    }
    return busy;
}

int tide_worker_step_until_timeout(tide_worker *w, const tide_probe *p, tide_time t,
                                   int64_t timeout_ms)
{
    uint64_t stall_ms = w->rt->cfg.stall_timeout_ms;
    /* The clock is read only when a step did nothing (or for a deadline):
     * a busy wait costs no system time. @idle_since is 0 while working. */
    uint64_t start = timeout_ms >= 0 ? tide__now_ms() : 0, idle_since = 0, worked = w->worked;
    uint64_t seen[2 * TIDE_MAX_WORKERS]; /* peers_busy's last look */
    while (tide_probe_less_equal(p, t)) {
        int rc = tide_worker_step_or_park(w, 1000);
        if (rc < 0) return rc;
        if (rc == 0) break;
        bool did = w->worked != worked;
        worked = w->worked;
        if (did) idle_since = 0;
        if (did && timeout_ms < 0) continue;
        uint64_t now = tide__now_ms();
        if (!did && idle_since != 0 && peers_busy(w, seen)) idle_since = now;
        if (!did && idle_since == 0) {
            idle_since = now;
            peers_busy(w, seen);
        }
        uint64_t idle = idle_since ? now - idle_since : 0;
        if (stall_ms && idle >= stall_ms)
            return tide__stall_explain(p->op, t, idle, TIDE_ETIMEDOUT, "stalled");
        if (timeout_ms >= 0 && now - start >= (uint64_t)timeout_ms)
            return tide__stall_explain(p->op, t, idle, TIDE_ETIMEDOUT, "deadline passed");
    }
    return TIDE_OK;
}
