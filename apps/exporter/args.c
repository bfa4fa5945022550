/*
 * args.c - tide-export's arguments (export.h), shared by the program
 * (main.c) and the cluster job (apps/jobs/exporter.c).
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "window.h"

int fx_export_args(int argc, char **argv, fx_export_opts *o, tide_error *e)
{
    o->events = calloc((size_t)argc + 1, sizeof *o->events);
    if (o->events == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--help") == 0) {
            return 1;
        } else if (strcmp(a, "--events") == 0) {
            while (i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0))
                o->events[o->nevents++] = argv[++i];
        } else if (strcmp(a, "--db") == 0 && has) {
            o->db = argv[++i];
        } else if (strcmp(a, "--batch") == 0 && has) {
            o->batch = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--follow") == 0) {
            o->follow = true;
        } else if (strcmp(a, "--skip-bad") == 0) {
            o->skip_bad = true;
        } else if (strcmp(a, "--views") == 0 && has) {
            if (strcmp(argv[++i], "factory") != 0 &&
                (o->views = fx_views_load(argv[i], &o->views_dl, e)) == NULL)
                return TIDE_EINVAL;
        } else if (strcmp(a, "--since") == 0 && has) {
            if (fx_parse_duration(argv[++i], &o->since_us) < 0)
                return tide_err_set(e, TIDE_EINVAL, "--since %s: want N followed by s, m, h or d",
                                    argv[i]);
        } else if (strcmp(a, "--snapshot-every") == 0 && has) {
            o->snapshot_every = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--snapshot") == 0 && has) {
            o->snapshot = argv[++i];
        } else if (strcmp(a, "--max-batches") == 0 && has) {
            o->max_batches = strtoull(argv[++i], NULL, 10);
        } else {
            return tide_err_set(e, TIDE_EINVAL, "unknown argument '%s'", a);
        }
    }
    if (o->nevents == 0 || o->db == NULL || o->batch == 0)
        return tide_err_set(e, TIDE_EINVAL, "--events PATH... and --db URL are required");
    return TIDE_OK;
}
