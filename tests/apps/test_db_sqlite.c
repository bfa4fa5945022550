/*
 * test_db_sqlite.c - the writer's keyed views (db.c coalesces a key's
 * changes until the commit: UPDATE, INSERT, DELETE or nothing): a table
 * with a primary key (the dashboard) and one with a three-column unique key
 * (bookings) get random deletes, inserts and replacements of rows in
 * transactions of random length, some rolled back, through fx_db_row; the
 * table must equal a naive model of the committed operations after every
 * commit. A second row for a key is refused with the table's name.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "tide_test.h"
#include "views.h"

#define MACHINES 12

typedef struct dash_row {
    bool present;
    int state;  /* 0 idle (NULL order), 1 working */
    int order;  /* when working */
    long since; /* the row's timestamp */
} dash_row;

static int write_row(fx_db *db, const tide_schema *s, int m, const dash_row *d, int64_t diff)
{
    char machine[16], order[16];
    snprintf(machine, sizeof machine, "M%d", m);
    snprintf(order, sizeof order, "O%d", d->order);
    tide_rowbuf rb;
    tide_rowbuf_init(&rb);
    tide_row_builder b;
    tide_row_begin(&b, s, &rb);
    tide_row_add_str(&b, machine, strlen(machine));
    tide_row_add_str(&b, d->state ? "working" : "idle", d->state ? 7 : 4);
    if (d->state)
        tide_row_add_str(&b, order, strlen(order));
    else
        tide_row_add_null(&b);
    tide_row_add_i64(&b, d->since);
    int rc = tide_row_end(&b);
    tide_error e = {0};
    if (rc == TIDE_OK) rc = fx_db_row(db, 0, rb.data, rb.len, diff, &e);
    if (rc < 0) fprintf(stderr, "write_row: %s\n", e.msg);
    tide_rowbuf_fini(&rb);
    return rc;
}

/* The table equals @model. */
static void check_table(const char *path, const dash_row *model)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT machine, state, manufacturing_order, since FROM "
                                    "dashboard",
                                    -1, &st, NULL),
                 SQLITE_OK);
    bool seen[MACHINES] = {0};
    int rows = 0, want = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int m = atoi((const char *)sqlite3_column_text(st, 0) + 1);
        cr_assert(m >= 0 && m < MACHINES && !seen[m], "machine %d twice or unknown", m);
        seen[m] = true;
        rows++;
        const dash_row *d = &model[m];
        cr_assert(d->present, "M%d in the table, deleted in the model", m);
        cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), d->state ? "working" : "idle");
        if (d->state)
            cr_assert_eq(atoi((const char *)sqlite3_column_text(st, 2) + 1), d->order);
        else
            cr_assert_eq(sqlite3_column_type(st, 2), SQLITE_NULL);
        cr_assert_eq(sqlite3_column_int64(st, 3), d->since);
    }
    for (int m = 0; m < MACHINES; m++) want += model[m].present;
    cr_assert_eq(rows, want, "rows %d, model %d", rows, want);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

Test(db_sqlite, held_back_deletes_equal_naive)
{
    tide_rng r = {tide_test_seed("db_sqlite held deletes", 31)};
    char path[64], url[128], cmd[256];
    snprintf(path, sizeof path, "/tmp/tide_test_db_sqlite_%d.db", (int)getpid());
    snprintf(url, sizeof url, "sqlite:%s?synchronous=off", path);
    snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm", path, path, path);
    cr_assert_eq(system(cmd), 0);
    tide_error e = {0};
    fx_db *db = fx_db_open(url, &FX_FACTORY_VIEWS, 0, &e);
    cr_assert_not_null(db, "%s", e.msg);
    const tide_schema *s = FX_FACTORY_VIEWS.views[0].schema;
    cr_assert_str_eq(FX_FACTORY_VIEWS.views[0].table, "dashboard");
    dash_row committed[MACHINES] = {0}, cur[MACHINES];
    long clock = 1;
    for (int txn = 0; txn < 200; txn++) {
        memcpy(cur, committed, sizeof cur);
        cr_assert_eq(fx_db_begin(db, &e), TIDE_OK, "%s", e.msg);
        int ops = (int)tide_rng_below(&r, 12);
        for (int i = 0; i < ops; i++) {
            int m = (int)tide_rng_below(&r, MACHINES);
            dash_row *d = &cur[m];
            /* As the writer does: a changed row is a delete, then an insert. */
            int what = (int)tide_rng_below(&r, 3); /* 0 delete, 1 replace, 2 insert */
            if (d->present && what != 2) {
                cr_assert_eq(write_row(db, s, m, d, -1), TIDE_OK);
                d->present = false;
            }
            if (!d->present && what != 0) {
                d->present = true;
                d->state = (int)tide_rng_below(&r, 2);
                d->order = (int)tide_rng_below(&r, 50);
                d->since = clock++;
                cr_assert_eq(write_row(db, s, m, d, 1), TIDE_OK);
            }
        }
        if (tide_rng_below(&r, 8) == 0) {
            cr_assert_eq(fx_db_rollback(db), TIDE_OK);
        } else {
            cr_assert_eq(fx_db_commit(db, &e), TIDE_OK, "%s", e.msg);
            memcpy(committed, cur, sizeof cur);
        }
        check_table(path, committed);
    }
    fx_db_close(db);
    cr_assert_eq(system(cmd), 0);
}

/* ---- bookings: a three-column key (order, step, resource) ------------------- */

#define BKEYS 18 /* 3 orders x 2 steps x 3 resources */

static int write_booking(fx_db *db, int k, long dur, int64_t diff, tide_error *e)
{
    const tide_schema *s = FX_FACTORY_VIEWS.views[2].schema;
    char o[16], st[16], res[16];
    snprintf(o, sizeof o, "O%d", k / 6);
    snprintf(st, sizeof st, "S%d", k / 3 % 2);
    snprintf(res, sizeof res, "R%d", k % 3);
    tide_rowbuf rb;
    tide_rowbuf_init(&rb);
    tide_row_builder b;
    tide_row_begin(&b, s, &rb);
    tide_row_add_str(&b, o, strlen(o));
    tide_row_add_str(&b, st, strlen(st));
    tide_row_add_str(&b, res, strlen(res));
    tide_row_add_i64(&b, dur);
    int rc = tide_row_end(&b);
    if (rc == TIDE_OK) rc = fx_db_row(db, 2, rb.data, rb.len, diff, e);
    tide_rowbuf_fini(&rb);
    return rc;
}

static void check_bookings(const char *path, const long *model)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT manufacturing_order, step, resource, duration_micros "
                                    "FROM bookings",
                                    -1, &st, NULL),
                 SQLITE_OK);
    int rows = 0, want = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int k = atoi((const char *)sqlite3_column_text(st, 0) + 1) * 6 +
                atoi((const char *)sqlite3_column_text(st, 1) + 1) * 3 +
                atoi((const char *)sqlite3_column_text(st, 2) + 1);
        cr_assert(k >= 0 && k < BKEYS && model[k] >= 0, "key %d in the table, not in the model", k);
        cr_assert_eq(sqlite3_column_int64(st, 3), model[k], "key %d", k);
        rows++;
    }
    for (int k = 0; k < BKEYS; k++) want += model[k] >= 0;
    cr_assert_eq(rows, want, "rows %d, model %d", rows, want);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

Test(db_sqlite, keyed_bookings_equal_naive)
{
    tide_rng r = {tide_test_seed("db_sqlite keyed bookings", 37)};
    char path[64], url[128], cmd[256];
    snprintf(path, sizeof path, "/tmp/tide_test_db_keyed_%d.db", (int)getpid());
    snprintf(url, sizeof url, "sqlite:%s?synchronous=off", path);
    snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm", path, path, path);
    cr_assert_eq(system(cmd), 0);
    tide_error e = {0};
    fx_db *db = fx_db_open(url, &FX_FACTORY_VIEWS, 0, &e);
    cr_assert_not_null(db, "%s", e.msg);
    long committed[BKEYS], cur[BKEYS]; /* duration, or -1: no row */
    for (int k = 0; k < BKEYS; k++) committed[k] = -1;
    for (int txn = 0; txn < 300; txn++) {
        memcpy(cur, committed, sizeof cur);
        cr_assert_eq(fx_db_begin(db, &e), TIDE_OK, "%s", e.msg);
        int ops = (int)tide_rng_below(&r, 20);
        for (int i = 0; i < ops; i++) {
            int k = (int)tide_rng_below(&r, BKEYS);
            int what = (int)tide_rng_below(&r, 4); /* 0 delete, 1-2 replace, 3 insert */
            if (cur[k] >= 0 && what != 3) {
                cr_assert_eq(write_booking(db, k, cur[k], -1, &e), TIDE_OK, "%s", e.msg);
                cur[k] = -1;
            }
            if (cur[k] < 0 && what != 0) {
                /* Sometimes the same value again: a replacement that changes nothing. */
                cur[k] = (long)tide_rng_below(&r, 4) * 1000;
                cr_assert_eq(write_booking(db, k, cur[k], 1, &e), TIDE_OK, "%s", e.msg);
            }
        }
        if (tide_rng_below(&r, 8) == 0) {
            cr_assert_eq(fx_db_rollback(db), TIDE_OK);
        } else {
            cr_assert_eq(fx_db_commit(db, &e), TIDE_OK, "%s", e.msg);
            memcpy(committed, cur, sizeof cur);
        }
        check_bookings(path, committed);
    }
    /* A second row for a present key breaks the view's key: refused, named. */
    int k = 0;
    while (k < BKEYS && committed[k] < 0) k++;
    cr_assert_lt(k, BKEYS);
    cr_assert_eq(fx_db_begin(db, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(write_booking(db, k, 1, 1, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(write_booking(db, k, 2, 1, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "bookings") && strstr(e.msg, "key") &&
                  strstr(e.msg, "manufacturing_order='O"),
              "%s", e.msg);
    cr_assert_eq(fx_db_rollback(db), TIDE_OK);
    check_bookings(path, committed);
    fx_db_close(db);
    cr_assert_eq(system(cmd), 0);
}
