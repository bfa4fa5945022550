/*
 * db_pg.c - the PostgreSQL backend of the writer (db.h), over libpq.
 *
 * A transaction is sent in pipeline mode: BEGIN, every row's prepared
 * insert or delete, the offsets' upserts, COMMIT, without waiting for each
 * answer (batched prepared statements: one round trip per ~1000
 * statements, at the sync points that drain the answers). A sync inside an
 * explicit transaction commits nothing, so a lost connection or a server
 * restart anywhere before the COMMIT's answer leaves no trace of the
 * transaction: the error names the server and the exporter stops; a
 * restart continues from the committed offsets.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#ifdef TIDE_HAVE_LIBPQ
#include <libpq-fe.h>

#define SYNC_EVERY 1000

typedef struct pg {
    PGconn *c;
    char *url;
    int nviews;
    int pending;  /* statements sent since the last sync */
    bool in_pipe; /* a transaction is being sent */
} pg;

static int fail(fx_db *db, tide_error *e, const char *what)
{
    pg *p = db->impl;
    char msg[200];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->c));
    msg[strcspn(msg, "\n")] = 0;
    /* Never print the URL's password: name the server by host and port. */
    return tide_err_set(e, TIDE_EIO, "postgresql %s:%s: %s: %s", PQhost(p->c) ? PQhost(p->c) : "?",
                        PQport(p->c) ? PQport(p->c) : "?", what, msg);
}

static int pg_exec(fx_db *db, const char *sql, tide_error *e)
{
    pg *p = db->impl;
    PGresult *r = PQexec(p->c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(db, e, sql);
    return TIDE_OK;
}

/* Read every answer up to the next sync point; the first error wins. */
static int drain(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    int rc = TIDE_OK;
    for (;;) {
        PGresult *r = PQgetResult(p->c);
        if (r == NULL) {
            if (PQstatus(p->c) != CONNECTION_OK) return rc < 0 ? rc : fail(db, e, "connection");
            continue; /* the end of one statement's results */
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) break;
        if (st == PGRES_FATAL_ERROR && rc == TIDE_OK) rc = fail(db, e, "transaction");
        if (st == PGRES_PIPELINE_ABORTED && rc == TIDE_OK)
            rc = tide_err_set(e, TIDE_EIO, "postgresql: transaction aborted");
    }
    p->pending = 0;
    return rc;
}

static int sync_point(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    if (PQpipelineSync(p->c) != 1) return fail(db, e, "sync");
    return drain(db, e);
}

static int sent(fx_db *db, int ok, tide_error *e)
{
    pg *p = db->impl;
    if (!ok) return fail(db, e, "sending a statement");
    if (++p->pending >= SYNC_EVERY) return sync_point(db, e);
    return TIDE_OK;
}

static int pg_begin(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    if (PQenterPipelineMode(p->c) != 1) return fail(db, e, "pipeline mode");
    p->in_pipe = true;
    return sent(db, PQsendQueryParams(p->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0), e);
}

static void leave_pipe(fx_db *db)
{
    pg *p = db->impl;
    if (!p->in_pipe) return;
    PQexitPipelineMode(p->c);
    p->in_pipe = false;
}

static int pg_commit(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    int rc = sent(db, PQsendQueryParams(p->c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0), e);
    if (rc == TIDE_OK) rc = sync_point(db, e);
    leave_pipe(db);
    return rc;
}

static int pg_rollback(fx_db *db)
{
    pg *p = db->impl;
    if (p->in_pipe) {
        tide_error e;
        PQsendQueryParams(p->c, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
        sync_point(db, &e);
        leave_pipe(db);
        return TIDE_OK;
    }
    return pg_exec(db, "ROLLBACK", NULL) == TIDE_OK ? TIDE_OK : TIDE_EIO;
}

/* Text parameters of row @r into @vals (NULL for NULL), storage in @buf. */
static void params(const tide_row *r, const char **vals, char *buf, size_t cap)
{
    char *b = buf, *end = buf + cap;
    for (uint32_t c = 0; c < r->schema->n; c++) {
        vals[c] = NULL;
        if (tide_row_is_null(r, c)) continue;
        int n = 0;
        switch (r->schema->types[c] & ~TIDE_FIELD_NULLABLE) {
        case TIDE_FIELD_STR: {
            uint32_t l;
            tide_rowbuf scratch;
            tide_rowbuf_init(&scratch);
            const char *s = tide_row_str(r, c, &l, &scratch);
            n = snprintf(b, (size_t)(end - b), "%.*s", (int)l, s ? s : "");
            tide_rowbuf_fini(&scratch);
            break;
        }
        case TIDE_FIELD_I64:
            n = snprintf(b, (size_t)(end - b), "%" PRId64, tide_row_i64(r, c));
            break;
        case TIDE_FIELD_U64:
            n = snprintf(b, (size_t)(end - b), "%" PRIu64, tide_row_u64(r, c));
            break;
        case TIDE_FIELD_F64:
            n = snprintf(b, (size_t)(end - b), "%.17g", tide_row_f64(r, c));
            break;
        default:
            n = snprintf(b, (size_t)(end - b), "%s", tide_row_bool(r, c) ? "t" : "f");
            break;
        }
        vals[c] = b;
        b += n + 1 < end - b ? n + 1 : 0;
    }
}

static int pg_row(fx_db *db, int view, const tide_row *r, int64_t diff, tide_error *e)
{
    pg *p = db->impl;
    const fx_view *v = &db->v->views[view];
    const char *vals[TIDE_ROW_MAX_FIELDS + 1];
    char buf[4096], name[64], lim[24];
    params(r, vals, buf, sizeof buf);
    if (diff > 0) {
        snprintf(name, sizeof name, "ins_%d", view);
        for (int64_t i = 0; i < diff; i++)
            TIDE_TRY(sent(
                db, PQsendQueryPrepared(p->c, name, (int)r->schema->n, vals, NULL, NULL, 0), e));
        return TIDE_OK;
    }
    /* A row without NULLs takes the '=' statement: it can use the index
     * (IS NOT DISTINCT FROM cannot). */
    bool has_null = false;
    for (uint32_t c = 0; c < r->schema->n; c++) has_null |= vals[c] == NULL;
    snprintf(name, sizeof name, "%s_%d", has_null ? "del" : "deleq", view);
    if (v->primary_key >= 0)
        return sent(db, PQsendQueryPrepared(p->c, name, 1, &vals[v->primary_key], NULL, NULL, 0),
                    e);
    snprintf(lim, sizeof lim, "%" PRId64, -diff);
    vals[r->schema->n] = lim;
    return sent(db, PQsendQueryPrepared(p->c, name, (int)r->schema->n + 1, vals, NULL, NULL, 0), e);
}

static int pg_update(fx_db *db, int view, const tide_row *r, tide_error *e)
{
    pg *p = db->impl;
    const char *vals[TIDE_ROW_MAX_FIELDS + 1];
    char buf[4096], name[32];
    params(r, vals, buf, sizeof buf);
    snprintf(name, sizeof name, "upd_%d", view);
    return sent(db, PQsendQueryPrepared(p->c, name, (int)r->schema->n, vals, NULL, NULL, 0), e);
}

static int pg_offset(fx_db *db, int view, const char *stream, size_t n, int64_t off, tide_error *e)
{
    pg *p = db->impl;
    char s[512], o[24], name[32];
    snprintf(s, sizeof s, "%.*s", (int)n, stream);
    snprintf(o, sizeof o, "%" PRId64, off);
    snprintf(name, sizeof name, "off_%d", view);
    const char *vals[2] = {s, o};
    return sent(db, PQsendQueryPrepared(p->c, name, 2, vals, NULL, NULL, 0), e);
}

static int pg_query(fx_db *db, const char *sql, void (*fn)(void *, const char *, int64_t),
                    void *ctx, tide_error *e)
{
    pg *p = db->impl;
    PGresult *r = PQexec(p->c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return fail(db, e, sql);
    }
    for (int i = 0; i < PQntuples(r); i++)
        fn(ctx, PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return TIDE_OK;
}

static int prep(fx_db *db, const char *name, const char *sql, int n, tide_error *e)
{
    pg *p = db->impl;
    PGresult *r = PQprepare(p->c, name, sql, n, NULL);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK ? TIDE_OK : fail(db, e, sql);
}

static int pg_prepare(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    p->nviews = db->v->n;
    for (int i = 0; i < db->v->n; i++) {
        const fx_view *v = &db->v->views[i];
        const tide_schema *s = v->schema;
        char sql[2048], name[32];
        int n = snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (", v->table);
        for (uint32_t c = 0; c < s->n; c++)
            n += snprintf(sql + n, sizeof sql - n, "%s$%u", c ? "," : "", c + 1);
        snprintf(sql + n, sizeof sql - n, ")");
        snprintf(name, sizeof name, "ins_%d", i);
        TIDE_TRY(prep(db, name, sql, (int)s->n, e));
        snprintf(name, sizeof name, "upd_%d", i);
        if (fx_db_update_sql(v, '$', sql, sizeof sql)) TIDE_TRY(prep(db, name, sql, (int)s->n, e));
        if (v->primary_key >= 0) {
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = $1", v->table,
                     s->names[v->primary_key]);
        } else {
            n = snprintf(sql, sizeof sql,
                         "DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s WHERE ", v->table,
                         v->table);
            for (uint32_t c = 0; c < s->n; c++) {
                bool not_null = strstr(v->sql_types[c], "NOT NULL") != NULL;
                n += snprintf(sql + n, sizeof sql - n, "%s%s %s $%u", c ? " AND " : "", s->names[c],
                              not_null ? "=" : "IS NOT DISTINCT FROM", c + 1);
            }
            snprintf(sql + n, sizeof sql - n, " LIMIT $%u)", s->n + 1);
        }
        snprintf(name, sizeof name, "del_%d", i);
        TIDE_TRY(prep(db, name, sql, v->primary_key >= 0 ? 1 : (int)s->n + 1, e));
        if (v->primary_key < 0) {
            n = snprintf(sql, sizeof sql,
                         "DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s WHERE ", v->table,
                         v->table);
            for (uint32_t c = 0; c < s->n; c++)
                n += snprintf(sql + n, sizeof sql - n, "%s%s = $%u", c ? " AND " : "", s->names[c],
                              c + 1);
            snprintf(sql + n, sizeof sql - n, " LIMIT $%u)", s->n + 1);
        }
        snprintf(name, sizeof name, "deleq_%d", i);
        TIDE_TRY(prep(db, name, sql, v->primary_key >= 0 ? 1 : (int)s->n + 1, e));
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s_offsets (stream, \"offset\") VALUES ($1, $2) ON CONFLICT (stream) "
                 "DO UPDATE SET \"offset\" = EXCLUDED.\"offset\"",
                 v->table);
        snprintf(name, sizeof name, "off_%d", i);
        TIDE_TRY(prep(db, name, sql, 2, e));
    }
    return TIDE_OK;
}

/* Outside a pipeline, the backend-independent code runs statements one by
 * one (schema changes at open): begin/commit there are plain BEGIN/COMMIT. */
static int pg_begin_plain(fx_db *db, tide_error *e)
{
    return pg_exec(db, "BEGIN", e);
}

static int pg_commit_plain(fx_db *db, tide_error *e)
{
    return pg_exec(db, "COMMIT", e);
}

static void pg_close(fx_db *db)
{
    pg *p = db->impl;
    if (p == NULL) return;
    PQfinish(p->c);
    free(p->url);
    free(p);
    db->impl = NULL;
}

static int pg_begin_any(fx_db *db, tide_error *e);
static int pg_commit_any(fx_db *db, tide_error *e);

static const fx_db_ops PG = {pg_exec,       pg_begin_any, pg_row,   pg_update,  pg_offset,
                             pg_commit_any, pg_rollback,  pg_query, pg_prepare, pg_close};

/* Before the statements are prepared (fx_db_open's schema work) a
 * transaction is plain; afterwards every transaction is pipelined. */
static int pg_begin_any(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    return p->nviews ? pg_begin(db, e) : pg_begin_plain(db, e);
}

static int pg_commit_any(fx_db *db, tide_error *e)
{
    pg *p = db->impl;
    return p->nviews ? pg_commit(db, e) : pg_commit_plain(db, e);
}

int fx_db_pg_open(fx_db *db, const char *url, tide_error *e)
{
    pg *p = calloc(1, sizeof *p);
    if (p == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    p->url = strdup(url);
    db->impl = p;
    db->ops = &PG;
    db->bigint = true;
    p->c = PQconnectdb(url);
    if (PQstatus(p->c) != CONNECTION_OK) {
        int rc = fail(db, e, "connect");
        pg_close(db);
        return rc;
    }
    PGresult *r = PQexec(p->c, "SET client_min_messages = warning");
    PQclear(r);
    return TIDE_OK;
}

#else

int fx_db_pg_open(fx_db *db, const char *url, tide_error *e)
{
    return tide_err_set(e, TIDE_EINVAL, "PostgreSQL support was not built (no libpq)");
}

#endif
