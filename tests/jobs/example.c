/*
 * example.c - the complete job of include/tide/job.h's manual (the same code), so
 * that the manual's example is compiled and run (test_job.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include "tide/tide.h"
#include "tide/collection.h"
#include "tide/job.h"

static void show(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        if (b->diffs[i] > 0)
            tide_job_printf(ctx, "key %llu: %lld\n", (unsigned long long)tide_u64_load(k),
                            (long long)tide_i64_load(v));
    }
}

static int count_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
    tide_dataflow *df = tide_dataflow_new(w, "count");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &in)
           : NULL;
    tide_stream *counts = input ? tide_count(in) : NULL;
    if (counts == NULL || tide_inspect(counts, show, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t i = tide_worker_index(w); i < n; i += tide_worker_peers(w)) {
        uint8_t k[8];
        tide_u64_store(k, i % 10);
        TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, 1));
    }
    return tide_input_close(input); // the job ends when the count is done
}
TIDE_JOB_DEFINE(count_main)
