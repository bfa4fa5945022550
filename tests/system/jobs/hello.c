/*
 * hello.c - test job: worker 0 prints "hello from job ID (NAME) ARGS...",
 * every worker prints "worker I ready" to stderr; no dataflow, so the job
 * ends as soon as every entry returned. The latency bench's probe.
 */
#include <stdio.h>

#include "tide/job.h"
#include "tide/tide.h"

static int hello_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (tide_worker_index(w) == 0) {
        char args[512] = "";
        size_t k = 0;
        for (int i = 1; i < argc && k < sizeof args - 2; i++)
            k += (size_t)snprintf(args + k, sizeof args - k, " %s", argv[i]);
        tide_job_printf(job, "hello from job %llu (%s)%s\n", (unsigned long long)tide_job_id(job),
                        tide_job_name(job), args);
    }
    tide_job_eprintf(job, "worker %u ready\n", tide_worker_index(w));
    return TIDE_OK;
}
TIDE_JOB_DEFINE(hello_main)
