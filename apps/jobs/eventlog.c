/*
 * eventlog.c - job: statistics over an event log, events per stream and per
 * type.
 *
 *   tide submit jobs/eventlog.so LOG
 *
 * LOG holds one JSON event a line (the path must be readable on every
 * process), as an event store exports them:
 *   {"stream":"Drill1","offset":0,"lamport":17,"timestamp":1700000000000000,
 *    "tags":["machineFish"],"payload":{"type":"started","order":"4711"}}
 * Worker i of P parses lines i, i + P, ... with jansson and emits two keys
 * per event, "stream<TAB>NAME" and "type<TAB>PAYLOAD.TYPE" (an event
 * without a payload type counts as type "-"); tide_count counts them and
 * each key's owner prints "stream<TAB>NAME<TAB>N" / "type<TAB>T<TAB>N". A line
 * that is not a JSON object with a string "stream" fails the job with
 * LOG:LINE and jansson's message.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

static void show(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        if (b->diffs[i] > 0)
            tide_job_printf(ctx, "%.*s\t%lld\n", (int)kl, (const char *)k,
                            (long long)tide_i64_load(v));
    }
}

static int emit_key(tide_input *in, const char *kind, const char *name)
{
    char key[512];
    int n = snprintf(key, sizeof key, "%s\t%s", kind, name);
    if (n < 0 || (size_t)n >= sizeof key) n = (int)sizeof key - 1;
    return tide_input_update(in, key, (uint32_t)n, NULL, 0, 1);
}

/* Parse one event and feed its two keys. */
static int event(tide_job *job, tide_input *in, const char *path, size_t lineno, const char *line)
{
    json_error_t err;
    json_t *ev = json_loads(line, 0, &err);
    const char *stream =
        ev && json_is_object(ev) ? json_string_value(json_object_get(ev, "stream")) : NULL;
    if (stream == NULL) {
        int rc = tide_job_fail(job, TIDE_EPARSE, "eventlog: %s:%zu: %s", path, lineno,
                               ev ? "not an event (an object with a string \"stream\")" : err.text);
        json_decref(ev);
        return rc;
    }
    const char *type = json_string_value(json_object_get(json_object_get(ev, "payload"), "type"));
    int rc = emit_key(in, "stream", stream);
    if (rc == TIDE_OK) rc = emit_key(in, "type", type ? type : "-");
    json_decref(ev);
    return rc;
}

static int feed(tide_worker *w, tide_job *job, tide_input *in, const char *path)
{
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    FILE *f = fopen(path, "r");
    if (f == NULL) return tide_job_fail(job, TIDE_EIO, "eventlog: %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, k = 0;
    ssize_t n;
    int rc = TIDE_OK;
    while (rc == TIDE_OK && (n = getline(&line, &cap, f)) >= 0) {
        k++;
        if ((k - 1) % peers != me) continue;
        if (strspn(line, " \t\r\n") == (size_t)n) continue; /* blank line */
        rc = event(job, in, path, k, line);
    }
    free(line);
    fclose(f);
    return rc;
}

static int eventlog_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    if (argc != 2) return tide_job_fail(job, TIDE_EINVAL, "usage: eventlog LOG");
    tide_dataflow *df = tide_dataflow_new(w, "eventlog");
    tide_stream *keys;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 0),
                                    TIDE_BATCH_UPDATES, &keys);
    tide_stream *counts = in ? tide_count(keys) : NULL;
    if (counts == NULL || tide_inspect(counts, show, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "eventlog: %s",
                             tide_worker_error(w)->msg);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(feed(w, job, in, argv[1]));
    return tide_input_close(in);
}
TIDE_JOB_DEFINE(eventlog_main)
