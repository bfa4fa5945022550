/*
 * fail.c - test job that fails on purpose.
 *   argv: entry   the entry fails (tide_job_fail, then returns the code)
 *         op      an operator fails at run time (tide_op_fail) on worker 0
 *         code    the entry returns a code without a message
 */
#include <string.h>

#include "common.h"

static void boom(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        tide_batch_unref(b);
        tide_op_fail(op, TIDE_EINVAL, "deliberate operator failure");
    }
}

static int fail_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    const char *mode = argc > 1 ? argv[1] : "entry";
    if (strcmp(mode, "entry") == 0)
        return tide_job_fail(job, TIDE_EINVAL, "deliberate failure in the entry");
    if (strcmp(mode, "code") == 0) return TIDE_ERANGE;
    tide_dataflow *df = tide_dataflow_new(w, "fail");
    tide_stream *in = NULL;
    tide_input *input = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &in);
    tide_layout l = tide_layout_make(8, 0);
    tide_op_desc d = {.name = "boom",
                      .ninputs = 1,
                      .inputs = &in,
                      .noutputs = 1,
                      .outputs = &l,
                      .schedule = boom};
    if (input == NULL || tide_op_build(tide_dataflow_root(df), &d) == NULL) return TIDE_ENOMEM;
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0) TIDE_TRY(tide_input_send_u64(input, 42));
    /* The input stays open: only the failure ends this job. */
    return TIDE_OK;
}
TIDE_JOB_DEFINE(fail_main)
