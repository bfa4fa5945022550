/*
 * rules.c - business rules: a query plus an action that transacts when the
 * query's answer gains (or loses) tuples.
 *
 *   (business-rule NAME QUERY ACTION [RULES])
 *   ACTION: {:tx [[:db/add ?t :thug/rat? true] ...]  ; template over the find variables
 *            :on :add                                ; or :retract (default :add)
 *            :prob 0.5 :seed 42}                     ; fire with this probability
 *
 * The rule's answer is sent to every worker, so every worker sees the same
 * triggers in the same (sorted) order, draws the same pseudo-random numbers
 * and applies the same transactions to its copy of the datoms. Each firing
 * is a transaction of its own (the next time); the cascade runs until no
 * rule fires, at most g->max_rounds rounds, else the runaway rule is named.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct dl_rule_action {
    const edn *tx; /* template (borrowed) */
    bool on_add;
    double prob;
    uint64_t rng;
    char *vars[DL_MAX_ARITY]; /* find variables, in order */
    int nvars;
    dl_plugin_fn fn; /* a C action (plugin.h) instead of the template */
    void *fn_ctx;
} dl_rule_action;

static double draw(dl_rule_action *a)
{
    /* splitmix64: the same sequence on every worker */
    uint64_t z = (a->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static edn *val_edn(dl_val v, int line, int col)
{
    edn *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->line = line;
    x->col = col;
    switch (v.p[0]) {
    case VT_INT:
        x->t = EDN_INT;
        x->i = dl_val_int(v);
        break;
    case VT_REAL:
        x->t = EDN_REAL;
        x->r = dl_val_real(v);
        break;
    case VT_BOOL:
        x->t = EDN_BOOL;
        x->b = v.p[1];
        break;
    default: {
        tide_row_reader r;
        tide_row_reader_init(&r, v.p + 1, v.len - 1);
        tide_rowbuf out;
        tide_rowbuf_init(&out);
        tide_row_get_str(&r, &out);
        x->t = EDN_STR;
        x->s = malloc(out.len + 1);
        if (x->s) {
            memcpy(x->s, out.data, out.len);
            x->s[out.len] = 0;
        }
        x->slen = out.len;
        tide_rowbuf_fini(&out);
    }
    }
    return x;
}

/* A copy of @t with the action's variables replaced by the tuple's values. */
static edn *subst(const dl_rule_action *a, const edn *t, const dl_val *vals)
{
    if (t->t == EDN_SYM && t->s[0] == '?')
        for (int i = 0; i < a->nvars; i++)
            if (!strcmp(a->vars[i], t->s)) return val_edn(vals[i], t->line, t->col);
    edn *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    *x = *t;
    x->s = t->s ? strdup(t->s) : NULL;
    x->items = t->n ? calloc(t->n, sizeof *x->items) : NULL;
    for (size_t i = 0; i < t->n; i++) x->items[i] = subst(a, t->items[i], vals);
    return x;
}

/* The C action's arguments: the tuple's values as plugin.h shows them;
 * strings decoded into @strs[i] (initialized here, finished by the caller). */
static void plugin_vals(const dl_val *vals, int n, dl_plugin_val *out, tide_rowbuf *strs)
{
    for (int i = 0; i < n; i++) {
        dl_plugin_val *p = &out[i];
        *p = (dl_plugin_val){0};
        tide_rowbuf_init(&strs[i]);
        switch (vals[i].p[0]) {
        case VT_INT:
            p->type = DL_PLUGIN_INT;
            p->i = dl_val_int(vals[i]);
            break;
        case VT_REAL:
            p->type = DL_PLUGIN_REAL;
            p->r = dl_val_real(vals[i]);
            break;
        case VT_BOOL:
            p->type = DL_PLUGIN_BOOL;
            p->b = vals[i].p[1];
            break;
        default: {
            p->type = DL_PLUGIN_STR;
            tide_row_reader r;
            tide_row_reader_init(&r, vals[i].p + 1, vals[i].len - 1);
            tide_row_get_str(&r, &strs[i]);
            p->s = (const char *)strs[i].data;
            p->slen = strs[i].len;
        }
        }
    }
}

/* The transaction of a firing: the template filled with the tuple, or
 * what the C action returns parsed (NULL with *rc = 0: none; DL_REJECT:
 * unparsable, with @err). */
static edn *action_tx(const dl_rule_action *a, const dl_val *vals, int n, int64_t diff, int *rc,
                      char *err, size_t errlen)
{
    *rc = 0;
    if (!a->fn) {
        edn *tx = subst(a, a->tx, vals);
        if (!tx) *rc = TIDE_ENOMEM;
        return tx;
    }
    dl_plugin_val pv[DL_MAX_ARITY];
    tide_rowbuf strs[DL_MAX_ARITY];
    plugin_vals(vals, n, pv, strs);
    char *text = a->fn(a->fn_ctx, pv, n, diff);
    for (int i = 0; i < n; i++) tide_rowbuf_fini(&strs[i]);
    if (!text) return NULL;
    edn *tx = edn_parse_one(text, strlen(text), err, errlen);
    free(text);
    if (!tx) *rc = DL_REJECT;
    return tx;
}

int dl_rule_register(dl_engine *g, const edn *f, char *err, size_t errlen)
{
    if (f->n < 4 || f->n > 5 || f->items[1]->t != EDN_STR || f->items[3]->t != EDN_MAP) {
        snprintf(
            err, errlen,
            "%d:%d: (business-rule \"name\" QUERY {:tx [...] :on :add :prob p :seed n} [RULES])",
            f->line, f->col);
        return DL_REJECT;
    }
    const edn *q = f->items[2], *act = f->items[3];
    dl_rule_action *a = calloc(1, sizeof *a);
    a->on_add = true;
    a->prob = 1.0;
    a->rng = 0;
    for (size_t i = 0; i + 1 < act->n; i += 2) {
        const edn *k = act->items[i], *v = act->items[i + 1];
        if (edn_is_kw(k, "tx") && v->t == EDN_VEC) {
            a->tx = v;
        } else if (edn_is_kw(k, "fn") && v->t == EDN_STR) {
            if (!dl_plugin_find(v->s, &a->fn, &a->fn_ctx)) {
                snprintf(err, errlen,
                         "%d:%d: no C action named \"%s\" (a job plugin registers it with "
                         "dl_plugin_action, apps/datalog/plugin.h)",
                         v->line, v->col, v->s);
                free(a);
                return DL_REJECT;
            }
        } else if (edn_is_kw(k, "on") && (edn_is_kw(v, "add") || edn_is_kw(v, "retract"))) {
            a->on_add = edn_is_kw(v, "add");
        } else if (edn_is_kw(k, "prob") && (v->t == EDN_REAL || v->t == EDN_INT)) {
            a->prob = v->t == EDN_REAL ? v->r : (double)v->i;
            if (!(a->prob >= 0 && a->prob <= 1)) {
                snprintf(err, errlen, "%d:%d: :prob must be in [0, 1]", v->line, v->col);
                free(a);
                return DL_REJECT;
            }
        } else if (edn_is_kw(k, "seed") && v->t == EDN_INT) {
            a->rng = (uint64_t)v->i;
        } else {
            snprintf(err, errlen,
                     "%d:%d: unknown or malformed action key (:tx :fn :on :prob :seed)", k->line,
                     k->col);
            free(a);
            return DL_REJECT;
        }
    }
    if (!a->tx == !a->fn) {
        snprintf(err, errlen, "%d:%d: the action needs :tx [template forms] or :fn \"C action\"",
                 act->line, act->col);
        free(a);
        return DL_REJECT;
    }
    /* the template may use the find variables, which must be plain */
    if (q->t == EDN_VEC && q->n && edn_is_kw(q->items[0], "find")) {
        for (size_t i = 1; i < q->n && q->items[i]->t == EDN_SYM && q->items[i]->s[0] == '?'; i++)
            if (a->nvars < DL_MAX_ARITY) a->vars[a->nvars++] = q->items[i]->s;
    }
    int rc = dl_engine_register_rule(g, f->items[1]->s, q, f->n == 5 ? f->items[4] : NULL, a, err,
                                     errlen);
    if (rc != 0) free(a);
    return rc;
}

void dl_rule_free(dl_rule_action *a)
{
    free(a);
}

/* One round: every rule's triggers since the last round, in rule order. */
static int round_(dl_engine *g, bool *fired, const char **who)
{
    *fired = false;
    for (int i = 0; i < g->nqueries; i++) {
        dl_query *q = g->queries[i];
        if (!q->action || !q->active) {
            continue;
        }
        dl_rule_action *a = q->action;
        dl_diffs d = q->pending; /* already consolidated by settle */
        q->pending = (dl_diffs){0};
        for (size_t k = 0; k < d.n; k++) {
            if ((d.d[k].diff > 0) != a->on_add) continue;
            dl_val vals[DL_MAX_ARITY];
            int n = dl_tuple_split(d.d[k].tuple, d.d[k].len, vals, DL_MAX_ARITY);
            if (n < a->nvars) continue;
            bool go = draw(a) < a->prob;
            if (g->index == 0 && g->out) {
                dl_str s = {0};
                if (g->json) {
                    dl_str_puts(&s, "{\"rule\":\"");
                    dl_str_puts(&s, q->name);
                    dl_str_puts(&s, "\",\"tuple\":[");
                    dl_tuple_print(&s, d.d[k].tuple, d.d[k].len, true);
                    dl_str_puts(&s, go ? "],\"fired\":true}\n" : "],\"fired\":false}\n");
                } else {
                    dl_str_puts(&s, "[\"");
                    dl_str_puts(&s, q->name);
                    dl_str_puts(&s, "\" (");
                    dl_tuple_print(&s, d.d[k].tuple, d.d[k].len, false);
                    dl_str_puts(&s, go ? ") :fired]\n" : ") :skipped]\n");
                }
                fputs(s.p, g->out);
                fflush(g->out);
                free(s.p);
            }
            if (!go) continue;
            *fired = true;
            *who = q->name;
            char err[512];
            int rc;
            edn *tx = action_tx(a, vals, n, d.d[k].diff, &rc, err, sizeof err);
            if (tx) rc = dl_engine_transact(g, tx, err, sizeof err);
            edn_free(tx);
            if (rc == DL_REJECT && g->index == 0 && g->out) {
                fprintf(g->out, "error: business rule %s: %s\n", q->name, err);
                fflush(g->out);
            } else if (rc < 0) {
                for (size_t m = 0; m < d.n; m++) free(d.d[m].tuple);
                free(d.d);
                return rc;
            }
        }
        for (size_t m = 0; m < d.n; m++) free(d.d[m].tuple);
        free(d.d);
    }
    return 0;
}

int dl_rules_run(dl_engine *g)
{
    const char *who = NULL;
    for (int r = 0; r < g->max_rounds; r++) {
        bool fired;
        TIDE_TRY(round_(g, &fired, &who));
        if (!fired) return 0;
    }
    /* still firing: drop what is pending and name the rule */
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->action) {
            for (size_t m = 0; m < g->queries[i]->pending.n; m++)
                free(g->queries[i]->pending.d[m].tuple);
            g->queries[i]->pending.n = 0;
        }
    if (g->index == 0 && g->out) {
        fprintf(g->out, "error: runaway business rule %s: still firing after %d rounds\n",
                who ? who : "?", g->max_rounds);
        fflush(g->out);
    }
    return 0;
}
