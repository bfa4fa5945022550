/*
 * fault_run.c - the allocation-failure driver of the *_fault tests (see
 * fault_run.h).
 */
#include "fault_run.h"

#include <stdio.h>
#include <string.h>

/* One run with allocation @n failing (0: none); false with @why on a
 * problem. *@failed gets the hook's failure count after the run, *@rc its
 * code. */
static bool run_once(const fault_job *j, long n, long *failed, int *rc_out, char *why,
                     size_t whylen)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.pin = 0;
    tide_error e = {0};
    j->reset(j->arg);
    tide_alloc_fail_after(n);
    int rc = tide_execute(&cfg, j->main, j->arg, &e);
    *failed = tide_alloc_failures();
    tide_alloc_fail_after(0);
    *rc_out = rc;
    if (rc == TIDE_OK && !j->check(j->arg)) {
        snprintf(why, whylen, "n=%ld: the run succeeded with a wrong result", n);
        return false;
    }
    if (rc != TIDE_OK && (n == 0 || rc != TIDE_ENOMEM || strstr(e.msg, "memory") == NULL)) {
        snprintf(why, whylen, "n=%ld: %s (%s)", n, tide_err_name(rc), e.msg);
        return false;
    }
    return true;
}

bool fault_run_each(const fault_job *j, long *nallocs, char *why, size_t whylen)
{
    long failures, failed;
    int rc;
    if (!run_once(j, 0, &failures, &rc, why, whylen)) return false;
    for (long n = 1; n < j->max; n++) {
        if (!run_once(j, n, &failed, &rc, why, whylen)) return false;
        if (rc == TIDE_OK && failed == failures) {
            /* Allocation n was never reached: the whole run fits in n - 1. */
            *nallocs = n - 1;
            return true;
        }
        failures = failed;
    }
    snprintf(why, whylen, "no run completed within %ld allocations", j->max);
    return false;
}
