/*
 * test_exporter.c - the exporter end to end: generated factory logs with
 * clock skew (tide-gen-factory's generator) exported into SQLite, every
 * table compared with oracle.c's from-scratch computation (jansson + naive
 * C), for W=1, W=2, MessagePack input, 2 processes; a restart after a clean
 * stop at random batches, and a kill -9 inside random commits, both equal
 * the uninterrupted result; a changed table version rebuilds its table.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "cluster_run.h"
#include "export.h"
#include "gen.h"
#include "oracle.h"
#include "tide_test.h"

/* A scratch directory per test. */
static char *tmpdir(void)
{
    char *d = malloc(64);
    scratch_dir(d, "export");
    return d;
}

static void rmdir_all(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
    free(d);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void generate(const char *path, uint64_t seed, uint64_t events, int msgpack)
{
    fx_gen_opts g = {.machines = 5,
                     .workers = 4,
                     .orders = 7,
                     .events = events,
                     .seed = seed,
                     .skew_ms = 5000,
                     .msgpack = msgpack};
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
}

static int export(const char *log, const char *db, uint32_t workers, uint32_t batch,
                  uint64_t max_batches, long crash, tide_error *e)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)log};
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", db);
    o.events = ev, o.nevents = 1, o.db = url, o.batch = batch;
    o.inflight = 4; /* a commit per few batches: crash points, a disk filling */
    o.cfg.workers = workers, o.cfg.pin = 0;
    o.max_batches = max_batches, o.crash_at_commit = crash;
    fx_export_stats st;
    return fx_export(&o, &st, e);
}

static void check_db(const char *log, const char *db, const char *what)
{
    orows want = {0}, got = {0};
    oracle_tables(log, SIZE_MAX, 0, &want);
    cr_assert(db_tables(db, &got), "%s: reading %s", what, db);
    cr_assert_gt(want.n, 20, "%s: the oracle has only %zu rows", what, want.n);
    cr_assert(orows_equal(&want, &got, what), "%s: tables differ from the oracle", what);
    orows_free(&want), orows_free(&got);
}

static void views_case(uint32_t workers, uint64_t salt)
{
    tide_rng r = {tide_test_seed("exporter views", salt)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 1500 + tide_rng_below(&r, 1500), 0);
    tide_error e = {0};
    uint32_t batch = 1 + (uint32_t)tide_rng_below(&r, 300);
    cr_assert_eq(export(log, db, workers, batch, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "views");
    free(log), free(db);
    rmdir_all(d);
}

Test(exporter, views_w1)
{
    views_case(1, 1);
    views_case(1, 2);
}

Test(exporter, views_w2)
{
    views_case(2, 3);
    views_case(2, 4);
}

Test(exporter, msgpack_input)
{
    tide_rng r = {tide_test_seed("exporter msgpack", 5)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *mp = path_in(d, "log.mp"),
         *db = path_in(d, "out.db");
    generate(log, r.s, 2000, 0);
    generate(mp, r.s, 2000, 1); /* the same events, as MessagePack */
    tide_error e = {0};
    cr_assert_eq(export(mp, db, 2, 128, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "msgpack");
    free(log), free(mp), free(db);
    rmdir_all(d);
}

Test(exporter, restart_after_a_stop)
{
    tide_rng r = {tide_test_seed("exporter restart", 6)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 2500, 0);
    tide_error e = {0};
    uint32_t batch = 50 + (uint32_t)tide_rng_below(&r, 100);
    /* Stop after a random number of batches, twice, then run to the end. */
    uint64_t stop1 = 1 + tide_rng_below(&r, 10), stop2 = 1 + tide_rng_below(&r, 10);
    cr_assert_eq(export(log, db, 1, batch, stop1, 0, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(export(log, db, 2, batch, stop2, 0, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(export(log, db, 1, batch, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "restart");
    /* Running again over a complete export changes nothing. */
    cr_assert_eq(export(log, db, 2, batch, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "rerun");
    free(log), free(db);
    rmdir_all(d);
}

Test(exporter, kill_9_inside_commits)
{
    tide_rng r = {tide_test_seed("exporter crash", 7)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 3000, 0);
    uint32_t batch = 40 + (uint32_t)tide_rng_below(&r, 60);
    for (int k = 0; k < 4; k++) {
        long at = 1 + (long)tide_rng_below(&r, 6);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            tide_error e = {0};
            export(log, db, 1 + (uint32_t)(k % 2), batch, 0, at, &e);
            _exit(3); /* reached only when the export ended before commit `at` */
        }
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "crash %d at commit %ld: the child did not die by SIGKILL (status %d)", k, at,
                  status);
    }
    tide_error e = {0};
    cr_assert_eq(export(log, db, 2, batch, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "after kill -9");
    free(log), free(db);
    rmdir_all(d);
}

Test(exporter, two_processes)
{
    tide_rng r = {tide_test_seed("exporter 2 processes", 8)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 2000, 0);
    char url[600], port[16];
    snprintf(url, sizeof url, "sqlite:%s", db);
    uint16_t base = tide_test_free_ports(2); /* two ports that bind, below the ephemeral range */
    cr_assert(base != 0, "no free ports");
    snprintf(port, sizeof port, "%u", (unsigned)base);
    pid_t pids[2];
    for (int p = 0; p < 2; p++) {
        char pi[4];
        snprintf(pi, sizeof pi, "%d", p);
        pids[p] = fork();
        if (pids[p] == 0) {
            execl(TIDE_BUILD_DIR "/tide-export", "tide-export", "--events", log, "--db", url,
                  "--batch", "100", "-n", "2", "-p", pi, "-w", "1", "--port", port, "--no-pin",
                  (char *)NULL);
            _exit(127);
        }
    }
    for (int p = 0; p < 2; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: status %d", p,
                  status);
    }
    check_db(log, db, "2 processes");
    free(log), free(db);
    rmdir_all(d);
}

/* A bumped table version drops that table; the next run rebuilds it
 * (replaying the log for it only) and leaves the others as they were. */
Test(exporter, changed_version_rebuilds)
{
    tide_rng r = {tide_test_seed("exporter version", 9)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 1500, 0);
    tide_error e = {0};
    cr_assert_eq(export(log, db, 1, 100, 0, 0, &e), TIDE_OK, "%s", e.msg);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h,
                              "UPDATE table_version SET version = 0 WHERE name = 'usage'; "
                              "DELETE FROM usage WHERE rowid % 2 = 0",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(h);
    cr_assert_eq(export(log, db, 2, 100, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "rebuilt usage");
    free(log), free(db);
    rmdir_all(d);
}

/* --follow: the log grows in chunks cut mid-line while the exporter runs;
 * once the stored offsets reach the end, the tables equal the oracle's. */
Test(exporter, follow_a_growing_log)
{
    tide_rng r = {tide_test_seed("exporter follow", 10)};
    char *d = tmpdir(), *full = path_in(d, "full.jsonl"), *log = path_in(d, "log.jsonl"),
         *db = path_in(d, "out.db");
    generate(full, r.s, 2000, 0);
    FILE *in = fopen(full, "rb"), *out = fopen(log, "wb");
    cr_assert(in && out);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *text = malloc((size_t)size);
    cr_assert_eq(fread(text, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    long written = size / 3;
    fwrite(text, 1, (size_t)written, out);
    fflush(out);
    pid_t pid = fork();
    if (pid == 0) {
        fx_export_opts o;
        fx_export_opts_init(&o);
        char *ev[1] = {log}, url[600];
        snprintf(url, sizeof url, "sqlite:%s", db);
        o.events = ev, o.nevents = 1, o.db = url, o.batch = 64, o.follow = true;
        o.cfg.workers = 2, o.cfg.pin = 0;
        tide_error e = {0};
        fx_export(&o, NULL, &e);
        _exit(1); /* following never ends by itself */
    }
    orows want = {0};
    oracle_tables(full, SIZE_MAX, 0, &want);
    bool done = false;
    for (int i = 0; i < 3000 && !done; i++) {
        if (written < size) {
            long n = 1 + (long)tide_rng_below(&r, 20000);
            if (n > size - written) n = size - written;
            fwrite(text + written, 1, (size_t)n, out);
            fflush(out);
            written += n;
        }
        usleep(10000);
        orows got = {0};
        done = written == size && db_tables(db, &got) && got.n == want.n;
        for (size_t k = 0; done && k < want.n; k++) done = strcmp(want.r[k], got.r[k]) == 0;
        orows_free(&got);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fclose(out);
    if (!done) {
        orows got = {0};
        db_tables(db, &got);
        orows_equal(&want, &got, "follow");
        orows_free(&got);
    }
    cr_assert(done, "the followed export never reached the oracle's tables");
    orows_free(&want);
    free(text), free(full), free(log), free(db);
    rmdir_all(d);
}

/* A full "disk" (SQLite's max_page_count): a clear error naming the
 * database, the last transaction rolled back whole, and a rerun with room
 * completes the tables exactly. */
Test(exporter, full_disk)
{
    tide_rng r = {tide_test_seed("exporter full disk", 11)};
    char *d = tmpdir(), *log = path_in(d, "log.jsonl"), *db = path_in(d, "out.db");
    generate(log, r.s, 6000, 0);
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {log}, url[600];
    snprintf(url, sizeof url, "sqlite:%s?max_page_count=22", db);
    o.events = ev, o.nevents = 1, o.db = url, o.batch = 50;
    o.inflight = 4; /* a commit per few batches: crash points, a disk filling */
    o.cfg.workers = 2, o.cfg.pin = 0;
    tide_error e = {0};
    fx_export_stats st;
    int rc = fx_export(&o, &st, &e);
    cr_assert_eq(rc, TIDE_EIO, "rc %d: %s", rc, e.msg);
    cr_assert(strstr(e.msg, db) && strstr(e.msg, "full"), "unclear error: %s", e.msg);
    cr_assert_gt(st.commits, 0, "nothing committed before the disk filled");
    /* What is stored is whole: the views of exactly the stored offsets. */
    orows got = {0};
    cr_assert(db_tables(db, &got));
    size_t offsets = 0;
    for (size_t i = 0; i < got.n; i++) offsets += strncmp(got.r[i], "offsets|", 8) == 0;
    cr_assert_gt(offsets, 0);
    orows_free(&got);
    cr_assert_eq(export(log, db, 1, 50, 0, 0, &e), TIDE_OK, "%s", e.msg);
    check_db(log, db, "after a full disk");
    free(log), free(db);
    rmdir_all(d);
}
