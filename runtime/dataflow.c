/*
 * dataflow.c - building a dataflow graph and stepping it on one worker.
 *
 * Building registers operators as nodes and channels as edges of a
 * reachability builder; sealing turns that into a progress tracker. A step
 * then (1) propagates pointstamp changes into input frontiers and activates
 * the operators whose frontier moved, (2) runs active operators in index
 * order, (3) consolidates the pointstamp changes this worker caused and
 * broadcasts them to every worker, itself included.
 *
 * Initial capabilities: an operator that starts with a capability holds one
 * on every worker, so each worker's tracker starts with count = peers for
 * it, and only the drops are broadcast (otherwise a fast worker could see
 * its own drop before a slow worker's hold and finish too early).
 */
#include <stdlib.h>
#include <string.h>

#include "job_int.h"
#include "stall.h"
#include "tide/alloc.h"
#include "transport.h"
#include "worker.h"

static char *dupstr(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *p = tide_alloc(n);
    if (p) memcpy(p, s ? s : "", n);
    return p;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return TIDE_OK;
    uint32_t c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    void *p = tide_realloc(*arr, (size_t)c * elem);
    if (p == NULL) return TIDE_ENOMEM;
    *arr = p;
    *cap = c;
    return TIDE_OK;
}

int tide__df_own(tide_dataflow *df, void *p)
{
    if (p == NULL) return TIDE_ENOMEM;
    if (grow((void **)&df->owned, &df->owned_cap, df->nowned + 1, sizeof(void *)) < 0) {
        tide_free(p);
        return TIDE_ENOMEM;
    }
    df->owned[df->nowned++] = p;
    return TIDE_OK;
}

static tide_scope *scope_new(tide_dataflow *df, tide_scope *parent, const char *name)
{
    tide_scope *s = tide_calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    if (tide__df_own(df, s) < 0) return NULL;
    s->df = df;
    s->parent = parent;
    s->depth = parent ? parent->depth + 1 : 0;
    s->name = name;
    if (grow((void **)&df->scopes, &df->scopes_cap, df->nscopes + 1, sizeof(tide_scope *)) < 0)
        return NULL;
    df->scopes[df->nscopes++] = s;
    return s;
}

tide_dataflow *tide_dataflow_new(tide_worker *w, const char *name)
{
    tide_dataflow *df = tide_calloc(1, sizeof *df);
    if (df == NULL) goto fail;
    df->w = w;
    df->index = w->df_next; /* job ids replace it in host mode */
    df->slot = w->ndfs;
    df->name = dupstr(name);
    df->profile = tide__profile_wanted();
    tide__reach_builder_init(&df->rb);
    if (df->name == NULL || scope_new(df, NULL, "root") == NULL) goto fail_df;
    if (grow((void **)&w->dfs, &w->dfs_cap, w->ndfs + 1, sizeof(tide_dataflow *)) < 0) goto fail_df;
    /* In a job, the id comes from the job (the worker has the error). */
    if (w->host && tide__job_df_new(w, df) < 0) {
        tide__df_free(df);
        return NULL;
    }
    if (!w->host) w->df_next++;
    w->dfs[w->ndfs++] = df;
    return df;
fail_df:
    tide__df_free(df);
fail:
    tide__worker_fail(w, TIDE_ENOMEM, "worker %u: out of memory creating dataflow '%s'", w->index,
                      name ? name : "");
    return NULL;
}

tide_scope *tide_dataflow_root(tide_dataflow *df)
{
    return df->scopes[0];
}

tide_scope *tide_scope_child(tide_scope *parent, const char *name)
{
    if (parent->depth + 1 >= TIDE_TIME_DIMS) {
        tide__worker_fail(parent->df->w, TIDE_EINVAL,
                          "dataflow '%s': scope '%s' nests deeper than %d levels", parent->df->name,
                          name ? name : "", TIDE_TIME_DIMS - 1);
        return NULL;
    }
    if (parent->df->sealed) {
        tide__worker_fail(parent->df->w, TIDE_ESTATE, "dataflow '%s' is sealed", parent->df->name);
        return NULL;
    }
    tide_scope *s = scope_new(parent->df, parent, name);
    if (s == NULL)
        tide__worker_fail(parent->df->w, TIDE_ENOMEM, "out of memory creating scope '%s'",
                          name ? name : "");
    return s;
}

uint32_t tide_scope_depth(const tide_scope *s)
{
    return s->depth;
}
tide_worker *tide_scope_worker(const tide_scope *s)
{
    return s->df->w;
}
tide_scope *tide_stream_scope(const tide_stream *s)
{
    return s->scope;
}
tide_layout tide_stream_layout(const tide_stream *s)
{
    return s->layout;
}
bool tide_dataflow_complete(const tide_dataflow *df)
{
    return df->complete;
}

/* ---- progress bookkeeping ------------------------------------------------------ */

int tide__df_change(tide_dataflow *df, uint32_t node, uint32_t port, bool is_source, tide_time t,
                    int64_t delta)
{
    if (grow((void **)&df->changes, &df->changes_cap, df->nchanges + 1, sizeof(tide__pointstamp)) <
        0)
        return tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory recording progress");
    tide__pointstamp *p = &df->changes[df->nchanges++];
    p->node = node;
    p->port = (uint16_t)port;
    p->is_source = is_source;
    p->pad = 0;
    p->time = t;
    p->delta = delta;
    return TIDE_OK;
}

void tide__df_activate(tide_dataflow *df, uint32_t op)
{
    tide_op *o = df->ops[op];
    if (o->scheduled || df->active == NULL) return;
    o->scheduled = true;
    df->active[op / 64] |= 1ULL << (op % 64);
    df->nactive++;
}

int tide__df_apply(tide_dataflow *df, const tide__pointstamp *ps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const tide__pointstamp *p = &ps[i];
        if (p->node >= df->nops) {
            return tide__worker_fail(df->w, TIDE_EPROTO,
                                     "dataflow '%s': progress update for unknown operator %u",
                                     df->name, p->node);
        }
        int rc =
            p->is_source
                ? tide__tracker_update_source(df->tracker, p->node, p->port, p->time, p->delta)
                : tide__tracker_update_target(df->tracker, p->node, p->port, p->time, p->delta);
        if (rc < 0)
            return tide__worker_fail(df->w, rc, "dataflow '%s': applying a progress update: %s",
                                     df->name, tide_strerror(rc));
    }
    return TIDE_OK;
}

static int ps_cmp(const void *a, const void *b)
{
    const tide__pointstamp *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    if (x->is_source != y->is_source) return x->is_source < y->is_source ? -1 : 1;
    return tide_time_cmp(x->time, y->time);
}

/* Sort, sum equal pointstamps and drop zeros: pipelines produce +1/-1
 * pairs within one step that need never leave the worker. */
static uint32_t consolidate(tide__pointstamp *ps, uint32_t n)
{
    if (n > 1) qsort(ps, n, sizeof *ps, ps_cmp);
    uint32_t out = 0;
    for (uint32_t i = 0; i < n;) {
        tide__pointstamp acc = ps[i];
        uint32_t j = i + 1;
        while (j < n && ps_cmp(&ps[j], &acc) == 0) acc.delta += ps[j++].delta;
        if (acc.delta != 0) ps[out++] = acc;
        i = j;
    }
    return out;
}

int tide__df_broadcast(tide_dataflow *df)
{
    tide_worker *w = df->w;
    tide__runtime *rt = w->rt;
    uint32_t n = consolidate(df->changes, df->nchanges);
    df->nchanges = 0;
    if (n == 0) return TIDE_OK;
    if (w->peers > 1) {
        tide__progress *p = tide__progress_new(n);
        if (p == NULL)
            return tide__worker_fail(w, TIDE_ENOMEM, "out of memory broadcasting progress");
        memcpy(p->updates, df->changes, n * sizeof *p->updates);
        for (uint32_t l = 0; l < rt->threads; l++) {
            if (l == w->local) continue;
            tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = df->index};
            m.progress = tide__progress_ref(p);
            int rc = tide__worker_send(w, rt->first + l, &m);
            if (rc < 0) {
                tide__progress_unref(p);
                return rc;
            }
        }
        if (rt->tp) {
            tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = df->index, .from = w->index};
            m.progress = tide__progress_ref(p);
            int rc = tide__transport_broadcast(rt->tp, w->local, &m);
            if (rc < 0) {
                tide__progress_unref(p);
                return tide__worker_fail(w, rc, "worker %u: broadcasting progress failed",
                                         w->index);
            }
        }
        tide__progress_unref(p);
    }
    tide__stall_note(df, w->index, df->changes, n);
    return tide__df_apply(df, df->changes, n);
}

/* ---- sealing -------------------------------------------------------------------- */

int tide_dataflow_seal(tide_dataflow *df)
{
    tide_worker *w = df->w;
    if (df->sealed) return TIDE_OK;
    if (w->rc) return w->rc;
    for (uint32_t i = 0; i < df->nops; i++) {
        tide_op *op = df->ops[i];
        for (uint32_t p = 0; p < op->ninputs; p++)
            if (!op->in[p].connected)
                return tide__worker_fail(
                    w, TIDE_EINVAL, "dataflow '%s': input %u of operator '%s' is not connected",
                    df->name, p, op->name);
    }
    /* The tracker's detail goes to a buffer of its own: formatting the
     * worker's message from itself would overlap. */
    tide_error te = {0};
    df->tracker = tide__tracker_new(&df->rb, &te);
    if (df->tracker == NULL)
        return tide__worker_fail(w, te.code ? te.code : TIDE_ENOMEM, "dataflow '%s': %s", df->name,
                                 te.msg);
    tide__reach_builder_fini(&df->rb);
    df->active = tide_calloc((df->nops + 63) / 64 + 1, sizeof(uint64_t));
    if (df->active == NULL)
        return tide__worker_fail(w, TIDE_ENOMEM, "out of memory sealing '%s'", df->name);
    /* Initial capabilities: every worker's, counted here, never broadcast. */
    for (uint32_t i = 0; i < df->nops; i++) {
        tide_op *op = df->ops[i];
        if (op->held.len == 0) continue;
        tide_change_batch_compact(&op->held);
        for (uint32_t k = 0; k < op->held.len; k++)
            for (uint32_t p = 0; p < op->noutputs; p++)
                if (tide__tracker_update_source(df->tracker, i, p, op->held.updates[k].time,
                                                op->held.updates[k].delta * w->peers) < 0)
                    return tide__worker_fail(w, TIDE_ENOMEM, "out of memory sealing '%s'",
                                             df->name);
    }
    /* Frontiers must reflect the initial capabilities before anyone looks. */
    if (tide__tracker_propagate(df->tracker) < 0)
        return tide__worker_fail(w, TIDE_ENOMEM, "out of memory sealing '%s'", df->name);
    df->sealed = true;
    for (uint32_t i = 0; i < df->nops; i++) tide__df_activate(df, i);
    return tide__worker_replay(w, df->index);
}

/* ---- stepping ------------------------------------------------------------------ */

static int run_active(tide_dataflow *df)
{
    uint32_t words = (df->nops + 63) / 64;
    for (uint32_t wi = 0; wi < words; wi++) {
        /* An operator that activates itself (a source feeding a little per
         * activation) runs again in the next round, not in this loop. */
        uint64_t again = 0;
        while (df->active[wi] & ~again) {
            uint32_t bit = (uint32_t)__builtin_ctzll(df->active[wi] & ~again);
            df->active[wi] &= ~(1ULL << bit);
            df->nactive--;
            tide_op *op = df->ops[wi * 64 + bit];
            op->scheduled = false;
            op->running = true;
            if (df->profile) {
                uint64_t t0 = tide__profile_now();
                op->schedule(op, op->state);
                op->prof_ns += tide__profile_now() - t0;
                op->prof_calls++;
            } else {
                op->schedule(op, op->state);
            }
            op->running = false;
            if (op->scheduled) again |= 1ULL << bit;
            int rc = tide_out_flush(op);
            if (rc < 0) return rc;
            if (df->w->rc) return df->w->rc;
        }
    }
    return TIDE_OK;
}

static int propagate(tide_dataflow *df)
{
    int rc = tide__tracker_propagate(df->tracker);
    if (rc < 0)
        return tide__worker_fail(df->w, rc, "dataflow '%s': progress tracking: %s", df->name,
                                 tide_strerror(rc));
    uint32_t n;
    const tide__frontier_change *ch = tide__tracker_changes(df->tracker, &n);
    for (uint32_t i = 0; i < n; i++) tide__df_activate(df, ch[i].node);
    return TIDE_OK;
}

int tide__df_step(tide_dataflow *df, bool *did)
{
    /* A few rounds so that a change and its consequences (an operator's
     * output, the frontier moving downstream) settle within one step. */
    for (int round = 0; round < 4; round++) {
        TIDE_TRY(propagate(df));
        if (df->nactive == 0 && df->nchanges == 0) break;
        if (df->nactive) {
            *did = true;
            TIDE_TRY(run_active(df));
        }
        if (df->nchanges) {
            *did = true;
            TIDE_TRY(tide__df_broadcast(df));
        }
    }
    if (df->nactive) *did = true;
    df->complete = df->nactive == 0 && df->nchanges == 0 && tide__tracker_is_idle(df->tracker);
    return TIDE_OK;
}

void tide__df_drop(tide_dataflow *df)
{
    tide_worker *w = df->w;
    uint32_t i = df->slot;
    w->dfs[i] = w->dfs[--w->ndfs];
    w->dfs[i]->slot = i;
    if (w->last_df == df) w->last_df = NULL;
    tide__worker_drop_early(w, df->index, df->index);
    tide__df_free(df);
}

void tide__df_free(tide_dataflow *df)
{
    if (df == NULL) return;
    if (df->profile) tide__profile_print(df);
    for (uint32_t i = 0; i < df->nops; i++) tide__op_free(df->ops[i]);
    for (uint32_t i = 0; i < df->nchans; i++) {
        tide__channel *ch = df->chans[i];
        if (ch->stage) {
            for (uint32_t d = 0; d < df->w->peers; d++) tide_batch_unref(ch->stage[d]);
            tide_free(ch->stage);
        }
        tide_free(ch);
    }
    for (uint32_t i = 0; i < df->nowned; i++) tide_free(df->owned[i]);
    tide_free(df->owned);
    tide_free(df->ops);
    tide_free(df->chans);
    tide_free(df->scopes);
    tide_free(df->changes);
    tide_free(df->active);
    if (df->tracker)
        tide__tracker_free(df->tracker);
    else
        tide__reach_builder_fini(&df->rb);
    tide_free(df->name);
    tide_free(df);
}

bool tide__df_dropped(tide_worker *w, uint32_t id)
{
    if (w->host == NULL) return id < w->df_next; /* built here and no longer in w->dfs */
    for (tide__wjob *j = w->host->jobs; j; j = j->next)
        if (j->id == tide__df_job(id)) return (id & (TIDE__DF_PER_JOB - 1)) < j->seq;
    return false;
}

/* Dropping is local: each worker frees its own copy. Whatever the other
 * workers still send for it (progress, data) finds no dataflow and an id
 * below the worker's next one (a job's sequence in host mode), so
 * tide__worker_deliver releases it instead of stashing it for later.
 * Arrangements exported to other dataflows survive: each import holds its
 * own reference to the trace and learns that its source is gone. */
int tide_dataflow_drop(tide_dataflow *df)
{
    if (df == NULL) return TIDE_EINVAL;
    tide_worker *w = df->w;
    if (__atomic_load_n(&w->in_step, __ATOMIC_RELAXED) != 0) {
        if (w->rc == 0) /* handled: a sticky error already there is kept */
            tide_err_set(&w->err, TIDE_ESTATE,
                         "worker %u: dataflow '%s' dropped from inside a step (an operator); "
                         "drop it from the worker's own code between steps",
                         w->index, df->name);
        return TIDE_ESTATE;
    }
    tide__df_drop(df);
    return TIDE_OK;
}
