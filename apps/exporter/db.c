/*
 * db.c - the backend-independent part of the writer (db.h): schema DDL,
 * table versions, offsets, and a keyed view's changes coalesced per key
 * until the commit.
 */
#define _GNU_SOURCE
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The row of table_version that records the window the views were
 * computed with (--since, in seconds; 0: none). A name no table can have. */
#define SINCE_ROW ".since"

typedef struct vers {
    const fx_views *v;
    int *found;
    int64_t since; /* SINCE_ROW's value; -1: no such row */
} vers;

static void got_version(void *ctx, const char *name, int64_t version)
{
    vers *x = ctx;
    if (strcmp(name, SINCE_ROW) == 0) x->since = version;
    for (int i = 0; i < x->v->n; i++)
        if (strcmp(x->v->views[i].table, name) == 0) x->found[i] = (int)version;
}

/* The views hold the window @since (seconds) unless some were built with
 * another one (or before the window was recorded): then every view is
 * rebuilt, as on a version change, since its rows and offsets describe
 * another input. Records @since. */
static int check_window(fx_db *db, vers *x, int64_t since, tide_error *e)
{
    bool kept = false; /* some view survives with its rows */
    for (int i = 0; i < x->v->n; i++) kept |= x->found[i] == x->v->views[i].version;
    if (kept && x->since != since) {
        if (x->since < 0)
            fprintf(stderr, "tide-export: the database does not say which --since its views were "
                            "computed with: rebuilding them\n");
        else
            fprintf(stderr, "tide-export: --since changed (%llds -> %llds): rebuilding the views\n",
                    (long long)x->since, (long long)since);
        for (int i = 0; i < x->v->n; i++) x->found[i] = -1; /* no stored version matches */
    }
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM table_version WHERE name = '%s'", SINCE_ROW);
    TIDE_TRY(db->ops->exec(db, sql, e));
    snprintf(sql, sizeof sql, "INSERT INTO table_version (name, version) VALUES ('%s', %lld)",
             SINCE_ROW, (long long)since);
    return db->ops->exec(db, sql, e);
}

/* Drop and create @view's table and offsets, and record its version. */
static int rebuild(fx_db *db, const fx_view *view, tide_error *e)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", view->table);
    TIDE_TRY(db->ops->exec(db, sql, e));
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s_offsets", view->table);
    TIDE_TRY(db->ops->exec(db, sql, e));
    int n = snprintf(sql, sizeof sql, "CREATE TABLE %s (", view->table);
    for (uint32_t c = 0; c < view->schema->n; c++) {
        const char *t = view->sql_types[c];
        bool integer = db->bigint && strncmp(t, "INTEGER", 7) == 0;
        n += snprintf(sql + n, sizeof sql - n, "%s%s %s%s", c ? ", " : "", view->schema->names[c],
                      integer ? "BIGINT" : t, integer ? t + 7 : "");
    }
    snprintf(sql + n, sizeof sql - n, ")");
    TIDE_TRY(db->ops->exec(db, sql, e));
    if (view->primary_key >= 0 && !strstr(view->sql_types[view->primary_key], "PRIMARY KEY")) {
        /* The key's uniqueness, where the column's SQL type does not say it. */
        snprintf(sql, sizeof sql, "CREATE UNIQUE INDEX %s_key ON %s (%s)", view->table, view->table,
                 view->schema->names[view->primary_key]);
        TIDE_TRY(db->ops->exec(db, sql, e));
    }
    int ncols = view->key_columns > 0 ? view->key_columns : view->index_columns;
    if (view->primary_key < 0 && ncols > 0) {
        n = snprintf(sql, sizeof sql, "CREATE %sINDEX %s_rows ON %s (",
                     view->key_columns > 0 ? "UNIQUE " : "", view->table, view->table);
        for (int c = 0; c < ncols; c++)
            n += snprintf(sql + n, sizeof sql - n, "%s%s", c ? ", " : "", view->schema->names[c]);
        snprintf(sql + n, sizeof sql - n, ")");
        TIDE_TRY(db->ops->exec(db, sql, e));
    }
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s_offsets (stream TEXT PRIMARY KEY, \"offset\" %s NOT NULL)",
             view->table, db->bigint ? "BIGINT" : "INTEGER");
    TIDE_TRY(db->ops->exec(db, sql, e));
    snprintf(sql, sizeof sql, "DELETE FROM table_version WHERE name = '%s'", view->table);
    TIDE_TRY(db->ops->exec(db, sql, e));
    snprintf(sql, sizeof sql, "INSERT INTO table_version (name, version) VALUES ('%s', %d)",
             view->table, view->version);
    return db->ops->exec(db, sql, e);
}

/* ---- keyed views: a transaction's changes, one per key ------------------------- */

/* A key's change in the open transaction: the row it had before (if it
 * existed: its delete came first) and the row it has now (if any), each a
 * [start, end) range of the view's heap. */
typedef struct kchange {
    uint32_t old_at, old_len, new_at, new_len;
    bool existed, present;
} kchange;

struct fx_keyed {
    uint32_t cols[TIDE_ROW_MAX_FIELDS], ncols; /* ncols 0: the view has no key */
    fx_smap idx;                               /* key bytes -> index in ch */
    kchange *ch;
    uint32_t cap;
    tide_rowbuf heap; /* the rows' bytes */
};

int fx_db_key_columns(const fx_view *v, uint32_t *cols)
{
    if (v->primary_key >= 0) {
        cols[0] = (uint32_t)v->primary_key;
        return 1;
    }
    for (int c = 0; c < v->key_columns; c++) cols[c] = (uint32_t)c;
    return v->key_columns > 0 ? v->key_columns : 0;
}

bool fx_db_update_sql(const fx_view *v, char mark, char *sql, size_t cap)
{
    uint32_t cols[TIDE_ROW_MAX_FIELDS];
    int nk = fx_db_key_columns(v, cols);
    const tide_schema *s = v->schema;
    if (nk == 0 || (uint32_t)nk == s->n) return false;
    bool key[TIDE_ROW_MAX_FIELDS] = {0};
    for (int i = 0; i < nk; i++) key[cols[i]] = true;
    int n = snprintf(sql, cap, "UPDATE %s SET ", v->table);
    const char *sep = "";
    for (uint32_t c = 0; c < s->n; c++)
        if (!key[c])
            n += snprintf(sql + n, cap - n, "%s%s = %c%u", sep, s->names[c], mark, c + 1),
                sep = ", ";
    n += snprintf(sql + n, cap - n, " WHERE ");
    const char *is = mark == '$' ? "IS NOT DISTINCT FROM" : "IS";
    for (int i = 0; i < nk; i++) {
        bool nullable = (s->types[cols[i]] & TIDE_FIELD_NULLABLE) != 0;
        n += snprintf(sql + n, cap - n, "%s%s %s %c%u", i ? " AND " : "", s->names[cols[i]],
                      nullable ? is : "=", mark, cols[i] + 1);
    }
    return true;
}

static void keyed_reset(fx_keyed *k)
{
    if (k->idx.n == 0) return;
    fx_smap_fini(&k->idx);
    fx_smap_init(&k->idx);
    tide_rowbuf_clear(&k->heap);
}

static void keyed_free(fx_db *db)
{
    for (int i = 0; db->keyed && i < db->v->n; i++) {
        fx_smap_fini(&db->keyed[i].idx);
        free(db->keyed[i].ch);
        tide_rowbuf_fini(&db->keyed[i].heap);
    }
    free(db->keyed);
    db->keyed = NULL;
}

static int keyed_init(fx_db *db)
{
    db->keyed = calloc((size_t)db->v->n, sizeof *db->keyed);
    if (db->keyed == NULL) return TIDE_ENOMEM;
    for (int i = 0; i < db->v->n; i++) {
        fx_keyed *k = &db->keyed[i];
        k->ncols = (uint32_t)fx_db_key_columns(&db->v->views[i], k->cols);
        fx_smap_init(&k->idx);
        tide_rowbuf_init(&k->heap);
    }
    return TIDE_OK;
}

/* Append @r's bytes to the heap: their start in *@at. */
static int keep_row(fx_keyed *k, const tide_row *r, uint32_t *at)
{
    *at = k->heap.len;
    return tide_row_put_raw(&k->heap, r->p, r->len) < 0 ? TIDE_ENOMEM : TIDE_OK;
}

/* @r's key columns as text ("machine=Drill1, step=2"), for messages. */
static void key_text(const fx_keyed *k, const tide_row *r, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < k->ncols && at < cap; i++) {
        uint32_t c = k->cols[i], n;
        const char *name = r->schema->names[c];
        const char *sep = i ? ", " : "";
        if (tide_row_is_null(r, c)) {
            at += (size_t)snprintf(out + at, cap - at, "%s%s=NULL", sep, name);
            continue;
        }
        switch (r->schema->types[c] & ~TIDE_FIELD_NULLABLE) {
        case TIDE_FIELD_STR: {
            tide_rowbuf scratch;
            tide_rowbuf_init(&scratch);
            const char *p = tide_row_str(r, c, &n, &scratch);
            at += (size_t)snprintf(out + at, cap - at, "%s%s='%.*s'", sep, name,
                                   (int)(n > 64 ? 64 : n), p ? p : "");
            tide_rowbuf_fini(&scratch);
            break;
        }
        case TIDE_FIELD_I64:
            at += (size_t)snprintf(out + at, cap - at, "%s%s=%lld", sep, name,
                                   (long long)tide_row_i64(r, c));
            break;
        case TIDE_FIELD_U64:
            at += (size_t)snprintf(out + at, cap - at, "%s%s=%llu", sep, name,
                                   (unsigned long long)tide_row_u64(r, c));
            break;
        default:
            at += (size_t)snprintf(out + at, cap - at, "%s%s=...", sep, name);
            break;
        }
    }
}

/* Note @r's change (@diff: +1 or -1) under its key, to be written at the commit. */
static int keyed_row(fx_db *db, int view, const tide_row *r, int64_t diff, tide_error *e)
{
    fx_keyed *k = &db->keyed[view];
    const char *table = db->v->views[view].table;
    uint8_t key[1024];
    uint32_t kl = 0;
    for (uint32_t i = 0; i < k->ncols; i++) {
        uint32_t a = r->off[k->cols[i]], z = r->off[k->cols[i] + 1];
        if (kl + (z - a) > sizeof key)
            return tide_err_set(e, TIDE_EINVAL, "%s: a key longer than %zu bytes", table,
                                sizeof key);
        memcpy(key + kl, r->p + a, z - a);
        kl += z - a;
    }
    if (diff != 1 && diff != -1)
        return tide_err_set(e, TIDE_EINVAL,
                            "%s: a row changed %lld times at once, but the view "
                            "has a key (one row per key)",
                            table, (long long)diff);
    uint32_t n = k->idx.n;
    int64_t *slot = fx_smap_put(&k->idx, (const char *)key, kl, n);
    if (slot == NULL) return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    if (k->idx.n > n) { /* the key's first change in this transaction */
        if (n == k->cap) {
            uint32_t cap = k->cap ? k->cap * 2 : 256;
            kchange *ch = realloc(k->ch, cap * sizeof *ch);
            if (ch == NULL) return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
            k->ch = ch, k->cap = cap;
        }
        /* A delete first: the table has the row (it is the old one). */
        k->ch[n] = (kchange){.existed = diff < 0, .present = diff < 0};
        if (diff < 0) {
            TIDE_TRY(keep_row(k, r, &k->ch[n].old_at));
            k->ch[n].old_len = r->len;
        }
    }
    kchange *c = &k->ch[*slot];
    if (diff < 0) {
        if (!c->present) {
            char kt[256];
            key_text(k, r, kt, sizeof kt);
            return tide_err_set(e, TIDE_EINVAL, "%s: a row deleted twice for one key (%s)", table,
                                kt);
        }
        c->present = false;
        return TIDE_OK;
    }
    if (c->present) {
        char kt[256];
        key_text(k, r, kt, sizeof kt);
        return tide_err_set(e, TIDE_EINVAL,
                            "%s: two rows for one key (%s): the view's key is not unique", table,
                            kt);
    }
    c->present = true;
    c->new_len = r->len;
    if (keep_row(k, r, &c->new_at) < 0)
        return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    return TIDE_OK;
}

/* Write view @view's held changes: deletes, then updates and inserts. */
static int keyed_flush(fx_db *db, int view, tide_error *e)
{
    fx_keyed *k = &db->keyed[view];
    const tide_schema *s = db->v->views[view].schema;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < k->idx.n; i++) {
            const kchange *c = &k->ch[i];
            bool del = c->existed && !c->present, ins = !c->existed && c->present;
            /* Rows of one key that are equal need no write (and a view
             * whose every column is key never gets here with others). */
            bool upd = c->existed && c->present &&
                       (c->old_len != c->new_len ||
                        memcmp(k->heap.data + c->old_at, k->heap.data + c->new_at, c->new_len));
            if (pass == 0 ? !del : !(ins || upd)) continue;
            tide_row r;
            uint32_t at = del ? c->old_at : c->new_at, len = del ? c->old_len : c->new_len;
            if (tide_row_open(&r, s, k->heap.data + at, len) < 0)
                return tide_err_set(e, TIDE_EPARSE, "a malformed row for view %d", view);
            if (upd)
                TIDE_TRY(db->ops->update(db, view, &r, e));
            else
                TIDE_TRY(db->ops->row(db, view, &r, del ? -1 : 1, e));
        }
    keyed_reset(k);
    return TIDE_OK;
}

fx_db *fx_db_open(const char *url, const fx_views *v, int64_t since_s, tide_error *e)
{
    fx_db *db = calloc(1, sizeof *db);
    if (db == NULL) return NULL;
    db->v = v;
    int rc;
    if (strncmp(url, "sqlite:", 7) == 0)
        rc = fx_db_sqlite_open(db, url + 7, e);
    else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        rc = fx_db_pg_open(db, url, e);
    else
        rc = tide_err_set(e, TIDE_EINVAL, "--db %s: expected sqlite:FILE or postgresql://...", url);
    if (rc < 0) {
        free(db);
        return NULL;
    }
    int *found = calloc((size_t)v->n, sizeof *found);
    vers x = {v, found, -1};
    rc = found ? db->ops->begin(db, e) : tide_err_set(e, TIDE_ENOMEM, "out of memory");
    if (rc == TIDE_OK)
        rc = db->ops->exec(db,
                           "CREATE TABLE IF NOT EXISTS table_version (name TEXT PRIMARY KEY, "
                           "version INTEGER NOT NULL)",
                           e);
    if (rc == TIDE_OK)
        rc = db->ops->query(db, "SELECT name, version FROM table_version", got_version, &x, e);
    if (rc == TIDE_OK) rc = check_window(db, &x, since_s, e);
    for (int i = 0; i < v->n && rc == TIDE_OK; i++)
        if (found[i] != v->views[i].version) rc = rebuild(db, &v->views[i], e);
    if (rc == TIDE_OK) rc = db->ops->commit(db, e);
    if (rc == TIDE_OK) rc = db->ops->prepare(db, e);
    if (rc == TIDE_OK && keyed_init(db) < 0) rc = tide_err_set(e, TIDE_ENOMEM, "out of memory");
    free(found);
    if (rc < 0) {
        keyed_free(db);
        db->ops->close(db);
        free(db);
        return NULL;
    }
    return db;
}

void fx_db_close(fx_db *db)
{
    if (db == NULL) return;
    keyed_free(db);
    db->ops->close(db);
    free(db);
}

typedef struct offs_ctx {
    fx_smap *m;
    int rows;
} offs_ctx;

static void got_offset(void *ctx, const char *stream, int64_t off)
{
    offs_ctx *o = ctx;
    int64_t *v = fx_smap_put(o->m, stream, strlen(stream), off);
    if (v) *v = off;
    o->rows++;
}

int fx_db_offsets(fx_db *db, fx_smap *offs, bool *fresh, tide_error *e)
{
    bool have = false;
    for (int i = 0; i < db->v->n; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT stream, \"offset\" FROM %s_offsets",
                 db->v->views[i].table);
        fx_smap tmp;
        fx_smap_init(&tmp);
        offs_ctx o = {have ? &tmp : offs, 0};
        int rc = db->ops->query(db, sql, got_offset, &o, e);
        fx_smap_fini(&tmp);
        TIDE_TRY(rc);
        fresh[i] = o.rows == 0;
        have = have || o.rows > 0;
    }
    return TIDE_OK;
}

int fx_db_begin(fx_db *db, tide_error *e)
{
    return db->ops->begin(db, e);
}

int fx_db_row(fx_db *db, int view, const uint8_t *row, uint32_t len, int64_t diff, tide_error *e)
{
    tide_row r;
    if (view < 0 || view >= db->v->n || tide_row_open(&r, db->v->views[view].schema, row, len) < 0)
        return tide_err_set(e, TIDE_EPARSE, "a malformed row for view %d", view);
    if (db->keyed[view].ncols > 0) return keyed_row(db, view, &r, diff, e);
    return db->ops->row(db, view, &r, diff, e);
}

int fx_db_offset(fx_db *db, int view, const char *stream, size_t n, int64_t off, tide_error *e)
{
    return db->ops->offset(db, view, stream, n, off, e);
}

int fx_db_commit(fx_db *db, tide_error *e)
{
    for (int i = 0; i < db->v->n; i++)
        if (db->keyed[i].idx.n > 0) TIDE_TRY(keyed_flush(db, i, e));
    return db->ops->commit(db, e);
}

int fx_db_rollback(fx_db *db)
{
    for (int i = 0; db->keyed && i < db->v->n; i++) keyed_reset(&db->keyed[i]);
    return db->ops->rollback(db);
}
