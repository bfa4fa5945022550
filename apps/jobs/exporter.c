/*
 * exporter.c - job: tide-export on a running cluster (docs/exporter.md).
 *
 *   tide submit jobs/exporter.so --events LOG... --db sqlite:FILE|postgresql://...
 *               [--views PLUGIN.so] [--since 365d] [--batch N] [--skip-bad]
 *               [--snapshot-every N] [--snapshot PATH]
 *
 * The same run as the program (apps/exporter/export.c) on the cluster's
 * workers: global worker 0 reads the log, the last worker of process 0
 * writes the database (the paths must be readable there), the others
 * compute their share of the views. The run's state is per process, made
 * by the first of its workers to enter and ended by the last to leave:
 * each worker steps the job until its dataflow is complete (the writer's
 * last commit included), so that the database is closed before the job
 * ends. The summary line ("N new event(s) in ...") is printed by process 0.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "tide/job.h"

/* The run of this process, shared by the job's workers here. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t job;  /* the job whose run this is (0: none) */
    uint32_t left; /* workers of this process that left the entry */
    fx_export_opts o;
    fx_run *run;
    int rc; /* of the set-up */
    tide_error e;
} g;

/* The first worker of the process to come sets the run up. */
static int enter(tide_worker *w, int argc, char **argv, tide_job *job, tide_error *e)
{
    pthread_mutex_lock(&lock);
    if (g.job != tide_job_id(job)) {
        memset(&g, 0, sizeof g);
        g.job = tide_job_id(job);
        fx_export_opts_init(&g.o);
        g.o.cfg = *tide_worker_config(w);
        g.rc = fx_export_args(argc, argv, &g.o, &g.e);
        if (g.rc > 0)
            g.rc =
                tide_err_set(&g.e, TIDE_EINVAL,
                             "usage: exporter.so --events LOG... --db URL [tide-export options]");
        if (g.rc == TIDE_OK) g.rc = fx_export_begin(&g.o, &g.run, &g.e);
    }
    int rc = g.rc;
    *e = g.e;
    pthread_mutex_unlock(&lock);
    return rc;
}

/* The last worker of the process to leave ends the run. */
static int leave(tide_worker *w, tide_job *job, int rc)
{
    pthread_mutex_lock(&lock);
    bool last = ++g.left == tide_worker_config(w)->workers;
    fx_export_stats st = {0};
    tide_error e = {0};
    if (last) {
        if (g.run) rc = fx_export_end(g.run, rc < 0 ? rc : g.rc, &st, &e);
        free(g.o.events);
        if (g.o.views_dl) dlclose(g.o.views_dl); /* the job's object can go */
        if (rc == TIDE_OK && g.run && g.o.cfg.process == 0) {
            char line[400];
            fx_export_summary(&st, line, sizeof line);
            tide_job_printf(job, "exporter: %s\n", line);
        }
        g.job = 0, g.run = NULL;
    }
    pthread_mutex_unlock(&lock);
    if (last && rc < 0 && e.code) return tide_job_fail(job, rc, "exporter: %s", e.msg);
    return rc;
}

static int exporter_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    tide_error e = {0};
    int rc = enter(w, argc, argv, job, &e);
    if (rc < 0) {
        tide_job_fail(job, rc, "exporter: %s", e.msg);
        return leave(w, job, rc);
    }
    rc = fx_export_worker(w, g.run);
    if (rc < 0) tide_job_fail(job, rc, "exporter: %s", tide_worker_error(w)->msg);
    /* Step until this worker's part is complete: the writer's last commit
     * happens here, and the run may only end after it. */
    while (rc >= 0 && (rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    return leave(w, job, rc < 0 ? rc : TIDE_OK);
}

TIDE_JOB_DEFINE(exporter_main)
