/*
 * exporter.c - the event-log exporter end to end: a generated factory log
 * (JSON Lines and MessagePack) into SQLite with tide-export's code, against
 * the hand-written single-threaded baseline (bench/baseline_exporter.c)
 * that computes the same final tables from scratch.
 *
 *   bench_exporter [--events E] [--batch N,...] [--workers 1,2] [--runs R]
 *                  [--formats jsonl,msgpack] [--dir DIR]
 *   bench_exporter --fold [--keys K] [--batches B]
 *   bench_exporter --since-flat [--events E] [--batch N] [--dir DIR]
 *   bench_exporter --restart [--events E] [--batch N] [--snapshot-every S] [--dir DIR]
 *
 * Each run is a child process (fresh database, peak RSS of its own).
 * Output: one line per (format, batch size, workers): wall and CPU time,
 * events/s, peak memory, the baseline's time and the ratio; then per
 * (format, batch size) each W's speedup over W=1 (wall time) and its CPU
 * time over W=1's (on a loaded machine the wall time says little: W=2
 * needs two free cores). --fold measures the usage reduction alone:
 * per-batch time as each key's history grows, for tide_fold (refold from
 * the first change) and tide_reduce (rerun per key).
 * --since-flat: peak RSS of whole exports of logs of E/8, E/4, E/2 and E
 * MessagePack events (the clock advances 30 s per event on average), with
 * --since 1d (a window of ~2,900 events) and without: flat against growing.
 * --restart: a whole export of E MessagePack events, then the time a rerun
 * over the same log takes to rebuild its state (nothing new to write):
 * replaying the log, or loading the dataflow's state from the snapshot
 * (--snapshot-every S, default 10); plus what each run fed and what
 * snapshots cost.
 * --since-flat and --restart use the first size of --batch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#ifdef TIDE_HAVE_LIBPQ
#include <libpq-fe.h>
#endif
#include "export.h"
#include "gen.h"
#include "tide/tide.h"

long baseline_exporter(const char *path, const char *db);

typedef struct run_result {
    double wall_ms, cpu_ms, rss_mb;
    int ok;
} run_result;

/* Run @fn(@a, @b, @w, @batch) in a child, on a fresh database (@fresh:
 * database file @b removed first); its wall, CPU and peak RSS. */
static run_result in_child_db(int (*fn)(const char *, const char *, uint32_t, uint32_t),
                              const char *a, const char *b, uint32_t w, uint32_t batch, int fresh)
{
    run_result r = {0};
    char cmd[1700];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm' '%s.snapshot'", b, b, b, b);
    if (fresh && strncmp(b, "postgres", 8) != 0 && system(cmd) != 0) return r;
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid == 0) _exit(fn(a, b, w, batch) == 0 ? 0 : 1);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    r.wall_ms = (double)(bench_now_ns() - t0) / 1e6;
    r.cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    r.rss_mb = (double)ru.ru_maxrss / 1024.0;
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

static run_result in_child(int (*fn)(const char *, const char *, uint32_t, uint32_t), const char *a,
                           const char *b, uint32_t w, uint32_t batch)
{
    return in_child_db(fn, a, b, w, batch, 1);
}

static int64_t since_us;            /* --since-flat: the window of run_export (0: none) */
static uint32_t snapshot_every;     /* --restart: run_export's snapshots (0: none) */
static int restart_mode;            /* --restart: run_export prints what each run did */
static uint32_t restart_every = 10; /* --restart: --snapshot-every of the snapshot runs */

static int run_export(const char *log, const char *db, uint32_t workers, uint32_t batch)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)log};
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", db);
    o.events = ev, o.nevents = 1, o.db = url, o.batch = batch;
    o.cfg.workers = workers;
    o.since_us = since_us;
    o.snapshot_every = snapshot_every;
    tide_error e = {0};
    fx_export_stats st;
    int rc = fx_export(&o, &st, &e);
    if (rc < 0) fprintf(stderr, "bench_exporter: %s\n", e.msg);
    if (restart_mode) /* from the child: what the run did, and what its snapshots cost */
        printf("bench=exporter_restart_run snapshot_every=%u events=%llu replayed=%llu fed=%llu "
               "restored=%llu snapshots=%llu snapshot_ms=%.0f snapshot_write_ms=%.0f "
               "snapshot_last_mb=%.1f\n",
               snapshot_every, (unsigned long long)st.events, (unsigned long long)st.replayed,
               (unsigned long long)st.fed, (unsigned long long)st.restored,
               (unsigned long long)st.snapshots_taken, (double)st.snapshot_us / 1e3,
               (double)st.snapshot_write_us / 1e3, (double)st.snapshot_bytes / 1e6);
    fflush(stdout);
    return rc < 0;
}

/* PostgreSQL (TIDE_PG_URL): drop the exporter's tables, then export. */
static int run_export_pg(const char *log, const char *url, uint32_t workers, uint32_t batch)
{
#ifdef TIDE_HAVE_LIBPQ
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) return 1;
    PQclear(PQexec(c, "SET client_min_messages = warning; DROP TABLE IF EXISTS dashboard, "
                      "dashboard_offsets, usage, usage_offsets, bookings, bookings_offsets, "
                      "table_version"));
    PQfinish(c);
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)log};
    o.events = ev, o.nevents = 1, o.db = url, o.batch = batch;
    o.cfg.workers = workers;
    tide_error e = {0};
    fx_export_stats st;
    int rc = fx_export(&o, &st, &e);
    if (rc < 0) fprintf(stderr, "bench_exporter: %s\n", e.msg);
    return rc < 0;
#else
    return 1;
#endif
}

static int run_baseline(const char *log, const char *db, uint32_t w, uint32_t batch)
{
    return baseline_exporter(log, db) < 0;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median wall/cpu/rss over @n runs, each field on its own. */
static run_result median(run_result *r, int n)
{
    double w[16], c[16], m[16];
    run_result out = {0, 0, 0, 1};
    for (int i = 0; i < n; i++) w[i] = r[i].wall_ms, c[i] = r[i].cpu_ms, m[i] = r[i].rss_mb;
    qsort(w, (size_t)n, sizeof *w, cmpd), qsort(c, (size_t)n, sizeof *c, cmpd);
    qsort(m, (size_t)n, sizeof *m, cmpd);
    out.wall_ms = w[n / 2], out.cpu_ms = c[n / 2], out.rss_mb = m[n / 2];
    for (int i = 0; i < n; i++) out.ok &= r[i].ok;
    return out;
}

static run_result measure(int (*fn)(const char *, const char *, uint32_t, uint32_t),
                          const char *log, const char *db, uint32_t w, uint32_t batch, int runs)
{
    run_result r[16];
    for (int i = 0; i < runs && i < 16; i++) r[i] = in_child(fn, log, db, w, batch);
    return median(r, runs < 16 ? runs : 16);
}

/* ======================================================================== */
/* --fold: the usage reduction's cost per batch as history grows            */
/* ======================================================================== */

typedef struct fold_job {
    uint32_t keys, batches, per_key; /* per_key values per key per batch */
    int use_reduce;
    double *batch_us; /* per batch */
} fold_job;

/* value: 2 * position + 1 for a stop, + 0 for a start; stops pair with the
 * open start (the usage view's shape, on integers). */
static void pair_fold(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                      uint32_t vl, int64_t m, tide_fold_out *o)
{
    uint64_t x = tide_u64_load(v);
    if ((x & 1) == 0) {
        tide_rowbuf_clear(st);
        tide_row_put_u64(st, x);
    } else if (st->len == 8) {
        uint8_t out[16];
        memcpy(out, st->data, 8);
        tide_u64_store(out + 8, x);
        tide_fold_emit(o, out, 16, 1);
        tide_rowbuf_clear(st);
    }
}

static void pair_reduce(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                        uint32_t n, tide_reduce_out *out)
{
    int have = 0;
    uint64_t start = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = tide_u64_load(in[i].val);
        if ((x & 1) == 0) {
            start = x, have = 1;
        } else if (have) {
            uint8_t o[16];
            tide_u64_store(o, start);
            tide_u64_store(o + 8, x);
            tide_reduce_push(out, o, 16, 1);
            have = 0;
        }
    }
}

static int fold_main(tide_worker *w, void *arg)
{
    fold_job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "fold");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_stream *out = j->use_reduce
                           ? tide_arranged_stream(tide_reduce(tide_arrange(s, "by key"), "pairs",
                                                              16, pair_reduce, NULL))
                           : tide_fold(s, "pairs", 16, pair_fold, NULL);
    tide_probe *p = tide_probe_new(out);
    TIDE_TRY(tide_dataflow_seal(df));
    uint8_t k[8], v[8];
    for (uint32_t b = 0; b < j->batches; b++) {
        uint64_t t0 = bench_now_ns();
        for (uint32_t key = 0; key < j->keys; key++)
            for (uint32_t i = 0; i < j->per_key; i++) {
                tide_u64_store(k, key);
                tide_u64_store(v, (uint64_t)b * j->per_key + i);
                TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
            }
        TIDE_TRY(tide_input_advance_to(in, b + 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(b)));
        j->batch_us[b] = (double)(bench_now_ns() - t0) / 1e3;
    }
    return tide_input_close(in);
}

static void fold_bench(uint32_t keys, uint32_t batches)
{
    for (int use_reduce = 0; use_reduce < 2; use_reduce++) {
        fold_job j = {keys, batches, 10, use_reduce, calloc(batches, sizeof(double))};
        tide_config cfg;
        tide_config_init(&cfg);
        tide_error e = {0};
        uint64_t t0 = bench_now_ns();
        if (tide_execute(&cfg, fold_main, &j, &e) < 0) {
            fprintf(stderr, "fold bench: %s\n", e.msg);
            exit(1);
        }
        double total_ms = (double)(bench_now_ns() - t0) / 1e6;
        uint32_t tenth = batches / 10 ? batches / 10 : 1;
        double first[1024], last[1024];
        for (uint32_t i = 0; i < tenth; i++)
            first[i] = j.batch_us[i + 1 < batches ? i + 1 : i],
            last[i] = j.batch_us[batches - 1 - i];
        double f = bench_median(first, tenth), l = bench_median(last, tenth);
        printf("bench=exporter_usage_reduction op=%s keys=%u batches=%u events_per_batch=%u "
               "history_per_key_end=%u first_batches_us=%.0f last_batches_us=%.0f growth=%.2f "
               "total_ms=%.0f %s\n",
               use_reduce ? "reduce" : "fold", keys, batches, keys * 10, batches * 10, f, l, l / f,
               total_ms, bench_machine());
        fflush(stdout);
        free(j.batch_us);
    }
}

/* --since-flat: peak RSS as the log grows, with and without a 1-day window. */
static int since_bench(uint64_t events, uint32_t batch, const char *dir)
{
    char log[512], db[512];
    snprintf(log, sizeof log, "%s/tide_bench_since.mp", dir);
    snprintf(db, sizeof db, "%s/tide_bench_since.db", dir);
    for (uint64_t n = events / 8; n <= events; n *= 2) {
        fx_gen_opts g = {.machines = 50,
                         .workers = 40,
                         .orders = 2000,
                         .events = n,
                         .seed = bench_seed(1),
                         .skew_ms = 3000,
                         .msgpack = 1};
        FILE *f = fopen(log, "wb");
        if (f == NULL || fx_gen(&g, f) < 0) return 1;
        fclose(f);
        for (int win = 1; win >= 0; win--) {
            since_us = win ? 86400LL * 1000000 : 0;
            run_result r = in_child(run_export, log, db, 1, batch);
            printf("bench=exporter_since format=msgpack events=%llu batch=%u workers=1 since=%s "
                   "ok=%d wall_ms=%.0f peak_rss_mb=%.0f %s\n",
                   (unsigned long long)n, batch, win ? "1d" : "none", r.ok, r.wall_ms, r.rss_mb,
                   bench_machine());
            fflush(stdout);
        }
    }
    since_us = 0;
    unlink(log);
    char cmd[1700];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    return system(cmd) != 0;
}

/* --restart: the time a restart over a complete export takes, loading the
 * dataflow's state from a snapshot (--snapshot-every 10) or replaying the
 * whole log; each run also prints (bench=exporter_restart_run) how many
 * events it fed into the dataflow and what taking snapshots cost it. */
static int restart_bench(uint64_t events, uint32_t batch, const char *dir)
{
    char log[512], db[512];
    snprintf(log, sizeof log, "%s/tide_bench_restart.mp", dir);
    snprintf(db, sizeof db, "%s/tide_bench_restart.db", dir);
    fx_gen_opts g = {.machines = 50,
                     .workers = 40,
                     .orders = 2000,
                     .events = events,
                     .seed = bench_seed(1),
                     .skew_ms = 3000,
                     .msgpack = 1};
    FILE *f = fopen(log, "wb");
    if (f == NULL || fx_gen(&g, f) < 0) return 1;
    fclose(f);
    restart_mode = 1;
    for (int snap = 0; snap < 2; snap++) {
        snapshot_every = snap ? restart_every : 0;
        run_result full = in_child_db(run_export, log, db, 1, batch, 1);
        run_result again = in_child_db(run_export, log, db, 1, batch, 0);
        struct stat st;
        char sp[600];
        snprintf(sp, sizeof sp, "%s.snapshot", db);
        double mb = stat(sp, &st) == 0 ? (double)st.st_size / 1e6 : 0;
        printf("bench=exporter_restart format=msgpack events=%llu batch=%u workers=1 "
               "snapshot_every=%u ok=%d export_wall_ms=%.0f export_rss_mb=%.0f "
               "restart_wall_ms=%.0f restart_cpu_ms=%.0f restart_rss_mb=%.0f snapshot_mb=%.1f %s\n",
               (unsigned long long)events, batch, snapshot_every, full.ok && again.ok, full.wall_ms,
               full.rss_mb, again.wall_ms, again.cpu_ms, again.rss_mb, mb, bench_machine());
        fflush(stdout);
    }
    snapshot_every = 0;
    restart_mode = 0;
    unlink(log);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm' '%s.snapshot'", db, db, db, db);
    return system(cmd) != 0;
}

int main(int argc, char **argv)
{
    uint64_t events = 1000000;
    uint32_t keys = 100, batches = 300;
    const char *batch_list = "10000";
    int runs = 1, fold = 0, since_flat = 0, restart = 0;
    const char *workers = "1,2", *formats = "jsonl,msgpack", *dir = "/dev/shm";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--events") == 0)
            events = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--batch") == 0)
            batch_list = v, i++;
        else if (strcmp(a, "--workers") == 0)
            workers = v, i++;
        else if (strcmp(a, "--formats") == 0)
            formats = v, i++;
        else if (strcmp(a, "--runs") == 0)
            runs = atoi(v), i++;
        else if (strcmp(a, "--dir") == 0)
            dir = v, i++;
        else if (strcmp(a, "--keys") == 0)
            keys = (uint32_t)atol(v), i++;
        else if (strcmp(a, "--batches") == 0)
            batches = (uint32_t)atol(v), i++;
        else if (strcmp(a, "--fold") == 0)
            fold = 1;
        else if (strcmp(a, "--since-flat") == 0)
            since_flat = 1;
        else if (strcmp(a, "--restart") == 0)
            restart = 1;
        else if (strcmp(a, "--snapshot-every") == 0)
            restart_every = (uint32_t)atol(v), i++;
        else {
            fprintf(stderr, "bench_exporter: unknown argument %s\n", a);
            return 2;
        }
    }
    if (fold) {
        fold_bench(keys, batches);
        return 0;
    }
    uint32_t first = (uint32_t)strtoul(batch_list, NULL, 10); /* --batch's first size */
    if (since_flat) return since_bench(events, first, dir);
    if (restart) return restart_bench(events, first, dir);
    char log[512], db[512];
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *fname = fmt ? "msgpack" : "jsonl";
        if (!strstr(formats, fname)) continue;
        snprintf(log, sizeof log, "%s/tide_bench_exporter.%s", dir, fname);
        snprintf(db, sizeof db, "%s/tide_bench_exporter.db", dir);
        fx_gen_opts g = {.machines = 50,
                         .workers = 40,
                         .orders = 2000,
                         .events = events,
                         .seed = bench_seed(1),
                         .skew_ms = 3000,
                         .msgpack = fmt};
        FILE *f = fopen(log, "wb");
        if (f == NULL || fx_gen(&g, f) < 0) return 1;
        fclose(f);
        fprintf(stderr, "bench_exporter: generated %llu %s events\n", (unsigned long long)events,
                fname);
        run_result base = measure(run_baseline, log, db, 1, 0, runs);
        uint32_t batch = 0;
        for (const char *bl = batch_list; *bl;) {
            batch = (uint32_t)strtoul(bl, (char **)&bl, 10);
            if (*bl == ',') bl++;
            double w1_wall = 0, w1_cpu = 0;
            for (const char *w = workers; *w;) {
                uint32_t nw = (uint32_t)strtoul(w, (char **)&w, 10);
                if (*w == ',') w++;
                run_result r = measure(run_export, log, db, nw, batch, runs);
                if (nw == 1) w1_wall = r.wall_ms, w1_cpu = r.cpu_ms;
                printf("bench=exporter format=%s events=%llu batch=%u workers=%u runs=%d ok=%d "
                       "wall_ms=%.0f cpu_ms=%.0f events_per_s=%.0f us_per_batch=%.1f "
                       "peak_rss_mb=%.0f baseline_wall_ms=%.0f baseline_cpu_ms=%.0f "
                       "baseline_rss_mb=%.0f ratio_wall=%.2f ratio_cpu=%.2f %s\n",
                       fname, (unsigned long long)events, batch, nw, runs, r.ok && base.ok,
                       r.wall_ms, r.cpu_ms, (double)events / (r.wall_ms / 1e3),
                       r.wall_ms * 1e3 / ((double)events / batch), r.rss_mb, base.wall_ms,
                       base.cpu_ms, base.rss_mb, r.wall_ms / base.wall_ms, r.cpu_ms / base.cpu_ms,
                       bench_machine());
                if (nw > 1 && w1_wall > 0)
                    printf("bench=exporter_speedup format=%s events=%llu batch=%u workers=%u "
                           "speedup_vs_w1=%.2f cpu_vs_w1=%.2f\n",
                           fname, (unsigned long long)events, batch, nw, w1_wall / r.wall_ms,
                           r.cpu_ms / w1_cpu);
                fflush(stdout);
            }
        }
        const char *pg = getenv("TIDE_PG_URL");
        for (const char *w = workers; pg && *pg && *w;) { /* into PostgreSQL, each W */
            uint32_t nw = (uint32_t)strtoul(w, (char **)&w, 10);
            if (*w == ',') w++;
            run_result r = measure(run_export_pg, log, pg, nw, batch, runs);
            printf("bench=exporter_postgresql format=%s events=%llu batch=%u workers=%u runs=%d "
                   "ok=%d wall_ms=%.0f client_cpu_ms=%.0f events_per_s=%.0f peak_rss_mb=%.0f %s\n",
                   fname, (unsigned long long)events, batch, nw, runs, r.ok, r.wall_ms, r.cpu_ms,
                   (double)events / (r.wall_ms / 1e3), r.rss_mb, bench_machine());
            fflush(stdout);
        }
        unlink(log);
        char cmd[1700];
        snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
        if (system(cmd) != 0) return 1;
    }
    return 0;
}
