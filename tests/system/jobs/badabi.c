/* badabi.c - test job: compiled against a job ABI the cluster does not run. */
#include "tide/job.h"
#include "tide/tide.h"

#undef TIDE_JOB_ABI_VERSION
#define TIDE_JOB_ABI_VERSION 999

static int badabi_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    return tide_job_printf(job, "this must never run\n") < 0 ? -1 : 0;
}
TIDE_JOB_DEFINE(badabi_main)
