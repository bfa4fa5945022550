/*
 * test_pg.c - the exporter into PostgreSQL, when TIDE_PG_URL names a server
 * (scripts/pg.sh start prints one; without it these tests skip): the same
 * oracle checks as test_exporter.c (W=1, W=2, restart after a stop, kill -9
 * inside a commit), plus a connection killed by the server mid-run
 * (pg_terminate_backend: what a server restart looks like to the client):
 * a clear error, no half-written transaction, and a rerun completes the
 * tables. Each test works in a database of its own.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export.h"
#include "gen.h"
#include "oracle.h"
#include "tide_test.h"

/* Skip the test (and return false) when no server is configured. */
#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        const char *u_ = getenv("TIDE_PG_URL");                                                    \
        if (u_ == NULL || *u_ == 0) {                                                              \
            cr_skip_test("TIDE_PG_URL is not set\n");                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A fresh database on the TIDE_PG_URL server; its URL into @url. */
static void fresh_db(char *url, size_t n, const char *name)
{
    const char *base = getenv("TIDE_PG_URL");
    PGconn *c = PQconnectdb(base);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    char db[64], sql[160];
    snprintf(db, sizeof db, "tide_%s_%d", name, (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* Replace the URL's database (after the last '/', before any '?'). */
    const char *q = strchr(base, '?'), *slash = strrchr(base, '/');
    cr_assert(slash != NULL && strncmp(base, "postgres", 8) == 0, "TIDE_PG_URL: %s", base);
    snprintf(url, n, "%.*s/%s%s", (int)(slash - base), base, db, q ? q : "");
}

static void pg_rows(PGconn *c, const char *table, const char *sql, orows *out)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    for (int i = 0; i < PQntuples(r); i++) {
        char buf[512];
        int n = snprintf(buf, sizeof buf, "%s", table);
        for (int j = 0; j < PQnfields(r); j++)
            n += snprintf(buf + n, sizeof buf - n, "|%s",
                          PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
        orows_add(out, "%s", buf);
    }
    PQclear(r);
}

static void check(const char *log, const char *url, const char *what)
{
    orows want = {0}, got = {0}, a = {0}, b = {0};
    oracle_tables(log, SIZE_MAX, 0, &want);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    pg_rows(c, "dashboard", "SELECT * FROM dashboard", &got);
    pg_rows(c, "usage", "SELECT * FROM usage", &got);
    pg_rows(c, "bookings", "SELECT * FROM bookings", &got);
    pg_rows(c, "offsets", "SELECT stream, \"offset\" FROM dashboard_offsets", &got);
    pg_rows(c, "offsets", "SELECT stream, \"offset\" FROM usage_offsets", &a);
    pg_rows(c, "offsets", "SELECT stream, \"offset\" FROM bookings_offsets", &b);
    PQfinish(c);
    orows_sort(&got), orows_sort(&a), orows_sort(&b);
    cr_assert_gt(want.n, 20);
    cr_assert(orows_equal(&want, &got, what), "%s: PostgreSQL tables differ from the oracle", what);
    cr_assert(orows_equal(&a, &b, what), "%s: offsets tables differ", what);
    orows_free(&want), orows_free(&got), orows_free(&a), orows_free(&b);
}

static int export(const char *log, const char *url, uint32_t w, uint32_t batch, uint64_t max,
                  long crash, tide_error *e)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)log};
    o.events = ev, o.nevents = 1, o.db = url, o.batch = batch;
    o.inflight = 4; /* a commit per few batches: crash points, a disk filling */
    o.cfg.workers = w, o.cfg.pin = 0, o.max_batches = max, o.crash_at_commit = crash;
    fx_export_stats st;
    return fx_export(&o, &st, e);
}

static char *make_log(char *dir, uint64_t seed, uint64_t events)
{
    scratch_dir(dir, "pg");
    char *log;
    cr_assert(asprintf(&log, "%s/log.jsonl", dir) > 0);
    fx_gen_opts g = {
        .machines = 5, .workers = 4, .orders = 7, .events = events, .seed = seed, .skew_ms = 5000};
    FILE *f = fopen(log, "w");
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
    return log;
}

static void cleanup(char *dir, char *log)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free(log);
}

Test(exporter_pg, views_w1_w2_restart_crash)
{
    NEED_SERVER();
    char url[512], dir[64];
    fresh_db(url, sizeof url, "views");
    tide_rng r = {tide_test_seed("exporter pg", 1)};
    char *log = make_log(dir, r.s, 2500);
    tide_error e = {0};
    uint32_t batch = 50 + (uint32_t)tide_rng_below(&r, 100);
    /* A stop after some batches, a kill -9 inside a commit, then the rest. */
    cr_assert_eq(export(log, url, 1, batch, 1 + tide_rng_below(&r, 8), 0, &e), TIDE_OK, "%s",
                 e.msg);
    pid_t pid = fork();
    if (pid == 0) {
        export(log, url, 2, batch, 0, 1 + (long)tide_rng_below(&r, 5), &e);
        _exit(3);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
    cr_assert_eq(export(log, url, 2, batch, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check(log, url, "postgresql");
    cleanup(dir, log);
}

Test(exporter_pg, connection_killed_mid_run)
{
    NEED_SERVER();
    char url[512], dir[64];
    fresh_db(url, sizeof url, "kill");
    tide_rng r = {tide_test_seed("exporter pg kill", 2)};
    char *log = make_log(dir, r.s, 20000);
    pid_t pid = fork();
    if (pid == 0) {
        tide_error e = {0};
        int rc = export(log, url, 1, 20, 0, 0, &e);
        /* Exit 0: finished before the kill; 1: the clear error expected. */
        if (rc < 0) fprintf(stderr, "exporter: %s\n", e.msg);
        _exit(rc == TIDE_OK ? 0 : strstr(e.msg, "postgresql") ? 1 : 2);
    }
    /* Kill the exporter's server connection once it has committed some. */
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    int killed = 0;
    for (int i = 0; i < 400 && !killed; i++) {
        usleep(10000);
        PGresult *q = PQexec(c, "SELECT count(*) FROM dashboard_offsets");
        int have = PQresultStatus(q) == PGRES_TUPLES_OK && atoi(PQgetvalue(q, 0, 0)) > 0;
        PQclear(q);
        if (!have) continue;
        q = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                      "current_database() AND pid <> pg_backend_pid()");
        killed = PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) > 0;
        PQclear(q);
    }
    PQfinish(c);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status), "status %d", status);
    if (killed)
        cr_assert_eq(WEXITSTATUS(status), 1, "the exporter did not stop with a postgresql error");
    /* Whatever was committed is whole: a rerun completes exactly. */
    tide_error e = {0};
    cr_assert_eq(export(log, url, 2, 500, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check(log, url, "after a killed connection");
    cleanup(dir, log);
}
