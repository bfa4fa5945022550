/*
 * test_since.c - the exporter's --since window (window.h): the tables equal
 * oracle.c's views of the events within the window of the newest
 * timestamp, at W=1 and W=2, at random batch sizes; after stops at random
 * batches each committed state equals the oracle's window of that log
 * prefix, and the restarted run ends equal to the uninterrupted one. A
 * restart with another --since (or none) rebuilds the views: the tables
 * are then the new window's, never a mix.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "gen.h"
#include "oracle.h"
#include "tide_test.h"
#include "window.h"

#define HOUR 3600000000LL

typedef struct since_case {
    char dir[64], log[128], db[128], url[160];
} since_case;

/* A generated JSON log of @events events (the clock advances 1-60 s per event). */
static void since_setup(since_case *c, uint64_t seed, uint64_t events)
{
    scratch_dir(c->dir, "since");
    snprintf(c->log, sizeof c->log, "%s/log.jsonl", c->dir);
    snprintf(c->db, sizeof c->db, "%s/out.db", c->dir);
    snprintf(c->url, sizeof c->url, "sqlite:%s", c->db);
    fx_gen_opts g = {
        .machines = 5, .workers = 4, .orders = 7, .events = events, .seed = seed, .skew_ms = 5000};
    FILE *f = fopen(c->log, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
}

static void since_teardown(since_case *c)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    cr_assert_eq(system(cmd), 0);
}

static fx_export_stats since_export(since_case *c, int64_t since, uint32_t workers, uint32_t batch,
                                    uint64_t max_batches)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {c->log};
    o.events = ev, o.nevents = 1, o.db = c->url, o.batch = batch, o.since_us = since;
    o.cfg.workers = workers, o.cfg.pin = 0, o.max_batches = max_batches;
    fx_export_stats st;
    tide_error e = {0};
    cr_assert_eq(fx_export(&o, &st, &e), TIDE_OK, "%s", e.msg);
    return st;
}

/* The database equals the oracle's window of the first @limit lines. */
static void since_check(since_case *c, int64_t since, size_t limit, const char *what)
{
    orows want = {0}, got = {0};
    oracle_tables_since(c->log, limit, 0, since, &want);
    cr_assert(db_tables(c->db, &got), "%s: reading %s", what, c->db);
    cr_assert(orows_equal(&want, &got, what), "%s: tables differ from the oracle", what);
    orows_free(&want), orows_free(&got);
}

/* The window must matter: fewer view rows than without it, but some. */
static void since_not_vacuous(since_case *c, int64_t since)
{
    orows all = {0}, win = {0};
    oracle_tables_since(c->log, SIZE_MAX, 0, 0, &all);
    oracle_tables_since(c->log, SIZE_MAX, 0, since, &win);
    cr_assert_lt(win.n, all.n, "the window drops no row");
    cr_assert_gt(win.n, 20, "the window leaves only %zu rows", win.n);
    orows_free(&all), orows_free(&win);
}

static void since_views(uint32_t workers, uint64_t salt)
{
    tide_rng r = {tide_test_seed("exporter since", salt)};
    since_case c;
    since_setup(&c, r.s, 2000 + tide_rng_below(&r, 1000));
    int64_t since = (int64_t)(1 + tide_rng_below(&r, 6)) * HOUR;
    since_not_vacuous(&c, since);
    uint32_t batch = 1 + (uint32_t)tide_rng_below(&r, 200);
    since_export(&c, since, workers, batch, 0);
    since_check(&c, since, SIZE_MAX, "since");
    since_teardown(&c);
}

Test(since, views_w1)
{
    since_views(1, 1);
    since_views(1, 2);
}

Test(since, views_w2)
{
    since_views(2, 3);
}

Test(since, restart_equals_uninterrupted)
{
    tide_rng r = {tide_test_seed("exporter since restart", 4)};
    since_case c;
    since_setup(&c, r.s, 2500);
    int64_t since = (int64_t)(1 + tide_rng_below(&r, 4)) * HOUR;
    uint32_t batch = 50 + (uint32_t)tide_rng_below(&r, 100);
    /* Stops at random batches: each committed state is the window of the
     * lines read so far (the reader reads lines in order). */
    size_t lines = 0;
    for (int k = 0; k < 3; k++) {
        uint64_t stop = 1 + tide_rng_below(&r, 6);
        fx_export_stats st = since_export(&c, since, 1 + (uint32_t)(k % 2), batch, stop);
        cr_assert_eq(st.replayed, lines, "restart %d replayed %llu of %zu", k,
                     (unsigned long long)st.replayed, lines);
        lines += st.events;
        since_check(&c, since, lines, "since after a stop");
    }
    since_export(&c, since, 2, batch, 0);
    since_check(&c, since, SIZE_MAX, "since restarted");
    since_teardown(&c);
}

Test(since, changed_window_rebuilds)
{
    tide_rng r = {tide_test_seed("exporter since changed", 5)};
    since_case c;
    since_setup(&c, r.s, 2500);
    int64_t since = (int64_t)(1 + tide_rng_below(&r, 4)) * HOUR;
    uint32_t batch = 50 + (uint32_t)tide_rng_below(&r, 100);
    /* Part of the log without a window, then another window, another, none. */
    fx_export_stats st = since_export(&c, 0, 1, batch, 1 + tide_rng_below(&r, 6));
    since_check(&c, 0, st.events, "no window, stopped");
    int64_t windows[3] = {since, since + HOUR, 0};
    for (int k = 0; k < 3; k++) {
        st = since_export(&c, windows[k], 1 + (uint32_t)(k % 2), batch, 0);
        cr_assert_eq(st.replayed, 0, "window %d: the views were not rebuilt (%llu replayed)", k,
                     (unsigned long long)st.replayed);
        since_check(&c, windows[k], SIZE_MAX, "after a changed --since");
    }
    /* The same window again keeps the tables (nothing to do). */
    st = since_export(&c, 0, 1, batch, 0);
    cr_assert_eq(st.events, 0);
    since_check(&c, 0, SIZE_MAX, "unchanged --since");
    since_teardown(&c);
}

/* tide-export's flags: each bad value is refused, naming its flag. */
Test(since, export_args_refused)
{
    static const char *const bad[][3] = {
        {"--batch", "abc", "--batch abc"},
        {"--batch", "0", "--batch 0"},
        {"--batch", "-5", "--batch -5"},
        {"--snapshot-every", "-1", "--snapshot-every -1"},
        {"--snapshot-every", "x", "--snapshot-every x"},
        {"--since", "5", "--since 5"},
        {"--since", "0d", "--since 0d"},
        {"--max-batches", "1x", "--max-batches 1x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[] = {"tide-export", "--events",        "f.jsonl",        "--db",
                        "sqlite:f.db", (char *)bad[i][0], (char *)bad[i][1]};
        fx_export_opts o;
        fx_export_opts_init(&o);
        tide_error e = {0};
        cr_assert_eq(fx_export_args(7, argv, &o, &e), TIDE_EINVAL, "%s accepted", bad[i][2]);
        cr_assert(strstr(e.msg, bad[i][2]) != NULL, "'%s' does not name '%s'", e.msg, bad[i][2]);
        free(o.events);
    }
    char *last[] = {"tide-export", "--events", "f.jsonl", "--db"};
    fx_export_opts o;
    fx_export_opts_init(&o);
    tide_error e = {0};
    cr_assert_eq(fx_export_args(4, last, &o, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "--db needs a value") != NULL, "%s", e.msg);
    free(o.events);
}

Test(since, durations)
{
    int64_t us = 0;
    cr_assert_eq(fx_parse_duration("365d", &us), TIDE_OK);
    cr_assert_eq(us, 365LL * 86400 * 1000000);
    cr_assert_eq(fx_parse_duration("90m", &us), TIDE_OK);
    cr_assert_eq(us, 90LL * 60 * 1000000);
    cr_assert_eq(fx_parse_duration("2h", &us), TIDE_OK);
    cr_assert_eq(us, 2 * HOUR);
    cr_assert_eq(fx_parse_duration("7s", &us), TIDE_OK);
    cr_assert_eq(us, 7000000);
    const char *bad[] = {"", "d", "0d", "-1d", "3w", "3dd", "99999999999999999999d", "5", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(fx_parse_duration(bad[i], &us), TIDE_EINVAL, "'%s' accepted", bad[i]);
}
