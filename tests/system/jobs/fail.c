/*
 * fail.c - test job: the entry returns an error with a message on every
 * worker; the job fails, the cluster does not.
 */
#include "tide/job.h"
#include "tide/tide.h"

static int fail_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    return tide_job_fail(job, TIDE_EINVAL, "fail: the input is not what it should be");
}
TIDE_JOB_DEFINE(fail_main)
