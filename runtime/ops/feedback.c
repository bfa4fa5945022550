/*
 * feedback.c - loop edges and scope boundaries.
 *
 * feedback: records connected to it come back into the scope with the
 * scope's coordinate advanced by @step; its path summary says so, which is
 * what lets progress tracking see that a loop's times strictly increase.
 * enter: records enter a child scope unchanged (coordinate d is 0 already).
 * leave: records leave a child scope with coordinate d reset to 0.
 *
 * Times are rewritten in place when the batch is not shared, else in a copy.
 */
#include "tide/alloc.h"
#include "worker.h"

struct tide_feedback {
    tide_op *op;
};

typedef struct retime_state {
    uint32_t depth; /* the coordinate to change */
    uint32_t step;  /* feedback: + step; leave: reset (step unused) */
    bool reset;
} retime_state;

static tide_time retime(const retime_state *st, tide_time t)
{
    uint64_t v = st->reset ? 0 : tide_time_get(t, (int)st->depth) + st->step;
    if (st->depth == 0)
        t.epoch = v;
    else
        t.iter[st->depth - 1] = (uint32_t)v;
    return t;
}

static tide_batch *private_copy(tide_batch *b)
{
    if (!tide_batch_is_shared(b)) return b;
    tide_batch *c = tide_batch_new(b->layout, b->flags, b->len);
    if (c == NULL) return NULL;
    c->time = b->time;
    for (uint32_t i = 0; i < b->len; i++)
        if (tide_batch_push_from(c, b, i) < 0) {
            tide_batch_unref(c);
            return NULL;
        }
    tide_batch_unref(b);
    return c;
}

static void retime_schedule(tide_op *op, void *state)
{
    retime_state *st = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        if (!st->reset && st->step == 0) { /* enter: times unchanged */
            if (tide_out_give(op, 0, b) < 0) return;
            continue;
        }
        tide_batch *c = private_copy(b);
        if (c == NULL) {
            tide_batch_unref(b);
            tide_op_fail(op, TIDE_ENOMEM, "out of memory");
            return;
        }
        c->time = retime(st, c->time);
        if (c->flags & TIDE_BATCH_UPDATES)
            for (uint32_t i = 0; i < c->len; i++) c->times[i] = retime(st, c->times[i]);
        if (tide_out_give(op, 0, c) < 0) return;
    }
}

static tide_op *retime_build(tide_scope *scope, const char *name, tide_stream *in, tide_layout l,
                             uint32_t flags, retime_state rs, tide_summary sm)
{
    retime_state *st = tide_alloc(sizeof *st);
    if (st == NULL) {
        tide__worker_fail(scope->df->w, TIDE_ENOMEM, "out of memory building '%s'", name);
        return NULL;
    }
    *st = rs;
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .noutputs = 1,
                      .outputs = &l,
                      .out_flags = &flags,
                      .schedule = retime_schedule,
                      .state = st,
                      .state_free = tide_free,
                      .summary = &sm};
    tide_op *op = tide_op_build(scope, &d);
    if (op == NULL) {
        tide_free(st);
        return NULL;
    }
    if (in && tide__op_connect_any(op, 0, in, TIDE_PIPELINE) < 0) return NULL;
    return op;
}

tide_feedback *tide_feedback_new(tide_scope *s, tide_layout layout, uint32_t flags, uint32_t step,
                                 tide_stream **out)
{
    if (step == 0) {
        tide__worker_fail(s->df->w, TIDE_EINVAL, "feedback: step must be >= 1");
        return NULL;
    }
    tide_feedback *fb = tide_alloc(sizeof *fb);
    if (tide__df_own(s->df, fb) < 0) {
        tide__worker_fail(s->df->w, TIDE_ENOMEM, "out of memory building feedback");
        return NULL;
    }
    tide_summary sm = TIDE_SUMMARY_IDENTITY;
    sm.add[s->depth] = step;
    retime_state rs = {.depth = s->depth, .step = step, .reset = false};
    fb->op = retime_build(s, "feedback", NULL, layout, flags, rs, sm);
    if (fb->op == NULL) return NULL;
    if (out) *out = tide_op_output(fb->op, 0);
    return fb;
}

int tide_feedback_connect(tide_feedback *fb, tide_stream *s)
{
    if (!tide_layout_eq(s->layout, fb->op->out[0].layout))
        return tide_op_fail(fb->op, TIDE_EINVAL, "connected stream has another layout");
    return tide_op_connect(fb->op, 0, s, TIDE_PIPELINE);
}

tide_stream *tide_enter(tide_stream *s, tide_scope *child)
{
    if (child->parent != s->scope) {
        tide__worker_fail(child->df->w, TIDE_EINVAL,
                          "enter: '%s' is not a child of the stream's scope",
                          child->name ? child->name : "");
        return NULL;
    }
    /* Identity on times: coordinate child->depth is 0 outside the child. */
    retime_state rs = {.depth = child->depth, .step = 0, .reset = false};
    tide_op *op = retime_build(child, "enter", s, s->layout, s->flags, rs, TIDE_SUMMARY_IDENTITY);
    return op ? tide_op_output(op, 0) : NULL;
}

tide_stream *tide_leave(tide_stream *s)
{
    tide_scope *child = s->scope;
    if (child->parent == NULL) {
        tide__worker_fail(child->df->w, TIDE_EINVAL, "leave: the root scope has no parent");
        return NULL;
    }
    tide_summary sm = TIDE_SUMMARY_IDENTITY;
    sm.reset = (uint8_t)(1u << child->depth);
    retime_state rs = {.depth = child->depth, .step = 0, .reset = true};
    tide_op *op = retime_build(child->parent, "leave", s, s->layout, s->flags, rs, sm);
    return op ? tide_op_output(op, 0) : NULL;
}
