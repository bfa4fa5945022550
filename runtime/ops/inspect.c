/*
 * inspect.c - look at every batch that passes (inspect) or that ends here
 * (sink). The batch is lent to the callback.
 */
#include "tide/alloc.h"
#include "worker.h"

typedef struct inspect_state {
    tide_inspect_fn fn;
    void *ctx;
} inspect_state;

static void inspect_schedule(tide_op *op, void *state)
{
    inspect_state *st = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        st->fn(st->ctx, b);
        if (op->noutputs == 0)
            tide_batch_unref(b);
        else if (tide_out_give(op, 0, b) < 0)
            return;
    }
}

static tide_op *build(tide_stream *s, tide_pact pact, tide_inspect_fn fn, void *ctx, bool sink)
{
    inspect_state *st = tide_alloc(sizeof *st);
    if (st == NULL) {
        tide__worker_fail(s->scope->df->w, TIDE_ENOMEM, "out of memory building inspect");
        return NULL;
    }
    st->fn = fn;
    st->ctx = ctx;
    tide_stream *in[1] = {s};
    tide_op_desc d = {.name = sink ? "sink" : "inspect",
                      .ninputs = 1,
                      .inputs = in,
                      .pacts = &pact,
                      .noutputs = sink ? 0 : 1,
                      .outputs = &s->layout,
                      .out_flags = &s->flags,
                      .schedule = inspect_schedule,
                      .stateless = true,
                      .state = st,
                      .state_free = tide_free,
                      .disconnected = sink};
    tide_op *op = tide_op_build(s->scope, &d);
    if (op == NULL) tide_free(st);
    return op;
}

tide_stream *tide_inspect(tide_stream *s, tide_inspect_fn fn, void *ctx)
{
    tide_op *op = build(s, TIDE_PIPELINE, fn, ctx, false);
    return op ? tide_op_output(op, 0) : NULL;
}

void tide_sink(tide_stream *s, tide_pact pact, tide_inspect_fn fn, void *ctx)
{
    build(s, pact, fn, ctx, true);
}
