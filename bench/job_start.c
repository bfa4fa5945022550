/*
 * job_start.c - the runtime's share of starting jobs on a warm host
 * (runtime/host.h), without the control plane or dlopen: the latency from
 * tide__host_job_start_fn to the job's first output line (printed by worker
 * 0's entry), median and p99 of R jobs; then the time to run K small jobs
 * at once (each counts 1000 keys over its workers) from the first start to
 * the last done.
 *
 *   bench_job_start [-w W] [--runs R] [--jobs K]
 *
 * stdout: bench=job_start workers=W runs=R p50_us=.. p99_us=..
 *         bench=job_start_concurrent workers=W jobs=K total_ms=.. per_job_us=..
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "host.h"
#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

typedef struct state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t first_out_ns; /* of the job being timed */
    uint64_t timed;        /* its id */
    uint32_t done;         /* jobs finished */
} state;

static state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void on_out(void *ctx, uint64_t job, int fd, const char *buf, size_t len)
{
    pthread_mutex_lock(&st.lock);
    if (job == st.timed && st.first_out_ns == 0) st.first_out_ns = bench_now_ns();
    pthread_cond_broadcast(&st.cond);
    pthread_mutex_unlock(&st.lock);
}

static void on_done(void *ctx, uint64_t job, int rc, const char *msg)
{
    if (rc != TIDE_OK) fprintf(stderr, "job_start: job %llu: %s\n", (unsigned long long)job, msg);
    pthread_mutex_lock(&st.lock);
    st.done++;
    pthread_cond_broadcast(&st.cond);
    pthread_mutex_unlock(&st.lock);
}

/* Prints one line on worker 0, then counts 1000 keys. */
static int small_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (tide_worker_index(w) == 0) tide_job_printf(job, "started\n");
    tide_dataflow *df = tide_dataflow_new(w, "small");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &in)
           : NULL;
    if (input == NULL || tide_count(in) == NULL) return tide_worker_error(w)->code;
    for (uint64_t i = tide_worker_index(w); i < 1000; i += tide_worker_peers(w)) {
        uint8_t k[8];
        tide_u64_store(k, i % 100);
        TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, 1));
    }
    return tide_input_close(input);
}

static void wait_done(uint32_t n)
{
    pthread_mutex_lock(&st.lock);
    while (st.done < n) pthread_cond_wait(&st.cond, &st.lock);
    pthread_mutex_unlock(&st.lock);
}

int main(int argc, char **argv)
{
    uint32_t workers = 2, runs = 20, jobs = 100;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workers")) && i + 1 < argc)
            workers = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
            jobs = (uint32_t)atoi(argv[++i]);
    }
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    tide__host_hooks hooks = {.out = on_out, .done = on_done};
    tide__host *h;
    tide_error e = {0};
    if (tide__host_new(&cfg, &hooks, &h, &e) < 0) {
        fprintf(stderr, "job_start: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "job_start: %s\n", bench_machine());
    uint64_t id = 1;
    double *lat = calloc(runs + 1, sizeof *lat);
    for (uint32_t r = 0; r <= runs; r++, id++) { /* r = 0: warm-up */
        pthread_mutex_lock(&st.lock);
        st.timed = id;
        st.first_out_ns = 0;
        pthread_mutex_unlock(&st.lock);
        uint64_t t0 = bench_now_ns();
        if (tide__host_job_start_fn(h, id, "small", small_main, 0, NULL, &e) < 0) {
            fprintf(stderr, "job_start: %s\n", e.msg);
            return 1;
        }
        pthread_mutex_lock(&st.lock);
        while (st.first_out_ns == 0) pthread_cond_wait(&st.cond, &st.lock);
        uint64_t t1 = st.first_out_ns;
        pthread_mutex_unlock(&st.lock);
        wait_done((uint32_t)id);
        if (r > 0) lat[r - 1] = (double)(t1 - t0) / 1e3;
    }
    double p99 = bench_percentile(lat, runs, 0.99), p50 = bench_median(lat, runs);
    printf("bench=job_start workers=%u runs=%u p50_us=%.0f p99_us=%.0f %s\n", workers, runs, p50,
           p99, bench_machine());
    uint32_t before = st.done;
    uint64_t t0 = bench_now_ns();
    for (uint32_t k = 0; k < jobs; k++, id++)
        if (tide__host_job_start_fn(h, id, "small", small_main, 0, NULL, &e) < 0) {
            fprintf(stderr, "job_start: %s\n", e.msg);
            return 1;
        }
    wait_done(before + jobs);
    uint64_t t1 = bench_now_ns();
    printf("bench=job_start_concurrent workers=%u jobs=%u total_ms=%.1f per_job_us=%.0f "
           "rss_after=%llu\n",
           workers, jobs, (double)(t1 - t0) / 1e6, (double)(t1 - t0) / 1e3 / jobs,
           (unsigned long long)tide__rss_bytes());
    free(lat);
    tide__host_free(h);
    return 0;
}
