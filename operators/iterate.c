/*
 * iterate.c - recursively defined collections (differential's Variable) and
 * tide_iterate.
 *
 * A variable in loop scope S starts from a collection `initial` of S (entered
 * at loop coordinate 0). Its stream is concat(initial, fed), where `fed` is a
 * feedback edge adding 1 to S's coordinate. set(next) connects
 *     consolidate(concat(next, negate(initial)))
 * to that edge, so the variable accumulates, at iteration i + 1, to
 * initial + (next(i) - initial) = next(i): exactly the Kleene iteration
 * x(i+1) = f(x(i)), computed incrementally in (outer time, iteration).
 *
 * The consolidation on the edge is what makes loops stop: once next(i) no
 * longer changes, the changes fed back cancel to nothing and no time of the
 * next iteration is ever produced, so the loop's frontier passes on. Without
 * it, a +x and -x in two records would circulate forever.
 *
 * tide_iterate leaves `next` (not the variable): leaving resets the loop
 * coordinate, so the changes of every iteration sum up, at the outer time,
 * to the fixed point; a consolidate per outer time then drops the churn.
 */
#include "arrange.h"
#include "tide/alloc.h"

struct tide_variable {
    tide_scope *inner;
    tide_stream *initial; /* as given, in @inner */
    tide_feedback *fb;    /* the loop edge (+1 on inner's coordinate) */
    tide_stream *stream;  /* concat(initial, fed) */
    bool set;
};

tide_variable *tide_variable_new(tide_scope *inner, tide_stream *initial)
{
    tide_worker *w = inner->df->w;
    if (initial == NULL) return NULL;
    if (inner->depth == 0 || initial->scope != inner || !(initial->flags & TIDE_BATCH_UPDATES)) {
        tide__worker_fail(w, TIDE_EINVAL,
                          "variable: needs a collection of the loop scope '%s' (a child scope; "
                          "tide_enter the initial collection)",
                          inner->name ? inner->name : "");
        return NULL;
    }
    tide_variable *v = tide_calloc(1, sizeof *v);
    if (tide__df_own(inner->df, v) < 0) {
        tide__worker_fail(w, TIDE_ENOMEM, "out of memory building a variable");
        return NULL;
    }
    v->inner = inner;
    v->initial = initial;
    tide_stream *fed;
    v->fb = tide_feedback_new(inner, initial->layout, TIDE_BATCH_UPDATES, 1, &fed);
    if (v->fb == NULL) return NULL;
    tide_stream *parts[2] = {initial, fed};
    v->stream = tide_concat(parts, 2);
    return v->stream ? v : NULL;
}

tide_stream *tide_variable_stream(tide_variable *v)
{
    return v->stream;
}

int tide_variable_set(tide_variable *v, tide_stream *next)
{
    tide_worker *w = v->inner->df->w;
    if (next == NULL) return w->rc ? w->rc : TIDE_EINVAL;
    if (v->set)
        return tide__worker_fail(w, TIDE_ESTATE, "variable of scope '%s' is set twice",
                                 v->inner->name ? v->inner->name : "");
    if (next->scope != v->inner || !tide_layout_eq(next->layout, v->initial->layout) ||
        !(next->flags & TIDE_BATCH_UPDATES))
        return tide__worker_fail(w, TIDE_EINVAL,
                                 "variable of scope '%s': next must be a collection of the loop "
                                 "scope with the variable's layout",
                                 v->inner->name ? v->inner->name : "");
    tide_stream *neg = tide_negate(v->initial);
    if (neg == NULL) return w->rc;
    tide_stream *parts[2] = {next, neg};
    tide_stream *back = tide__consolidate_op(tide_concat(parts, 2), "variable_feedback");
    if (back == NULL) return w->rc;
    TIDE_TRY(tide_feedback_connect(v->fb, back));
    v->set = true;
    return TIDE_OK;
}

tide_stream *tide_iterate(tide_stream *c, tide_iterate_fn fn, void *ctx)
{
    if (c == NULL) return NULL;
    tide_scope *inner = tide_scope_child(c->scope, "iterate");
    if (inner == NULL) return NULL;
    tide_variable *v = tide_variable_new(inner, tide_enter(c, inner));
    if (v == NULL) return NULL;
    tide_stream *next = fn(ctx, inner, tide_variable_stream(v));
    if (next == NULL || tide_variable_set(v, next) < 0) return NULL;
    return tide_consolidate(tide_leave(next));
}
