/*
 * input.c - feeding records into a dataflow from the worker's own code.
 *
 * An input is an operator with no inputs that holds one capability: at its
 * current epoch. Records are staged in the operator's output and leave when
 * a batch fills up or the epoch advances; advancing downgrades the
 * capability, closing drops it. All of this happens between steps, on the
 * worker thread; the progress changes go out with the next step.
 *
 * Errors: a call refused for its arguments or the input's state (advancing
 * backwards, sending after close, an update on a plain input) changes
 * nothing, so it is not sticky: it is returned, described in the worker's
 * error, and the worker carries on (tide/dataflow.h, "Errors").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stall.h"
#include "tide/alloc.h"
#include "tide/snapshot.h"
#include "worker.h"

struct tide_input {
    tide__input_fast fast; /* first: read by tide_input_send_fixed */
    tide_op *op;
    uint64_t epoch;
    bool closed;
    bool updates; /* UPDATES layout */
};

static void input_schedule(tide_op *op, void *state)
{
    (void)op, (void)state;
}

/* Snapshots: an input keeps only its epoch, which must be the saved one. */
static int input_save(tide_op *op, void *state, tide_snap *s)
{
    tide_input *in = state;
    if (!in->closed && in->epoch != tide_snap_epoch(s))
        return tide_snap_fail(s, TIDE_ESTATE, "at epoch %llu, not at the saved epoch",
                              (unsigned long long)in->epoch);
    return TIDE_OK;
}

/* Start at the resume epoch: the initial capability moves there before
 * sealing counts it, so no frontier is ever below the restored data. */
static int input_load(tide_op *op, void *state, tide_snap *s)
{
    tide_input *in = state;
    uint64_t r = tide_snap_epoch(s);
    if (in->closed || r <= in->epoch) return TIDE_OK;
    if (tide_change_batch_update(&op->held, tide_time_epoch(in->epoch), -1) < 0 ||
        tide_change_batch_update(&op->held, tide_time_epoch(r), 1) < 0)
        return TIDE_ENOMEM;
    in->epoch = r;
    return TIDE_OK;
}

bool tide__input_is(const tide_op *op)
{
    return op->schedule == input_schedule;
}

/* A handled error: described on the worker (tide_worker_error) but not
 * sticky, since the refused call changed nothing. A sticky error already
 * there is kept: it is the one the run will end with. */
static int refuse(tide_input *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(tide_input *in, int code, const char *fmt, ...)
{
    tide_worker *w = in->op->df->w;
    if (w->rc) return code;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->err.code = code;
    snprintf(w->err.msg, sizeof w->err.msg, "%s: %s", in->op->name, msg);
    return code;
}

int tide_input_set_name(tide_input *in, const char *name)
{
    size_t n = strlen(name ? name : "") + 1;
    char *p = tide_alloc(n);
    if (p == NULL) return TIDE_ENOMEM;
    memcpy(p, name ? name : "", n);
    tide_free(in->op->name);
    in->op->name = p;
    return TIDE_OK;
}

tide_input *tide_input_new(tide_scope *s, tide_layout layout, uint32_t flags, tide_stream **out)
{
    if (s->depth != 0) {
        tide__worker_fail(s->df->w, TIDE_EINVAL, "dataflow '%s': inputs belong in the root scope",
                          s->df->name);
        return NULL;
    }
    tide_input *in = tide_calloc(1, sizeof *in);
    if (in == NULL) {
        tide__worker_fail(s->df->w, TIDE_ENOMEM, "out of memory creating an input");
        return NULL;
    }
    tide_op_desc d = {.name = "input",
                      .noutputs = 1,
                      .outputs = &layout,
                      .out_flags = &flags,
                      .schedule = input_schedule,
                      .state = in,
                      .state_free = tide_free,
                      .initial_capability = true,
                      .save = input_save,
                      .load = input_load};
    in->op = tide_op_build(s, &d);
    if (in->op == NULL) {
        tide_free(in);
        return NULL;
    }
    in->updates = (flags & TIDE_BATCH_UPDATES) != 0;
    in->fast.slot = &in->op->out[0].staged;
    if (!in->updates && layout.key_width != TIDE_VAR && layout.val_width != TIDE_VAR &&
        layout.key_width > 0) {
        in->fast.kw = layout.key_width;
        in->fast.vw = layout.val_width;
        if (layout.key_width == 8 && layout.val_width == 0) in->fast.room_u64 = TIDE_BATCH_RECORDS;
    }
    if (out) *out = tide_op_output(in->op, 0);
    return in;
}

static int check_open(tide_input *in)
{
    if (in->closed) return refuse(in, TIDE_ECLOSED, "send after close");
    return TIDE_OK;
}

int tide_input_send(tide_input *in, const void *key, uint32_t klen, const void *val, uint32_t vlen)
{
    TIDE_TRY(check_open(in));
    if (in->updates) return tide_input_update(in, key, klen, val, vlen, 1);
    tide_time t = tide_time_epoch(in->epoch);
    int rc = tide_out_push(in->op, 0, t, key, klen, val, vlen);
    if (rc == 0 && tide_batch_full(in->op->out[0].staged)) rc = tide_out_flush(in->op);
    return rc;
}

int tide_input_update(tide_input *in, const void *key, uint32_t klen, const void *val,
                      uint32_t vlen, int64_t diff)
{
    TIDE_TRY(check_open(in));
    if (!in->updates) return refuse(in, TIDE_EINVAL, "update on a plain input");
    tide_time t = tide_time_epoch(in->epoch);
    int rc = tide_out_push_update(in->op, 0, t, key, klen, val, vlen, t, diff);
    if (rc == 0 && tide_batch_full(in->op->out[0].staged)) rc = tide_out_flush(in->op);
    return rc;
}

int tide_input_give(tide_input *in, tide_batch *b)
{
    int rc = check_open(in);
    if (rc < 0) {
        tide_batch_unref(b);
        return rc;
    }
    TIDE_TRY(tide_out_flush(in->op)); /* keep staged records ahead of @b */
    b->time = tide_time_epoch(in->epoch);
    if (in->updates && b->times)
        for (uint32_t i = 0; i < b->len; i++) b->times[i] = b->time;
    return tide_out_give(in->op, 0, b);
}

int tide_input_advance_to(tide_input *in, uint64_t epoch)
{
    TIDE_TRY(check_open(in));
    if (epoch < in->epoch)
        return refuse(in, TIDE_EINVAL, "advance_to(%llu) is before epoch %llu",
                      (unsigned long long)epoch, (unsigned long long)in->epoch);
    if (epoch == in->epoch) return TIDE_OK;
    TIDE_TRY(tide_out_flush(in->op));
    TIDE_TRY(tide_op_downgrade(in->op, tide_time_epoch(in->epoch), tide_time_epoch(epoch)));
    in->epoch = epoch;
    return TIDE_OK;
}

int tide_input_close(tide_input *in)
{
    if (in->closed) return TIDE_OK;
    TIDE_TRY(tide_out_flush(in->op));
    TIDE_TRY(tide_op_drop(in->op, tide_time_epoch(in->epoch)));
    in->closed = true;
    return TIDE_OK;
}

uint64_t tide_input_epoch(const tide_input *in)
{
    return in->epoch;
}
