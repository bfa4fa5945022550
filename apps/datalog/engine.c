/* engine.c - attribute dataflows, query registration, printing (engine.h). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "tide/sink.h"

static const tide_layout KV = {TIDE_VAR, TIDE_VAR};

int dl_engine_init(dl_engine *g, tide_worker *w)
{
    memset(g, 0, sizeof *g);
    g->w = w;
    g->index = tide_worker_index(w);
    g->peers = tide_worker_peers(w);
    g->out = stdout;
    g->errs = stdout;
    g->max_rounds = 100;
    if (dl_db_init(&g->db) < 0) return TIDE_ENOMEM;
    g->route = calloc(g->peers, sizeof *g->route);
    if (!g->route) return TIDE_ENOMEM;
    /* find, for each worker, a key that tide_exchange sends there */
    uint32_t found = 0;
    bool *have = calloc(g->peers, 1);
    for (uint64_t k = 0; found < g->peers; k++) {
        uint8_t key[8];
        tide_u64_store(key, k);
        uint32_t o = tide_hash_owner(tide_hash(key, 8), g->peers);
        if (!have[o]) {
            have[o] = true;
            memcpy(g->route[o], key, 8);
            found++;
        }
    }
    free(have);
    memcpy(g->route0, g->route[0], 8);
    return TIDE_OK;
}

void dl_engine_fini(dl_engine *g)
{
    for (int i = 0; i < g->nqueries; i++) {
        dl_query *q = g->queries[i];
        for (size_t k = 0; k < q->pending.n; k++) free(q->pending.d[k].tuple);
        free(q->pending.d);
        for (size_t k = 0; k < q->state.n; k++) free(q->state.d[k].tuple);
        free(q->state.d);
        free(q->name);
        free(q->canon);
        free(q->uses);
        dl_rule_free(q->action);
        free(q);
    }
    free(g->queries);
    free(g->last_uses);
    edn_free_all(g->owned, (size_t)g->nowned);
    free(g->inputs);
    free(g->ev);
    free(g->ve);
    free(g->route);
    dl_db_fini(&g->db);
}

/* ---- attributes ---------------------------------------------------------- */

static void swap_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    tide_emit(em, v, vl, k, kl);
}

int dl_engine_create(dl_engine *g, const edn *schema, char *err, size_t errlen)
{
    int first;
    if (dl_db_create(&g->db, schema, &first, err, errlen) < 0) return DL_REJECT;
    int n = g->db.nattrs;
    g->inputs = realloc(g->inputs, (size_t)n * sizeof *g->inputs);
    g->ev = realloc(g->ev, (size_t)n * sizeof *g->ev);
    g->ve = realloc(g->ve, (size_t)n * sizeof *g->ve);
    char name[64];
    snprintf(name, sizeof name, "attributes-%d", g->dfs++);
    tide_dataflow *df = tide_dataflow_new(g->w, name);
    if (!df) return TIDE_ENOMEM;
    tide_scope *root = tide_dataflow_root(df);
    for (int a = first; a < n; a++) {
        tide_stream *s;
        g->inputs[a] = tide_input_new(root, KV, TIDE_BATCH_UPDATES, &s);
        if (!g->inputs[a]) return TIDE_ENOMEM;
        g->ev[a] = tide_arrange(s, g->db.attrs[a].name);
        g->ve[a] = tide_arrange(tide_map(s, "swap", KV, swap_fn, NULL), g->db.attrs[a].name);
        if (!g->ev[a] || !g->ve[a]) return tide_worker_error(g->w)->code;
    }
    g->ninputs = n;
    TIDE_TRY(tide_dataflow_seal(df));
    for (int a = first; a < n; a++) TIDE_TRY(tide_input_advance_to(g->inputs[a], g->time + 1));
    return 0;
}

/* ---- printing ------------------------------------------------------------ */

static void collect_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_time t, int64_t diff)
{
    dl_query *q = ctx;
    dl_diffs *d = &q->pending;
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        dl_diff *nd = realloc(d->d, nc * sizeof *nd);
        if (!nd) return;
        d->d = nd;
        d->cap = nc;
    }
    uint8_t *c = malloc(vl ? vl : 1);
    if (!c) return;
    memcpy(c, v, vl);
    d->d[d->n++] = (dl_diff){c, vl, tide_time_get(t, 0), diff};
}

static int diff_cmp(const void *a, const void *b)
{
    const dl_diff *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return tide_bytes_cmp(x->tuple, x->len, y->tuple, y->len);
}

/* Consolidate @d: clamp times to @since, sort, sum, drop zeros. */
static void consolidate(dl_diffs *d, uint64_t since)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->d[i].time < since) d->d[i].time = since;
    if (d->n) qsort(d->d, d->n, sizeof *d->d, diff_cmp);
    size_t o = 0;
    for (size_t i = 0; i < d->n;) {
        size_t j = i + 1;
        int64_t sum = d->d[i].diff;
        while (j < d->n && diff_cmp(&d->d[i], &d->d[j]) == 0) {
            sum += d->d[j].diff;
            free(d->d[j].tuple);
            j++;
        }
        if (sum) {
            d->d[o] = d->d[i];
            d->d[o++].diff = sum;
        } else {
            free(d->d[i].tuple);
        }
        i = j;
    }
    d->n = o;
}

/* q->state += d (times dropped). */
static void merge_state(dl_query *q, const dl_diffs *d)
{
    dl_diffs *st = &q->state;
    for (size_t i = 0; i < d->n; i++) {
        if (st->n == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 64;
            dl_diff *nd = realloc(st->d, nc * sizeof *nd);
            if (!nd) return;
            st->d = nd;
            st->cap = nc;
        }
        uint8_t *c = malloc(d->d[i].len ? d->d[i].len : 1);
        if (!c) return;
        memcpy(c, d->d[i].tuple, d->d[i].len);
        st->d[st->n++] = (dl_diff){c, d->d[i].len, 0, d->d[i].diff};
    }
}

static void print_query(dl_engine *g, dl_query *q)
{
    dl_diffs *d = &q->pending;
    consolidate(d, q->since);
    if (g->index == 0 && !q->action && g->keep_state) {
        merge_state(q, d);
        consolidate(&q->state, 0);
    }
    if (g->index == 0 && q->active && !q->action && g->on_diffs && d->n)
        g->on_diffs(g->on_diffs_ctx, q, d);
    if (g->index == 0 && q->active && !q->action && g->out) {
        for (size_t i = 0; i < d->n;) {
            dl_str s = {0};
            size_t j = i;
            if (!g->json) {
                dl_str_puts(&s, "[\"");
                dl_str_puts(&s, q->name);
                dl_str_puts(&s, "\" (");
            }
            for (; j < d->n && d->d[j].time == d->d[i].time; j++) {
                char tmp[64];
                if (g->json) {
                    dl_str_puts(&s, "{\"query\":\"");
                    dl_str_puts(&s, q->name);
                    dl_str_puts(&s, "\",\"tuple\":[");
                    dl_tuple_print(&s, d->d[j].tuple, d->d[j].len, true);
                    snprintf(tmp, sizeof tmp, "],\"time\":%llu,\"diff\":%lld}\n",
                             (unsigned long long)d->d[j].time, (long long)d->d[j].diff);
                    dl_str_puts(&s, tmp);
                } else {
                    if (j > i) dl_str_puts(&s, " ");
                    dl_str_puts(&s, "[(");
                    dl_tuple_print(&s, d->d[j].tuple, d->d[j].len, false);
                    snprintf(tmp, sizeof tmp, ") %llu %lld]", (unsigned long long)d->d[j].time,
                             (long long)d->d[j].diff);
                    dl_str_puts(&s, tmp);
                }
            }
            if (!g->json) dl_str_puts(&s, ")]\n");
            fputs(s.p, g->out);
            free(s.p);
            i = j;
        }
        fflush(g->out);
    }
}

static void clear_pending(dl_query *q)
{
    for (size_t k = 0; k < q->pending.n; k++) free(q->pending.d[k].tuple);
    q->pending.n = 0;
}

/* Step until every query has its answer up to g->time, then print. */
static int settle(dl_engine *g)
{
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->df)
            TIDE_TRY(tide_worker_step_until(g->w, g->queries[i]->probe, tide_time_epoch(g->time)));
    for (int i = 0; i < g->nqueries; i++) {
        if (!g->queries[i]->df) continue;
        print_query(g, g->queries[i]);
        if (!g->queries[i]->action) clear_pending(g->queries[i]);
    }
    return 0;
}

/* ---- transactions -------------------------------------------------------- */

/* Feed accepted changes (worker 0), advance every input, settle. */
static int commit(dl_engine *g, dl_change *c, size_t n)
{
    if (g->index == 0) {
        for (size_t i = 0; i < n; i++) {
            uint8_t e[9];
            e[0] = VT_INT;
            tide_i64_store(e + 1, c[i].e);
            int rc = tide_input_update(g->inputs[c[i].attr], e, 9, c[i].v, c[i].vlen, c[i].diff);
            if (rc < 0) {
                dl_changes_free(c, n);
                return rc;
            }
        }
    }
    dl_changes_free(c, n);
    g->time++;
    for (int a = 0; a < g->ninputs; a++) TIDE_TRY(tide_input_advance_to(g->inputs[a], g->time + 1));
    return settle(g);
}

int dl_engine_transact_ints(dl_engine *g, int a, const int64_t *e, const int64_t *v,
                            const int *diff, size_t n)
{
    dl_change *c;
    size_t k;
    if (dl_db_apply_ints(&g->db, a, e, v, diff, n, &c, &k) < 0) return TIDE_ENOMEM;
    return commit(g, c, k);
}

int dl_engine_transact(dl_engine *g, const edn *tx, char *err, size_t errlen)
{
    if (g->ninputs == 0) {
        snprintf(err, errlen, "%d:%d: no schema yet: (create-db SCHEMA) first", tx->line, tx->col);
        return DL_REJECT;
    }
    dl_change *c;
    size_t n;
    if (dl_db_transact(&g->db, tx, &c, &n, err, errlen) < 0) return DL_REJECT;
    return commit(g, c, n);
}

/* A registration is a logical time of its own: imports replay their
 * traces compacted up to the inputs' frontier (time + 1), so the new
 * query's first answer is complete once that time is. */
static int tick(dl_engine *g, uint64_t *since)
{
    g->time++;
    *since = g->time;
    for (int a = 0; a < g->ninputs; a++) TIDE_TRY(tide_input_advance_to(g->inputs[a], g->time + 1));
    return settle(g);
}

/* ---- queries ----------------------------------------------------------- */

static void route_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                     tide_emitter *em)
{
    tide_emit(em, ctx, 8, k, kl);
}

static void route_all_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                         tide_emitter *em)
{
    dl_engine *g = ctx;
    for (uint32_t w = 0; w < g->peers; w++) tide_emit(em, g->route[w], 8, k, kl);
}

static int reg(dl_engine *g, const char *name, const edn *query, const edn *rules,
               dl_rule_action *action, char *err, size_t errlen);

/* True when a live query other than @i imports query @i's arrangement. */
static bool used(dl_engine *g, int i)
{
    for (int j = 0; j < g->nqueries; j++)
        if (j != i && g->queries[j]->df)
            for (int k = 0; k < g->queries[j]->nuses; k++)
                if (g->queries[j]->uses[k] == i) return true;
    return false;
}

/* Drop the dataflow of query @q on this worker (every worker does the
 * same, in the same order) and free what it held. */
static int drop_query(dl_engine *g, dl_query *q)
{
    TIDE_TRY(tide_dataflow_drop(q->df));
    q->df = NULL;
    q->probe = NULL;
    q->result = NULL;
    dl_keep_release(q);
    for (size_t k = 0; k < q->pending.n; k++) free(q->pending.d[k].tuple);
    for (size_t k = 0; k < q->state.n; k++) free(q->state.d[k].tuple);
    free(q->pending.d);
    free(q->state.d);
    q->pending = q->state = (dl_diffs){0};
    (void)g;
    return 0;
}

/* Drop every unregistered (or replaced) query nobody reads any more; a
 * query read by another (as a relation, or sharing its arrangement) stays
 * until its last reader is dropped. */
static int drop_unused(dl_engine *g)
{
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < g->nqueries; i++) {
            dl_query *q = g->queries[i];
            if (q->active || !q->df || used(g, i)) continue;
            TIDE_TRY(drop_query(g, q));
            again = true;
        }
    }
    return 0;
}

int dl_engine_register(dl_engine *g, const char *name, const edn *query, const edn *rules,
                       char *err, size_t errlen)
{
    return reg(g, name, query, rules, NULL, err, errlen);
}

int dl_engine_register_rule(dl_engine *g, const char *name, const edn *query, const edn *rules,
                            dl_rule_action *a, char *err, size_t errlen)
{
    return reg(g, name, query, rules, a, err, errlen);
}

static int reg(dl_engine *g, const char *name, const edn *query, const edn *rules,
               dl_rule_action *action, char *err, size_t errlen)
{
    if (!*name) {
        snprintf(err, errlen, "%d:%d: a query needs a non-empty name", query->line, query->col);
        return DL_REJECT;
    }
    if (dl_compile(g, NULL, query, rules, NULL, err, errlen) < 0) return DL_REJECT;
    /* registering a name again replaces the query (as the article does with
     * chic/thug-total-earnings); queries built on the old one keep it */
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->active && !strcmp(g->queries[i]->name, name))
            g->queries[i]->active = false;
    dl_query *q = calloc(1, sizeof *q);
    dl_query **nq = realloc(g->queries, (size_t)(g->nqueries + 1) * sizeof *nq);
    if (!q || !nq) return TIDE_ENOMEM;
    g->queries = nq;
    q->name = strdup(name);
    q->arity = g->last_arity;
    q->query = query;
    q->rules = rules;
    char *qs = edn_to_string(query), *rs = rules ? edn_to_string(rules) : strdup("");
    size_t cl = strlen(qs) + strlen(rs) + 2;
    q->canon = malloc(cl);
    snprintf(q->canon, cl, "%s|%s", qs, rs);
    free(qs);
    free(rs);
    int self = g->nqueries;
    q->owner = self;
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->owner == i && g->queries[i]->df &&
            !strcmp(g->queries[i]->canon, q->canon))
            q->owner = i;
    q->active = true;
    tide_dataflow *df = tide_dataflow_new(g->w, name);
    if (!df) return TIDE_ENOMEM;
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *answer;
    q->df = df;
    if (q->owner == self) {
        dl_keep_owner(q);
        int crc = dl_compile(g, root, query, rules, &answer, err, errlen);
        dl_keep_owner(NULL);
        if (crc < 0) return TIDE_EINVAL;
        q->uses = g->last_uses;
        q->nuses = g->nlast_uses;
        g->last_uses = NULL;
        q->result = tide_arrange(answer, name);
        if (!q->result) return tide_worker_error(g->w)->code;
    } else {
        /* the same query and rules: read its arrangement, build nothing */
        answer = tide_arranged_stream(tide_arranged_import(g->queries[q->owner]->result, root));
        q->result = g->queries[q->owner]->result;
        q->uses = malloc(sizeof *q->uses);
        if (!q->uses) return TIDE_ENOMEM;
        q->uses[q->nuses++] = q->owner;
    }
    q->action = action;
    tide_stream *routed = action
                              ? tide_exchange(tide_map(answer, "route", KV, route_all_fn, g))
                              : tide_exchange(tide_map(answer, "route", KV, route_fn, g->route0));
    tide_stream *seen = tide_inspect_updates(routed, collect_fn, q);
    q->probe = tide_probe_new(seen);
    if (!q->probe) return tide_worker_error(g->w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    g->queries[g->nqueries++] = q;
    TIDE_TRY(tick(g, &q->since));
    return drop_unused(g); /* the query this one replaced, if nobody reads it */
}

int dl_engine_unregister(dl_engine *g, const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->active && !strcmp(g->queries[i]->name, name)) {
            g->queries[i]->active = false;
            return drop_unused(g);
        }
    snprintf(err, errlen, "no query named %s is registered", name);
    return DL_REJECT;
}

int dl_engine_close(dl_engine *g)
{
    for (int a = 0; a < g->ninputs; a++) TIDE_TRY(tide_input_close(g->inputs[a]));
    return 0;
}

/* ---- script forms ---------------------------------------------------------- */

/* (quote X) is 'X written out. */
static const edn *unquote(const edn *x)
{
    if (x && x->t == EDN_LIST && x->n == 2 && edn_is_sym(x->items[0], "quote")) return x->items[1];
    return x;
}

/* A deep copy of @x with each symbol named in @names[i] replaced by a copy
 * of @vals[i]. */
static edn *copy_subst(const edn *x, const char **names, edn *const *vals, size_t n)
{
    if (x->t == EDN_SYM)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(x->s, names[i])) return copy_subst(vals[i], NULL, NULL, 0);
    edn *y = calloc(1, sizeof *y);
    if (!y) return NULL;
    *y = *x;
    y->s = x->s ? malloc(x->slen + 1) : NULL;
    if (y->s) {
        memcpy(y->s, x->s, x->slen);
        y->s[x->slen] = 0;
    }
    y->items = x->n ? calloc(x->n, sizeof *y->items) : NULL;
    for (size_t i = 0; i < x->n; i++) y->items[i] = copy_subst(x->items[i], names, vals, n);
    return y;
}

/* :in $ ?a ?b with ARGS [va vb]: the query with the parameters replaced by
 * their values and the :in section dropped (owned by the engine). */
static const edn *bind_params(dl_engine *g, const edn *q, const edn *args, char *err, size_t errlen)
{
    if (q->t != EDN_VEC) return q;
    size_t in = q->n, end = q->n;
    for (size_t i = 0; i < q->n; i++)
        if (edn_is_kw(q->items[i], "in")) in = i;
    if (in == q->n) {
        if (args) {
            snprintf(err, errlen, "%d:%d: arguments given but the query has no :in", args->line,
                     args->col);
            return NULL;
        }
        return q;
    }
    const char *names[DL_MAX_ARITY];
    size_t n = 0;
    for (end = in + 1; end < q->n && q->items[end]->t == EDN_SYM; end++) {
        const edn *v = q->items[end];
        if (edn_is_sym(v, "$")) continue;
        if (v->t != EDN_SYM || v->s[0] != '?' || n == DL_MAX_ARITY) {
            snprintf(err, errlen, "%d:%d: :in takes $ and ?variables (scalar bindings), got %s",
                     v->line, v->col, v->s);
            return NULL;
        }
        names[n++] = v->s;
    }
    if (n == 0 && !args) return q;
    if (!args || args->t != EDN_VEC || args->n != n) {
        snprintf(
            err, errlen,
            "%d:%d: the query's :in takes %zu value(s): (register-query NAME QUERY RULES [values])",
            q->line, q->col, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        edn_type t = args->items[i]->t;
        if (t != EDN_INT && t != EDN_REAL && t != EDN_STR && t != EDN_BOOL) {
            snprintf(err, errlen, "%d:%d: a parameter value must be a number, string or boolean",
                     args->items[i]->line, args->items[i]->col);
            return NULL;
        }
    }
    edn *y = calloc(1, sizeof *y);
    if (!y) return NULL;
    *y = *q;
    y->s = NULL;
    y->items = calloc(q->n, sizeof *y->items);
    y->n = 0;
    for (size_t i = 0; i < q->n; i++)
        if (i < in || i >= end) y->items[y->n++] = copy_subst(q->items[i], names, args->items, n);
    edn **no = realloc(g->owned, (size_t)(g->nowned + 1) * sizeof *no);
    if (!no) {
        edn_free(y);
        return NULL;
    }
    g->owned = no;
    g->owned[g->nowned++] = y;
    return y;
}

int dl_engine_form(dl_engine *g, const edn *f, char *err, size_t errlen)
{
    if (f->t != EDN_LIST || f->n == 0 || f->items[0]->t != EDN_SYM) {
        snprintf(err, errlen,
                 "%d:%d: expected a form (create-db ...), (transact ...), "
                 "(register-query ...), (unregister-query ...), (business-rule ...)",
                 f->line, f->col);
        return DL_REJECT;
    }
    const char *h = f->items[0]->s;
    if (!strcmp(h, "create-db")) {
        if (f->n != 2) {
            snprintf(err, errlen, "%d:%d: (create-db SCHEMA)", f->line, f->col);
            return DL_REJECT;
        }
        return dl_engine_create(g, f->items[1], err, errlen);
    }
    if (!strcmp(h, "transact")) {
        if (f->n != 2) {
            snprintf(err, errlen, "%d:%d: (transact [forms...])", f->line, f->col);
            return DL_REJECT;
        }
        return dl_engine_transact(g, f->items[1], err, errlen);
    }
    if (!strcmp(h, "register-query")) {
        if (f->n < 3 || f->n > 5 || f->items[1]->t != EDN_STR) {
            snprintf(err, errlen, "%d:%d: (register-query \"name\" QUERY [RULES [ARGS]])", f->line,
                     f->col);
            return DL_REJECT;
        }
        if (g->ninputs == 0) {
            snprintf(err, errlen, "%d:%d: no schema yet: (create-db SCHEMA) first", f->line,
                     f->col);
            return DL_REJECT;
        }
        const edn *rules = f->n >= 4 ? unquote(f->items[3]) : NULL;
        if (rules && rules->t == EDN_NIL) rules = NULL;
        const edn *q = bind_params(g, unquote(f->items[2]), f->n == 5 ? unquote(f->items[4]) : NULL,
                                   err, errlen);
        if (!q) return DL_REJECT;
        return dl_engine_register(g, f->items[1]->s, q, rules, err, errlen);
    }
    if (!strcmp(h, "business-rule")) {
        if (g->ninputs == 0) {
            snprintf(err, errlen, "%d:%d: no schema yet: (create-db SCHEMA) first", f->line,
                     f->col);
            return DL_REJECT;
        }
        return dl_rule_register(g, f, err, errlen);
    }
    if (!strcmp(h, "unregister-query")) {
        if (f->n != 2 || f->items[1]->t != EDN_STR) {
            snprintf(err, errlen, "%d:%d: (unregister-query \"name\")", f->line, f->col);
            return DL_REJECT;
        }
        int rc = dl_engine_unregister(g, f->items[1]->s, err, errlen);
        if (rc == DL_REJECT) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%d:%d: %s", f->line, f->col, err);
            snprintf(err, errlen, "%s", tmp);
        }
        return rc;
    }
    snprintf(err, errlen, "%d:%d: unknown form (%s ...)", f->line, f->col, h);
    return DL_REJECT;
}

/* ---- whole scripts ---------------------------------------------------------- */

static void print_error(dl_engine *g, const char *msg)
{
    if (g->index != 0) return;
    if (g->json) {
        fputs("{\"error\":\"", g->out);
        for (const char *p = msg; *p; p++) {
            if (*p == '"' || *p == '\\') fputc('\\', g->out);
            fputc(*p, g->out);
        }
        fputs("\"}\n", g->out);
    } else {
        fprintf(g->out, "error: %s\n", msg);
    }
    fflush(g->out);
}

int dl_engine_script(dl_engine *g, edn *const *forms, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        char err[512] = "";
        rc = dl_engine_form(g, forms[i], err, sizeof err);
        if (rc == DL_REJECT) {
            print_error(g, err);
            rc = 0;
        }
        if (rc == 0) rc = dl_rules_run(g);
    }
    if (rc >= 0) rc = dl_engine_close(g);
    return rc < 0 ? rc : 0;
}
