/*
 * datalog_cap.c - job: a Datalog business rule whose action is C code
 * (apps/datalog/plugin.h), then the script runner of jobs/datalog.so.
 *
 *   tide submit jobs/datalog_cap.so run SCRIPT.edn [--json]
 *
 * Registers the action "cap-earnings": for a tuple (?thug ?earnings) it
 * returns the transaction that replaces the earnings by 1000. A script
 * uses it as
 *   (business-rule "cap" [:find ?t ?e :where [?t :thug/earnings ?e] [(> ?e 1000)]]
 *                  {:fn "cap-earnings"})
 * so no thug keeps earnings above 1000 (tests/apps/datalog/cap.edn).
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "../datalog/plugin.h"

static char *cap_earnings(void *ctx, const dl_plugin_val *t, int n, int64_t diff)
{
    (void)ctx;
    if (n < 2 || diff <= 0 || t[0].type != DL_PLUGIN_INT || t[1].type != DL_PLUGIN_INT) return NULL;
    char *tx = NULL;
    if (asprintf(&tx, "[[:db/retract %lld :thug/earnings %lld] [:db/add %lld :thug/earnings 1000]]",
                 (long long)t[0].i, (long long)t[1].i, (long long)t[0].i) < 0)
        return NULL;
    return tx;
}

static int cap_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    int rc = dl_plugin_action("cap-earnings", cap_earnings, NULL);
    if (rc < 0) return tide_job_fail(job, rc, "datalog_cap: registering the action failed");
    return dl_plugin_run(w, argc, argv, job);
}
TIDE_JOB_DEFINE(cap_main)
