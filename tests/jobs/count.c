/*
 * count.c - test job: counts keys of a seeded random update sequence.
 *   argv: SEED N KEYS EPOCHS
 * Update i (job_update) goes in at epoch i * EPOCHS / N on worker i % peers;
 * the counts' updates are printed as "K C D" lines (job_print_counts).
 */
#include <stdlib.h>

#include "common.h"
#include "tide/collection.h"

static int count_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (argc < 5) return tide_job_fail(job, TIDE_EINVAL, "usage: count SEED N KEYS EPOCHS");
    uint64_t s = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10);
    uint64_t keys = strtoull(argv[3], NULL, 10), epochs = strtoull(argv[4], NULL, 10);
    tide_dataflow *df = tide_dataflow_new(w, "count");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &in)
           : NULL;
    tide_stream *counts = input ? tide_count(in) : NULL;
    if (counts == NULL || tide_inspect(counts, job_print_counts, job) == NULL ||
        tide_dataflow_seal(df) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key, val;
        int64_t diff;
        job_update(&s, keys, &key, &val, &diff);
        uint64_t epoch = i * epochs / n;
        if (i % tide_worker_peers(w) != tide_worker_index(w)) continue;
        if (epoch > tide_input_epoch(input)) TIDE_TRY(tide_input_advance_to(input, epoch));
        uint8_t k[8];
        tide_u64_store(k, key);
        TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, diff));
    }
    return tide_input_close(input);
}
TIDE_JOB_DEFINE(count_main)
