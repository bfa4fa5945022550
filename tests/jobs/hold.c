/*
 * hold.c - test job: arranges N random (key, val) edges, then holds its
 * input open at epoch 1 forever (it ends only when cancelled).
 *   argv: SEED N
 */
#include <stdlib.h>

#include "common.h"
#include "tide/collection.h"

static int hold_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (argc < 3) return tide_job_fail(job, TIDE_EINVAL, "usage: hold SEED N");
    uint64_t s = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10);
    tide_dataflow *df = tide_dataflow_new(w, "hold");
    tide_stream *in = NULL;
    tide_input *input =
        df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &in)
           : NULL;
    if (input == NULL || tide_arrange(in, "edges") == NULL || tide_dataflow_seal(df) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t src = job_rng(&s), dst = job_rng(&s);
        if (i % peers != me) continue;
        uint8_t k[8], v[8];
        tide_u64_store(k, src % (n / 2 + 1));
        tide_u64_store(v, dst % (n / 2 + 1));
        TIDE_TRY(tide_input_update(input, k, 8, v, 8, 1));
    }
    return tide_input_advance_to(input, 1);
}
TIDE_JOB_DEFINE(hold_main)
