/*
 * fault_run.h - the allocation-failure driver of the *_fault tests: run a
 * one-worker job again and again with allocation n = 1, 2, ... failing,
 * until a run no longer reaches the failing allocation.
 *
 * Every run must end with TIDE_OK or a clean TIDE_ENOMEM whose message says
 * what ran out ("memory"), and every run that ends with TIDE_OK must be
 * right (an error swallowed on the way shows there). Under ASan, a leak on
 * any failure path is reported at exit. Uses no tide_alloc of its own.
 */
#ifndef FAULT_RUN_H
#define FAULT_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "tide/tide.h"

typedef struct fault_job {
    tide_worker_main main;    /* the job, run on one unpinned worker */
    void *arg;                /* its argument */
    void (*reset)(void *arg); /* before each run: clear what it collects */
    bool (*check)(void *arg); /* after a successful run: its result is right */
    long max;                 /* give up after this many allocations */
} fault_job;

/*
 * fault_run_each - run @j fault-free, then with each allocation failing in
 * turn. @return true when every run was clean, with *@nallocs the number of
 * allocations of a complete run; false with the first problem (the run's n,
 * its code and message) in @why.
 */
bool fault_run_each(const fault_job *j, long *nallocs, char *why, size_t whylen);

#endif /* FAULT_RUN_H */
