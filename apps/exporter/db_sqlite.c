/*
 * db_sqlite.c - the SQLite backend of the writer (db.h): WAL journal (a
 * crash of the process loses no committed transaction and never exposes a
 * partial one), prepared statements per view reused for every row. A
 * keyed view's replaced rows come as UPDATEs of the non-key columns (db.c
 * coalesces its changes per key): one b-tree write, none in the key's index.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "smap.h"

typedef struct stmts {
    sqlite3_stmt *ins, *del, *off;
    sqlite3_stmt *upd; /* a keyed view: UPDATE by key (or NULL) */
} stmts;

typedef struct lite {
    sqlite3 *h;
    char *path;
    stmts *s; /* per view */
    int nviews;
} lite;

static int fail(fx_db *db, tide_error *e, const char *what)
{
    lite *l = db->impl;
    return tide_err_set(e, TIDE_EIO, "sqlite:%s: %s: %s", l->path, what, sqlite3_errmsg(l->h));
}

static int lite_exec(fx_db *db, const char *sql, tide_error *e)
{
    lite *l = db->impl;
    if (sqlite3_exec(l->h, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(db, e, sql);
    return TIDE_OK;
}

static int lite_begin(fx_db *db, tide_error *e)
{
    return lite_exec(db, "BEGIN IMMEDIATE", e);
}

static int run(sqlite3_stmt *st);
static int fail(fx_db *db, tide_error *e, const char *what);

static int lite_commit(fx_db *db, tide_error *e)
{
    return lite_exec(db, "COMMIT", e);
}

static int lite_rollback(fx_db *db)
{
    lite *l = db->impl;
    return sqlite3_exec(l->h, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? TIDE_OK : TIDE_EIO;
}

/* Bind column @c of @r to parameter @i. */
static int bind_col(sqlite3_stmt *st, int i, const tide_row *r, uint32_t c)
{
    const tide_schema *s = r->schema;
    {
        int rc;
        if (tide_row_is_null(r, c)) {
            rc = sqlite3_bind_null(st, i);
        } else {
            switch (s->types[c] & ~TIDE_FIELD_NULLABLE) {
            case TIDE_FIELD_STR: {
                uint32_t n;
                tide_rowbuf scratch;
                tide_rowbuf_init(&scratch);
                const char *p = tide_row_str(r, c, &n, &scratch);
                rc = sqlite3_bind_text(st, i, p, (int)n, SQLITE_TRANSIENT);
                tide_rowbuf_fini(&scratch);
                break;
            }
            case TIDE_FIELD_I64:
                rc = sqlite3_bind_int64(st, i, tide_row_i64(r, c));
                break;
            case TIDE_FIELD_U64:
                rc = sqlite3_bind_int64(st, i, (int64_t)tide_row_u64(r, c));
                break;
            case TIDE_FIELD_F64:
                rc = sqlite3_bind_double(st, i, tide_row_f64(r, c));
                break;
            default:
                rc = sqlite3_bind_int(st, i, tide_row_bool(r, c));
                break;
            }
        }
        return rc;
    }
}

static int bind_row(sqlite3_stmt *st, const tide_row *r)
{
    for (uint32_t c = 0; c < r->schema->n; c++) {
        int rc = bind_col(st, (int)c + 1, r, c);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int lite_row(fx_db *db, int view, const tide_row *r, int64_t diff, tide_error *e)
{
    lite *l = db->impl;
    const fx_view *v = &db->v->views[view];
    stmts *s = &l->s[view];
    if (diff > 0) {
        if (bind_row(s->ins, r) != SQLITE_OK) return fail(db, e, "binding a row");
        for (int64_t i = 0; i < diff; i++)
            if (run(s->ins) != SQLITE_OK) return fail(db, e, v->table);
        return TIDE_OK;
    }
    if (v->primary_key >= 0) {
        if (bind_col(s->del, v->primary_key + 1, r, (uint32_t)v->primary_key) != SQLITE_OK)
            return fail(db, e, "binding a row");
    } else {
        if (bind_row(s->del, r) != SQLITE_OK ||
            sqlite3_bind_int64(s->del, (int)r->schema->n + 1, -diff) != SQLITE_OK)
            return fail(db, e, "binding a row");
    }
    if (run(s->del) != SQLITE_OK) return fail(db, e, v->table);
    return TIDE_OK;
}

static int lite_update(fx_db *db, int view, const tide_row *r, tide_error *e)
{
    lite *l = db->impl;
    sqlite3_stmt *st = l->s[view].upd;
    if (bind_row(st, r) != SQLITE_OK) return fail(db, e, "binding a row");
    if (run(st) != SQLITE_OK) return fail(db, e, db->v->views[view].table);
    return TIDE_OK;
}

static int lite_offset(fx_db *db, int view, const char *stream, size_t n, int64_t off,
                       tide_error *e)
{
    lite *l = db->impl;
    sqlite3_stmt *st = l->s[view].off;
    if (sqlite3_bind_text(st, 1, stream, (int)n, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, off) != SQLITE_OK || run(st) != SQLITE_OK)
        return fail(db, e, "writing offsets");
    return TIDE_OK;
}

static int lite_query(fx_db *db, const char *sql, void (*fn)(void *, const char *, int64_t),
                      void *ctx, tide_error *e)
{
    lite *l = db->impl;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->h, sql, -1, &st, NULL) != SQLITE_OK) return fail(db, e, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? TIDE_OK : fail(db, e, sql);
}

static int prepare(fx_db *db, const char *sql, sqlite3_stmt **st, tide_error *e)
{
    lite *l = db->impl;
    if (sqlite3_prepare_v3(l->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail(db, e, sql);
    return TIDE_OK;
}

static int lite_prepare(fx_db *db, tide_error *e)
{
    lite *l = db->impl;
    l->nviews = db->v->n;
    l->s = calloc((size_t)l->nviews, sizeof *l->s);
    if (l->s == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    for (int i = 0; i < l->nviews; i++) {
        const fx_view *v = &db->v->views[i];
        const tide_schema *s = v->schema;
        char sql[2048];
        int n = snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (", v->table);
        for (uint32_t c = 0; c < s->n; c++)
            n += snprintf(sql + n, sizeof sql - n, "%s?", c ? "," : "");
        snprintf(sql + n, sizeof sql - n, ")");
        TIDE_TRY(prepare(db, sql, &l->s[i].ins, e));
        if (fx_db_update_sql(v, '?', sql, sizeof sql)) TIDE_TRY(prepare(db, sql, &l->s[i].upd, e));
        if (v->primary_key >= 0) {
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = ?%d", v->table,
                     s->names[v->primary_key], v->primary_key + 1);

        } else {
            n = snprintf(sql, sizeof sql,
                         "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE ", v->table,
                         v->table);
            for (uint32_t c = 0; c < s->n; c++)
                n += snprintf(sql + n, sizeof sql - n, "%s%s IS ?%u", c ? " AND " : "", s->names[c],
                              c + 1);
            snprintf(sql + n, sizeof sql - n, " LIMIT ?%u)", s->n + 1);
        }
        TIDE_TRY(prepare(db, sql, &l->s[i].del, e));
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s_offsets (stream, \"offset\") VALUES (?1, ?2) ON CONFLICT(stream) "
                 "DO UPDATE SET \"offset\" = excluded.\"offset\"",
                 v->table);
        TIDE_TRY(prepare(db, sql, &l->s[i].off, e));
    }
    return TIDE_OK;
}

static void lite_close(fx_db *db)
{
    lite *l = db->impl;
    if (l == NULL) return;
    for (int i = 0; l->s && i < l->nviews; i++) {
        sqlite3_finalize(l->s[i].ins);
        sqlite3_finalize(l->s[i].del);
        sqlite3_finalize(l->s[i].off);
        sqlite3_finalize(l->s[i].upd);
    }
    free(l->s);
    sqlite3_close(l->h);
    free(l->path);
    free(l);
    db->impl = NULL;
}

static const fx_db_ops LITE = {lite_exec,   lite_begin,    lite_row,   lite_update,  lite_offset,
                               lite_commit, lite_rollback, lite_query, lite_prepare, lite_close};

int fx_db_sqlite_open(fx_db *db, const char *path, tide_error *e)
{
    lite *l = calloc(1, sizeof *l);
    if (l == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    l->path = strdup(path);
    /* Options after '?', '&'-separated: synchronous=off (no fsync at all:
     * tests, scratch exports; still safe against a killed process, not
     * against a power cut), max_page_count=N (a size limit: a full "disk"). */
    bool sync_off = false;
    long max_pages = 0;
    char *q = strchr(l->path, '?');
    if (q) {
        *q++ = 0;
        for (char *opt = strtok(q, "&"); opt; opt = strtok(NULL, "&")) {
            if (strcmp(opt, "synchronous=off") == 0)
                sync_off = true;
            else if (strncmp(opt, "max_page_count=", 15) == 0)
                max_pages = atol(opt + 15);
        }
    }
    path = l->path;
    db->impl = l;
    db->ops = &LITE;
    /* One thread at a time uses the handle (the writer): no per-call mutex
     * (NOMUTEX), and no global lock around every allocation for memory
     * statistics nobody reads (refused, harmlessly, once SQLite is
     * initialised: the first open of the process decides). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_open_v2(path, &l->h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = fail(db, e, "open");
        lite_close(db);
        return rc;
    }
    sqlite3_busy_timeout(l->h, 5000);
    /* WAL + NORMAL: a killed process never loses a committed transaction. */
    int rc = lite_exec(db, "PRAGMA journal_mode=WAL", e);
    /* A 64 MiB page cache: the view tables' b-trees stay in memory. */
    if (rc == TIDE_OK) rc = lite_exec(db, "PRAGMA cache_size=-65536", e);
    if (rc == TIDE_OK && max_pages > 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count=%ld", max_pages);
        rc = lite_exec(db, sql, e);
    }
    if (rc == TIDE_OK)
        rc = lite_exec(db, sync_off ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL", e);
    if (rc < 0) lite_close(db);
    return rc;
}
