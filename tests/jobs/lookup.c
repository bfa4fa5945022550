/*
 * lookup.c - test job: reads the arrangement published as NAME and prints
 * the count of records per key as "K C D" updates (job_print_counts). It
 * ends when the publisher is gone (the imported stream closes).
 *   argv: NAME
 */
#include "common.h"
#include "tide/collection.h"

static int lookup_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (argc < 2) return tide_job_fail(job, TIDE_EINVAL, "usage: lookup NAME");
    tide_dataflow *df = tide_dataflow_new(w, "lookup");
    tide_arranged *a = df ? tide_arrangement_lookup(tide_dataflow_root(df), argv[1]) : NULL;
    tide_stream *s = a ? tide_arranged_stream(a) : NULL;
    tide_stream *counts = s ? tide_count(s) : NULL;
    if (counts == NULL || tide_inspect(counts, job_print_counts, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    return TIDE_OK; /* sealed by the runtime */
}
TIDE_JOB_DEFINE(lookup_main)
