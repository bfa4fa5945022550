/*
 * compile.c - a Datalog query (EDN, Datomic syntax) into a differential
 * dataflow.
 *
 * A body is compiled clause by clause into a relation of bindings: a
 * collection whose records are tuples (val.h) of the variables bound so
 * far, in a known order. A data pattern joins the bindings with the shared
 * arrangement of its attribute (e -> v when e is bound, v -> e when v is),
 * rules and registered queries join by their shared variables, predicates
 * filter, function bindings extend, not / not-join subtract (antijoin), or
 * adds up its branches. Recursive rules of one strongly connected
 * component share one loop variable whose tuples start with the rule's
 * number (tide_iterate). Aggregates reduce per group over the distinct
 * (group, arguments, :with) tuples: Datomic's set semantics.
 *
 * Compilation runs twice: dry (no dataflow, only checks and variable
 * bookkeeping) so that a malformed query is rejected before anything is
 * built, then for real.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define MAXV 256
#define MAXR 128

typedef struct symtab {
    const char *names[MAXV];
    int n;
} symtab;

typedef struct rel {
    tide_stream *s; /* (tuple, no value); NULL when dry */
    int n;
    int vars[DL_MAX_ARITY];
} rel;

typedef struct rule {
    const char *name;
    int arity;
    const edn **bodies; /* each: the rule's vector [(head ...) clauses...] */
    int nbodies;
    int scc;
    tide_stream *root; /* the rule's tuples in the root scope (memo) */
} rule;

typedef struct qc {
    dl_engine *g;
    bool dry;
    char *err;
    size_t errlen;
    bool failed;
    tide_scope *root;
    rule rules[MAXR];
    int nrules;
    int scc_of[MAXR];
    bool scc_rec[MAXR];
    tide_arranged **ev, **ve; /* root imports, by attribute (lazy) */
    tide_stream **qstream;    /* root imports of registered queries (lazy) */
    void *dry_ag, *dry_fc;    /* a dry run's scratch, freed at the end */
} qc;

typedef struct sc {
    qc *q;
    tide_scope *scope;
    struct sc *outer; /* the root context, in a loop */
    tide_stream *loopvar;
    int scc;
    tide_arranged **ev, **ve;
} sc;

static int qfail(qc *q, const edn *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int qfail(qc *q, const edn *at, const char *fmt, ...)
{
    if (q->failed) return -1;
    q->failed = true;
    int k = at ? snprintf(q->err, q->errlen, "%d:%d: ", at->line, at->col) : 0;
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < q->errlen) vsnprintf(q->err + k, q->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* Contexts of operators live as long as their dataflows: each is kept
 * with the query being built (dl_keep_owner), freed by dl_keep_release
 * when that query's dataflow is dropped, or by dl_keep_free after
 * tide_execute. */
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;
typedef struct kept_ctx {
    void *p;
    const void *owner;
} kept_ctx;
static kept_ctx *kept;
static size_t nkept, capkept;
static __thread const void *keep_owner;

void dl_keep_owner(const void *owner)
{
    keep_owner = owner;
}

static void *keep(size_t n)
{
    void *p = calloc(1, n);
    if (!p) return NULL;
    pthread_mutex_lock(&keep_lock);
    if (nkept == capkept) {
        size_t nc = capkept ? capkept * 2 : 256;
        kept_ctx *nk = realloc(kept, nc * sizeof *nk);
        if (!nk) {
            pthread_mutex_unlock(&keep_lock);
            free(p);
            return NULL;
        }
        kept = nk;
        capkept = nc;
    }
    kept[nkept++] = (kept_ctx){p, keep_owner};
    pthread_mutex_unlock(&keep_lock);
    return p;
}

void dl_keep_release(const void *owner)
{
    if (!owner) return;
    pthread_mutex_lock(&keep_lock);
    for (size_t i = 0; i < nkept;)
        if (kept[i].owner == owner) {
            free(kept[i].p);
            kept[i] = kept[--nkept];
        } else {
            i++;
        }
    pthread_mutex_unlock(&keep_lock);
}

void dl_keep_free(void)
{
    pthread_mutex_lock(&keep_lock);
    for (size_t i = 0; i < nkept; i++) free(kept[i].p);
    free(kept);
    kept = NULL;
    nkept = capkept = 0;
    pthread_mutex_unlock(&keep_lock);
}

static bool is_var(const edn *x)
{
    return x->t == EDN_SYM && x->s[0] == '?';
}

static bool is_blank(const edn *x)
{
    return x->t == EDN_SYM && !strcmp(x->s, "_");
}

static int sym_id(symtab *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->names[i], name)) return i;
    if (st->n == MAXV) return -1;
    st->names[st->n] = name;
    return st->n++;
}

static int rel_pos(const rel *r, int var)
{
    for (int i = 0; i < r->n; i++)
        if (r->vars[i] == var) return i;
    return -1;
}

static const tide_layout TL = {TIDE_VAR, 0};
static const tide_layout KV = {TIDE_VAR, TIDE_VAR};

/* ---- building blocks --------------------------------------------------- */

static tide_stream *unit_stream(sc *c)
{
    if (c->q->dry) return NULL;
    tide_record_init r = {(const uint8_t *)"", 0, NULL, 0};
    tide_stream *s = tide_collection_from(c->q->root, TL, &r, 1);
    return c->outer ? tide_enter(s, c->scope) : s;
}

static rel unit(sc *c)
{
    rel r = {unit_stream(c), 0, {0}};
    return r;
}

/* Map (tuple) -> (tuple picked at positions @pos, or key/val split). */
typedef struct pick {
    int n, pos[DL_MAX_ARITY];
    int nk; /* first nk picks go to the key, the rest to the value (KV output) */
    bool kv;
} pick;

static void pick_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    const pick *p = ctx;
    dl_val x[DL_MAX_ARITY];
    int n = dl_tuple_split(k, kl, x, DL_MAX_ARITY);
    if (n < 0) return;
    uint8_t buf[4096];
    uint32_t len = 0, klen = 0;
    for (int i = 0; i < p->n; i++) {
        if (i == p->nk && p->kv) klen = len;
        dl_val y = x[p->pos[i]];
        if (len + y.len > sizeof buf) return;
        memcpy(buf + len, y.p, y.len);
        len += y.len;
    }
    if (p->kv) {
        if (p->nk == p->n) klen = len;
        tide_emit(em, buf, klen, buf + klen, len - klen);
    } else {
        tide_emit(em, buf, len, NULL, 0);
    }
}

static rel project(sc *c, rel in, const int *vars, int n)
{
    rel r = {NULL, n, {0}};
    pick *p = c->q->dry ? NULL : keep(sizeof *p);
    for (int i = 0; i < n; i++) {
        r.vars[i] = vars[i];
        if (p) p->pos[i] = rel_pos(&in, vars[i]);
    }
    if (!p) return r;
    p->n = n;
    r.s = tide_map(in.s, "project", TL, pick_fn, p);
    return r;
}

static rel distinct(sc *c, rel in)
{
    if (!c->q->dry) in.s = tide_distinct(in.s);
    return in;
}

typedef struct keyfull {
    int n, pos[DL_MAX_ARITY];
} keyfull;

static void keyfull_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_emitter *em)
{
    const keyfull *p = ctx;
    dl_val x[DL_MAX_ARITY];
    int n = dl_tuple_split(k, kl, x, DL_MAX_ARITY);
    if (n < 0) return;
    uint8_t buf[4096];
    uint32_t len = 0;
    for (int i = 0; i < p->n; i++) {
        dl_val y = x[p->pos[i]];
        if (len + y.len > sizeof buf) return;
        memcpy(buf + len, y.p, y.len);
        len += y.len;
    }
    tide_emit(em, buf, len, k, kl);
}

static tide_stream *key_full(tide_stream *s, const int *pos, int n)
{
    keyfull *p = keep(sizeof *p);
    p->n = n;
    memcpy(p->pos, pos, (size_t)n * sizeof *pos);
    return tide_map(s, "key", KV, keyfull_fn, p);
}

/* Join of two keyed tuples: a's tuple then b's values at @bpos. */
typedef struct joinctx {
    int n, bpos[DL_MAX_ARITY];
} joinctx;

static void join_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *a, uint32_t al,
                    const uint8_t *b, uint32_t bl, tide_emitter *em)
{
    const joinctx *j = ctx;
    dl_val x[DL_MAX_ARITY];
    int n = dl_tuple_split(b, bl, x, DL_MAX_ARITY);
    if (n < 0) return;
    uint8_t buf[4096];
    if (al > sizeof buf) return;
    memcpy(buf, a, al);
    uint32_t len = al;
    for (int i = 0; i < j->n; i++) {
        dl_val y = x[j->bpos[i]];
        if (len + y.len > sizeof buf) return;
        memcpy(buf + len, y.p, y.len);
        len += y.len;
    }
    tide_emit(em, buf, len, NULL, 0);
}

static rel join(sc *c, rel a, rel b)
{
    int common[DL_MAX_ARITY], nc = 0;
    int apos[DL_MAX_ARITY], bpos[DL_MAX_ARITY];
    rel r = a;
    joinctx *j = c->q->dry ? NULL : keep(sizeof *j);
    int nj = 0;
    for (int i = 0; i < b.n; i++) {
        int p = rel_pos(&a, b.vars[i]);
        if (p >= 0) {
            common[nc] = b.vars[i];
            apos[nc] = p;
            bpos[nc++] = i;
        } else {
            if (r.n == DL_MAX_ARITY) break;
            r.vars[r.n++] = b.vars[i];
            if (j) j->bpos[nj] = i;
            nj++;
        }
    }
    (void)common;
    if (!j) return r;
    j->n = nj;
    tide_arranged *aa = tide_arrange(key_full(a.s, apos, nc), "join-a");
    tide_arranged *bb = tide_arrange(key_full(b.s, bpos, nc), "join-b");
    r.s = tide_join(aa, bb, "join", TL, join_fn, j);
    return r;
}

static void unkey_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                     tide_emitter *em)
{
    tide_emit(em, v, vl, NULL, 0);
}

/* a minus the tuples whose values at b's variables are in b. */
static rel antijoin(sc *c, rel a, rel b)
{
    if (c->q->dry) return a;
    int apos[DL_MAX_ARITY], bpos[DL_MAX_ARITY];
    for (int i = 0; i < b.n; i++) {
        apos[i] = rel_pos(&a, b.vars[i]);
        bpos[i] = i;
    }
    pick *p = keep(sizeof *p);
    p->n = b.n;
    memcpy(p->pos, bpos, sizeof bpos);
    tide_stream *keys = tide_distinct(tide_map(b.s, "keys", TL, pick_fn, p));
    tide_stream *ka = key_full(a.s, apos, b.n);
    tide_stream *left = tide_antijoin(ka, tide_arrange(keys, "anti"));
    rel r = a;
    r.s = tide_map(left, "unkey", TL, unkey_fn, NULL);
    return r;
}

/* ---- terms: variables, blanks, constants --------------------------------- */

typedef struct term {
    int kind; /* 0: variable, 1: blank, 2: constant */
    int var;
    uint8_t c[256];
    uint32_t clen;
} term;

static int get_term(qc *q, symtab *st, const edn *x, term *t)
{
    memset(t, 0, sizeof *t);
    if (is_var(x)) {
        t->var = sym_id(st, x->s);
        if (t->var < 0) return qfail(q, x, "too many variables");
        return 0;
    }
    if (is_blank(x)) {
        t->kind = 1;
        return 0;
    }
    tide_rowbuf b;
    tide_rowbuf_init(&b);
    int rc = dl_put_edn(&b, x);
    if (rc == 0 && b.len <= sizeof t->c) {
        t->kind = 2;
        memcpy(t->c, b.data, b.len);
        t->clen = b.len;
    }
    tide_rowbuf_fini(&b);
    if (t->kind != 2)
        return qfail(q, x, "expected a variable, _ or a constant (string, number, boolean), got %s",
                     edn_type_name(x->t));
    return 0;
}

/* A stream of positional tuples (key ++ val) as a relation over the
 * variables of @args: constants and repeated variables filter. */
typedef struct posctx {
    int n;
    int kind[DL_MAX_ARITY]; /* 0 out, 1 skip, 2 const, 3 equal to earlier position */
    int ref[DL_MAX_ARITY];
    uint8_t *c[DL_MAX_ARITY];
    uint32_t clen[DL_MAX_ARITY];
} posctx;

static void pos_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                   tide_emitter *em)
{
    const posctx *p = ctx;
    uint8_t buf[4096];
    if (kl + vl > sizeof buf) return;
    memcpy(buf, k, kl);
    memcpy(buf + kl, v, vl);
    dl_val x[DL_MAX_ARITY];
    int n = dl_tuple_split(buf, kl + vl, x, DL_MAX_ARITY);
    if (n != p->n) return;
    uint8_t out[4096];
    uint32_t len = 0;
    for (int i = 0; i < n; i++) {
        switch (p->kind[i]) {
        case 0:
            memcpy(out + len, x[i].p, x[i].len);
            len += x[i].len;
            break;
        case 2:
            if (x[i].len != p->clen[i] || memcmp(x[i].p, p->c[i], x[i].len)) return;
            break;
        case 3:
            if (x[i].len != x[p->ref[i]].len || memcmp(x[i].p, x[p->ref[i]].p, x[i].len)) return;
            break;
        }
    }
    tide_emit(em, out, len, NULL, 0);
}

static rel positional(sc *c, tide_stream *s, const term *args, int n)
{
    rel r = {NULL, 0, {0}};
    posctx *p = c->q->dry ? NULL : keep(sizeof *p);
    posctx tmp;
    if (!p) p = &tmp;
    p->n = n;
    for (int i = 0; i < n; i++) {
        p->kind[i] = args[i].kind == 0 ? 0 : args[i].kind == 1 ? 1 : 2;
        if (args[i].kind == 2) {
            p->c[i] = c->q->dry ? NULL : keep(args[i].clen ? args[i].clen : 1);
            if (p->c[i]) memcpy(p->c[i], args[i].c, args[i].clen);
            p->clen[i] = args[i].clen;
        }
        if (args[i].kind == 0) {
            for (int j = 0; j < i; j++)
                if (args[j].kind == 0 && args[j].var == args[i].var) {
                    p->kind[i] = 3;
                    p->ref[i] = j;
                }
            if (p->kind[i] == 0) r.vars[r.n++] = args[i].var;
        }
    }
    if (!c->q->dry) r.s = tide_map(s, "pattern", TL, pos_fn, p);
    return r;
}

/* ---- attributes --------------------------------------------------------- */

static tide_arranged *attr_arr(sc *c, int a, bool by_v)
{
    qc *q = c->q;
    tide_arranged **root = by_v ? q->ve : q->ev;
    if (!root[a]) root[a] = tide_arranged_import(by_v ? q->g->ve[a] : q->g->ev[a], q->root);
    if (!c->outer) return root[a];
    /* A loop reads the shared import entered into its scope, one per
     * attribute and direction per loop. */
    tide_arranged **mine = by_v ? c->ve : c->ev;
    if (!mine[a]) mine[a] = tide_arranged_enter(root[a], c->scope);
    return mine[a];
}

/* Join bindings keyed by one value with an attribute arrangement whose
 * value is the pattern's other position. */
typedef struct attrj {
    int kind; /* 0 append, 1 blank, 2 const, 3 equal to tuple position */
    int pos;
    uint8_t c[256];
    uint32_t clen;
} attrj;

static void attrj_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *a, uint32_t al,
                     const uint8_t *b, uint32_t bl, tide_emitter *em)
{
    const attrj *j = ctx;
    if (j->kind == 2 && (bl != j->clen || memcmp(b, j->c, bl))) return;
    if (j->kind == 3) {
        dl_val x[DL_MAX_ARITY];
        int n = dl_tuple_split(a, al, x, DL_MAX_ARITY);
        if (n <= j->pos || x[j->pos].len != bl || memcmp(x[j->pos].p, b, bl)) return;
    }
    if (j->kind != 0) {
        tide_emit(em, a, al, NULL, 0);
        return;
    }
    uint8_t buf[4096];
    if (al + bl > sizeof buf) return;
    memcpy(buf, a, al);
    memcpy(buf + al, b, bl);
    tide_emit(em, buf, al + bl, NULL, 0);
}

typedef struct keyc {
    uint8_t c[256];
    uint32_t clen;
} keyc;

static void keyc_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    const keyc *p = ctx;
    tide_emit(em, p->c, p->clen, k, kl);
}

/* Bindings keyed by term @t (a bound variable or a constant). */
static tide_stream *key_term(rel in, const term *t)
{
    if (t->kind == 0) {
        int pos = rel_pos(&in, t->var);
        return key_full(in.s, &pos, 1);
    }
    keyc *p = keep(sizeof *p);
    memcpy(p->c, t->c, t->clen);
    p->clen = t->clen;
    return tide_map(in.s, "keyc", KV, keyc_fn, p);
}

static bool bound(const rel *r, const term *t)
{
    return t->kind == 0 && rel_pos(r, t->var) >= 0;
}

static rel pattern(sc *c, rel in, const term *e, int a, const term *v)
{
    qc *q = c->q;
    bool eb = bound(&in, e) || (e->kind == 2 && in.n > 0);
    bool vb = bound(&in, v) || (v->kind == 2 && in.n > 0);
    if (!eb && !vb) {
        term args[2] = {*e, *v};
        tide_stream *s = q->dry ? NULL : tide_arranged_stream(attr_arr(c, a, false));
        rel p = positional(c, s, args, 2);
        if (in.n == 0) {
            /* bindings are the unit: the pattern is the relation */
            if (!q->dry) {
                /* keep the unit's scope semantics: join with unit is identity */
            }
            return p;
        }
        return join(c, in, p);
    }
    const term *key = eb ? e : v, *other = eb ? v : e;
    rel r = in;
    attrj *j = q->dry ? NULL : keep(sizeof *j);
    attrj tmp;
    if (!j) j = &tmp;
    if (other->kind == 1) {
        j->kind = 1;
    } else if (other->kind == 2) {
        j->kind = 2;
        memcpy(j->c, other->c, other->clen);
        j->clen = other->clen;
    } else if (rel_pos(&in, other->var) >= 0) {
        j->kind = 3;
        j->pos = rel_pos(&in, other->var);
    } else {
        j->kind = 0;
        r.vars[r.n++] = other->var;
    }
    if (q->dry) return r;
    tide_arranged *bind = tide_arrange(key_term(in, key), "bind");
    r.s = tide_join(bind, attr_arr(c, a, !eb), "pattern", TL, attrj_fn, j);
    return r;
}

/* The distinct entities having attribute @a, as a relation over @e's var. */
static void ekey_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    tide_emit(em, k, kl, NULL, 0);
}

static rel has_attr(sc *c, int var, int a)
{
    rel r = {NULL, 1, {var}};
    if (!c->q->dry)
        r.s = tide_distinct(
            tide_map(tide_arranged_stream(attr_arr(c, a, false)), "entities", TL, ekey_fn, NULL));
    return r;
}

/* ---- predicates and functions ------------------------------------------- */

typedef struct fnctx {
    char op;    /* '<' 'l'(<=) '>' 'g'(>=) '=' '!' ; '+' '-' '*' '/' 's' ; 'd' get-else default */
    int n;      /* operands */
    term t[8];  /* constants or variables */
    int pos[8]; /* variables: positions in the tuple */
} fnctx;

static dl_val operand(const fnctx *f, int i, const dl_val *x)
{
    if (f->t[i].kind == 2) return (dl_val){f->t[i].c, f->t[i].clen};
    return x[f->pos[i]];
}

static bool pred_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    const fnctx *f = ctx;
    dl_val x[DL_MAX_ARITY];
    if (dl_tuple_split(k, kl, x, DL_MAX_ARITY) < 0) return false;
    for (int i = 0; i + 1 < f->n; i++) {
        int c = dl_val_cmp(operand(f, i, x), operand(f, i + 1, x));
        bool ok = f->op == '<'   ? c < 0
                  : f->op == 'l' ? c <= 0
                  : f->op == '>' ? c > 0
                  : f->op == 'g' ? c >= 0
                  : f->op == '=' ? c == 0
                                 : c != 0;
        if (!ok) return false;
    }
    return true;
}

static void bind_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    const fnctx *f = ctx;
    dl_val x[DL_MAX_ARITY];
    if (dl_tuple_split(k, kl, x, DL_MAX_ARITY) < 0) return;
    tide_rowbuf b;
    tide_rowbuf_init(&b);
    tide_row_put_raw(&b, k, kl);
    uint32_t start = b.len;
    int rc = 0;
    dl_val acc = operand(f, 0, x);
    if (f->op == 's' && f->n == 1) {
        tide_rowbuf e;
        tide_rowbuf_init(&e);
        dl_put_str(&e, "", 0);
        rc = dl_val_arith(&b, 's', (dl_val){e.data, e.len}, acc);
        tide_rowbuf_fini(&e);
    }
    for (int i = 1; i < f->n && rc == 0; i++) {
        tide_rowbuf t;
        tide_rowbuf_init(&t);
        rc = dl_val_arith(&t, f->op, acc, operand(f, i, x));
        b.len = start;
        if (rc == 0) tide_row_put_raw(&b, t.data, t.len);
        tide_rowbuf_fini(&t);
        acc = (dl_val){b.data + start, b.len - start};
    }
    if (rc == 0) tide_emit(em, b.data, b.len, NULL, 0);
    tide_rowbuf_fini(&b);
}

static void const_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                     tide_emitter *em)
{
    const term *t = ctx;
    uint8_t buf[4096];
    if (kl + t->clen > sizeof buf) return;
    memcpy(buf, k, kl);
    memcpy(buf + kl, t->c, t->clen);
    tide_emit(em, buf, kl + t->clen, NULL, 0);
}

/* ---- clauses ------------------------------------------------------------ */

static rel body(sc *c, symtab *st, rel in, const edn *const *cl, size_t n);
static tide_stream *rule_stream(sc *c, int r);

static int find_rule(qc *q, const char *name)
{
    for (int i = 0; i < q->nrules; i++)
        if (!strcmp(q->rules[i].name, name)) return i;
    return -1;
}

static int find_query(dl_engine *g, const char *name)
{
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->active && !strcmp(g->queries[i]->name, name)) return i;
    return -1;
}

/* Variables of @x (recursively) into @vars (symbol ids, no repeats). */
static void collect_vars(symtab *st, const edn *x, int *vars, int *n)
{
    if (is_var(x)) {
        int id = sym_id(st, x->s);
        for (int i = 0; i < *n; i++)
            if (vars[i] == id) return;
        if (*n < DL_MAX_ARITY && id >= 0) vars[(*n)++] = id;
        return;
    }
    for (size_t i = 0; i < x->n; i++) collect_vars(st, x->items[i], vars, n);
}

static rel call(sc *c, symtab *st, rel in, const edn *x)
{
    qc *q = c->q;
    const char *name = x->items[0]->s;
    int nargs = (int)x->n - 1;
    term args[DL_MAX_ARITY];
    if (nargs > DL_MAX_ARITY) {
        qfail(q, x, "too many arguments");
        return in;
    }
    for (int i = 0; i < nargs; i++)
        if (get_term(q, st, x->items[i + 1], &args[i]) < 0) return in;
    int r = find_rule(q, name);
    tide_stream *s = NULL;
    if (r >= 0) {
        if (q->rules[r].arity != nargs) {
            qfail(q, x, "rule %s takes %d argument(s), called with %d", name, q->rules[r].arity,
                  nargs);
            return in;
        }
        if (!q->dry) s = rule_stream(c, r);
    } else {
        int k = find_query(q->g, name);
        if (k < 0) {
            qfail(q, x, "unknown rule or query '%s'", name);
            return in;
        }
        dl_query *qq = q->g->queries[k];
        if (qq->arity != nargs) {
            qfail(q, x, "query %s has %d column(s), used with %d", name, qq->arity, nargs);
            return in;
        }
        if (!q->dry) {
            int o = qq->owner;
            if (!q->qstream[o])
                q->qstream[o] =
                    tide_arranged_stream(tide_arranged_import(q->g->queries[o]->result, q->root));
            s = c->outer ? tide_enter(q->qstream[o], c->scope) : q->qstream[o];
        }
    }
    rel p = positional(c, s, args, nargs);
    return join(c, in, p);
}

static const char *fn_ops[][2] = {{"<", "<"}, {">", ">"},        {"<=", "l"},   {">=", "g"},
                                  {"=", "="}, {"!=", "!"},       {"not=", "!"}, {"add", "+"},
                                  {"+", "+"}, {"subtract", "-"}, {"-", "-"},    {"multiply", "*"},
                                  {"*", "*"}, {"divide", "/"},   {"/", "/"},    {"str", "s"}};

static char fn_op(const char *name)
{
    for (size_t i = 0; i < sizeof fn_ops / sizeof fn_ops[0]; i++)
        if (!strcmp(fn_ops[i][0], name)) return fn_ops[i][1][0];
    return 0;
}

static bool is_pred_op(char op)
{
    return strchr("<>lg=!", op) != NULL;
}

/* [(op args...)] or [(op args...) ?out]: fills @f; -1 on error. */
static int fn_clause(qc *q, symtab *st, const edn *x, fnctx *f, int *out)
{
    const edn *call = x->items[0];
    if (call->n == 0 || call->items[0]->t != EDN_SYM)
        return qfail(q, call, "expected (function args...)");
    const char *name = call->items[0]->s;
    f->op = fn_op(name);
    if (!f->op) return qfail(q, call, "unknown function or predicate '%s'", name);
    f->n = (int)call->n - 1;
    bool pred = is_pred_op(f->op);
    if (f->n < (pred || f->op != 's' ? 2 : 1) || f->n > 8)
        return qfail(q, call, "'%s' takes %s arguments, got %d", name, pred ? "2+" : "2 to 8",
                     f->n);
    for (int i = 0; i < f->n; i++) {
        const edn *a = call->items[i + 1];
        if (is_blank(a)) return qfail(q, a, "'_' is not allowed as an argument of '%s'", name);
        if (get_term(q, st, a, &f->t[i]) < 0) return -1;
    }
    if (pred && x->n != 1)
        return qfail(q, x, "predicate '%s' binds nothing: write [(%s ...)]", name, name);
    if (!pred) {
        if (x->n != 2 || !is_var(x->items[1]))
            return qfail(q, x, "function '%s' needs one output variable: [(%s ...) ?out]", name,
                         name);
        *out = sym_id(st, x->items[1]->s);
    }
    return 0;
}

static bool fn_ready(const rel *in, const fnctx *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->t[i].kind == 0 && rel_pos(in, f->t[i].var) < 0) return false;
    return true;
}

static rel apply_fn(sc *c, rel in, fnctx *tmpl, int out, const edn *x)
{
    fnctx *f = c->q->dry ? tmpl : keep(sizeof *f);
    if (f != tmpl) *f = *tmpl;
    for (int i = 0; i < f->n; i++)
        if (f->t[i].kind == 0) f->pos[i] = rel_pos(&in, f->t[i].var);
    if (is_pred_op(f->op)) {
        if (!c->q->dry) in.s = tide_filter(in.s, "pred", pred_fn, f);
        return in;
    }
    if (rel_pos(&in, out) >= 0) {
        qfail(c->q, x, "output variable of a function is already bound");
        return in;
    }
    in.vars[in.n++] = out;
    if (!c->q->dry) in.s = tide_map(in.s, "fn", TL, bind_fn, f);
    return in;
}

static int attr_of(qc *q, const edn *x)
{
    if (x->t != EDN_KW)
        return qfail(q, x, "attribute must be a keyword, got %s", edn_type_name(x->t));
    int a = dl_db_attr(&q->g->db, x->s);
    if (a < 0) return qfail(q, x, "unknown attribute :%s", x->s);
    return a;
}

/* Kind of a clause: 0 positive (pattern, call, or, and), 1 function /
 * predicate (when its inputs are bound), 2 negative (not, missing?) last. */
static int clause_kind(const edn *x)
{
    if (x->t == EDN_LIST && x->n &&
        (edn_is_sym(x->items[0], "not") || edn_is_sym(x->items[0], "not-join")))
        return 2;
    if (x->t == EDN_VEC && x->n && x->items[0]->t == EDN_LIST && x->items[0]->n) {
        const edn *h = x->items[0]->items[0];
        if (edn_is_sym(h, "missing?")) return 2;
        if (edn_is_sym(h, "get-else")) return 0;
        return 1;
    }
    return 0;
}

static rel clause(sc *c, symtab *st, rel in, const edn *x);

static rel or_clause(sc *c, symtab *st, rel in, const edn *x, bool join_vars)
{
    qc *q = c->q;
    size_t first = join_vars ? 2 : 1;
    if (x->n <= first) {
        qfail(q, x, "%s needs at least one branch", join_vars ? "or-join" : "or");
        return in;
    }
    int jv[DL_MAX_ARITY], nj = 0;
    if (join_vars) {
        const edn *v = x->items[1];
        if (v->t != EDN_VEC || v->n == 0) {
            qfail(q, v, "or-join needs a vector of variables");
            return in;
        }
        for (size_t i = 0; i < v->n; i++) {
            if (!is_var(v->items[i])) {
                qfail(q, v->items[i], "or-join: expected a variable");
                return in;
            }
            jv[nj++] = sym_id(st, v->items[i]->s);
        }
    }
    tide_stream *parts[64];
    rel branches[64];
    int np = 0, outv[DL_MAX_ARITY], nout = -1;
    for (size_t b = first; b < x->n && np < 64; b++) {
        const edn *br = x->items[b];
        rel start = join_vars ? unit(c) : in;
        rel r;
        if (br->t == EDN_LIST && br->n && edn_is_sym(br->items[0], "and"))
            r = body(c, st, start, (const edn *const *)br->items + 1, br->n - 1);
        else
            r = body(c, st, start, (const edn *const *)&x->items[b], 1);
        if (q->failed) return in;
        if (join_vars) {
            for (int i = 0; i < nj; i++)
                if (rel_pos(&r, jv[i]) < 0) {
                    qfail(q, br, "or-join branch does not bind %s", st->names[jv[i]]);
                    return in;
                }
            r = project(c, r, jv, nj);
        } else {
            /* or: the variables every branch binds are its outputs, the rest are local */
            if (nout < 0) {
                nout = r.n;
                memcpy(outv, r.vars, sizeof outv);
            } else {
                int k = 0;
                for (int i = 0; i < nout; i++)
                    if (rel_pos(&r, outv[i]) >= 0) outv[k++] = outv[i];
                nout = k;
            }
        }
        branches[np] = r;
        parts[np++] = r.s;
    }
    if (!join_vars) {
        if (nout == 0) {
            qfail(q, x, "or branches share no variable (use or-join)");
            return in;
        }
        for (int b = 0; b < np; b++) parts[b] = project(c, branches[b], outv, nout).s;
    }
    rel u = {NULL, join_vars ? nj : nout, {0}};
    memcpy(u.vars, join_vars ? jv : outv, sizeof u.vars);
    if (!q->dry) u.s = tide_distinct(tide_concat(parts, (uint32_t)np));
    return join_vars ? join(c, in, u) : u;
}

static rel not_clause(sc *c, symtab *st, rel in, const edn *x, bool join_vars)
{
    qc *q = c->q;
    size_t first = join_vars ? 2 : 1;
    if (x->n <= first) {
        qfail(q, x, "%s needs at least one clause", join_vars ? "not-join" : "not");
        return in;
    }
    int jv[DL_MAX_ARITY], nj = 0;
    if (join_vars) {
        const edn *v = x->items[1];
        if (v->t != EDN_VEC || v->n == 0) {
            qfail(q, v, "not-join needs a vector of variables");
            return in;
        }
        for (size_t i = 0; i < v->n; i++) {
            if (!is_var(v->items[i])) {
                qfail(q, v->items[i], "not-join: expected a variable");
                return in;
            }
            jv[nj] = sym_id(st, v->items[i]->s);
            if (rel_pos(&in, jv[nj]) < 0) {
                qfail(q, v->items[i], "not-join variable %s is not bound", v->items[i]->s);
                return in;
            }
            nj++;
        }
    } else {
        /* not joins on the variables it shares with the bindings */
        int vars[DL_MAX_ARITY], n = 0;
        for (size_t i = 1; i < x->n; i++) collect_vars(st, x->items[i], vars, &n);
        for (int i = 0; i < n; i++)
            if (rel_pos(&in, vars[i]) >= 0) jv[nj++] = vars[i];
    }
    rel start = distinct(c, project(c, in, jv, nj));
    rel m = body(c, st, start, (const edn *const *)x->items + first, x->n - first);
    if (q->failed) return in;
    m = project(c, m, jv, nj);
    return antijoin(c, in, m);
}

static rel get_else(sc *c, symtab *st, rel in, const edn *x)
{
    /* [(get-else $ ?e :attr default) ?v] */
    qc *q = c->q;
    const edn *f = x->items[0];
    if (f->n != 5 || !edn_is_sym(f->items[1], "$") || x->n != 2 || !is_var(x->items[1])) {
        qfail(q, x, "expected [(get-else $ ?e :attr default) ?v]");
        return in;
    }
    term e, d;
    if (get_term(q, st, f->items[2], &e) < 0) return in;
    if (e.kind != 0 || rel_pos(&in, e.var) < 0) {
        qfail(q, f->items[2], "get-else: the entity must be a bound variable");
        return in;
    }
    int a = attr_of(q, f->items[3]);
    if (a < 0) return in;
    if (get_term(q, st, f->items[4], &d) < 0 || d.kind != 2) {
        qfail(q, f->items[4], "get-else: the default must be a constant");
        return in;
    }
    int out = sym_id(st, x->items[1]->s);
    if (rel_pos(&in, out) >= 0) {
        qfail(q, x->items[1], "get-else: output variable is already bound");
        return in;
    }
    term v = {0};
    v.var = out;
    rel with = pattern(c, in, &e, a, &v);
    rel without = antijoin(c, in, has_attr(c, e.var, a));
    rel r = with;
    if (!q->dry) {
        term *t = keep(sizeof *t);
        *t = d;
        tide_stream *parts[2] = {with.s, tide_map(without.s, "default", TL, const_fn, t)};
        r.s = tide_concat(parts, 2);
    }
    return r;
}

static rel clause(sc *c, symtab *st, rel in, const edn *x)
{
    qc *q = c->q;
    if (x->t == EDN_LIST) {
        if (x->n == 0 || x->items[0]->t != EDN_SYM) {
            qfail(q, x, "expected (not ...), (or ...), (rule args...), got an empty or odd list");
            return in;
        }
        const char *h = x->items[0]->s;
        if (!strcmp(h, "not")) return not_clause(c, st, in, x, false);
        if (!strcmp(h, "not-join")) return not_clause(c, st, in, x, true);
        if (!strcmp(h, "or")) return or_clause(c, st, in, x, false);
        if (!strcmp(h, "or-join")) return or_clause(c, st, in, x, true);
        if (!strcmp(h, "and")) return body(c, st, in, (const edn *const *)x->items + 1, x->n - 1);
        return call(c, st, in, x);
    }
    if (x->t != EDN_VEC || x->n == 0) {
        qfail(q, x, "expected a clause ([e a v], (rule ...), [(pred ...)]), got %s",
              x->t == EDN_VEC ? "an empty vector" : edn_type_name(x->t));
        return in;
    }
    const edn *h = x->items[0];
    if (h->t == EDN_LIST) {
        if (h->n && edn_is_sym(h->items[0], "get-else")) return get_else(c, st, in, x);
        if (h->n && edn_is_sym(h->items[0], "missing?")) {
            if (h->n != 4 || !edn_is_sym(h->items[1], "$") || !is_var(h->items[2]) || x->n != 1) {
                qfail(q, x, "expected [(missing? $ ?e :attr)]");
                return in;
            }
            int var = sym_id(st, h->items[2]->s);
            if (rel_pos(&in, var) < 0) {
                qfail(q, h->items[2], "missing?: %s is not bound", h->items[2]->s);
                return in;
            }
            int a = attr_of(q, h->items[3]);
            if (a < 0) return in;
            return antijoin(c, in, has_attr(c, var, a));
        }
        fnctx f = {0};
        int out = -1;
        if (fn_clause(q, st, x, &f, &out) < 0) return in;
        if (!fn_ready(&in, &f)) {
            qfail(q, x, "a variable of this expression is never bound");
            return in;
        }
        return apply_fn(c, in, &f, out, x);
    }
    if (h->t == EDN_SYM && !is_var(h) && !is_blank(h)) return call(c, st, in, x);
    /* data pattern [e a v] or [e a] */
    if (x->n < 2 || x->n > 3) {
        qfail(q, x, "data pattern must be [e a v] or [e a], got %zu element(s)", x->n);
        return in;
    }
    term e, v;
    v.kind = 1;
    if (get_term(q, st, x->items[0], &e) < 0) return in;
    if (e.kind == 2 && e.c[0] != VT_INT) {
        qfail(q, x->items[0], "entity position must be a variable, _ or an integer id");
        return in;
    }
    int a = attr_of(q, x->items[1]);
    if (a < 0) return in;
    if (x->n == 3 && get_term(q, st, x->items[2], &v) < 0) return in;
    if (v.kind == 2) {
        /* constants take the attribute's type (e.g. 1000 for a :Real) */
        dl_type t = q->g->db.attrs[a].type;
        const edn *cv = x->items[2];
        bool ok = (t == T_STRING && cv->t == EDN_STR) || (t == T_BOOL && cv->t == EDN_BOOL) ||
                  ((t == T_NUMBER || t == T_EID || t == T_INSTANT) && cv->t == EDN_INT) ||
                  (t == T_REAL && (cv->t == EDN_REAL || cv->t == EDN_INT));
        if (!ok) {
            qfail(q, cv, ":%s holds :%s values, the pattern has %s", q->g->db.attrs[a].name,
                  dl_type_name(t), edn_type_name(cv->t));
            return in;
        }
        if (t == T_REAL && cv->t == EDN_INT) {
            tide_rowbuf b;
            tide_rowbuf_init(&b);
            dl_put_real(&b, (double)cv->i);
            memcpy(v.c, b.data, b.len);
            v.clen = b.len;
            tide_rowbuf_fini(&b);
        }
    }
    return pattern(c, in, &e, a, &v);
}

static rel body(sc *c, symtab *st, rel in, const edn *const *cl, size_t n)
{
    qc *q = c->q;
    bool done[512] = {0};
    if (n > 512) {
        qfail(q, cl[0], "too many clauses");
        return in;
    }
    size_t left = n;
    while (left && !q->failed) {
        size_t sel = n;
        for (int pass = 0; pass < 3 && sel == n; pass++) {
            for (size_t i = 0; i < n && sel == n; i++) {
                if (done[i] || clause_kind(cl[i]) != pass) continue;
                if (pass == 1) {
                    symtab tmp = *st;
                    fnctx f = {0};
                    int out;
                    qc dummy = *q;
                    char e[8];
                    dummy.err = e;
                    dummy.errlen = sizeof e;
                    if (fn_clause(&dummy, &tmp, cl[i], &f, &out) == 0 && !fn_ready(&in, &f)) {
                        /* wait while some positive clause may still bind its inputs */
                        bool positive_left = false;
                        for (size_t k = 0; k < n; k++)
                            if (!done[k] && clause_kind(cl[k]) == 0) positive_left = true;
                        bool fn_left = false;
                        for (size_t k = 0; k < n; k++)
                            if (k != i && !done[k] && clause_kind(cl[k]) == 1) fn_left = true;
                        if (positive_left || fn_left) continue;
                    }
                }
                if (pass == 2) {
                    bool others = false;
                    for (size_t k = 0; k < n; k++)
                        if (!done[k] && clause_kind(cl[k]) != 2) others = true;
                    if (others) continue;
                }
                sel = i;
            }
        }
        if (sel == n) {
            /* only functions waiting on each other: report the first */
            for (size_t i = 0; i < n; i++)
                if (!done[i]) {
                    sel = i;
                    break;
                }
        }
        in = clause(c, st, in, cl[sel]);
        done[sel] = true;
        left--;
    }
    return in;
}

/* ---- rules -------------------------------------------------------------- */

static int parse_rules(qc *q, const edn *rules)
{
    if (!rules) return 0;
    if (rules->t != EDN_VEC)
        return qfail(q, rules, "rules must be a vector of [(name ?args...) clauses...]");
    for (size_t i = 0; i < rules->n; i++) {
        const edn *r = rules->items[i];
        if (r->t != EDN_VEC || r->n < 2 || r->items[0]->t != EDN_LIST || r->items[0]->n < 1 ||
            r->items[0]->items[0]->t != EDN_SYM)
            return qfail(q, r, "a rule is [(name ?args...) clauses...]");
        const edn *head = r->items[0];
        for (size_t k = 1; k < head->n; k++)
            if (!is_var(head->items[k]))
                return qfail(q, head->items[k], "rule head arguments must be variables");
        const char *name = head->items[0]->s;
        int k = find_rule(q, name);
        if (k < 0) {
            if (q->nrules == MAXR) return qfail(q, r, "too many rules");
            k = q->nrules++;
            q->rules[k] = (rule){name, (int)head->n - 1, NULL, 0, 0, NULL};
        } else if (q->rules[k].arity != (int)head->n - 1) {
            return qfail(q, head, "rule %s defined with %d and %zu arguments", name,
                         q->rules[k].arity, head->n - 1);
        }
        rule *ru = &q->rules[k];
        ru->bodies = realloc(ru->bodies, (size_t)(ru->nbodies + 1) * sizeof *ru->bodies);
        ru->bodies[ru->nbodies++] = r;
    }
    return 0;
}

/* Rule calls in @x: edges[from][to] |= 1 (positive) or 2 (under negation). */
static void rule_edges(qc *q, const edn *x, int from, bool neg, uint8_t (*edges)[MAXR])
{
    if (x->t != EDN_LIST && x->t != EDN_VEC) return;
    if (x->n && x->items[0]->t == EDN_SYM) {
        int r = find_rule(q, x->items[0]->s);
        if (r >= 0) edges[from][r] |= neg ? 2 : 1;
        if (x->t == EDN_LIST &&
            (edn_is_sym(x->items[0], "not") || edn_is_sym(x->items[0], "not-join")))
            neg = true;
    }
    for (size_t i = 0; i < x->n; i++) rule_edges(q, x->items[i], from, neg, edges);
}

/* Strongly connected components (Tarjan); a negative edge inside one is
 * an unstratified program: rejected, naming the cycle. */
typedef struct tarjan {
    int index[MAXR], low[MAXR], stack[MAXR], sp, next, nscc;
    bool on[MAXR];
} tarjan;

static void strong(qc *q, tarjan *t, uint8_t (*edges)[MAXR], int v)
{
    t->index[v] = t->low[v] = t->next++;
    t->stack[t->sp++] = v;
    t->on[v] = true;
    for (int w = 0; w < q->nrules; w++) {
        if (!edges[v][w]) continue;
        if (t->index[w] < 0) {
            strong(q, t, edges, w);
            if (t->low[w] < t->low[v]) t->low[v] = t->low[w];
        } else if (t->on[w] && t->index[w] < t->low[v]) {
            t->low[v] = t->index[w];
        }
    }
    if (t->low[v] == t->index[v]) {
        int w;
        do {
            w = t->stack[--t->sp];
            t->on[w] = false;
            q->scc_of[w] = t->nscc;
        } while (w != v);
        t->nscc++;
    }
}

/* A path from @a to @b inside scc (BFS), printed into @out. */
static void cycle_path(qc *q, uint8_t (*edges)[MAXR], int a, int b, char *out, size_t len)
{
    int prev[MAXR], queue[MAXR], h = 0, tl = 0;
    for (int i = 0; i < q->nrules; i++) prev[i] = -2;
    queue[tl++] = b;
    prev[b] = -1;
    while (h < tl) {
        int v = queue[h++];
        if (v == a) break;
        for (int w = 0; w < q->nrules; w++)
            if (edges[v][w] && prev[w] == -2 && q->scc_of[w] == q->scc_of[a]) {
                prev[w] = v;
                queue[tl++] = w;
            }
    }
    /* path b -> ... -> a, then a -not-> b */
    int path[MAXR], n = 0;
    for (int v = a; v >= 0 && n < MAXR; v = prev[v]) path[n++] = v;
    size_t k = 0;
    for (int i = n - 1; i >= 0 && k < len; i--)
        k += (size_t)snprintf(out + k, len - k, "%s -> ", q->rules[path[i]].name);
    if (k < len) snprintf(out + k, len - k, "(not) %s", q->rules[b].name);
}

static int stratify(qc *q)
{
    uint8_t(*edges)[MAXR] = calloc(MAXR, sizeof *edges); /* per call: workers are threads */
    if (!edges) return qfail(q, NULL, "out of memory");
    for (int r = 0; r < q->nrules; r++)
        for (int b = 0; b < q->rules[r].nbodies; b++) {
            const edn *body_ = q->rules[r].bodies[b];
            for (size_t i = 1; i < body_->n; i++) rule_edges(q, body_->items[i], r, false, edges);
        }
    tarjan t = {.sp = 0, .next = 0, .nscc = 0};
    for (int i = 0; i < q->nrules; i++) t.index[i] = -1;
    for (int i = 0; i < q->nrules; i++)
        if (t.index[i] < 0) strong(q, &t, edges, i);
    for (int i = 0; i < q->nrules; i++) {
        q->scc_rec[q->scc_of[i]] |= edges[i][i] != 0;
        for (int j = 0; j < q->nrules; j++) {
            if (i != j && edges[i][j] && q->scc_of[i] == q->scc_of[j])
                q->scc_rec[q->scc_of[i]] = true;
            if ((edges[i][j] & 2) && q->scc_of[i] == q->scc_of[j]) {
                char path[512];
                cycle_path(q, edges, i, j, path, sizeof path);
                free(edges);
                return qfail(q, q->rules[i].bodies[0],
                             "negation through recursion is not stratified: %s", path);
            }
        }
    }
    for (int i = 0; i < q->nrules; i++) q->rules[i].scc = q->scc_of[i];
    free(edges);
    return 0;
}

/* One body of rule @r as tuples of its head (optionally prefixed by @tag). */
static rel rule_body(sc *c, int r, int b)
{
    qc *q = c->q;
    const edn *def = q->rules[r].bodies[b];
    symtab st = {.n = 0};
    int head[DL_MAX_ARITY];
    for (int i = 0; i < q->rules[r].arity; i++)
        head[i] = sym_id(&st, def->items[0]->items[i + 1]->s);
    rel res = body(c, &st, unit(c), (const edn *const *)def->items + 1, def->n - 1);
    if (q->failed) return res;
    for (int i = 0; i < q->rules[r].arity; i++)
        if (rel_pos(&res, head[i]) < 0) {
            qfail(q, def, "rule %s: head variable %s is not bound by the body", q->rules[r].name,
                  st.names[head[i]]);
            return res;
        }
    return project(c, res, head, q->rules[r].arity);
}

/* Tag / untag tuples with a rule number (an int value in front). */
static void tag_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                   tide_emitter *em)
{
    uint8_t buf[4096];
    if (kl + 9 > sizeof buf) return;
    buf[0] = VT_INT;
    tide_i64_store(buf + 1, (int64_t)(intptr_t)ctx);
    memcpy(buf + 9, k, kl);
    tide_emit(em, buf, kl + 9, NULL, 0);
}

static bool tagged_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return kl >= 9 && tide_i64_load(k + 1) == (int64_t)(intptr_t)ctx;
}

static void untag_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                     tide_emitter *em)
{
    tide_emit(em, k + 9, kl - 9, NULL, 0);
}

typedef struct loopctx {
    sc *root;
    int scc;
} loopctx;

static tide_stream *loop_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    loopctx *l = ctx;
    qc *q = l->root->q;
    sc c = {q,
            inner,
            l->root,
            x,
            l->scc,
            keep(((size_t)q->g->ninputs + 1) * sizeof(void *)),
            keep(((size_t)q->g->ninputs + 1) * sizeof(void *))};
    tide_stream *parts[256];
    uint32_t np = 0;
    for (int r = 0; r < q->nrules; r++) {
        if (q->rules[r].scc != l->scc) continue;
        for (int b = 0; b < q->rules[r].nbodies && np < 256; b++) {
            rel res = rule_body(&c, r, b);
            if (q->failed) return x;
            parts[np++] = tide_map(res.s, "tag", TL, tag_fn, (void *)(intptr_t)r);
        }
    }
    return tide_distinct(tide_concat(parts, np));
}

/* The tuples of rule @r in context @c's scope. */
static tide_stream *rule_stream(sc *c, int r)
{
    qc *q = c->q;
    rule *ru = &q->rules[r];
    if (c->outer && c->scc == ru->scc)
        return tide_map(tide_filter(c->loopvar, "rule", tagged_fn, (void *)(intptr_t)r), "untag",
                        TL, untag_fn, NULL);
    sc *root = c->outer ? c->outer : c;
    if (!ru->root) {
        if (q->scc_rec[ru->scc]) {
            loopctx *l = keep(sizeof *l);
            l->root = root;
            l->scc = ru->scc;
            tide_record_init none;
            tide_stream *empty = tide_collection_from(q->root, TL, &none, 0);
            tide_stream *all = tide_iterate(empty, loop_body, l);
            for (int k = 0; k < q->nrules; k++)
                if (q->rules[k].scc == ru->scc)
                    q->rules[k].root =
                        tide_map(tide_filter(all, "rule", tagged_fn, (void *)(intptr_t)k), "untag",
                                 TL, untag_fn, NULL);
        } else {
            tide_stream *parts[256];
            uint32_t np = 0;
            for (int b = 0; b < ru->nbodies && np < 256; b++) parts[np++] = rule_body(root, r, b).s;
            ru->root = tide_distinct(tide_concat(parts, np));
        }
    }
    return c->outer ? tide_enter(ru->root, c->scope) : ru->root;
}

/* Rules are checked once, dry, in the root context (each body, each call). */
static int check_rules(sc *c)
{
    qc *q = c->q;
    for (int r = 0; r < q->nrules && !q->failed; r++)
        for (int b = 0; b < q->rules[r].nbodies && !q->failed; b++) rule_body(c, r, b);
    return q->failed ? -1 : 0;
}

/* ---- :find and aggregates ----------------------------------------------- */

enum { AG_SUM, AG_COUNT, AG_COUNTD, AG_MIN, AG_MAX, AG_AVG };
static const char *ag_names[] = {"sum", "count", "count-distinct", "min", "max", "avg"};

typedef struct aggctx {
    int n;
    int kind[DL_MAX_ARITY];
    int col[DL_MAX_ARITY]; /* column of the value tuple */
} aggctx;

static void agg_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                   uint32_t n, tide_reduce_out *out)
{
    const aggctx *a = ctx;
    tide_rowbuf b;
    tide_rowbuf_init(&b);
    for (int g = 0; g < a->n; g++) {
        int64_t isum = 0, count = 0;
        double rsum = 0;
        bool real = false, ovf = false;
        dl_val best = {NULL, 0};
        int64_t distinct = 0;
        dl_val prev = {NULL, 0};
        for (uint32_t i = 0; i < n; i++) {
            if (in[i].diff <= 0) continue;
            dl_val x[DL_MAX_ARITY];
            if (dl_tuple_split(in[i].val, in[i].len, x, DL_MAX_ARITY) <= a->col[g]) continue;
            dl_val v = x[a->col[g]];
            count += in[i].diff;
            if (dl_val_is_num(v)) {
                if (v.p[0] == VT_REAL) real = true;
                rsum += dl_val_real(v) * (double)in[i].diff;
                int64_t m;
                if (v.p[0] == VT_INT && (__builtin_mul_overflow(dl_val_int(v), in[i].diff, &m) ||
                                         __builtin_add_overflow(isum, m, &isum)))
                    ovf = true;
            }
            if (!best.p ||
                (a->kind[g] == AG_MIN ? dl_val_cmp(v, best) < 0 : dl_val_cmp(v, best) > 0))
                best = v;
            (void)prev;
        }
        if (a->kind[g] == AG_COUNTD) {
            /* values of this column, distinct: sort-free O(n^2) on the group is fine for scripts */
            for (uint32_t i = 0; i < n; i++) {
                if (in[i].diff <= 0) continue;
                dl_val x[DL_MAX_ARITY], y[DL_MAX_ARITY];
                dl_tuple_split(in[i].val, in[i].len, x, DL_MAX_ARITY);
                bool seen = false;
                for (uint32_t j = 0; j < i && !seen; j++) {
                    if (in[j].diff <= 0) continue;
                    dl_tuple_split(in[j].val, in[j].len, y, DL_MAX_ARITY);
                    seen = x[a->col[g]].len == y[a->col[g]].len &&
                           !memcmp(x[a->col[g]].p, y[a->col[g]].p, x[a->col[g]].len);
                }
                if (!seen) distinct++;
            }
        }
        if (count == 0) {
            tide_rowbuf_fini(&b);
            return;
        }
        switch (a->kind[g]) {
        case AG_SUM:
            if (real || ovf)
                dl_put_real(&b, rsum);
            else
                dl_put_int(&b, isum);
            break;
        case AG_COUNT:
            dl_put_int(&b, count);
            break;
        case AG_COUNTD:
            dl_put_int(&b, distinct);
            break;
        case AG_MIN:
        case AG_MAX:
            dl_put_val(&b, best);
            break;
        case AG_AVG:
            dl_put_real(&b, rsum / (double)count);
            break;
        }
    }
    tide_reduce_push(out, b.data, b.len, 1);
    tide_rowbuf_fini(&b);
}

/* (group key, aggregate values) -> the find order. */
typedef struct findctx {
    int n;
    int src[DL_MAX_ARITY]; /* >= 0: key column; < 0: -1 - aggregate column */
} findctx;

static void find_fn(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    const findctx *f = ctx;
    dl_val x[DL_MAX_ARITY], y[DL_MAX_ARITY];
    if (dl_tuple_split(k, kl, x, DL_MAX_ARITY) < 0 || dl_tuple_split(v, vl, y, DL_MAX_ARITY) < 0)
        return;
    uint8_t buf[4096];
    uint32_t len = 0;
    for (int i = 0; i < f->n; i++) {
        dl_val z = f->src[i] >= 0 ? x[f->src[i]] : y[-1 - f->src[i]];
        if (len + z.len > sizeof buf) return;
        memcpy(buf + len, z.p, z.len);
        len += z.len;
    }
    tide_emit(em, buf, len, NULL, 0);
}

static bool is_aggregate(const edn *x)
{
    if (x->t != EDN_LIST || x->n == 0 || x->items[0]->t != EDN_SYM) return false;
    for (int k = 0; k < 6; k++)
        if (!strcmp(x->items[0]->s, ag_names[k])) return true;
    return false;
}

typedef struct qparts {
    const edn *find[DL_MAX_ARITY];
    int nfind;
    const edn *with[DL_MAX_ARITY];
    int nwith;
    const edn *const *where;
    size_t nwhere;
} qparts;

static int split_query(qc *q, const edn *query, qparts *p)
{
    if (query->t != EDN_VEC)
        return qfail(q, query, "a query is a vector [:find ... :where ...], got %s",
                     edn_type_name(query->t));
    memset(p, 0, sizeof *p);
    int section = -1;       /* 0 find, 1 with, 2 in, 3 where */
    bool has_where = false; /* else (3DF) the first clause ends :find / :with */
    for (size_t i = 0; i < query->n; i++) has_where |= edn_is_kw(query->items[i], "where");
    bool seen[4] = {0};
    for (size_t i = 0; i < query->n; i++) {
        const edn *x = query->items[i];
        if (x->t == EDN_KW) {
            const char *secs[] = {"find", "with", "in", "where"};
            int s = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(x->s, secs[k])) s = k;
            if (s < 0) return qfail(q, x, "unknown query section :%s", x->s);
            if (seen[s]) return qfail(q, x, "section :%s given twice", x->s);
            if (s < section)
                return qfail(q, x, "section :%s out of order (:find :with :in :where)", x->s);
            seen[s] = true;
            section = s;
            if (s == 3) {
                p->where = (const edn *const *)query->items + i + 1;
                p->nwhere = query->n - i - 1;
                break;
            }
            continue;
        }
        if (section < 0) return qfail(q, x, "a query starts with :find");
        if (!has_where && (section == 0 || section == 1) && (x->t == EDN_VEC || x->t == EDN_LIST) &&
            !is_aggregate(x)) {
            /* 3DF: the first clause ends :find / :with when :where is left out */
            section = 3;
            p->where = (const edn *const *)query->items + i;
            p->nwhere = query->n - i;
            break;
        }
        if (section == 0) {
            if (p->nfind == DL_MAX_ARITY) return qfail(q, x, "too many find elements");
            p->find[p->nfind++] = x;
        } else if (section == 1) {
            if (!is_var(x)) return qfail(q, x, ":with takes variables");
            p->with[p->nwith++] = x;
        } else if (section == 2) {
            if (!edn_is_sym(x, "$"))
                return qfail(
                    q, x,
                    ":in supports only $ here (parameters: use a constant or a registered query)");
        } else {
            p->where = (const edn *const *)query->items + i;
            p->nwhere = query->n - i;
            break;
        }
    }
    if (p->nfind == 0) return qfail(q, query, "query has no :find elements");
    return 0;
}

int dl_compile(dl_engine *g, tide_scope *root, const edn *query, const edn *rules,
               tide_stream **out, char *err, size_t errlen)
{
    qc *q = calloc(1, sizeof *q);
    int rc = -1;
    q->g = g;
    q->err = err;
    q->errlen = errlen;
    q->root = root;
    q->dry = root == NULL;
    q->ev = calloc((size_t)g->ninputs + 1, sizeof *q->ev);
    q->ve = calloc((size_t)g->ninputs + 1, sizeof *q->ve);
    q->qstream = calloc((size_t)g->nqueries + 1, sizeof *q->qstream);
    sc c = {q, root, NULL, NULL, -1, NULL, NULL};
    qparts p;
    if (split_query(q, query, &p) < 0 || parse_rules(q, rules) < 0 || stratify(q) < 0) goto done;
    if (q->dry && check_rules(&c) < 0) goto done;
    symtab st = {.n = 0};
    rel b = body(&c, &st, unit(&c), p.where, p.nwhere);
    if (q->failed) goto done;
    int group[DL_MAX_ARITY], ng = 0, aggs = 0, vals[DL_MAX_ARITY], nv = 0;
    aggctx *ag = q->dry ? calloc(1, sizeof *ag) : keep(sizeof *ag);
    findctx *fc = q->dry ? calloc(1, sizeof *fc) : keep(sizeof *fc);
    if (q->dry) {
        q->dry_ag = ag;
        q->dry_fc = fc;
    }
    fc->n = p.nfind;
    for (int i = 0; i < p.nfind; i++) {
        const edn *x = p.find[i];
        if (is_var(x)) {
            int v = sym_id(&st, x->s);
            if (rel_pos(&b, v) < 0) {
                qfail(q, x, "find variable %s is not bound by the query", x->s);
                goto done;
            }
            fc->src[i] = ng;
            group[ng++] = v;
            continue;
        }
        if (x->t != EDN_LIST || x->n != 2 || x->items[0]->t != EDN_SYM || !is_var(x->items[1])) {
            qfail(q, x, "find element must be ?var or (aggregate ?var)");
            goto done;
        }
        int kind = -1;
        for (int k = 0; k < 6; k++)
            if (!strcmp(x->items[0]->s, ag_names[k])) kind = k;
        if (kind < 0) {
            qfail(q, x->items[0], "unknown aggregate '%s' (sum count count-distinct min max avg)",
                  x->items[0]->s);
            goto done;
        }
        int v = sym_id(&st, x->items[1]->s);
        if (rel_pos(&b, v) < 0) {
            qfail(q, x->items[1], "aggregated variable %s is not bound", x->items[1]->s);
            goto done;
        }
        int col = -1;
        for (int k = 0; k < nv; k++)
            if (vals[k] == v) col = k;
        if (col < 0) {
            col = nv;
            vals[nv++] = v;
        }
        ag->kind[aggs] = kind;
        ag->col[aggs] = col;
        fc->src[i] = -1 - aggs;
        aggs++;
    }
    ag->n = aggs;
    for (int i = 0; i < p.nwith; i++) {
        int v = sym_id(&st, p.with[i]->s);
        if (rel_pos(&b, v) < 0) {
            qfail(q, p.with[i], ":with variable %s is not bound", p.with[i]->s);
            goto done;
        }
        if (!aggs) continue;
        bool dup = false;
        for (int k = 0; k < nv; k++) dup |= vals[k] == v;
        for (int k = 0; k < ng; k++) dup |= group[k] == v;
        if (!dup) vals[nv++] = v;
    }
    if (q->dry) {
        rc = 0;
        if (out) *out = NULL;
        g->last_arity = p.nfind;
        goto done;
    }
    if (!aggs) {
        int fv[DL_MAX_ARITY];
        for (int i = 0; i < p.nfind; i++) fv[i] = group[fc->src[i]];
        *out = tide_distinct(project(&c, b, fv, p.nfind).s);
    } else {
        int all[2 * DL_MAX_ARITY], pos[2 * DL_MAX_ARITY];
        for (int i = 0; i < ng; i++) all[i] = group[i];
        for (int i = 0; i < nv; i++) all[ng + i] = vals[i];
        pick *pk = keep(sizeof *pk);
        for (int i = 0; i < ng + nv; i++) pos[i] = rel_pos(&b, all[i]);
        pk->n = ng + nv;
        memcpy(pk->pos, pos, sizeof pk->pos);
        pk->nk = ng;
        pk->kv = true;
        tide_stream *kv = tide_distinct(tide_map(b.s, "group", KV, pick_fn, pk));
        tide_arranged *red =
            tide_reduce(tide_arrange(kv, "group"), "aggregate", TIDE_VAR, agg_fn, ag);
        *out = tide_map(tide_arranged_stream(red), "find", TL, find_fn, fc);
    }
    rc = *out ? 0 : -1;
    if (rc < 0) qfail(q, query, "building the dataflow failed: %s", tide_worker_error(g->w)->msg);
done:
    if (!q->dry && rc == 0) { /* the registered queries this one imports */
        free(g->last_uses);
        g->last_uses = calloc((size_t)g->nqueries + 1, sizeof *g->last_uses);
        g->nlast_uses = 0;
        for (int i = 0; g->last_uses && i < g->nqueries; i++)
            if (q->qstream[i]) g->last_uses[g->nlast_uses++] = i;
    }
    for (int i = 0; i < q->nrules; i++) free(q->rules[i].bodies);
    free(q->ev);
    free(q->ve);
    free(q->qstream);
    free(q->dry_ag);
    free(q->dry_fc);
    free(q);
    return rc;
}
