/*
 * db.h - where the views go: a SQL database with one table per view plus
 * <table>_offsets(stream TEXT PRIMARY KEY, "offset" INTEGER NOT NULL) and
 * one table_version(name TEXT PRIMARY KEY, version INTEGER NOT NULL).
 *
 * Protocol (docs/exporter.md): every change of a completed input batch is
 * written in ONE transaction together with the offsets it brings every
 * view to, so the tables always hold exactly the views of the events up
 * to their stored offsets. Opening checks each view's stored version; a
 * changed version drops and recreates that table and its offsets (the
 * view is then "fresh" and rebuilt from the log).
 *
 * URLs: sqlite:FILE (embedded), postgresql://... (libpq; see db_pg.c).
 * One connection, used from one thread.
 */
#ifndef FX_DB_H
#define FX_DB_H

#include "smap.h"
#include "views.h"

typedef struct fx_db fx_db;

/* Open @url and bring the tables of @v to their current versions, for
 * views computed over the window @since_s (--since in seconds, 0: none):
 * a view built with another version, or any view when the database's
 * views were computed with another window, is dropped and recreated
 * (fresh). NULL with @e (TIDE_EIO naming the database and the statement). */
fx_db *fx_db_open(const char *url, const fx_views *v, int64_t since_s, tide_error *e);
void fx_db_close(fx_db *db);

/* The stored offsets (of the views that have any; all such views hold the
 * same, being written together) into @offs, and per view whether it is
 * fresh (no offsets stored). */
int fx_db_offsets(fx_db *db, fx_smap *offs, bool *fresh, tide_error *e);

int fx_db_begin(fx_db *db, tide_error *e);
/* Insert (@diff > 0) or delete (@diff < 0) |@diff| copies of @row (a row
 * of view @view's schema). A view with a key (fx_db_key_columns) holds its
 * changes until the commit, one per key: a delete and an insert of the same
 * key become one UPDATE, an insert and a delete nothing; a second row for
 * a key, or a delete of a key without its row, is TIDE_EINVAL. */
int fx_db_row(fx_db *db, int view, const uint8_t *row, uint32_t len, int64_t diff, tide_error *e);
/* Set @view's offset of @stream (@n bytes). */
int fx_db_offset(fx_db *db, int view, const char *stream, size_t n, int64_t off, tide_error *e);
int fx_db_commit(fx_db *db, tide_error *e);
int fx_db_rollback(fx_db *db);

/* Backend interface (db_sqlite.c, db_pg.c). */
typedef struct fx_db_ops {
    int (*exec)(fx_db *db, const char *sql, tide_error *e);
    int (*begin)(fx_db *db, tide_error *e);
    int (*row)(fx_db *db, int view, const tide_row *r, int64_t diff, tide_error *e);
    /* A keyed view: set the non-key columns of @r's key's row to @r's
     * (called only when they differ, so never for a view whose every
     * column is key: fx_db_update_sql prepared nothing for it). */
    int (*update)(fx_db *db, int view, const tide_row *r, tide_error *e);
    int (*offset)(fx_db *db, int view, const char *stream, size_t n, int64_t off, tide_error *e);
    int (*commit)(fx_db *db, tide_error *e);
    int (*rollback)(fx_db *db);
    /* Run @sql (one text column, one integer column) calling @fn per row. */
    int (*query)(fx_db *db, const char *sql, void (*fn)(void *, const char *, int64_t), void *ctx,
                 tide_error *e);
    int (*prepare)(fx_db *db, tide_error *e); /* after the tables exist */
    void (*close)(fx_db *db);
} fx_db_ops;

typedef struct fx_keyed fx_keyed;

struct fx_db {
    const fx_db_ops *ops;
    const fx_views *v;
    void *impl;
    fx_keyed *keyed; /* per view: the transaction's changes by key (db.c) */
    bool bigint;     /* declare INTEGER columns as BIGINT (PostgreSQL's INTEGER is 32 bits) */
};

/* The key of view @v: its columns in @cols (at most TIDE_ROW_MAX_FIELDS),
 * their number returned (0: no key, rows may repeat). The primary key
 * column if there is one, else the first key_columns columns. */
int fx_db_key_columns(const fx_view *v, uint32_t *cols);

/* A keyed view's UPDATE of its non-key columns by key into @sql, its
 * parameters numbered as the columns with prefix @mark ('?' for SQLite,
 * '$' for PostgreSQL), a nullable key column compared with IS / IS NOT
 * DISTINCT FROM; false when the view has no key or every column is key. */
bool fx_db_update_sql(const fx_view *v, char mark, char *sql, size_t cap);

/* Backends: fill db->impl, db->ops. */
int fx_db_sqlite_open(fx_db *db, const char *path, tide_error *e);
int fx_db_pg_open(fx_db *db, const char *url, tide_error *e);

#endif /* FX_DB_H */
