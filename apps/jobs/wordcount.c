/*
 * wordcount.c - job: count the words of a text file on the cluster.
 *
 *   tide submit jobs/wordcount.so [FILE]      (no FILE: a built-in text)
 *
 * Worker i of P reads lines i, i + P, ... of FILE (the path must be readable
 * on every process), splits them into lower-case alphanumeric words, and
 * tide_count (differential) counts them per word; each word's owner prints
 * "WORD<TAB>COUNT" once the count is final. Output order is not defined.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

static const char *const builtin_text[] = {
    "the factory floor records every start and every stop",
    "every record changes the dashboard and the report",
    "a dataflow computes the report once and then only the change",
    NULL,
};

static void split(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                  tide_emitter *em)
{
    char word[256];
    uint32_t i = 0;
    while (i < kl) {
        while (i < kl && !isalnum(k[i])) i++;
        uint32_t n = 0;
        while (i < kl && isalnum(k[i])) {
            if (n < sizeof word) word[n++] = (char)tolower(k[i]);
            i++;
        }
        if (n) tide_emit(em, word, n, NULL, 0);
    }
}

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

/* Feed this worker's share of the lines of @path (or the built-in text). */
static int feed(tide_worker *w, tide_job *job, tide_input *in, const char *path)
{
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    if (path == NULL) {
        size_t nb = 0;
        while (builtin_text[nb]) nb++;
        for (size_t i = me; i < nb; i += peers)
            TIDE_TRY(tide_input_update(in, builtin_text[i], (uint32_t)strlen(builtin_text[i]), NULL,
                                       0, 1));
        return TIDE_OK;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) return tide_job_fail(job, TIDE_EIO, "wordcount: %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, k = 0;
    ssize_t n;
    int rc = TIDE_OK;
    while (rc == TIDE_OK && (n = getline(&line, &cap, f)) >= 0) {
        if (k++ % peers != me) continue;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        rc = tide_input_update(in, line, (uint32_t)n, NULL, 0, 1);
    }
    free(line);
    fclose(f);
    return rc;
}

static int wordcount_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    tide_dataflow *df = tide_dataflow_new(w, "wordcount");
    tide_stream *lines;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 0),
                                    TIDE_BATCH_UPDATES, &lines);
    tide_stream *words =
        in ? tide_flat_map(lines, "split", tide_layout_make(TIDE_VAR, 0), split, NULL) : NULL;
    tide_stream *counts = words ? tide_count(words) : NULL;
    if (counts == NULL || tide_inspect(counts, show, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "wordcount: %s",
                             tide_worker_error(w)->msg);
    TIDE_TRY(tide_dataflow_seal(df));
    TIDE_TRY(feed(w, job, in, argc > 1 ? argv[1] : NULL));
    return tide_input_close(in);
}
TIDE_JOB_DEFINE(wordcount_main)
