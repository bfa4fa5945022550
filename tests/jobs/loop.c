/*
 * loop.c - test job whose entry drives its dataflow itself with
 * tide_worker_step (the second way of job.h).
 *   argv: count SEED N KEYS   as count.c with one epoch, stepping until the
 *                             count is complete, then prints "finished"
 *   argv: forever             advances its input one epoch per step until
 *                             tide_worker_step reports the job cancelled
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tide/collection.h"

static int loop_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    bool forever = argc > 1 && strcmp(argv[1], "forever") == 0;
    if (!forever && argc < 5) return tide_job_fail(job, TIDE_EINVAL, "usage: loop count S N K");
    tide_dataflow *df = tide_dataflow_new(w, "loop");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &in)
           : NULL;
    tide_stream *counts = input ? tide_count(in) : NULL;
    if (counts == NULL || (!forever && tide_inspect(counts, job_print_counts, job) == NULL) ||
        tide_dataflow_seal(df) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    if (forever) {
        int rc;
        uint8_t k[8];
        tide_u64_store(k, tide_worker_index(w));
        do {
            TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, 1));
            TIDE_TRY(tide_input_advance_to(input, tide_input_epoch(input) + 1));
        } while ((rc = tide_worker_step(w)) > 0);
        return rc == TIDE_ECLOSED && tide_job_cancelled(job) ? TIDE_OK : rc;
    }
    uint64_t s = strtoull(argv[2], NULL, 10), n = strtoull(argv[3], NULL, 10);
    uint64_t keys = strtoull(argv[4], NULL, 10);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key, val;
        int64_t diff;
        job_update(&s, keys, &key, &val, &diff);
        if (i % tide_worker_peers(w) != tide_worker_index(w)) continue;
        uint8_t k[8];
        tide_u64_store(k, key);
        TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, diff));
    }
    TIDE_TRY(tide_input_close(input));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    if (rc < 0) return rc;
    if (!tide_dataflow_complete(df))
        return tide_job_fail(job, TIDE_ESTATE, "step returned 0 early");
    if (tide_worker_index(w) == 0) tide_job_printf(job, "finished\n");
    return TIDE_OK;
}
TIDE_JOB_DEFINE(loop_main)
