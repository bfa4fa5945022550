/*
 * test_snapshot.c - the exporter's snapshots (snapshot.h): a restart after
 * a snapshot loads the dataflow's state and sends into the dataflow only
 * the events after it (counted: replayed = committed - covered, fed =
 * replayed + new), with and without --since, W=1 and W=2, and every state
 * equals oracle.c's tables of the lines read so far; a corrupt (one
 * flipped byte), missing, stale (ahead of the database) or mismatched
 * (other -w) snapshot falls back to replaying the whole log, with correct
 * tables, and so does a 2-process run. Seeds are printed; TIDE_SEED=<n>
 * replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_run.h"
#include "export.h"
#include "gen.h"
#include "oracle.h"
#include "snapshot.h"
#include "tide_test.h"

typedef struct snap_case {
    char dir[64], log[128], db[128], url[160], snap[160];
    int64_t since;
    uint32_t batch;
} snap_case;

static void snap_setup(snap_case *c, tide_rng *r, const char *dbname)
{
    scratch_dir(c->dir, "snap");
    snprintf(c->log, sizeof c->log, "%s/log.jsonl", c->dir);
    snprintf(c->db, sizeof c->db, "%s/%s", c->dir, dbname);
    snprintf(c->url, sizeof c->url, "sqlite:%s", c->db);
    snprintf(c->snap, sizeof c->snap, "%s.snapshot", c->db);
    fx_gen_opts g = {
        .machines = 5, .workers = 4, .orders = 7, .events = 2500, .seed = r->s, .skew_ms = 5000};
    FILE *f = fopen(c->log, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
    c->batch = 40 + (uint32_t)tide_rng_below(r, 80);
}

static void snap_teardown(snap_case *c)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    cr_assert_eq(system(cmd), 0);
}

static fx_export_stats snap_export_crash(const snap_case *c, const char *url, uint32_t workers,
                                         uint64_t max_batches, long crash)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)c->log};
    o.events = ev, o.nevents = 1, o.db = url, o.batch = c->batch, o.since_us = c->since;
    o.snapshot_every = 2;
    o.inflight = 4; /* a commit (and a snapshot) per few batches: crash points, newer ones */
    o.cfg.workers = workers, o.cfg.pin = 0, o.max_batches = max_batches;
    o.crash_at_commit = crash;
    fx_export_stats st;
    tide_error e = {0};
    cr_assert_eq(fx_export(&o, &st, &e), TIDE_OK, "%s", e.msg);
    return st;
}

static fx_export_stats snap_export(const snap_case *c, const char *url, uint32_t workers,
                                   uint64_t max_batches)
{
    return snap_export_crash(c, url, workers, max_batches, 0);
}

static void snap_check(const snap_case *c, const char *db, size_t lines, const char *what)
{
    orows want = {0}, got = {0};
    oracle_tables_since(c->log, lines, 0, c->since, &want);
    cr_assert(db_tables(db, &got), "%s: reading %s", what, db);
    cr_assert_gt(want.n, 5, "%s: the oracle has only %zu rows", what, want.n);
    cr_assert(orows_equal(&want, &got, what), "%s: tables differ from the oracle", what);
    orows_free(&want), orows_free(&got);
}

/* The events a snapshot covers (offsets count from 0 by one), and how
 * many it holds (fewer with a window); 0 and 0 when it cannot be read. */
static uint64_t snap_covered(const char *path, uint64_t *held)
{
    fx_snapshot s;
    fx_snapshot_init(&s);
    tide_error e = {0};
    uint64_t n = 0;
    *held = 0;
    if (fx_snapshot_read(path, &s, &e) == TIDE_OK) {
        for (uint32_t i = 0; i < s.offsets.n; i++) n += (uint64_t)s.offsets.vals[i] + 1;
        *held = s.events.n;
    }
    fx_snapshot_fini(&s);
    return n;
}

static void after_snapshot_case(int64_t since, uint32_t workers, uint64_t salt)
{
    tide_rng r = {tide_test_seed("exporter snapshot", salt)};
    snap_case c = {.since = since};
    snap_setup(&c, &r, "out.db");
    size_t lines = 0;
    for (int k = 0; k < 3; k++) {
        uint64_t held, covered = snap_covered(c.snap, &held);
        cr_assert_eq(covered > 0, k > 0, "restart %d: snapshot covers %llu", k,
                     (unsigned long long)covered);
        cr_assert_leq(covered, lines);
        fx_export_stats st = snap_export(&c, c.url, workers, 4 + tide_rng_below(&r, 8));
        cr_assert_eq(st.restored, k > 0, "restart %d: restored %llu", k,
                     (unsigned long long)st.restored);
        /* Only the events after the snapshot were read to rebuild state. */
        cr_assert_eq(st.snapshot_events, held, "restart %d loaded %llu of %llu", k,
                     (unsigned long long)st.snapshot_events, (unsigned long long)held);
        cr_assert_eq(st.replayed, lines - covered, "restart %d replayed %llu, want %zu - %llu", k,
                     (unsigned long long)st.replayed, lines, (unsigned long long)covered);
        /* Into the dataflow went only those and the new events (with a
         * window, only those of them inside it). */
        if (since == 0) {
            cr_assert_eq(held, 0, "a snapshot without --since holds no events");
            cr_assert_eq(st.fed, st.replayed + st.events, "restart %d fed %llu", k,
                         (unsigned long long)st.fed);
        } else {
            cr_assert_leq(st.fed, st.replayed + st.events, "restart %d fed %llu", k,
                          (unsigned long long)st.fed);
        }
        lines += st.events;
        snap_check(&c, c.db, lines, "after a snapshot");
    }
    fx_export_stats st = snap_export(&c, c.url, workers, 0);
    cr_assert_eq(st.restored, 1);
    snap_check(&c, c.db, SIZE_MAX, "snapshot, to the end");
    snap_teardown(&c);
}

Test(snapshot, restart_reads_only_after_it)
{
    after_snapshot_case(0, 1, 1);
}

Test(snapshot, restart_reads_only_after_it_w2)
{
    after_snapshot_case(0, 2, 11);
}

Test(snapshot, restart_with_a_window)
{
    after_snapshot_case(3 * 3600000000LL, 1, 2);
}

Test(snapshot, restart_with_a_window_w2)
{
    after_snapshot_case(3 * 3600000000LL, 2, 12);
}

/* Stop after some batches, damage the snapshot with @damage, restart: the
 * whole committed prefix is replayed and the tables are right. */
static void fallback_case(uint64_t salt, void (*damage)(snap_case *c, tide_rng *r),
                          uint32_t restart_workers)
{
    tide_rng r = {tide_test_seed("exporter snapshot fallback", salt)};
    snap_case c = {0};
    snap_setup(&c, &r, "out.db");
    fx_export_stats st = snap_export(&c, c.url, 1, 6 + tide_rng_below(&r, 6));
    size_t lines = st.events;
    uint64_t held;
    cr_assert_gt(snap_covered(c.snap, &held), 0, "no snapshot was written");
    damage(&c, &r);
    st = snap_export(&c, c.url, restart_workers, 3);
    cr_assert_eq(st.snapshot_events, 0);
    cr_assert_eq(st.restored, 0);
    cr_assert_eq(st.replayed, lines, "replayed %llu of %zu", (unsigned long long)st.replayed,
                 lines);
    lines += st.events;
    snap_check(&c, c.db, lines, "fallback");
    snap_export(&c, c.url, 1, 0);
    snap_check(&c, c.db, SIZE_MAX, "fallback, to the end");
    snap_teardown(&c);
}

static void flip_a_byte(snap_case *c, tide_rng *r)
{
    FILE *f = fopen(c->snap, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long at = (long)tide_rng_below(r, (uint64_t)ftell(f));
    fseek(f, at, SEEK_SET);
    int b = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(b ^ (1 << tide_rng_below(r, 8)), f);
    fclose(f);
}

static void remove_it(snap_case *c, tide_rng *r)
{
    (void)r;
    cr_assert_eq(unlink(c->snap), 0);
}

/* A snapshot from a run that went further, over this database's. */
static void newer_one(snap_case *c, tide_rng *r)
{
    char other[160], url[200], snap[200], cmd[600];
    snprintf(other, sizeof other, "%s/other.db", c->dir);
    snprintf(url, sizeof url, "sqlite:%s", other);
    snprintf(snap, sizeof snap, "%s.snapshot", other);
    snap_export(c, url, 1, 20 + tide_rng_below(r, 5));
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", snap, c->snap);
    cr_assert_eq(system(cmd), 0);
}

static void keep_it(snap_case *c, tide_rng *r)
{
    (void)c, (void)r;
}

Test(snapshot, corrupt_falls_back)
{
    fallback_case(3, flip_a_byte, 1);
    fallback_case(4, flip_a_byte, 1);
}

Test(snapshot, missing_falls_back)
{
    fallback_case(5, remove_it, 1);
}

Test(snapshot, stale_falls_back)
{
    fallback_case(6, newer_one, 1);
}

Test(snapshot, other_workers_fall_back)
{
    fallback_case(9, keep_it, 2);
}

/* Two processes take no snapshot and replay over one (of one process). */
Test(snapshot, two_processes_replay)
{
    tide_rng r = {tide_test_seed("exporter snapshot 2 processes", 10)};
    snap_case c = {0};
    snap_setup(&c, &r, "out.db");
    fx_export_stats st = snap_export(&c, c.url, 1, 5);
    cr_assert_gt(st.events, 0);
    uint16_t base = tide_test_free_ports(2);
    cr_assert(base != 0, "no free ports");
    char port[16], batch[16];
    snprintf(port, sizeof port, "%u", (unsigned)base);
    snprintf(batch, sizeof batch, "%u", c.batch);
    pid_t pids[2];
    for (int p = 0; p < 2; p++) {
        char pi[4];
        snprintf(pi, sizeof pi, "%d", p);
        pids[p] = fork();
        if (pids[p] == 0) {
            execl(TIDE_BUILD_DIR "/tide-export", "tide-export", "--events", c.log, "--db", c.url,
                  "--batch", batch, "--snapshot-every", "2", "-n", "2", "-p", pi, "-w", "1",
                  "--port", port, "--no-pin", (char *)NULL);
            _exit(127);
        }
    }
    for (int p = 0; p < 2; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: status %d", p,
                  status);
    }
    snap_check(&c, c.db, SIZE_MAX, "2 processes over a snapshot");
    snap_teardown(&c);
}

/* kill -9 inside random commits (a snapshot may wait in PATH.tmp): every
 * restart uses the published snapshot or replays, and the end is right. */
Test(snapshot, kill_9_inside_commits)
{
    tide_rng r = {tide_test_seed("exporter snapshot crash", 7)};
    snap_case c = {0};
    snap_setup(&c, &r, "out.db");
    for (int k = 0; k < 4; k++) {
        long at = k == 0 ? 1 : 1 + (long)tide_rng_below(&r, 5);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            snap_export_crash(&c, c.url, 1 + (uint32_t)(k % 2), 0, at);
            _exit(3); /* the export ended before commit `at` */
        }
        int status;
        waitpid(pid, &status, 0);
        bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        /* A late crash point may fall after the end of what is left. */
        cr_assert(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 3 && k > 0),
                  "crash %d at commit %ld: status %d", k, at, status);
    }
    snap_export(&c, c.url, 2, 0);
    snap_check(&c, c.db, SIZE_MAX, "snapshot after kill -9");
    snap_teardown(&c);
}
