/* db.c - schema and transactor (db.h). */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- datom set: open addressing over (e, attr, v) ------------------------ */

typedef struct datom {
    int64_t e;
    int attr; /* -1: empty slot, -2: tombstone */
    uint8_t *v;
    uint32_t vlen;
} datom;

struct dl_datom_set {
    datom *slots;
    size_t cap, used, live;
};

static uint64_t dhash(int64_t e, int attr, const uint8_t *v, uint32_t vlen)
{
    uint64_t h = tide_hash(v, vlen);
    return h ^ ((uint64_t)e * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)attr << 47);
}

static datom *find_slot(dl_datom_set *s, int64_t e, int attr, const uint8_t *v, uint32_t vlen,
                        bool for_insert)
{
    size_t mask = s->cap - 1, i = dhash(e, attr, v, vlen) & mask;
    datom *tomb = NULL;
    for (;;) {
        datom *d = &s->slots[i];
        if (d->attr == -1) return for_insert && tomb ? tomb : d;
        if (d->attr == -2) {
            if (!tomb) tomb = d;
        } else if (d->e == e && d->attr == attr && d->vlen == vlen && !memcmp(d->v, v, vlen)) {
            return d;
        }
        i = (i + 1) & mask;
    }
}

static int grow(dl_datom_set *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    datom *ns = malloc(ncap * sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < ncap; i++) ns[i].attr = -1;
    datom *old = s->slots;
    size_t ocap = s->cap;
    s->slots = ns;
    s->cap = ncap;
    s->used = s->live;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].attr >= 0)
            *find_slot(s, old[i].e, old[i].attr, old[i].v, old[i].vlen, true) = old[i];
    free(old);
    return 0;
}

static bool set_has(dl_datom_set *s, int64_t e, int attr, const uint8_t *v, uint32_t vlen)
{
    if (!s->cap) return false;
    return find_slot(s, e, attr, v, vlen, false)->attr >= 0;
}

static int set_add(dl_datom_set *s, int64_t e, int attr, const uint8_t *v, uint32_t vlen)
{
    if ((s->used + 1) * 2 > s->cap && grow(s) < 0) return -1;
    datom *d = find_slot(s, e, attr, v, vlen, true);
    if (d->attr >= 0) return 0;
    uint8_t *c = malloc(vlen ? vlen : 1);
    if (!c) return -1;
    memcpy(c, v, vlen);
    if (d->attr == -1) s->used++;
    *d = (datom){e, attr, c, vlen};
    s->live++;
    return 0;
}

static void set_del(dl_datom_set *s, int64_t e, int attr, const uint8_t *v, uint32_t vlen)
{
    if (!s->cap) return;
    datom *d = find_slot(s, e, attr, v, vlen, false);
    if (d->attr < 0) return;
    free(d->v);
    d->v = NULL;
    d->attr = -2;
    s->live--;
}

/* ---- schema ------------------------------------------------------------- */

int dl_db_init(dl_db *db)
{
    memset(db, 0, sizeof *db);
    db->set = calloc(1, sizeof *db->set);
    return db->set ? 0 : -1;
}

void dl_db_fini(dl_db *db)
{
    for (int i = 0; i < db->nattrs; i++) free(db->attrs[i].name);
    free(db->attrs);
    if (db->set) {
        for (size_t i = 0; i < db->set->cap; i++)
            if (db->set->slots[i].attr >= 0) free(db->set->slots[i].v);
        free(db->set->slots);
        free(db->set);
    }
    memset(db, 0, sizeof *db);
}

size_t dl_db_count(const dl_db *db)
{
    return db->set->live;
}

int dl_db_attr(const dl_db *db, const char *name)
{
    for (int i = 0; i < db->nattrs; i++)
        if (!strcmp(db->attrs[i].name, name)) return i;
    return -1;
}

static const char *type_names[] = {"String", "Number", "Real", "Bool", "Eid", "Instant"};

const char *dl_type_name(dl_type t)
{
    return type_names[t];
}

int dl_db_create(dl_db *db, const edn *schema, int *first, char *err, size_t errlen)
{
    if (schema->t != EDN_MAP) {
        snprintf(err, errlen,
                 "%d:%d: schema must be a map of attribute to {:db/valueType T}, got a %s",
                 schema->line, schema->col, edn_type_name(schema->t));
        return -1;
    }
    size_t n = schema->n / 2;
    if (n == 0) {
        snprintf(err, errlen, "%d:%d: schema declares no attribute", schema->line, schema->col);
        return -1;
    }
    dl_type *types = calloc(n, sizeof *types);
    for (size_t i = 0; i < n; i++) {
        const edn *k = schema->items[2 * i], *v = schema->items[2 * i + 1];
        if (k->t != EDN_KW) {
            snprintf(err, errlen, "%d:%d: attribute name must be a keyword", k->line, k->col);
            goto fail;
        }
        if (!strncmp(k->s, "db/", 3)) {
            snprintf(err, errlen, "%d:%d: :%s: the db/ namespace is reserved", k->line, k->col,
                     k->s);
            goto fail;
        }
        if (dl_db_attr(db, k->s) >= 0) {
            snprintf(err, errlen, "%d:%d: attribute :%s already exists", k->line, k->col, k->s);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(schema->items[2 * j]->s, k->s)) {
                snprintf(err, errlen, "%d:%d: attribute :%s declared twice", k->line, k->col, k->s);
                goto fail;
            }
        if (v->t != EDN_MAP) {
            snprintf(err, errlen, "%d:%d: :%s: expected {:db/valueType T}", v->line, v->col, k->s);
            goto fail;
        }
        int found = -1;
        for (size_t j = 0; j + 1 < v->n; j += 2) {
            const edn *ok = v->items[j], *ov = v->items[j + 1];
            if (edn_is_kw(ok, "db/valueType")) {
                for (int t = 0; t < 6; t++)
                    if (ov->t == EDN_KW && !strcmp(ov->s, type_names[t])) found = t;
                if (found < 0) {
                    snprintf(err, errlen,
                             "%d:%d: :%s: unknown value type (expected :String :Number :Real :Bool "
                             ":Eid :Instant)",
                             ov->line, ov->col, k->s);
                    goto fail;
                }
            } else if (!edn_is_kw(ok, "db/cardinality") && !edn_is_kw(ok, "db/doc")) {
                snprintf(err, errlen, "%d:%d: :%s: unknown schema key", ok->line, ok->col, k->s);
                goto fail;
            }
        }
        if (found < 0) {
            snprintf(err, errlen, "%d:%d: :%s: missing :db/valueType", v->line, v->col, k->s);
            goto fail;
        }
        types[i] = (dl_type)found;
    }
    dl_attr *na = realloc(db->attrs, (size_t)(db->nattrs + (int)n) * sizeof *na);
    if (!na) goto fail;
    db->attrs = na;
    *first = db->nattrs;
    for (size_t i = 0; i < n; i++)
        db->attrs[db->nattrs++] = (dl_attr){strdup(schema->items[2 * i]->s), types[i]};
    free(types);
    return 0;
fail:
    free(types);
    return -1;
}

/* ---- transactions -------------------------------------------------------- */

typedef struct txb {
    dl_change *c;
    size_t n, cap;
} txb;

static int txb_push(txb *t, int64_t e, int attr, const uint8_t *v, uint32_t vlen, int diff)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        dl_change *nv = realloc(t->c, nc * sizeof *nv);
        if (!nv) return -1;
        t->c = nv;
        t->cap = nc;
    }
    uint8_t *cv = malloc(vlen ? vlen : 1);
    if (!cv) return -1;
    memcpy(cv, v, vlen);
    t->c[t->n++] = (dl_change){e, attr, cv, vlen, diff};
    return 0;
}

void dl_changes_free(dl_change *c, size_t n)
{
    for (size_t i = 0; i < n; i++) free(c[i].v);
    free(c);
}

static int get_eid(const edn *x, int64_t *e, char *err, size_t errlen)
{
    if (x->t != EDN_INT || x->i < 0) {
        snprintf(err, errlen, "%d:%d: entity id must be a non-negative integer, got %s", x->line,
                 x->col, x->t == EDN_INT ? "a negative integer" : edn_type_name(x->t));
        return -1;
    }
    *e = x->i;
    return 0;
}

static int get_attr(const dl_db *db, const edn *x, int *a, char *err, size_t errlen)
{
    if (x->t != EDN_KW) {
        snprintf(err, errlen, "%d:%d: attribute must be a keyword, got %s", x->line, x->col,
                 edn_type_name(x->t));
        return -1;
    }
    *a = dl_db_attr(db, x->s);
    if (*a < 0) {
        snprintf(err, errlen, "%d:%d: unknown attribute :%s", x->line, x->col, x->s);
        return -1;
    }
    return 0;
}

/* Encode @x as a value of attribute @a's type. */
static int get_value(const dl_db *db, int a, const edn *x, tide_rowbuf *b, char *err, size_t errlen)
{
    dl_type t = db->attrs[a].type;
    bool ok = (t == T_STRING && x->t == EDN_STR) || (t == T_NUMBER && x->t == EDN_INT) ||
              (t == T_REAL && (x->t == EDN_REAL || x->t == EDN_INT)) ||
              (t == T_BOOL && x->t == EDN_BOOL) || (t == T_EID && x->t == EDN_INT && x->i >= 0) ||
              (t == T_INSTANT && x->t == EDN_INT);
    if (!ok) {
        snprintf(err, errlen, "%d:%d: :%s expects a :%s value, got %s", x->line, x->col,
                 db->attrs[a].name, type_names[t],
                 x->t == EDN_INT && t == T_EID ? "a negative integer" : edn_type_name(x->t));
        return -1;
    }
    tide_rowbuf_clear(b);
    if (t == T_REAL) return dl_put_real(b, x->t == EDN_INT ? (double)x->i : x->r);
    return dl_put_edn(b, x);
}

/* The tx's own view: the state plus the changes so far (net presence). */
static int present(dl_db *db, txb *t, int64_t e, int a, const uint8_t *v, uint32_t vlen)
{
    for (size_t i = t->n; i-- > 0;) {
        dl_change *c = &t->c[i];
        if (c->e == e && c->attr == a && c->vlen == vlen && !memcmp(c->v, v, vlen))
            return c->diff > 0;
    }
    return set_has(db->set, e, a, v, vlen);
}

static int op(dl_db *db, txb *t, int64_t e, int a, const uint8_t *v, uint32_t vlen, int diff)
{
    int now = present(db, t, e, a, v, vlen);
    if ((diff > 0) == (now != 0)) return 0; /* adding a present / retracting an absent datom */
    bool orig = set_has(db->set, e, a, v, vlen);
    /* Drop an earlier change of the same datom: the net is what differs from orig. */
    for (size_t i = 0; i < t->n; i++) {
        dl_change *c = &t->c[i];
        if (c->e == e && c->attr == a && c->vlen == vlen && !memcmp(c->v, v, vlen)) {
            free(c->v);
            t->c[i] = t->c[--t->n];
            break;
        }
    }
    if ((diff > 0) == orig) return 0;
    return txb_push(t, e, a, v, vlen, diff);
}

/* Retract every value of (e, a) (a < 0: every attribute) as of the tx so far. */
static int retract_all(dl_db *db, txb *t, int64_t e, int a)
{
    dl_datom_set *s = db->set;
    txb found = {0};
    for (size_t i = 0; i < s->cap; i++) {
        datom *d = &s->slots[i];
        if (d->attr >= 0 && d->e == e && (a < 0 || d->attr == a))
            if (txb_push(&found, d->e, d->attr, d->v, d->vlen, -1) < 0) return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        dl_change *c = &t->c[i];
        if (c->diff > 0 && c->e == e && (a < 0 || c->attr == a))
            if (txb_push(&found, c->e, c->attr, c->v, c->vlen, -1) < 0) return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < found.n && rc == 0; i++)
        rc = op(db, t, found.c[i].e, found.c[i].attr, found.c[i].v, found.c[i].vlen, -1);
    dl_changes_free(found.c, found.n);
    return rc;
}

static int tx_form(dl_db *db, txb *t, const edn *f, tide_rowbuf *b, char *err, size_t errlen)
{
    int64_t e;
    int a;
    if (f->t == EDN_MAP) {
        const edn *id = NULL;
        for (size_t j = 0; j + 1 < f->n; j += 2)
            if (edn_is_kw(f->items[j], "db/id")) id = f->items[j + 1];
        if (!id) {
            snprintf(err, errlen, "%d:%d: entity map without :db/id", f->line, f->col);
            return -1;
        }
        if (get_eid(id, &e, err, errlen) < 0) return -1;
        for (size_t j = 0; j + 1 < f->n; j += 2) {
            if (edn_is_kw(f->items[j], "db/id")) continue;
            if (get_attr(db, f->items[j], &a, err, errlen) < 0) return -1;
            if (get_value(db, a, f->items[j + 1], b, err, errlen) < 0) return -1;
            if (op(db, t, e, a, b->data, b->len, 1) < 0) return -1;
        }
        return 0;
    }
    if (f->t != EDN_VEC || f->n == 0 || f->items[0]->t != EDN_KW) {
        snprintf(err, errlen,
                 "%d:%d: transaction form must be an entity map or [:db/add|:db/retract|"
                 ":db/retractEntity ...], got %s",
                 f->line, f->col, edn_type_name(f->t));
        return -1;
    }
    const char *k = f->items[0]->s;
    if (!strcmp(k, "db/add") || !strcmp(k, "db/retract")) {
        bool add = k[3] == 'a';
        if (f->n != 4 && !(f->n == 3 && !add)) {
            snprintf(err, errlen, "%d:%d: :%s takes %s, got %zu argument(s)", f->line, f->col, k,
                     add ? "e a v" : "e a v or e a", f->n - 1);
            return -1;
        }
        if (get_eid(f->items[1], &e, err, errlen) < 0) return -1;
        if (get_attr(db, f->items[2], &a, err, errlen) < 0) return -1;
        if (f->n == 3) return retract_all(db, t, e, a);
        if (get_value(db, a, f->items[3], b, err, errlen) < 0) return -1;
        return op(db, t, e, a, b->data, b->len, add ? 1 : -1);
    }
    if (!strcmp(k, "db/retractEntity")) {
        if (f->n != 2) {
            snprintf(err, errlen, "%d:%d: :db/retractEntity takes one entity id", f->line, f->col);
            return -1;
        }
        if (get_eid(f->items[1], &e, err, errlen) < 0) return -1;
        return retract_all(db, t, e, -1);
    }
    snprintf(err, errlen, "%d:%d: unknown transaction operation :%s", f->line, f->col, k);
    return -1;
}

int dl_db_transact(dl_db *db, const edn *tx, dl_change **out, size_t *n, char *err, size_t errlen)
{
    if (tx->t != EDN_VEC && tx->t != EDN_LIST) {
        snprintf(err, errlen, "%d:%d: a transaction is a vector of forms, got %s", tx->line,
                 tx->col, edn_type_name(tx->t));
        return -1;
    }
    txb t = {0};
    tide_rowbuf b;
    tide_rowbuf_init(&b);
    for (size_t i = 0; i < tx->n; i++) {
        err[0] = 0;
        if (tx_form(db, &t, tx->items[i], &b, err, errlen) < 0) {
            if (!err[0]) snprintf(err, errlen, "out of memory");
            tide_rowbuf_fini(&b);
            dl_changes_free(t.c, t.n);
            return -1;
        }
    }
    tide_rowbuf_fini(&b);
    for (size_t i = 0; i < t.n; i++) {
        dl_change *c = &t.c[i];
        if (c->diff > 0) {
            if (set_add(db->set, c->e, c->attr, c->v, c->vlen) < 0) return -1;
        } else {
            set_del(db->set, c->e, c->attr, c->v, c->vlen);
        }
    }
    *out = t.c;
    *n = t.n;
    return 0;
}

int dl_db_apply_ints(dl_db *db, int a, const int64_t *e, const int64_t *v, const int *diff,
                     size_t n, dl_change **out, size_t *nout)
{
    txb t = {0};
    tide_rowbuf b;
    tide_rowbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        tide_rowbuf_clear(&b);
        if (dl_put_int(&b, v[i]) < 0) goto fail;
        bool has = set_has(db->set, e[i], a, b.data, b.len);
        if ((diff[i] > 0) == has) continue;
        if (diff[i] > 0) {
            if (set_add(db->set, e[i], a, b.data, b.len) < 0) goto fail;
        } else {
            set_del(db->set, e[i], a, b.data, b.len);
        }
        if (txb_push(&t, e[i], a, b.data, b.len, diff[i] > 0 ? 1 : -1) < 0) goto fail;
    }
    tide_rowbuf_fini(&b);
    *out = t.c;
    *nout = t.n;
    return 0;
fail:
    tide_rowbuf_fini(&b);
    dl_changes_free(t.c, t.n);
    return -1;
}
