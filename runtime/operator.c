/*
 * operator.c - operators: construction, inputs, capabilities, outputs.
 *
 * An operator is a node of the dataflow with input ports (queues of
 * batches) and output ports (each feeding some channels). Progress
 * accounting happens here: pulling a message records -1 at its input port,
 * holding/dropping a capability records +1/-1 at every output port, and
 * channels record +1 at the destination input for every message they send.
 * These changes are broadcast together at the end of the step, which is
 * what makes an operator's activation atomic for progress tracking.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tide/alloc.h"
#include "worker.h"

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return TIDE_OK;
    uint32_t c = *cap ? *cap : 4;
    while (c < need) c *= 2;
    void *p = tide_realloc(*arr, (size_t)c * elem);
    if (p == NULL) return TIDE_ENOMEM;
    *arr = p;
    *cap = c;
    return TIDE_OK;
}

void tide__op_free(tide_op *op)
{
    if (op == NULL) return;
    for (uint32_t i = 0; i < op->ninputs; i++) {
        tide__inport *in = &op->in[i];
        for (uint32_t k = 0; k < in->len; k++) tide_batch_unref(in->ring[(in->head + k) % in->cap]);
        tide_free(in->ring);
    }
    for (uint32_t i = 0; i < op->noutputs; i++) {
        tide_batch_unref(op->out[i].staged);
        tide_free(op->out[i].channels);
    }
    if (op->state_free) op->state_free(op->state);
    tide_change_batch_fini(&op->held);
    tide_free(op->in);
    tide_free(op->out);
    tide_free(op->name);
    tide_free(op);
}

static int op_fail_nomem(tide_dataflow *df, const char *name)
{
    return tide__worker_fail(df->w, TIDE_ENOMEM, "dataflow '%s': out of memory building '%s'",
                             df->name, name ? name : "?");
}

/* Add a channel from (src op, port) to (dst op, port). */
static int channel_new(tide_dataflow *df, tide_stream *s, tide_op *dst, uint32_t port,
                       tide_pact pact)
{
    tide_op *src = df->ops[s->op];
    tide__outport *out = &src->out[s->port];
    tide__channel *ch = tide_calloc(1, sizeof *ch);
    if (ch == NULL) return TIDE_ENOMEM;
    if (grow((void **)&df->chans, &df->chans_cap, df->nchans + 1, sizeof(*df->chans)) < 0 ||
        grow((void **)&out->channels, &out->chan_cap, out->nchannels + 1, sizeof(uint32_t)) < 0) {
        tide_free(ch);
        return TIDE_ENOMEM;
    }
    ch->id = df->nchans;
    ch->pact = df->w->peers == 1 ? TIDE_PIPELINE : pact; /* one worker: nothing to move */
    ch->dst_op = dst->index;
    ch->dst_port = port;
    ch->layout = s->layout;
    ch->flags = s->flags;
    ch->depth = s->scope->depth;
    df->chans[df->nchans++] = ch;
    out->channels[out->nchannels++] = ch->id;
    return tide__reach_add_edge(&df->rb, s->op, s->port, dst->index, port);
}

int tide_op_connect(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact)
{
    if (s != NULL && s->scope != op->scope)
        return tide__worker_fail(op->df->w, TIDE_EINVAL,
                                 "operator '%s' input %u: stream is from another scope (use "
                                 "tide_enter/tide_leave)",
                                 op->name, port);
    return tide__op_connect_any(op, port, s, pact);
}

int tide__op_connect_any(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact)
{
    tide_dataflow *df = op->df;
    if (df->sealed)
        return tide__worker_fail(df->w, TIDE_ESTATE, "dataflow '%s' is sealed: cannot connect '%s'",
                                 df->name, op->name);
    if (port >= op->ninputs || op->in[port].connected)
        return tide__worker_fail(df->w, TIDE_EINVAL, "operator '%s' has no free input %u", op->name,
                                 port);
    if (s == NULL || s->scope->df != df)
        return tide__worker_fail(df->w, TIDE_EINVAL,
                                 "operator '%s' input %u: no stream, or one of another dataflow",
                                 op->name, port);
    int rc = channel_new(df, s, op, port, pact);
    if (rc < 0) return op_fail_nomem(df, op->name);
    op->in[port].connected = true;
    op->in[port].layout = s->layout;
    return TIDE_OK;
}

tide_op *tide_op_build(tide_scope *s, const tide_op_desc *d)
{
    tide_dataflow *df = s->df;
    tide_worker *w = df->w;
    if (w->rc) return NULL;
    if (df->sealed) {
        tide__worker_fail(w, TIDE_ESTATE, "dataflow '%s' is sealed: cannot add '%s'", df->name,
                          d->name);
        return NULL;
    }
    tide_op *op = tide_calloc(1, sizeof *op);
    if (op == NULL) goto nomem_op;
    size_t nl = strlen(d->name ? d->name : "op") + 1;
    op->name = tide_alloc(nl);
    op->in = tide_calloc(d->ninputs + 1, sizeof *op->in);
    op->out = tide_calloc(d->noutputs + 1, sizeof *op->out);
    if (op->name == NULL || op->in == NULL || op->out == NULL) goto nomem_op;
    memcpy(op->name, d->name ? d->name : "op", nl);
    op->df = df;
    op->scope = s;
    op->index = df->nops;
    op->ninputs = d->ninputs;
    op->noutputs = d->noutputs;
    op->schedule = d->schedule;
    tide_change_batch_init(&op->held);
    if (grow((void **)&df->ops, &df->ops_cap, df->nops + 1, sizeof(*df->ops)) < 0) goto nomem_op;
    if (tide__reach_add_node(&df->rb, op->index, d->ninputs, d->noutputs) < 0) goto nomem_op;
    df->ops[df->nops++] = op;
    op->state = d->state;
    op->state_free = d->state_free;
    op->stateless = d->stateless;
    op->save = d->save;
    op->load = d->load;
    for (uint32_t i = 0; i < d->ninputs; i++)
        for (uint32_t o = 0; o < d->noutputs && !d->disconnected; o++) {
            tide_summary sm = d->summary ? *d->summary : TIDE_SUMMARY_IDENTITY;
            if (tide__reach_add_summary(&df->rb, op->index, i, o, sm) < 0) goto nomem;
        }
    for (uint32_t o = 0; o < d->noutputs; o++) {
        tide_stream *st = tide_calloc(1, sizeof *st);
        if (tide__df_own(df, st) < 0) goto nomem;
        st->scope = s;
        st->op = op->index;
        st->port = o;
        st->layout = d->outputs[o];
        st->flags = d->out_flags ? d->out_flags[o] : 0;
        op->out[o].layout = st->layout;
        op->out[o].flags = st->flags;
        op->out[o].stream = st;
    }
    for (uint32_t i = 0; i < d->ninputs; i++) {
        if (d->inputs == NULL || d->inputs[i] == NULL) continue;
        if (tide_op_connect(op, i, d->inputs[i], d->pacts ? d->pacts[i] : TIDE_PIPELINE) < 0)
            goto disown; /* the worker has the error */
    }
    if (d->initial_capability && tide_change_batch_update(&op->held, TIDE_TIME_ZERO, 1) < 0)
        goto nomem;
    return op;
nomem_op:
    if (op) {
        op->state_free = NULL; /* the caller still owns the state */
        tide__op_free(op);
    }
    op_fail_nomem(df, d->name);
    return NULL;
nomem:
    op_fail_nomem(df, d->name);
disown:
    /* The operator stays in the (now failed) dataflow, inert; the state
     * goes back to the caller, who frees it as on every other failure. */
    op->state = NULL;
    op->state_free = NULL;
    return NULL;
}

tide_stream *tide__fn_op(tide_stream *s, const char *name, tide_layout out, tide_op_fn schedule,
                         tide__fn_state fs)
{
    tide__fn_state *st = tide_alloc(sizeof *st);
    if (st == NULL) {
        tide__worker_fail(s->scope->df->w, TIDE_ENOMEM, "out of memory building '%s'", name);
        return NULL;
    }
    *st = fs;
    tide_stream *in[1] = {s};
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .inputs = in,
                      .noutputs = 1,
                      .outputs = &out,
                      .out_flags = &s->flags,
                      .schedule = schedule,
                      .state = st,
                      .state_free = tide_free,
                      .stateless = true};
    tide_op *op = tide_op_build(s->scope, &d);
    if (op == NULL) {
        tide_free(st);
        return NULL;
    }
    return tide_op_output(op, 0);
}

tide_stream *tide_op_output(tide_op *op, uint32_t port)
{
    return port < op->noutputs ? op->out[port].stream : NULL;
}
tide_scope *tide_op_scope(const tide_op *op)
{
    return op->scope;
}
tide_worker *tide_op_worker(const tide_op *op)
{
    return op->df->w;
}

/* ---- inputs ------------------------------------------------------------------- */

int tide__op_enqueue(tide_op *op, uint32_t port, tide_batch *b)
{
    tide__inport *in = &op->in[port];
    if (in->len == in->cap) {
        uint32_t cap = in->cap ? in->cap * 2 : 8;
        tide_batch **ring = tide_alloc(cap * sizeof *ring);
        if (ring == NULL) {
            tide_batch_unref(b);
            return tide__worker_fail(op->df->w, TIDE_ENOMEM, "out of memory queueing for '%s'",
                                     op->name);
        }
        for (uint32_t k = 0; k < in->len; k++) ring[k] = in->ring[(in->head + k) % in->cap];
        tide_free(in->ring);
        in->ring = ring;
        in->head = 0;
        in->cap = cap;
    }
    in->ring[(in->head + in->len) % in->cap] = b;
    in->len++;
    tide__df_activate(op->df, op->index);
    return TIDE_OK;
}

tide_batch *tide_op_pull(tide_op *op, uint32_t port)
{
    tide__inport *in = &op->in[port];
    if (in->len == 0) return NULL;
    tide_batch *b = in->ring[in->head];
    in->head = (in->head + 1) % in->cap;
    in->len--;
    if (op->noutputs == 0) op->df->records_out += b->len; /* a sink consumes it */
    if (tide__df_change(op->df, op->index, port, false, b->time, -1) < 0) {
        tide_batch_unref(b);
        return NULL;
    }
    return b;
}

const tide_antichain *tide_op_frontier(const tide_op *op, uint32_t port)
{
    return tide__tracker_frontier(op->df->tracker, op->index, port);
}

/* ---- capabilities ---------------------------------------------------------------- */

int tide__op_cap_change(tide_op *op, tide_time t, int64_t delta)
{
    for (uint32_t p = 0; p < op->noutputs; p++)
        TIDE_TRY(tide__df_change(op->df, op->index, p, true, t, delta));
    if (tide_change_batch_update(&op->held, t, delta) < 0)
        return tide__worker_fail(op->df->w, TIDE_ENOMEM, "out of memory in '%s'", op->name);
    return TIDE_OK;
}

int tide_op_hold(tide_op *op, tide_time t)
{
    if (!op->df->sealed) return tide_change_batch_update(&op->held, t, 1); /* initial */
    return tide__op_cap_change(op, t, 1);
}

static int64_t held_count(tide_op *op, tide_time t)
{
    tide_change_batch_compact(&op->held);
    for (uint32_t i = 0; i < op->held.len; i++)
        if (tide_time_eq(op->held.updates[i].time, t)) return op->held.updates[i].delta;
    return 0;
}

int tide_op_drop(tide_op *op, tide_time t)
{
    if (held_count(op, t) <= 0) {
        char buf[64];
        return tide__worker_fail(op->df->w, TIDE_EINVAL,
                                 "operator '%s' drops a capability at %s it does not hold",
                                 op->name, tide_time_fmt(t, buf, sizeof buf));
    }
    return tide__op_cap_change(op, t, -1);
}

int tide_op_downgrade(tide_op *op, tide_time from, tide_time to)
{
    if (!tide_time_le(from, to)) {
        char a[64], b[64];
        return tide__worker_fail(
            op->df->w, TIDE_EINVAL, "operator '%s' downgrades a capability from %s to earlier %s",
            op->name, tide_time_fmt(from, a, sizeof a), tide_time_fmt(to, b, sizeof b));
    }
    if (tide_time_eq(from, to)) return TIDE_OK;
    TIDE_TRY(tide_op_hold(op, to));
    return tide_op_drop(op, from);
}

void tide_op_activate(tide_op *op)
{
    tide__df_activate(op->df, op->index);
}

int tide_op_fail(tide_op *op, int code, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tide__worker_fail(op->df->w, code, "%s: %s", op->name, msg);
}

/* ---- outputs ----------------------------------------------------------------------- */

int tide_out_give(tide_op *op, uint32_t port, tide_batch *b)
{
    tide__outport *out = &op->out[port];
    tide_dataflow *df = op->df;
    /* Job statistics: records entering (sources) and leaving unread. */
    if (op->ninputs == 0) df->records_in += b->len;
    if ((b->len == 0 && b->ext == NULL) || out->nchannels == 0) {
        if (out->nchannels == 0) df->records_out += b->len;
        tide_batch_unref(b);
        return TIDE_OK;
    }
    for (uint32_t c = 0; c < out->nchannels; c++) {
        bool last = c + 1 == out->nchannels;
        int rc = tide__channel_send(df, df->chans[out->channels[c]], last ? b : tide_batch_ref(b));
        if (rc < 0) {
            if (!last) tide_batch_unref(b); /* our reference, never handed on */
            return rc;
        }
    }
    return TIDE_OK;
}

/* The staged batch of @port can take one more record at time @t. */
static inline bool staged_ready(const tide__outport *out, tide_time t)
{
    const tide_batch *b = out->staged;
    return b && tide_time_eq(b->time, t) && b->len < TIDE_BATCH_RECORDS &&
           (size_t)b->key.heap_len + b->val.heap_len < TIDE_BATCH_BYTES;
}

static int stage(tide_op *op, uint32_t port, tide_time t)
{
    tide__outport *out = &op->out[port];
    if (out->staged && (!tide_time_eq(out->staged->time, t) || tide_batch_full(out->staged))) {
        tide_batch *b = out->staged;
        out->staged = NULL;
        TIDE_TRY(tide_out_give(op, port, b));
    }
    if (out->staged == NULL) {
        /* Fixed layouts get a full-size batch up front, so that pushes never
         * grow it (and tide_input_send_fixed can write in place). */
        bool fixed = out->layout.key_width != TIDE_VAR && out->layout.val_width != TIDE_VAR;
        out->staged = tide_batch_new(out->layout, out->flags, fixed ? TIDE_BATCH_RECORDS : 1024);
        /* Variable heaps start at a useful size rather than doubling up
         * from nothing, record by record. */
        if (out->staged && !fixed && tide_batch_reserve(out->staged, 0, 16384) < 0) {
            tide_batch_unref(out->staged);
            out->staged = NULL;
        }
        if (out->staged == NULL)
            return tide__worker_fail(op->df->w, TIDE_ENOMEM, "out of memory in '%s'", op->name);
        out->staged->time = t;
    }
    return TIDE_OK;
}

int tide_out_push(tide_op *op, uint32_t port, tide_time t, const void *key, uint32_t klen,
                  const void *val, uint32_t vlen)
{
    if (!staged_ready(&op->out[port], t)) TIDE_TRY(stage(op, port, t));
    int rc = tide_batch_push(op->out[port].staged, key, klen, val, vlen);
    if (rc < 0) return tide_op_fail(op, rc, "output %u: %s", port, tide_strerror(rc));
    return TIDE_OK;
}

int tide_out_push_update(tide_op *op, uint32_t port, tide_time t, const void *key, uint32_t klen,
                         const void *val, uint32_t vlen, tide_time rt, int64_t diff)
{
    if (!staged_ready(&op->out[port], t)) TIDE_TRY(stage(op, port, t));
    int rc = tide_batch_push_update(op->out[port].staged, key, klen, val, vlen, rt, diff);
    if (rc < 0) return tide_op_fail(op, rc, "output %u: %s", port, tide_strerror(rc));
    return TIDE_OK;
}

int tide_out_flush(tide_op *op)
{
    tide_dataflow *df = op->df;
    for (uint32_t p = 0; p < op->noutputs; p++) {
        tide__outport *out = &op->out[p];
        if (out->staged) {
            tide_batch *b = out->staged;
            out->staged = NULL;
            TIDE_TRY(tide_out_give(op, p, b));
        }
        for (uint32_t c = 0; c < out->nchannels; c++)
            TIDE_TRY(tide__channel_flush(df, df->chans[out->channels[c]]));
    }
    return TIDE_OK;
}
