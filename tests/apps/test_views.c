/*
 * test_views.c - a user's views as a plugin (tide/views.h): tide-export
 * runs views/example.so (apps/views/example.c) on a generated log, at W=1
 * and W=2, with a stop and a restart; its two tables equal a count made
 * here with jansson (events per payload type; events per machineFish
 * stream) and their offsets are the log's last. A missing plugin is a
 * usage error. Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gen.h"
#include "oracle.h"
#include "tide_test.h"
#include "views.h"

/* The oracle: "event_types|TYPE|N", "machine_events|STREAM|N" and
 * "offsets|STREAM|LAST" rows of JSON log @path. */
static void count_oracle(const char *path, orows *out)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    json_t *types = json_object(), *machines = json_object(), *offs = json_object();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o);
        const char *stream = json_string_value(json_object_get(o, "stream"));
        const char *type =
            json_string_value(json_object_get(json_object_get(o, "payload"), "type"));
        json_int_t off = json_integer_value(json_object_get(o, "offset"));
        json_object_set_new(types, type,
                            json_integer(json_integer_value(json_object_get(types, type)) + 1));
        json_t *tags = json_object_get(o, "tags");
        for (size_t i = 0; i < json_array_size(tags); i++)
            if (strcmp(json_string_value(json_array_get(tags, i)), "machineFish") == 0)
                json_object_set_new(
                    machines, stream,
                    json_integer(json_integer_value(json_object_get(machines, stream)) + 1));
        json_object_set_new(offs, stream, json_integer(off));
        json_decref(o);
    }
    free(line);
    fclose(f);
    const char *k;
    json_t *v;
    json_object_foreach(types, k, v)
        orows_add(out, "event_types|%s|%lld", k, (long long)json_integer_value(v));
    json_object_foreach(machines, k, v)
        orows_add(out, "machine_events|%s|%lld", k, (long long)json_integer_value(v));
    json_object_foreach(offs, k, v)
        orows_add(out, "offsets|%s|%lld", k, (long long)json_integer_value(v));
    json_decref(types), json_decref(machines), json_decref(offs);
    orows_sort(out);
}

static void query(sqlite3 *h, const char *sql, const char *prefix, orows *out)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    while (sqlite3_step(st) == SQLITE_ROW)
        orows_add(out, "%s|%s|%lld", prefix, (const char *)sqlite3_column_text(st, 0),
                  (long long)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
}

static void db_counts(const char *db, orows *out)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    query(h, "SELECT type, events FROM event_types", "event_types", out);
    query(h, "SELECT machine, events FROM machine_events", "machine_events", out);
    query(h, "SELECT stream, \"offset\" FROM event_types_offsets", "offsets", out);
    sqlite3_close(h);
    orows_sort(out);
}

static int run(const char *log, const char *db, const char *views, int w, int batch, int stop)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "%s/tide-export --events '%s' --db 'sqlite:%s' --views '%s' -w %d --batch %d "
             "--max-batches %d 2>/dev/null",
             TIDE_BUILD_DIR, log, db, views, w, batch, stop);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(views, plugin_tables_equal_a_count)
{
    tide_rng r = {tide_test_seed("exporter views plugin", 1)};
    char dir[64], log[128], db[128], plugin[600];
    scratch_dir(dir, "views");
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    snprintf(plugin, sizeof plugin, "%s/views/example.so", TIDE_BUILD_DIR);
    fx_gen_opts g = {.machines = 5,
                     .workers = 4,
                     .orders = 7,
                     .events = 1500 + tide_rng_below(&r, 1000),
                     .seed = r.s,
                     .skew_ms = 5000};
    FILE *f = fopen(log, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
    orows want = {0};
    count_oracle(log, &want);
    cr_assert_gt(want.n, 10);
    for (int w = 1; w <= 2; w++) {
        snprintf(db, sizeof db, "%s/out%d.db", dir, w);
        int batch = 20 + (int)tide_rng_below(&r, 200);
        /* A stop after a few batches, then the rest: a restart. */
        cr_assert_eq(run(log, db, plugin, w, batch, 1 + (int)tide_rng_below(&r, 5)), 0);
        cr_assert_eq(run(log, db, plugin, 3 - w, batch, 0), 0);
        orows got = {0};
        db_counts(db, &got);
        cr_assert(orows_equal(&want, &got, "views plugin"), "W=%d: tables differ", w);
        orows_free(&got);
    }
    orows_free(&want);
    snprintf(db, sizeof db, "%s/none.db", dir);
    cr_assert_eq(run(log, db, "/nonexistent/views.so", 1, 100, 0), 2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* fx_views_check (what fx_views_load asks of every plugin): keys must be
 * one kind and within the row; the factory views pass. */
Test(views, bad_keys_refused)
{
    cr_assert_null(fx_views_check(&FX_FACTORY_VIEWS));
    static const uint8_t T[] = {TIDE_FIELD_STR, TIDE_FIELD_I64};
    static const char *const N[] = {"name", "n"};
    static const char *const SQL[] = {"TEXT", "INTEGER"};
    static const tide_schema S = {2, T, N};
    static const tide_view both[] = {{"t", 1, &S, SQL, 0, 0, 1}};  /* primary key + key_columns */
    static const tide_view past[] = {{"t", 1, &S, SQL, -1, 0, 3}}; /* a key past the last column */
    static const tide_view good[] = {{"t", 1, &S, SQL, -1, 0, 1}};
    tide_views v = {both, 1, FX_FACTORY_VIEWS.build, TIDE_VIEWS_ABI};
    const char *why = fx_views_check(&v);
    cr_assert(why && strstr(why, "primary key and key_columns"), "%s", why ? why : "accepted");
    v.views = past;
    why = fx_views_check(&v);
    cr_assert(why && strstr(why, "past the last column"), "%s", why ? why : "accepted");
    v.views = good;
    cr_assert_null(fx_views_check(&v));
}
