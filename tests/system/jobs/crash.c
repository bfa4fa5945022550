/*
 * crash.c - test job: the last worker (on the last process) calls abort() (or dereferences NULL
 * with argument "segv"), which kills its process: the cluster must name the process, fail this job
 * with that reason and restart.
 */
#include <stdlib.h>
#include <string.h>

#include "tide/job.h"
#include "tide/tide.h"

static int crash_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (tide_worker_index(w) != tide_worker_peers(w) - 1) return TIDE_OK; /* on the last process */
    if (argc > 1 && strcmp(argv[1], "segv") == 0) {
        volatile int *p = NULL;
        return *p;
    }
    abort();
}
TIDE_JOB_DEFINE(crash_main)
