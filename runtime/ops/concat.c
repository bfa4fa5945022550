/*
 * concat.c - pass-through operators that move batches unchanged: concat
 * (n inputs into one stream) and exchange (one input with the EXCHANGE
 * pact: the channel does the moving).
 */
#include "tide/alloc.h"
#include "worker.h"

static void pass_schedule(tide_op *op, void *state)
{
    for (uint32_t p = 0; p < op->ninputs; p++) {
        tide_batch *b;
        while ((b = tide_op_pull(op, p)) != NULL)
            if (tide_out_give(op, 0, b) < 0) return;
    }
}

static tide_stream *pass_build(const char *name, tide_stream *const *in, uint32_t n, tide_pact pact)
{
    tide_pact pacts[n];
    for (uint32_t i = 0; i < n; i++) pacts[i] = pact;
    tide_op_desc d = {.name = name,
                      .ninputs = n,
                      .inputs = in,
                      .pacts = pacts,
                      .noutputs = 1,
                      .outputs = &in[0]->layout,
                      .out_flags = &in[0]->flags,
                      .schedule = pass_schedule,
                      .stateless = true};
    tide_op *op = tide_op_build(in[0]->scope, &d);
    return op ? tide_op_output(op, 0) : NULL;
}

tide_stream *tide_concat(tide_stream *const *streams, uint32_t n)
{
    if (n == 0) return NULL;
    for (uint32_t i = 1; i < n; i++) {
        if (!tide_layout_eq(streams[i]->layout, streams[0]->layout) ||
            streams[i]->flags != streams[0]->flags) {
            tide__worker_fail(streams[0]->scope->df->w, TIDE_EINVAL,
                              "concat: stream %u has another layout than stream 0", i);
            return NULL;
        }
    }
    return pass_build("concat", streams, n, TIDE_PIPELINE);
}

tide_stream *tide_exchange(tide_stream *s)
{
    return pass_build("exchange", &s, 1, TIDE_EXCHANGE);
}
