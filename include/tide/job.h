/*
 * tide/job.h - jobs: compiled dataflow programs that a running cluster loads
 * and runs, several at a time, on the same workers.
 *
 * A job is a shared object (cc -shared -fPIC job.c $(pkg-config --cflags
 * --libs tide) -o job.so) exporting two symbols, both defined by
 * TIDE_JOB_DEFINE(fn):
 *
 *   const uint32_t tide_job_abi_version;   = TIDE_JOB_ABI_VERSION when compiled
 *   int tide_job_main(tide_worker *w, int argc, char **argv, tide_job *job);
 *
 * The cluster (tide submit JOB.so ARGS...) loads the object once per process
 * (dlopen), checks tide_job_abi_version against its own, and calls
 * tide_job_main once on every worker thread of every process, with argv[0]
 * the job's name and the rest the submitter's ARGS. Load errors, each a
 * TIDE_EINVAL with this message: "not a shared object: <dlerror text>",
 * "missing entry point tide_job_main", "job ABI version X, cluster runs Y".
 *
 * Lifecycle, on each worker:
 *   1. the entry builds the job's dataflows on @w (tide_dataflow_new, inputs,
 *      operators, tide_dataflow_seal; a dataflow left unsealed is sealed when
 *      the entry returns), feeds what it has, and returns TIDE_OK, or a
 *      negative code after tide_job_fail;
 *   2. the worker then steps the job's dataflows together with every other
 *      job's (one scheduling round visits every live dataflow; an operator
 *      runs when it has input, its frontier moved, or it activated itself);
 *   3. the job ends when its entry has returned and every dataflow it built
 *      is complete on every worker: its dataflows are then dropped and their
 *      memory freed. Its result is TIDE_OK unless it failed.
 * Cancelling (tide cancel ID) drops the job's dataflows on every worker,
 * wherever they are, and frees them; the result is TIDE_ECLOSED.
 *
 * Failing: an entry that returns an error, an operator that calls
 * tide_op_fail, or tide_job_fail from any worker fails the job everywhere
 * (its dataflows are dropped as on cancel) and only the job: the workers and
 * the other jobs keep running. The first error is the job's result.
 *
 * Driving inputs over time: two ways are supported.
 *   - Return quickly and let an operator drive the input: a source operator
 *     that holds a capability, emits some records per activation and calls
 *     tide_op_activate on itself until done (it runs again in the next
 *     scheduling pass, never twice in one). Other jobs run between its
 *     activations. This is the preferred way.
 *   - Loop inside the entry: feed, then tide_worker_step(w) (or
 *     tide_worker_step_until with a probe) until done, checking
 *     tide_job_cancelled(job). In a job, tide_worker_step runs one round of
 *     the whole worker (every job's dataflows, messages included, so other
 *     jobs keep progressing) and returns 1 while this job has incomplete
 *     dataflows, 0 when all are complete, TIDE_ECLOSED once the job is
 *     cancelled or failed. Commands (other jobs' starts, cancels) wait until
 *     the entry returns, so a long loop delays them: prefer the first way.
 *
 * The object is loaded once per process: its global variables are shared
 * by the job's workers of that process (guard them, or keep per-worker state
 * in operator state), and by a job loaded from the same path at the same
 * time.
 *
 * Dataflows of a job are matched across workers by the order in which the
 * job creates them (at most 1024 per job): build the same dataflows in the
 * same order on every worker, as with tide_execute.
 *
 * Shared arrangements: a job may publish an arrangement under a name; a
 * later job looks it up and reads it without rebuilding it (the Shared
 * Arrangements idea, McSherry et al., VLDB 2020). Each worker publishes and
 * looks up its own shard (the keys it owns), so every worker must do both.
 *
 * A complete job (counts the keys 0..N-1 mod 10 and prints the counts of
 * the keys this worker owns; run with: tide submit count.so 1000):
 *
 *   #include <stdio.h>
 *   #include <stdlib.h>
 *   #include "tide/tide.h"
 *   #include "tide/collection.h"
 *   #include "tide/job.h"
 *
 *   static void show(void *ctx, const tide_batch *b)
 *   {
 *       for (uint32_t i = 0; i < b->len; i++) {
 *           uint32_t kl, vl;
 *           const uint8_t *k = tide_batch_key(b, i, &kl);
 *           const uint8_t *v = tide_batch_val(b, i, &vl);
 *           if (b->diffs[i] > 0)
 *               tide_job_printf(ctx, "key %llu: %lld\n",
 *                               (unsigned long long)tide_u64_load(k),
 *                               (long long)tide_i64_load(v));
 *       }
 *   }
 *
 *   static int count_main(tide_worker *w, int argc, char **argv, tide_job *job)
 *   {
 *       uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
 *       tide_dataflow *df = tide_dataflow_new(w, "count");
 *       tide_stream *in = NULL;
 *       tide_input *input = df ? tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0),
 *                                               TIDE_BATCH_UPDATES, &in)
 *                              : NULL;
 *       tide_stream *counts = input ? tide_count(in) : NULL;
 *       if (counts == NULL || tide_inspect(counts, show, job) == NULL)
 *           return tide_job_fail(job, tide_worker_error(w)->code, "%s",
 *                                tide_worker_error(w)->msg);
 *       TIDE_TRY(tide_dataflow_seal(df));
 *       for (uint64_t i = tide_worker_index(w); i < n; i += tide_worker_peers(w)) {
 *           uint8_t k[8];
 *           tide_u64_store(k, i % 10);
 *           TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, 1));
 *       }
 *       return tide_input_close(input);   // the job ends when the count is done
 *   }
 *   TIDE_JOB_DEFINE(count_main)
 *
 * Standalone: the same function runs under tide_execute with job NULL (every
 * tide_job_* call accepts NULL: printing goes to the process's stdout and
 * stderr), which is how a job is debugged without a cluster.
 *
 * Thread-safety: every tide_job_* function may be called from any worker
 * thread of the job, concurrently.
 */
#ifndef TIDE_JOB_H
#define TIDE_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/collection.h"
#include "tide/dataflow.h"

/* The job ABI this header describes: a job compiled against another
 * version is refused at load ("job ABI version X, cluster runs Y"). */
#define TIDE_JOB_ABI_VERSION 1

/* One running job, shared by its workers in a process (opaque). */
typedef struct tide_job tide_job;

/* The entry point's type: see the lifecycle above. */
typedef int (*tide_job_main_fn)(tide_worker *w, int argc, char **argv, tide_job *job);

/* The two symbols a job exports (defined by TIDE_JOB_DEFINE, looked up by
 * the cluster with dlsym; declared here so that the definitions have
 * prototypes). */
extern const uint32_t tide_job_abi_version;
int tide_job_main(tide_worker *w, int argc, char **argv, tide_job *job);

/* TIDE_JOB_DEFINE - export @fn (a tide_job_main_fn) as the job's entry point
 * together with the ABI version it was compiled against. Use once per job. */
#define TIDE_JOB_DEFINE(fn)                                                                        \
    __attribute__((visibility("default"))) const uint32_t tide_job_abi_version =                   \
        TIDE_JOB_ABI_VERSION;                                                                      \
    __attribute__((visibility("default"))) int tide_job_main(tide_worker *w, int argc,             \
                                                             char **argv, tide_job *job)           \
    {                                                                                              \
        return fn(w, argc, argv, job);                                                             \
    }

/*
 * tide_job_printf / tide_job_eprintf - write to the job's stdout / stderr,
 * which the cluster streams back to the submitter (text from different
 * workers interleaves by call: one call's text is never split). With @job
 * NULL (standalone), the process's stdout / stderr.
 * @return the number of bytes written, or a negative TIDE_E* code.
 */
int tide_job_printf(tide_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tide_job_eprintf(tide_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * tide_job_fail - fail the job with @code (negative) and a printf-style
 * message (the first failure wins; later ones are ignored). The job's
 * dataflows are dropped on every worker soon after; the caller should
 * return. With @job NULL the message goes to stderr.
 * @return @code, so that an entry can `return tide_job_fail(job, ...)`.
 */
int tide_job_fail(tide_job *job, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tide_job_cancelled - true once the job is cancelled or has failed: an
 * entry that loops should return. false for NULL. */
bool tide_job_cancelled(const tide_job *job);

/* tide_job_id - the cluster's id of the job (0 for NULL). */
uint64_t tide_job_id(const tide_job *job);

/* tide_job_name - the job's name, argv[0] (borrowed, lives with the job;
 * "" for NULL). */
const char *tide_job_name(const tide_job *job);

/* ------------------------------------------------------------------------ */
/* Shared arrangements                                                      */
/* ------------------------------------------------------------------------ */

/*
 * tide_arrangement_publish - make @a, this worker's shard of an arrangement
 * made by tide_arrange in a root scope, readable by later jobs as @name
 * (1..63 bytes). The publishing job keeps feeding it; it stays readable while
 * the publishing job or any job that looked it up lives on this worker, and
 * is gone (its trace freed) once the last of them ends.
 * @return TIDE_OK; TIDE_EINVAL (bad name, @name taken on this worker, or @a
 *         not a root-scope tide_arrange result, or already published);
 *         TIDE_ENOMEM. The detail is on the worker (tide_worker_error).
 * Thread-safety: the worker's thread (each worker publishes its own shard).
 */
int tide_arrangement_publish(tide_worker *w, const char *name, tide_arranged *a);

/*
 * tide_arrangement_lookup - import the arrangement published as @name on this
 * worker into root scope @s of the calling job, as tide_arranged_import does:
 * the first message replays its history compacted to the frontier at import
 * (one batch at time 0, its updates' times advanced to the publisher's
 * frontier F at that moment, so results computed from it become final once
 * the publisher passes F), then every batch the publisher seals follows;
 * once the publisher is gone the imported stream closes (its frontier
 * empties) and results are final.
 * @return a new arrangement handle (lives with @s's dataflow), or NULL with
 *         TIDE_ENOTFOUND (no such name) or TIDE_EINVAL / TIDE_ENOMEM on the
 *         worker (tide_worker_error).
 * Thread-safety: the worker's thread.
 */
tide_arranged *tide_arrangement_lookup(tide_scope *s, const char *name);

#endif /* TIDE_JOB_H */
