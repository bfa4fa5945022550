/*
 * db.c - the backend-independent part of the writer (db.h): schema DDL,
 * table versions, offsets.
 */
#define _GNU_SOURCE
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vers {
    const fx_views *v;
    int *found;
} vers;

static void got_version(void *ctx, const char *name, int64_t version)
{
    vers *x = ctx;
    for (int i = 0; i < x->v->n; i++)
        if (strcmp(x->v->views[i].table, name) == 0) x->found[i] = (int)version;
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
    if (view->primary_key < 0 && view->index_columns > 0) {
        n = snprintf(sql, sizeof sql, "CREATE INDEX %s_rows ON %s (", view->table, view->table);
        for (int c = 0; c < view->index_columns; c++)
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

fx_db *fx_db_open(const char *url, const fx_views *v, tide_error *e)
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
    vers x = {v, found};
    rc = db->ops->begin(db, e);
    if (rc == TIDE_OK)
        rc = db->ops->exec(db,
                           "CREATE TABLE IF NOT EXISTS table_version (name TEXT PRIMARY KEY, "
                           "version INTEGER NOT NULL)",
                           e);
    if (rc == TIDE_OK)
        rc = db->ops->query(db, "SELECT name, version FROM table_version", got_version, &x, e);
    for (int i = 0; i < v->n && rc == TIDE_OK; i++)
        if (found[i] != v->views[i].version) rc = rebuild(db, &v->views[i], e);
    if (rc == TIDE_OK) rc = db->ops->commit(db, e);
    if (rc == TIDE_OK) rc = db->ops->prepare(db, e);
    free(found);
    if (rc < 0) {
        db->ops->close(db);
        free(db);
        return NULL;
    }
    return db;
}

void fx_db_close(fx_db *db)
{
    if (db == NULL) return;
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
    return db->ops->row(db, view, &r, diff, e);
}

int fx_db_offset(fx_db *db, int view, const char *stream, size_t n, int64_t off, tide_error *e)
{
    return db->ops->offset(db, view, stream, n, off, e);
}

int fx_db_commit(fx_db *db, tide_error *e)
{
    return db->ops->commit(db, e);
}

int fx_db_rollback(fx_db *db)
{
    return db->ops->rollback(db);
}
