/*
 * datalog.c - job: tide-datalog's script runner on a running cluster.
 *
 *   tide submit jobs/datalog.so run SCRIPT.edn [--json]
 *
 * Prints exactly what `tide-datalog run SCRIPT.edn [--json]` prints (the
 * same engine, apps/datalog/, linked into the plugin): every worker runs the
 * script's forms in order, global worker 0 prints every diff of every
 * registered query through tide_job_printf. SCRIPT.edn must be readable on
 * every process. The entry loops (tide_worker_step_until inside the engine),
 * so other jobs' commands wait until the script is done (include/tide/job.h).
 * See docs/datalog.md.
 */
#include "../datalog/plugin.h"

TIDE_JOB_DEFINE(dl_plugin_run)
