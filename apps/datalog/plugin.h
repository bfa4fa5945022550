/*
 * plugin.h - tide-datalog's plugin API: business rules whose action is a C
 * function of a job plugin (issue 15: "actions are transaction templates
 * ... or a C callback in a job plugin").
 *
 * A plugin is a job (include/tide/job.h) built with the Datalog engine
 * (apps/datalog/ without main.c, serve.c, repl.c; see the job_datalog_*
 * lines of CMakeLists.txt). Its entry registers its actions by name, then
 * runs the script:
 *
 *   static char *cap(void *ctx, const dl_plugin_val *t, int n, int64_t diff)
 *   {   // t[0] the thug, t[1] his earnings (the rule's :find order)
 *       char *tx;
 *       asprintf(&tx, "[[:db/retract %lld :thug/earnings %lld] [:db/add %lld :thug/earnings
 * 1000]]", (long long)t[0].i, (long long)t[1].i, (long long)t[0].i); return tx;
 *   }
 *   static int main_(tide_worker *w, int argc, char **argv, tide_job *job)
 *   {
 *       TIDE_TRY(dl_plugin_action("cap-earnings", cap, NULL));
 *       return dl_plugin_run(w, argc, argv, job);
 *   }
 *   TIDE_JOB_DEFINE(main_)
 *
 * and the script names the action with :fn instead of :tx:
 *
 *   (business-rule "cap" [:find ?t ?e :where [?t :thug/earnings ?e] [(> ?e 1000)]]
 *                  {:fn "cap-earnings" :on :add})
 *
 * apps/jobs/datalog_cap.c is this example, built as jobs/datalog_cap.so.
 * The rule behaves as a template rule (docs/datalog.md): when its answer
 * gains a tuple (:on :retract: loses one), after the :prob draw, the
 * function is called with the tuple's values in :find order and the diff
 * (+1 or -1, consolidated), and the transaction it returns is applied as
 * the next time; then the cascade goes on until quiet (runaway rules are
 * stopped and named). A rejected transaction is printed as
 * `error: business rule NAME: ...` and changes nothing.
 *
 * Determinism: every worker of the cluster calls the function for the same
 * tuples in the same order and must get the same transaction (each worker
 * keeps its own copy of the datoms): the function must depend only on its
 * arguments and on state that evolves identically on every worker.
 */
#ifndef DL_PLUGIN_H
#define DL_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/job.h"
#include "tide/tide.h"

/* One value of a tuple: its type and the matching member. :Number, :Eid
 * and :Instant are DL_PLUGIN_INT. s is borrowed for the call, not
 * NUL-terminated (slen bytes). */
typedef enum { DL_PLUGIN_INT, DL_PLUGIN_REAL, DL_PLUGIN_BOOL, DL_PLUGIN_STR } dl_plugin_type;
typedef struct dl_plugin_val {
    dl_plugin_type type;
    int64_t i;
    double r;
    bool b;
    const char *s;
    size_t slen;
} dl_plugin_val;

/*
 * dl_plugin_fn - an action: @t[0..@n-1] the tuple (borrowed for the call),
 * @diff its change (> 0 gained, < 0 lost). Returns a transaction in EDN, as
 * the (transact TX) form takes it, allocated with malloc (the engine frees
 * it), or NULL for no transaction. Called on every worker thread, possibly
 * concurrently from different workers with the same @ctx.
 */
typedef char *(*dl_plugin_fn)(void *ctx, const dl_plugin_val *t, int n, int64_t diff);

/*
 * dl_plugin_action - make @fn (with @ctx, borrowed for the process's life)
 * the action named @name (1..63 bytes) for :fn in business rules, in this
 * process. Registering the same name again with the same function is a
 * no-op (every worker's entry may call it); with another function it
 * replaces it.
 * @return TIDE_OK, TIDE_EINVAL (bad name or NULL @fn), TIDE_ENOMEM.
 * Thread-safety: any thread.
 */
int dl_plugin_action(const char *name, dl_plugin_fn fn, void *ctx);

/*
 * dl_plugin_run - a job entry's body: `run SCRIPT.edn [--json]` in argv
 * (argv[0] the job's name), as `tide-datalog run` prints it, through
 * tide_job_printf (jobs/datalog.so is this function alone). @job may be
 * NULL under tide_execute (output to stdout).
 * @return TIDE_OK, or the failure (after tide_job_fail).
 */
int dl_plugin_run(tide_worker *w, int argc, char **argv, tide_job *job);

#endif
