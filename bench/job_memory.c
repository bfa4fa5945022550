/*
 * job_memory.c - does cancelling a job give its memory back? A job arranges
 * N random edges (u64 -> u64) on a host (runtime/host.h) and then holds its
 * input open; once the edges are arranged it is cancelled. RSS and tide's
 * live bytes are read before the job, while it holds the arrangement, and
 * after its cancel is done (the host has dropped its dataflows and called
 * malloc_trim).
 *
 *   bench_job_memory [-w W] [--edges N] [--runs R]
 *
 * stdout, per run and then the medians:
 *   bench=job_memory run=I workers=W edges=N rss_before=.. rss_during=..
 *   rss_after=.. rss_ratio=after/before live_before=.. live_during=.. live_after=..
 *   arrange_ms=.. cancel_ms=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "host.h"
#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

static uint64_t edges = 1000000;

/* The job: N edges, each worker its share, arranged; input held at epoch 1. */
static int arrange_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    uint64_t s = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10);
    tide_dataflow *df = tide_dataflow_new(w, "edges");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &in)
           : NULL;
    if (input == NULL || tide_arrange(in, "edges") == NULL || tide_dataflow_seal(df) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t a = bench_rng(&s) % (n / 4), b = bench_rng(&s) % (n / 4);
        if (i % peers != me) continue;
        uint8_t k[8], v[8];
        tide_u64_store(k, a);
        tide_u64_store(v, b);
        TIDE_TRY(tide_input_update(input, k, 8, v, 8, 1));
    }
    return tide_input_advance_to(input, 1);
}

typedef struct done_flag {
    int done, rc;
} done_flag;

static void on_done(void *ctx, uint64_t job, int rc, const char *msg)
{
    done_flag *d = ctx;
    __atomic_store_n(&d->rc, rc, __ATOMIC_RELAXED);
    __atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until job @id has all @n edges in and epoch 0 arranged. */
static int wait_arranged(tide__host *h, uint64_t id, uint64_t n)
{
    for (int i = 0; i < 60000; i++) {
        tide__job_info *a;
        size_t cnt;
        int ok = 0;
        if (tide__host_jobs(h, &a, &cnt) < 0) return -1;
        for (size_t k = 0; k < cnt; k++)
            if (a[k].id == id)
                ok = a[k].records_in == n && strcmp(a[k].frontier, "epoch 1") == 0 ? 1
                     : a[k].state != TIDE__JOB_RUNNING                             ? -1
                                                                                   : 0;
        tide_free(a);
        if (ok) return ok;
        sleep_ms(1);
    }
    return -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t workers = 2, runs = 5;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workers")) && i + 1 < argc)
            workers = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--edges") && i + 1 < argc)
            edges = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (uint32_t)atoi(argv[++i]);
    }
    uint64_t seed = bench_seed(42);
    done_flag d = {0};
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    tide__host_hooks hooks = {.done = on_done, .ctx = &d};
    tide__host *h;
    tide_error e = {0};
    if (tide__host_new(&cfg, &hooks, &h, &e) < 0) {
        fprintf(stderr, "job_memory: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "job_memory: %s seed=%llu, %u run(s) after a warm-up\n", bench_machine(),
            (unsigned long long)seed, runs);
    uint64_t rb[64], rd[64], ra[64];
    if (runs > 64) runs = 64;
    for (uint32_t r = 0; r <= runs; r++) { /* run 0 is the warm-up */
        char sa[32], na[32];
        snprintf(sa, sizeof sa, "%llu", (unsigned long long)(seed + r));
        snprintf(na, sizeof na, "%llu", (unsigned long long)edges);
        char *jargv[2] = {sa, na};
        uint64_t rss_before = tide__rss_bytes();
        long long live_before = tide_alloc_live_bytes();
        __atomic_store_n(&d.done, 0, __ATOMIC_RELAXED);
        uint64_t t0 = bench_now_ns();
        if (tide__host_job_start_fn(h, r + 1, "arrange", arrange_main, 2, jargv, &e) < 0 ||
            wait_arranged(h, r + 1, edges) < 0) {
            fprintf(stderr, "job_memory: the job did not arrange its edges: %s\n", e.msg);
            tide__host_free(h);
            return 1;
        }
        uint64_t t1 = bench_now_ns();
        uint64_t rss_during = tide__rss_bytes();
        long long live_during = tide_alloc_live_bytes();
        tide__host_job_cancel(h, r + 1, &e);
        while (!__atomic_load_n(&d.done, __ATOMIC_ACQUIRE)) sleep_ms(1);
        uint64_t t2 = bench_now_ns();
        uint64_t rss_after = tide__rss_bytes();
        if (getenv("JOB_MEMORY_DEBUG")) {
            sleep_ms(300);
            fprintf(stderr, "rss after 300 ms: %llu (at done: %llu)\n",
                    (unsigned long long)tide__rss_bytes(), (unsigned long long)rss_after);
        }
        long long live_after = tide_alloc_live_bytes();
        if (r == 0) continue;
        rb[r - 1] = rss_before, rd[r - 1] = rss_during, ra[r - 1] = rss_after;
        printf("bench=job_memory run=%u workers=%u edges=%llu rss_before=%llu rss_during=%llu "
               "rss_after=%llu rss_ratio=%.3f live_before=%lld live_during=%lld "
               "live_after=%lld arrange_ms=%.1f cancel_ms=%.1f\n",
               r, workers, (unsigned long long)edges, (unsigned long long)rss_before,
               (unsigned long long)rss_during, (unsigned long long)rss_after,
               (double)rss_after / (double)rss_before, live_before, live_during, live_after,
               (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
        fflush(stdout);
    }
    qsort(rb, runs, sizeof *rb, cmp_u64);
    qsort(rd, runs, sizeof *rd, cmp_u64);
    qsort(ra, runs, sizeof *ra, cmp_u64);
    uint64_t mb = rb[runs / 2], md = rd[runs / 2], ma = ra[runs / 2];
    printf("bench=job_memory summary=median workers=%u edges=%llu runs=%u rss_before=%llu "
           "rss_during=%llu rss_after=%llu rss_ratio=%.3f %s\n",
           workers, (unsigned long long)edges, runs, (unsigned long long)mb, (unsigned long long)md,
           (unsigned long long)ma, (double)ma / (double)mb, bench_machine());
    tide__host_free(h);
    return 0;
}
